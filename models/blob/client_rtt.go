package blob

import (
	"time"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Round trips over relays (docs/blob-strategy.md, "Relays").
//
// A request to a target h hops away and its answer each cross h − 1 relays,
// and every relay sends every PDU Relay Retransmit times (three by
// default) from one advertiser: a relay forwards at most one PDU per
// RelayTransmissions × PDUInterval, whoever sent it. A segmented answer
// is complete only when its last segment arrived, so the round trip of a
// query grows with the hops and with the segments of both messages. A
// retry sent before the answer can arrive makes the target answer again
// with a new SeqAuth, and the client's SAR receiver drops an incomplete
// reassembly from the same source when a newer one starts (Mesh Protocol
// v1.1 §3.5.3.4): retries shorter than the round trip cancel the answers
// they ask for. So the client measures each target's round trip (RFC 6298
// smoothed RTT and variation, sampled only from requests sent once: Karn's
// rule), never waits less than the time the answer needs to arrive over
// the target's hop count, and doubles the wait on every retry.

// rttEstimator is a smoothed round-trip time with its mean deviation
// (RFC 6298 §2).
type rttEstimator struct {
	srtt, rttvar time.Duration
	samples      int
}

// sample adds one measured round trip r.
func (e *rttEstimator) sample(r time.Duration) {
	if r <= 0 {
		return
	}
	if e.samples == 0 {
		e.srtt, e.rttvar = r, r/2
	} else {
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar = (3*e.rttvar + d) / 4
		e.srtt = (7*e.srtt + r) / 8
	}
	e.samples++
}

// rto is the retransmission timeout the samples call for, 0 without
// samples.
func (e *rttEstimator) rto() time.Duration {
	if e.samples == 0 {
		return 0
	}
	return e.srtt + max(4*e.rttvar, 50*time.Millisecond)
}

const (
	// maxBackoffShift caps the doubling of a retry's wait (×8).
	maxBackoffShift = 3
	// maxRetryWait caps one wait for answers.
	maxRetryWait = 20 * time.Second
	// initialHopsCap bounds the hop count assumed for a target before
	// any target answered (the TTL allows up to TTL − 1 relays).
	initialHopsCap = 4
	// DefaultRelayTransmissions is the Relay Retransmit a Strategy assumes
	// of relays when RelayTransmissions is 0: three transmissions, the
	// usual default (Zephyr's CONFIG_BT_MESH_RELAY_RETRANSMIT_COUNT = 2).
	DefaultRelayTransmissions = 3
	// DefaultRelayLoad is the share of a relay's advertising capacity a
	// transfer plans to use when Strategy.RelayLoad is 0.
	DefaultRelayLoad = 0.5
)

// hopsFromTTL is the number of hops a message crossed when it left its
// sender with sentTTL and arrived with recvTTL: every relay lowers the TTL
// by one. A message sent with TTL 0 or 1 is never relayed.
func hopsFromTTL(sentTTL, recvTTL uint8) int {
	if recvTTL <= 1 || recvTTL >= sentTTL {
		return 1
	}
	return int(sentTTL-recvTTL) + 1
}

// learnHops records from an answer's received TTL how far t is. The
// targets answer with the Transfer TTL, which the higher layer gives both
// sides (the DFU Update TTL), so the client's own TTL stands for it.
func (c *Client) learnHops(t *cliTarget, recvTTL uint8) {
	h := hopsFromTTL(c.sendTTL(), recvTTL)
	t.hops = h
	if h > c.hopsMax {
		c.hopsMax = h
		if h > 1 {
			c.log.Info("blob client: targets behind relays", "target", t.addr, "hops", h)
		}
	}
}

// sendTTL is the TTL the client's requests leave with.
func (c *Client) sendTTL() uint8 {
	if c.cfg.TTL == access.DefaultTTL {
		return c.cfg.Layer.DefaultTTL()
	}
	return c.cfg.TTL
}

// multiHop reports whether some target answered over relays.
func (c *Client) multiHop() bool { return c.hopsMax > 1 }

// relayTransmissions is the Relay Retransmit count assumed of relays.
func (s *Strategy) relayTransmissions() int {
	if s.RelayTransmissions > 0 {
		return s.RelayTransmissions
	}
	return DefaultRelayTransmissions
}

// relayLoad is the planned share of a relay's capacity.
func (s *Strategy) relayLoad() float64 {
	if s.RelayLoad > 0 && s.RelayLoad <= 1 {
		return s.RelayLoad
	}
	return DefaultRelayLoad
}

// relayHop is the time a relay needs for one PDU when its queue is short:
// its Relay Retransmit transmissions, one advertising event each.
func (c *Client) relayHop() time.Duration {
	return time.Duration(c.strat.relayTransmissions()) * max(c.strat.PDUInterval, minBacklogWait)
}

// pduCost is how long one PDU the client causes occupies the network's
// air: over relays every relay forwards every PDU (flooding), so the
// whole network carries at most one PDU per relayHop, of which the
// transfer plans RelayLoad; on one hop, the client's own advertising
// event.
func (c *Client) pduCost() time.Duration {
	if !c.multiHop() {
		return c.strat.PDUInterval
	}
	return time.Duration(float64(c.relayHop()) / c.strat.relayLoad())
}

// reserveAir books pdus PDUs of network air for an exchange that starts
// no earlier than now; it returns how long the exchange must wait for the
// air booked before it. Only transfers over relays book air: on one hop
// the answers come from many advertisers at once.
func (c *Client) reserveAir(pdus int) time.Duration {
	if !c.multiHop() || c.strat.PDUInterval == 0 {
		return 0
	}
	now := c.clk.Now()
	start := now
	if c.airNext.After(start) {
		start = c.airNext
	}
	c.airNext = start.Add(time.Duration(pdus) * c.pduCost())
	return start.Sub(now)
}

// airWait is how long until the booked air is free.
func (c *Client) airWait() time.Duration {
	if d := c.airNext.Sub(c.clk.Now()); d > 0 {
		return d
	}
	return 0
}

// msgPDUs is the number of PDUs an access message of n octets (opcode
// included) costs with a 32-bit TransMIC: 1 unsegmented (≤ 11 octets), else
// its segments and the receiver's acknowledgment.
func msgPDUs(n int) int {
	if n <= 11 {
		return 1
	}
	return (n+4+11)/12 + 1
}

// requestPDUs is the cost of one send of msg.
func requestPDUs(msg access.Message) int {
	n := msg.Opcode().Size()
	if b, err := msg.AppendBinary(nil); err == nil {
		n += len(b)
	}
	return msgPDUs(n)
}

// answerPDUs estimates the cost of one answer with opcode op.
func (c *Client) answerPDUs(op access.Opcode) int {
	switch op {
	case OpInformationStatus:
		return msgPDUs(2 + 13)
	case OpTransferStatus:
		// Status, mode, phase, BLOB ID, size, block log, MTU, a few
		// octets of Blocks Not Received.
		return msgPDUs(1 + 2 + 8 + 4 + 1 + 2 + (c.blocks+7)/8)
	case OpBlockStatus:
		if c.segmentedAnswers(op) {
			return msgPDUs(1 + 5 + (c.nChunks+7)/8)
		}
	}
	return 1
}

// exchangeTime is the time one request of reqPDUs and its answer of
// ansPDUs need to cross h hops when the relays' queues are short: the
// strategy's RetryInterval covers one hop (reply delay, segments,
// acknowledgments); every further hop adds a relay hop each way and the
// serialization of both messages' PDUs at the relays.
func (c *Client) exchangeTime(h, reqPDUs, ansPDUs int) time.Duration {
	d := c.strat.RetryInterval
	if h > 1 {
		hop := c.relayHop()
		d += time.Duration(h-1)*2*hop + time.Duration(reqPDUs+ansPDUs)*hop
	}
	return d
}

// assumedHops is the hop count used for t before it answered: the
// farthest target heard so far, or, before any answer, as far as the TTL
// allows (at most initialHopsCap).
func (c *Client) assumedHops(t *cliTarget) int {
	switch {
	case t.hops > 0:
		return t.hops
	case c.hopsMax > 0:
		return c.hopsMax
	}
	return min(max(int(c.sendTTL())-1, 1), initialHopsCap)
}

// rto is how long to wait for t's answer to one unicast exchange: the
// measured round trip (srtt + 4·rttvar) but never less than the
// exchange needs over t's hops; over relays doubled per earlier send
// (sends > 1), up to 2^maxBackoffShift.
func (c *Client) rto(t *cliTarget, reqPDUs, ansPDUs, sends int) time.Duration {
	d := c.exchangeTime(c.assumedHops(t), reqPDUs, ansPDUs)
	if r := t.rtt.rto(); r > d {
		d = r
	}
	if sends > 1 && c.multiHop() {
		// On one hop a lost answer is just lost: the old wait stays.
		d <<= min(sends-1, maxBackoffShift)
	}
	return min(d, maxRetryWait)
}

// ttlTo is the TTL of a message to t, the sends-th of its step: with
// Strategy.ScopeTTL and t's hop count known, just enough to reach it —
// 0 for a neighbour (never relayed, and the target answers with TTL 0
// too, Mesh Protocol v1.1 §3.7.4.1), else one more than its hops, so the
// relays beyond it do not forward the message through the rest of the
// network. A retry (sends > 1) uses the full TTL, in case the route grew.
func (c *Client) ttlTo(t *cliTarget, sends int) uint8 {
	if !c.scoping() || t.hops == 0 || sends > 1 {
		return c.cfg.TTL
	}
	return c.scopedTTL(t.hops)
}

// groupTTL is the TTL of a message to the group: scoped to the farthest
// active target when every active target's hop count is known.
func (c *Client) groupTTL() uint8 {
	if !c.scoping() {
		return c.cfg.TTL
	}
	h := 0
	for _, t := range c.targets {
		if t.lost != nil {
			continue
		}
		if t.hops == 0 {
			return c.cfg.TTL
		}
		h = max(h, t.hops)
	}
	if h == 0 {
		return c.cfg.TTL
	}
	return c.scopedTTL(h)
}

// scoping reports whether messages go with scoped TTLs: with
// Strategy.ScopeTTL while every target heard so far is a neighbour.
// Measured over relays (TestSim_ThreeHops, the 3-hop grid scenario),
// scoping beyond one hop made transfers slower (6m25s → 6m52s, 5m36s →
// 13m3s), so a network with relays keeps the full TTL.
func (c *Client) scoping() bool { return c.strat.ScopeTTL && !c.multiHop() }

func (c *Client) scopedTTL(hops int) uint8 {
	if hops <= 1 {
		return 0
	}
	full := c.sendTTL()
	if ttl := uint8(min(hops+1, 127)); ttl < full {
		return ttl
	}
	return c.cfg.TTL
}
