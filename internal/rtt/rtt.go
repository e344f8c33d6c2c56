package rtt

import "time"

// Estimator is a smoothed round-trip time with its mean deviation (RFC
// 6298 §2). The zero value has no samples.
type Estimator struct {
	srtt, rttvar time.Duration
	samples      int
}

// Sample adds one measured round trip r; r ≤ 0 is ignored. Sample only
// round trips of requests sent once (Karn's rule: the answer to a retried
// request may belong to either send).
func (e *Estimator) Sample(r time.Duration) {
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

// Samples returns the number of round trips sampled.
func (e *Estimator) Samples() int { return e.samples }

// SRTT returns the smoothed round trip, 0 without samples.
func (e *Estimator) SRTT() time.Duration { return e.srtt }

// MinVariation is the least allowance for variation RTO adds to the
// smoothed round trip.
const MinVariation = 50 * time.Millisecond

// RTO returns the retransmission timeout the samples call for (smoothed
// round trip plus four mean deviations, at least MinVariation), 0 without
// samples.
func (e *Estimator) RTO() time.Duration {
	if e.samples == 0 {
		return 0
	}
	return e.srtt + max(4*e.rttvar, MinVariation)
}

// MaxBackoffShift caps the doubling of a wait per retry (Backoff): 2³ =
// eight times the first wait.
const MaxBackoffShift = 3

// Backoff returns d doubled once per earlier send (sends > 1), at most
// MaxBackoffShift times.
func Backoff(d time.Duration, sends int) time.Duration {
	if sends <= 1 {
		return d
	}
	return d << min(sends-1, MaxBackoffShift)
}

// HopsFromTTL returns the number of hops a message crossed when it left
// its sender with sentTTL and arrived with recvTTL: every relay lowers the
// TTL by one (Mesh Protocol v1.1 §3.4.6.3), so h hops are h − 1 relays. A
// message that arrived with TTL 0 or 1, or with a TTL not below sentTTL,
// came straight from its sender: one hop.
func HopsFromTTL(sentTTL, recvTTL uint8) int {
	if recvTTL <= 1 || recvTTL >= sentTTL {
		return 1
	}
	return int(sentTTL-recvTTL) + 1
}

// Segment sizes of the lower transport (Mesh Protocol v1.1 §3.5.2): an
// unsegmented access PDU carries up to 15 octets of upper transport PDU
// (access payload and a 32-bit TransMIC); a segment carries 12.
const (
	maxUnsegmented = 11 // access octets with a 4-octet TransMIC
	segmentSize    = 12
	transMIC       = 4
)

// MessagePDUs returns how many network PDUs one send of an access message
// of n octets (opcode included) costs with a 32-bit TransMIC: 1 when it is
// not segmented, else its segments plus the receiver's acknowledgment.
func MessagePDUs(n int) int {
	if n <= maxUnsegmented {
		return 1
	}
	return (n+transMIC+segmentSize-1)/segmentSize + 1
}

// Segmented reports whether an access message of n octets (opcode
// included) is sent segmented.
func Segmented(n int) bool { return n > maxUnsegmented }

// ScopedTTL is the TTL that reaches a node hops away and no farther: 0 for
// a neighbour (never relayed; Mesh Protocol v1.1 §3.7.4.1 has the answer
// come back with TTL 0 too), else hops + 1, one more than the relays on
// the way need. It never exceeds the TTL configured (ttl, or defaultTTL
// when ttl is access.DefaultTTL, 0xFF), which it returns unchanged then.
func ScopedTTL(hops int, ttl, defaultTTL uint8) uint8 {
	if hops <= 1 {
		return 0
	}
	full := ttl
	if ttl == 0xFF {
		full = defaultTTL
	}
	if s := uint8(min(hops+1, 127)); s < full {
		return s
	}
	return ttl
}
