package sim

import (
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
)

// Bearer is one node's attachment to a simulated medium.
type Bearer struct {
	m  *sim.Medium
	id sim.NodeID
}

var (
	_ mesh.Bearer       = (*Bearer)(nil)
	_ mesh.RelayBearer  = (*Bearer)(nil)
	_ mesh.NotifyBearer = (*Bearer)(nil)
)

// Attach returns node id's bearer on m and registers recv (which may be nil
// and set later with SetReceiver) as the node's receive function.
func Attach(m *sim.Medium, id sim.NodeID, recv mesh.ReceiveFunc) *Bearer {
	m.AddNodes(int(id) + 1)
	if recv != nil {
		m.SetReceiver(id, recv)
	}
	return &Bearer{m: m, id: id}
}

// Node returns the node's ID.
func (b *Bearer) Node() sim.NodeID { return b.id }

// Medium returns the medium the bearer is attached to.
func (b *Bearer) Medium() *sim.Medium { return b.m }

// SetReceiver replaces the node's receive function.
func (b *Bearer) SetReceiver(recv mesh.ReceiveFunc) { b.m.SetReceiver(b.id, recv) }

// Send queues payload for tx.Transmissions() advertising events spaced by
// tx.Interval(); it copies payload and never blocks.
func (b *Bearer) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.m.Send(b.id, kind, payload, tx)
}

// SendRelay is Send for a relayed PDU (Relay Retransmit parameters); the
// medium counts it under NodeMetrics.Relayed. Wire it where the network
// layer hands relayed PDUs to the bearer.
// SendNotify is Send with a callback once the PDU's last transmission
// started (or it was dropped); see mesh.NotifyBearer.
func (b *Bearer) SendNotify(kind mesh.ADType, payload []byte, tx mesh.Transmit, sent func()) {
	b.m.SendNotify(b.id, kind, payload, tx, sent)
}

func (b *Bearer) SendRelay(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.m.SendRelay(b.id, kind, payload, tx)
}

// SetRadio switches the node's radio on or off (reboot, LPN sleep).
func (b *Bearer) SetRadio(on bool) { b.m.SetRadio(b.id, on) }

// RadioOn reports whether the node's radio is on.
func (b *Bearer) RadioOn() bool { return b.m.RadioOn(b.id) }

// SetListening installs the node's listening predicate (LPN receive
// windows); nil means always listening.
func (b *Bearer) SetListening(f func() bool) { b.m.SetListening(b.id, f) }

// Metrics returns the node's live counters.
func (b *Bearer) Metrics() *sim.NodeMetrics { return b.m.NodeMetrics(b.id) }

// Count adds delta to one of the node's custom counters.
func (b *Bearer) Count(name string, delta uint64) { b.m.Count(b.id, name, delta) }
