package fleet

import (
	"reflect"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/sim"
)

// Metrics is a snapshot of the medium's counters merged with every node's
// network, transport and node counters, ready for encoding/json. A node's
// stack counters include those of its instances before reboots.
type Metrics struct {
	VirtualTime time.Duration     `json:"virtual_time_ns"`
	Events      uint64            `json:"events"`
	Medium      sim.MediumMetrics `json:"medium"`
	// Totals sums the stack counters over all nodes (the Low Power
	// figures over the Low Power nodes, the Friend ones over the Friends).
	Totals StackMetrics  `json:"totals"`
	Nodes  []NodeMetrics `json:"nodes"`
	// LPNs is the number of Low Power nodes; FriendQueueOverflows sums
	// FriendMetrics.QueueOverflows over every Friend: 0 proves no message
	// for a Low Power node was evicted from or refused by a Friend Queue.
	LPNs                 int    `json:"lpns"`
	FriendQueueOverflows uint64 `json:"friend_queue_overflows"`
}

// StackMetrics are one node's (or all nodes') protocol stack counters.
type StackMetrics struct {
	Network   network.Stats   `json:"network"`
	Transport transport.Stats `json:"transport"`
	Node      node.Stats      `json:"node"`
	// LPN is set on a Low Power node, Friend on a Friend (lpn.go).
	LPN    *LPNMetrics    `json:"lpn,omitempty"`
	Friend *FriendMetrics `json:"friend,omitempty"`
}

// NodeMetrics are one node's counters: its radio (from the medium) and its
// stack.
type NodeMetrics struct {
	Address mesh.Address `json:"address"`
	Relay   bool         `json:"relay"`
	On      bool         `json:"on"`
	Reboots int          `json:"reboots"`
	// LowPower reports a Low Power node (its figures are in LPN).
	LowPower bool            `json:"low_power"`
	Radio    sim.NodeMetrics `json:"radio"`
	StackMetrics
}

// DeliveryRatio is Medium.Deliveries over the receptions attempted
// (deliveries plus losses of every cause); 1 when nothing was sent.
func (m *Metrics) DeliveryRatio() float64 {
	tried := m.Medium.Deliveries + m.Medium.Lost.Total()
	if tried == 0 {
		return 1
	}
	return float64(m.Medium.Deliveries) / float64(tried)
}

// stackStats accumulates counters of node instances that were replaced.
type stackStats StackMetrics

func (s *stackStats) add(n *node.Node) {
	addCounters(&s.Network, n.Network().Stats())
	addCounters(&s.Transport, n.Transport().Stats())
	addCounters(&s.Node, n.Stats())
	s.addFeatures(n)
}

// addCounters adds every unsigned integer field of src to dst (*T and T
// of the same struct type).
func addCounters[T any](dst *T, src T) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range d.NumField() {
		if f := d.Field(i); f.CanUint() {
			f.SetUint(f.Uint() + s.Field(i).Uint())
		}
	}
}

// Metrics returns a snapshot of the whole network's counters.
func (f *Fleet) Metrics() Metrics {
	mm := f.med.Metrics()
	out := Metrics{
		VirtualTime: mm.VirtualTime,
		Events:      mm.Events,
		Medium:      mm.Medium,
		Nodes:       make([]NodeMetrics, len(f.members)),
	}
	for i, m := range f.members {
		nm := NodeMetrics{Address: m.addr, Relay: f.relays[i], On: m.on, Reboots: m.reboots, StackMetrics: StackMetrics(m.past)}
		if i < len(mm.Nodes) {
			nm.Radio = mm.Nodes[i]
		}
		nm.LPN, nm.Friend = clonePtr(nm.LPN), clonePtr(nm.Friend) // the past stays as it was
		if m.on {
			s := (*stackStats)(&nm.StackMetrics)
			s.add(m.node)
			liveFeatures(&nm, m.node)
		}
		nm.LowPower = nm.LPN != nil
		out.Nodes[i] = nm
		addCounters(&out.Totals.Network, nm.Network)
		addCounters(&out.Totals.Transport, nm.Transport)
		addCounters(&out.Totals.Node, nm.Node)
		if nm.LPN != nil {
			out.LPNs++
			if out.Totals.LPN == nil {
				out.Totals.LPN = &LPNMetrics{}
			}
			out.Totals.LPN.sum(nm.LPN)
		}
		if nm.Friend != nil {
			if out.Totals.Friend == nil {
				out.Totals.Friend = &FriendMetrics{}
			}
			out.Totals.Friend.sum(nm.Friend)
			out.FriendQueueOverflows += nm.Friend.QueueOverflows
		}
	}
	return out
}

// clonePtr returns a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
