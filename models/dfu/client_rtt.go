package dfu

import (
	"time"

	"github.com/meshdfu/meshdfu/internal/request"
	"github.com/meshdfu/meshdfu/internal/rtt"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Requests over relays (docs/dfd.md, "Requests over relays").
//
// A Firmware Update Start with signed metadata is a dozen segments; to a
// target three hops away each of them, its acknowledgment and the
// segmented Firmware Update Status cross two relays, and every relay in
// the network forwards every PDU Relay Retransmit times from one
// advertiser. A request sent again while the previous copy is still in
// the transport (its segments queued at the relays) only lengthens the
// queues, and the answers it asks for arrive later still. So the client:
//
//   - learns each target's hop count from the received TTL of its
//     statuses, and its round trip (RFC 6298, sampled from requests sent
//     once: Karn's rule);
//   - never sends a request again while its segmented transfer is in the
//     transport: access.Layer.Send's done says when the target's
//     transport acknowledged every segment (then only the status is
//     awaited) or gave up (then the request is sent again);
//   - waits at least the time an exchange needs over the target's hops,
//     doubled on every resend over relays (rtt.Backoff);
//   - once a target answered over relays, books the network air every PDU
//     of an exchange costs (request, answer, acknowledgments) before it
//     sends, so its requests never arrive faster than the relays forward
//     them.
//
// Targets on one hop see the plain timing: a wait of Timeout/(Retries+1)
// per send, no booking.

// peer is what the client learned of the path to one target.
type peer struct {
	hops int // 0: no answer yet
	rtt  rtt.Estimator
}

// answerBase is the least wait for a status after the target's transport
// acknowledged the request: the reply delay (20–50 ms) and a segmented
// status on one hop, with room for one SAR retransmission.
const answerBase = time.Second

// exchangeBase is one exchange on one hop, beneath the relay terms of
// rtt.Relays.Exchange.
const exchangeBase = 300 * time.Millisecond

// maxWait caps one wait for a status.
const maxWait = time.Minute

// initialHopsCap bounds the hops assumed of a target before any target
// answered (the TTL allows up to TTL − 1 relays).
const initialHopsCap = 4

func (c *Client) peer(a mesh.Address) *peer {
	p := c.peers[a]
	if p == nil {
		if c.peers == nil {
			c.peers = make(map[mesh.Address]*peer)
		}
		p = &peer{}
		c.peers[a] = p
	}
	return p
}

// Hops returns the number of hops the last status from a crossed (1: a
// neighbour), or 0 when a never answered.
func (c *Client) Hops(a mesh.Address) int {
	if p := c.peers[a]; p != nil {
		return p.hops
	}
	return 0
}

// MaxHops returns the most hops a status crossed to reach the client.
func (c *Client) MaxHops() int { return c.hopsMax }

// learnHops records how far src is from the TTL its status arrived with.
// Servers answer with their Default TTL (access.Layer.Reply), which the
// client's own node stands for.
func (c *Client) learnHops(src mesh.Address, recvTTL uint8) {
	sent := access.DefaultTTLValue
	if c.cfg.Layer != nil {
		sent = c.cfg.Layer.DefaultTTL()
	}
	h := rtt.HopsFromTTL(sent, recvTTL)
	c.peer(src).hops = h
	if h > c.hopsMax {
		c.hopsMax = h
		if h > 1 {
			c.log.Info("dfu: client: targets behind relays", "target", src, "hops", h)
		}
	}
}

// multiHop reports whether some target answered over relays.
func (c *Client) multiHop() bool { return c.hopsMax > 1 }

// assumedHops is the hop count used for a: what its statuses showed, else
// the farthest target heard, else as far as the TTL allows (at most
// initialHopsCap).
func (c *Client) assumedHops(a mesh.Address) int {
	if p := c.peers[a]; p != nil && p.hops > 0 {
		return p.hops
	}
	if c.hopsMax > 0 {
		return c.hopsMax
	}
	ttl := c.cfg.TTL
	if ttl == access.DefaultTTL {
		ttl = access.DefaultTTLValue
		if c.cfg.Layer != nil {
			ttl = c.cfg.Layer.DefaultTTL()
		}
	}
	return min(max(int(ttl)-1, 1), initialHopsCap)
}

// wait is how long r's send number r.Sends waits for the status: the
// one-hop wait (Timeout/(Retries+1)), at least the exchange over the
// target's hops and its measured round trip; over relays doubled per
// earlier send.
func (c *Client) wait(r *request.Request) time.Duration {
	d := max(r.Every, c.relays.Exchange(exchangeBase, c.assumedHops(r.Dst), r.ReqPDUs, r.AnsPDUs))
	if p := c.peers[r.Dst]; p != nil {
		d = max(d, p.rtt.RTO())
	}
	if c.multiHop() {
		d = rtt.Backoff(d, r.Sends)
	}
	return min(d, max(maxWait, r.Every))
}

// answerWait is how long to wait for the status once the transport
// reported a segmented r after its wait ran out: the reply and the
// status's PDUs over the target's hops, at least half the one-hop wait.
func (c *Client) answerWait(r *request.Request) time.Duration {
	d := max(answerBase, r.Every/2)
	if h := c.assumedHops(r.Dst); h > 1 {
		d += time.Duration(h-1)*c.relays.Hop() + time.Duration(r.AnsPDUs)*c.relays.Hop()
	}
	return d
}

// reserveAir books the air of one exchange of r and returns how long to
// wait for it; only over relays.
func (c *Client) reserveAir(r *request.Request) time.Duration {
	if !c.multiHop() {
		return 0
	}
	return c.air.Reserve(c.cfg.Clock.Now(), time.Duration(r.ReqPDUs+r.AnsPDUs)*c.relays.PDUCost())
}

// messageSize is msg's access payload in octets, opcode included.
func messageSize(msg access.Message) int {
	n := msg.Opcode().Size()
	if b, err := msg.AppendBinary(nil); err == nil {
		n += len(b)
	}
	return n
}

// answerPDUs estimates the PDUs of the status answering a request whose
// answer has opcode want: a Firmware Update Status with its optional
// block and an Information Status with one entry are segmented (two
// segments and an acknowledgment); a Metadata Status is not.
func answerPDUs(want access.Opcode) int {
	switch want {
	case OpUpdateStatus:
		return rtt.MessagePDUs(2 + 14)
	case OpInformationStatus:
		return rtt.MessagePDUs(2 + 4 + 1 + 6 + 1)
	}
	return 1
}

// PollInterval scales a polling interval to the network: base on one
// hop, base × hops when targets answered over relays (each round's
// requests and answers cross every relay).
func (c *Client) PollInterval(base time.Duration) time.Duration {
	return base * time.Duration(max(c.hopsMax, 1))
}

// ttlTo is the TTL of r's current send: with ScopeTTL and the hop count
// known, just enough to reach the peer (0 for a neighbour, else hops + 1,
// never above the configured TTL); a resend uses the configured TTL, in
// case the route grew.
func (c *Client) ttlTo(r *request.Request) uint8 {
	h := 0
	if p := c.peers[r.Dst]; p != nil {
		h = p.hops
	}
	if !c.cfg.ScopeTTL || h == 0 || r.Sends > 1 {
		return c.cfg.TTL
	}
	return rtt.ScopedTTL(h, c.cfg.TTL, c.cfg.Layer.DefaultTTL())
}
