package fleet

import (
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
)

// LPNMetrics are a Low Power node's figures (docs/friend-lpn.md): its
// radio-on time, the one a battery designer cares about, summed over the
// node's instances (reboots included), and its friendship now.
type LPNMetrics struct {
	RadioOn       time.Duration `json:"radio_on_ns"` // ListenTime + Transmissions × air time
	ListenTime    time.Duration `json:"listen_ns"`   // receive windows
	Transmissions uint64        `json:"transmissions"`
	Polls         uint64        `json:"polls"`
	Resends       uint64        `json:"resends"`
	Messages      uint64        `json:"messages"` // stored messages received from the Friend
	Established   uint64        `json:"established"`
	Lost          uint64        `json:"lost"`
	Friend        mesh.Address  `json:"friend"`     // the current Friend, 0 without one
	QueueSize     int           `json:"queue_size"` // the Friend Queue granted now
}

// FriendMetrics are a Friend node's figures, summed over its instances.
// QueueOverflows counts PDUs evicted from or refused by a Friend Queue:
// zero proves no message for a Low Power node was lost there.
type FriendMetrics struct {
	QueueOverflows uint64 `json:"queue_overflows"`
	QueueHigh      uint64 `json:"queue_high"` // the most PDUs one of its queues held
	Queued         uint64 `json:"queued"`
	Delivered      uint64 `json:"delivered"`
	Established    uint64 `json:"established"`
	Terminated     uint64 `json:"terminated"`
	LPNs           int    `json:"lpns"` // friendships held now
}

func (m *LPNMetrics) add(l *friend.LPN) {
	s := l.Stats()
	m.RadioOn += l.RadioOnTime()
	m.ListenTime += s.ListenTime
	m.Transmissions += s.Transmissions
	m.Polls += s.Polls
	m.Resends += s.Resends
	m.Messages += s.Messages
	m.Established += s.Established
	m.Lost += s.Lost
}

func (m *LPNMetrics) sum(o *LPNMetrics) {
	m.RadioOn += o.RadioOn
	m.ListenTime += o.ListenTime
	m.Transmissions += o.Transmissions
	m.Polls += o.Polls
	m.Resends += o.Resends
	m.Messages += o.Messages
	m.Established += o.Established
	m.Lost += o.Lost
}

func (m *FriendMetrics) add(f *friend.Friend) {
	s := f.Stats()
	m.QueueOverflows += s.QueueOverflows
	m.QueueHigh = max(m.QueueHigh, s.QueueHigh)
	m.Queued += s.Queued
	m.Delivered += s.Delivered
	m.Established += s.Established
	m.Terminated += s.Terminated
}

func (m *FriendMetrics) sum(o *FriendMetrics) {
	m.QueueOverflows += o.QueueOverflows
	m.QueueHigh = max(m.QueueHigh, o.QueueHigh)
	m.Queued += o.Queued
	m.Delivered += o.Delivered
	m.Established += o.Established
	m.Terminated += o.Terminated
	m.LPNs += o.LPNs
}

// addFeatures accumulates n's Friend and Low Power figures.
func (s *stackStats) addFeatures(n *node.Node) {
	if l := n.LPN(); l != nil {
		if s.LPN == nil {
			s.LPN = &LPNMetrics{}
		}
		s.LPN.add(l)
	}
	if f := n.Friend(); f != nil {
		if s.Friend == nil {
			s.Friend = &FriendMetrics{}
		}
		s.Friend.add(f)
	}
}

// liveFeatures fills the figures that describe a running node now.
func liveFeatures(nm *NodeMetrics, n *node.Node) {
	if l := n.LPN(); l != nil && nm.LPN != nil {
		nm.LPN.Friend, nm.LPN.QueueSize = l.Friend(), l.QueueSize()
	}
	if f := n.Friend(); f != nil && nm.Friend != nil {
		nm.Friend.LPNs = len(f.LPNs())
	}
}

// LowPowerOptions returns a Config.NodeOptions that makes the nodes marked
// in lpn Low Power nodes with lp, and those marked in friends Friends with
// fp (a nil slice marks none). A scenario with N Low Power targets, each
// with a Friend among the relays, passes the relays (Fleet.Relays, or
// topology.DominatingRelays) as friends: a Low Power node takes the first
// acceptable Offer, and only Friends offer.
func LowPowerOptions(lpn, friends []bool, lp friend.LPNParams, fp friend.FriendParams) func(i int, c *node.Config) {
	return func(i int, c *node.Config) {
		if i < len(lpn) && lpn[i] {
			p := lp
			c.LowPower = &p
		}
		if i < len(friends) && friends[i] {
			p := fp
			c.Friend = &p
		}
	}
}

// LowPowerHook is node i's Low Power feature as a BLOB Transfer Server on
// it needs it (blob.ServerConfig.LPN: QueueSize and Poll), looked up at
// every call, so it survives reboots and can be built before the fleet
// exists (models are built inside New): Node returns the node now.
type LowPowerHook struct {
	Node func() *node.Node
}

// QueueSize returns the Friend Queue the node's Friend granted, 0 without
// a friendship or a node.
func (h LowPowerHook) QueueSize() int {
	if n := h.Node(); n != nil && n.LPN() != nil {
		return n.LPN().QueueSize()
	}
	return 0
}

// Poll asks the node's Friend for stored messages now.
func (h LowPowerHook) Poll() error {
	if n := h.Node(); n != nil && n.LPN() != nil {
		return n.LPN().Poll()
	}
	return friend.ErrNoFriend
}
