package udp

import (
	"strconv"
	"sync/atomic"
)

// DropReason says why a PDU or datagram was dropped.
type DropReason uint8

// Reasons for dropping, on the send side and then the receive side.
const (
	DropQueueFull  DropReason = iota // Send: the send queue was full
	DropInvalid                      // Send: bad AD type or payload length
	DropClosed                       // Send after Close, or delivery after Close
	DropWrite                        // a datagram could not be written (per peer)
	DropMalformed                    // received datagram empty, too long or of another AD type
	DropStranger                     // received from a non-peer with OnlyPeers set
	DropLoss                         // received datagram lost on purpose (Config.Loss)
	DropBacklog                      // the executor was behind by Config.Backlog PDUs
	DropNoReceiver                   // no receive function was set
	NumDropReasons                   // number of reasons (not a reason)
)

var dropNames = [NumDropReasons]string{
	"queue-full", "invalid", "closed", "write", "malformed", "stranger", "loss", "backlog", "no-receiver",
}

// String names the reason.
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "DropReason(" + strconv.Itoa(int(r)) + ")"
}

// Stats are a bearer's counters.
type Stats struct {
	Sent          uint64 // PDUs accepted by Send and SendRelay
	Relayed       uint64 // of which through SendRelay
	Transmissions uint64 // advertising events sent (each to every peer)
	Datagrams     uint64 // datagrams written (counted as each write starts): transmissions × peers
	Received      uint64 // PDUs delivered to the receive function
	// Dropped counts drops by reason, indexed by DropReason.
	Dropped [NumDropReasons]uint64
	// CaptureErr is the error that stopped the capture, if any.
	CaptureErr error
}

// TotalDropped returns the sum of Dropped.
func (s Stats) TotalDropped() uint64 {
	var n uint64
	for _, d := range s.Dropped {
		n += d
	}
	return n
}

// counters are the live, atomic Stats.
type counters struct {
	sent, relayed, transmissions, datagrams, received atomic.Uint64
	dropped                                           [NumDropReasons]atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (b *Bearer) Stats() Stats {
	s := Stats{
		Sent:          b.stats.sent.Load(),
		Relayed:       b.stats.relayed.Load(),
		Transmissions: b.stats.transmissions.Load(),
		Datagrams:     b.stats.datagrams.Load(),
		Received:      b.stats.received.Load(),
	}
	for i := range s.Dropped {
		s.Dropped[i] = b.stats.dropped[i].Load()
	}
	b.captureMu.Lock()
	s.CaptureErr = b.captureErr
	b.captureMu.Unlock()
	return s
}

// drop counts a drop.
func (b *Bearer) drop(r DropReason) {
	b.stats.dropped[r].Add(1)
	if b.onDrop != nil {
		b.onDrop(r)
	}
}
