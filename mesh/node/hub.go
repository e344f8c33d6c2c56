package node

import (
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Hub is an in-memory broadcast medium for tests: every PDU one attached
// node sends reaches every other attached node after Delay, unless the
// seeded loss drops it (independently per receiver and transmission). It
// runs on one Clock, which is every node's executor. The radio simulator
// (sim/) is the full-featured medium; Hub is the smallest thing that lets
// the mesh layers talk.
type Hub struct {
	Clock mesh.Clock
	Rand  *rand.Rand
	// Loss is the probability that one transmission is lost at one
	// receiver, 0 ≤ Loss < 1.
	Loss float64
	// Delay is the time from Send to delivery; 0 means 1 ms.
	Delay time.Duration
	// Filter, if set, drops a transmission from one port to another when
	// it returns false (to shape a topology).
	Filter func(from, to int) bool

	ports []*HubPort
	// Sent and Lost count transmissions and per-receiver losses.
	Sent, Lost int
}

// HubPort is one node's bearer on a Hub.
type HubPort struct {
	hub  *Hub
	id   int
	recv mesh.ReceiveFunc
	Down bool // a port that is down neither sends nor receives
}

var _ mesh.Bearer = (*HubPort)(nil)

// Attach adds a port; set its receiver with SetReceiver.
func (h *Hub) Attach() *HubPort {
	p := &HubPort{hub: h, id: len(h.ports)}
	h.ports = append(h.ports, p)
	return p
}

// ID returns the port's index on the hub.
func (p *HubPort) ID() int { return p.id }

// SetReceiver sets where received PDUs go (a node's Receive).
func (p *HubPort) SetReceiver(f mesh.ReceiveFunc) { p.recv = f }

// Send broadcasts payload tx.Transmissions() times, tx.Interval() apart.
func (p *HubPort) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	if p.Down {
		return
	}
	h := p.hub
	buf := append([]byte(nil), payload...)
	delay := h.Delay
	if delay == 0 {
		delay = time.Millisecond
	}
	for i := 0; i < tx.Transmissions(); i++ {
		h.Clock.AfterFunc(delay+time.Duration(i)*tx.Interval(), func() {
			h.Sent++
			for _, q := range h.ports {
				if q == p || q.Down || q.recv == nil {
					continue
				}
				if h.Filter != nil && !h.Filter(p.id, q.id) {
					continue
				}
				if h.Loss > 0 && h.Rand != nil && h.Rand.Float64() < h.Loss {
					h.Lost++
					continue
				}
				q.recv(kind, buf)
			}
		})
	}
}
