package rtt

import "time"

// Defaults of Relays.
const (
	// DefaultTransmissions is the Relay Retransmit transmissions assumed
	// of relays: three, the usual default (Zephyr's
	// CONFIG_BT_MESH_RELAY_RETRANSMIT_COUNT = 2).
	DefaultTransmissions = 3
	// DefaultPDUInterval is the time between two advertising events of a
	// relay (an advertising event of about 1.2 ms plus the 20 ms gap and
	// the random delay).
	DefaultPDUInterval = 25 * time.Millisecond
	// DefaultLoad is the share of the relays' capacity a client plans to
	// use; the rest is for everyone else.
	DefaultLoad = 0.5
	// minPDUInterval bounds PDUInterval from below.
	minPDUInterval = 5 * time.Millisecond
)

// Relays describes how the network's relays forward PDUs, and what share
// of their capacity a client plans to use. Zero fields take the defaults.
type Relays struct {
	Transmissions int           // Relay Retransmit transmissions; 0: DefaultTransmissions
	PDUInterval   time.Duration // between a relay's advertising events; 0: DefaultPDUInterval
	Load          float64       // planned share, (0, 1]; 0: DefaultLoad
}

func (r Relays) transmissions() int {
	if r.Transmissions > 0 {
		return r.Transmissions
	}
	return DefaultTransmissions
}

func (r Relays) interval() time.Duration {
	if r.PDUInterval > 0 {
		return max(r.PDUInterval, minPDUInterval)
	}
	return DefaultPDUInterval
}

func (r Relays) load() float64 {
	if r.Load > 0 && r.Load <= 1 {
		return r.Load
	}
	return DefaultLoad
}

// Hop returns the time one relay needs to forward one PDU when its queue
// is short: its Relay Retransmit transmissions, one advertising event each.
func (r Relays) Hop() time.Duration {
	return time.Duration(r.transmissions()) * r.interval()
}

// PDUCost returns the network air one PDU occupies over relays: every
// relay forwards every PDU, so the network carries at most one PDU per
// Hop, of which the client plans Load.
func (r Relays) PDUCost() time.Duration {
	return time.Duration(float64(r.Hop()) / r.load())
}

// Exchange returns the time a request of reqPDUs and its answer of
// ansPDUs need over hops when the relays' queues are short: base covers
// one hop (reply delay, segments, acknowledgments); every further hop adds
// a relay hop each way, and over relays both messages' PDUs pass the
// relays one after the other.
func (r Relays) Exchange(base time.Duration, hops, reqPDUs, ansPDUs int) time.Duration {
	if hops <= 1 {
		return base
	}
	h := r.Hop()
	return base + time.Duration(hops-1)*2*h + time.Duration(reqPDUs+ansPDUs)*h
}

// Air books the network's air for the exchanges of one client, so that
// the PDUs it causes never arrive faster than the relays forward them.
// The zero value is free now.
type Air struct {
	next time.Time
}

// Reserve books d of air for an exchange that starts no earlier than now
// and returns how long the exchange must wait for the air booked before
// it.
func (a *Air) Reserve(now time.Time, d time.Duration) time.Duration {
	start := now
	if a.next.After(start) {
		start = a.next
	}
	a.next = start.Add(d)
	return start.Sub(now)
}

// Wait returns how long until the booked air is free.
func (a *Air) Wait(now time.Time) time.Duration {
	if d := a.next.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Reset frees the air booked.
func (a *Air) Reset() { a.next = time.Time{} }
