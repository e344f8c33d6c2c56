package sim

import (
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// LossCounts counts failed receptions by cause.
type LossCounts struct {
	Link         uint64 `json:"link"`
	Collision    uint64 `json:"collision"`
	HalfDuplex   uint64 `json:"half_duplex"`
	RadioOff     uint64 `json:"radio_off"`
	NotListening uint64 `json:"not_listening"`
}

func (l *LossCounts) add(c Cause) {
	switch c {
	case CauseLink:
		l.Link++
	case CauseCollision:
		l.Collision++
	case CauseHalfDuplex:
		l.HalfDuplex++
	case CauseRadioOff:
		l.RadioOff++
	case CauseNotListening:
		l.NotListening++
	}
}

// Total returns the number of failed receptions.
func (l LossCounts) Total() uint64 {
	return l.Link + l.Collision + l.HalfDuplex + l.RadioOff + l.NotListening
}

// KindCounts counts advertising events by AD type.
type KindCounts struct {
	Message      uint64 `json:"message"`
	Beacon       uint64 `json:"beacon"`
	Provisioning uint64 `json:"provisioning"`
	Other        uint64 `json:"other"`
}

func (k *KindCounts) add(t mesh.ADType) {
	switch t {
	case mesh.ADMessage:
		k.Message++
	case mesh.ADBeacon:
		k.Beacon++
	case mesh.ADProvisioning:
		k.Provisioning++
	default:
		k.Other++
	}
}

// NodeMetrics are one node's counters. The medium keeps all of them except
// Custom; a node's own code may bump Custom through Medium.Count.
type NodeMetrics struct {
	Sent          uint64            `json:"sent"`          // PDUs given to Send or SendRelay
	Relayed       uint64            `json:"relayed"`       // of which with SendRelay
	Dropped       uint64            `json:"dropped"`       // PDUs discarded because the radio was off
	Transmissions uint64            `json:"transmissions"` // advertising events put on air
	TxByKind      KindCounts        `json:"tx_by_kind"`    // the same by AD type
	AirTime       time.Duration     `json:"air_time_ns"`   // total time on air
	Received      uint64            `json:"received"`      // receptions delivered to the node
	Lost          LossCounts        `json:"lost"`          // receptions that failed here, by cause
	QueueLen      int               `json:"queue_len"`     // PDUs waiting in the advertiser now
	QueueMax      int               `json:"queue_max"`     // the most that ever waited
	Custom        map[string]uint64 `json:"custom,omitempty"`
}

// MediumMetrics are the medium's totals.
type MediumMetrics struct {
	Transmissions uint64        `json:"transmissions"` // advertising events
	AirTime       time.Duration `json:"air_time_ns"`   // summed over all senders
	Deliveries    uint64        `json:"deliveries"`    // successful receptions
	Lost          LossCounts    `json:"lost"`          // failed receptions by cause
	Unheard       uint64        `json:"unheard"`       // events nobody received
}

// Metrics is a snapshot of the medium's and every node's counters, ready
// for encoding/json.
type Metrics struct {
	VirtualTime time.Duration `json:"virtual_time_ns"`
	Events      uint64        `json:"events"`
	Medium      MediumMetrics `json:"medium"`
	Nodes       []NodeMetrics `json:"nodes"`
}

// Metrics returns a snapshot (the Custom maps are copied).
func (m *Medium) Metrics() Metrics {
	out := Metrics{
		VirtualTime: m.e.Elapsed(),
		Events:      m.e.Processed(),
		Medium:      m.total,
		Nodes:       make([]NodeMetrics, len(m.radios)),
	}
	for i, r := range m.radios {
		out.Nodes[i] = r.m
		if r.m.Custom != nil {
			c := make(map[string]uint64, len(r.m.Custom))
			for k, v := range r.m.Custom {
				c[k] = v
			}
			out.Nodes[i].Custom = c
		}
	}
	return out
}

// NodeMetrics returns node id's live counters. The pointer stays valid; a
// node may read it at any time on the loop.
func (m *Medium) NodeMetrics(id NodeID) *NodeMetrics { return &m.radio(id).m }

// Totals returns the medium's totals so far.
func (m *Medium) Totals() MediumMetrics { return m.total }

// Count adds delta to node id's custom counter name, for metrics the node
// stack keeps itself (e.g. "network.cache_hit").
func (m *Medium) Count(id NodeID, name string, delta uint64) {
	r := m.radio(id)
	if r.m.Custom == nil {
		r.m.Custom = make(map[string]uint64)
	}
	r.m.Custom[name] += delta
}
