package node

import (
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/network"
)

// friendFeatures holds a node's Friend and Low Power features (at most one
// of them) and the bearer they send through.
type friendFeatures struct {
	friend *friend.Friend
	lpn    *friend.LPN
	bearer mesh.Bearer // the node's bearer as the network layer sees it
}

// Friend returns the Friend feature, or nil without Config.Friend.
func (n *Node) Friend() *friend.Friend { return n.ff.friend }

// LPN returns the Low Power feature, or nil without Config.LowPower.
// LPN().QueueSize() is the Friend Queue the Friend granted.
func (n *Node) LPN() *friend.LPN { return n.ff.lpn }

// wrapBearer returns the bearer the node's layers send through: for a Low
// Power node one that counts advertising events for its radio-on time.
func (n *Node) wrapBearer(b mesh.Bearer) mesh.Bearer {
	if n.cfg.LowPower != nil {
		b = &lpnBearer{inner: b, n: n, clk: n.cfg.Clock}
	}
	n.ff.bearer = b
	return b
}

// buildFriend creates the Friend or Low Power feature (after the layers).
func (n *Node) buildFriend() error {
	c := n.cfg
	if c.Friend == nil && c.LowPower == nil {
		return nil
	}
	st := friend.Stack{
		Clock: c.Clock, Rand: c.Rand, Logger: n.log, Subnets: n.subnets,
		Primary:  n.Address,
		Elements: func() int { return n.st.Elements },
		NextSeq:  func() (uint32, error) { return n.nextSeq(n.st.Address) },
		IV: func() network.IVState {
			return network.IVState{Index: n.iv.Index(), Updating: n.iv.Updating()}
		},
		Send:            n.sendFriendPDU,
		NetworkTransmit: n.net.NetworkTransmit,
		DefaultTTL:      func() uint8 { return n.st.Features.DefaultTTL },
		Replay:          n.tr.ReplayList(),
	}
	var err error
	if c.Friend != nil {
		n.ff.friend, err = friend.NewFriend(friend.FriendConfig{Stack: st, FriendParams: *c.Friend})
		if err != nil {
			return err
		}
	}
	if c.LowPower != nil {
		p := *c.LowPower
		if p.Subscriptions == nil {
			p.Subscriptions = n.subscriptions
		}
		if p.TxPending == nil {
			p.TxPending = n.tr.TxInProgress
		}
		if p.OnUpdate == nil {
			p.OnUpdate = func(u friend.Update) { n.iv.OnBeacon(u.IVIndex, u.IVUpdate, true) }
		}
		n.ff.lpn, err = friend.NewLPN(friend.LPNConfig{Stack: st, LPNParams: p})
		if err != nil {
			return err
		}
		// The simulator's bearer lets the LPN decide when its receiver
		// hears anything (receive windows only).
		if lb, ok := c.Bearer.(interface{ SetListening(func() bool) }); ok {
			lb.SetListening(n.ff.lpn.Listening)
		}
	}
	return nil
}

func (n *Node) startFriend() {
	if n.ff.lpn != nil {
		n.ff.lpn.Start()
	}
}

func (n *Node) closeFriend() {
	if n.ff.friend != nil {
		n.ff.friend.Close()
	}
	if n.ff.lpn != nil {
		n.ff.lpn.Close()
	}
}

// forLPN is network.Config.ForLPN.
func (n *Node) forLPN(a mesh.Address) bool { return n.ff.friend != nil && n.ff.friend.ForLPN(a) }

// lpnHeard shows a Low Power node every PDU before the network layer.
func (n *Node) lpnHeard(payload []byte) {
	if n.ff.lpn != nil {
		n.ff.lpn.Heard(payload)
	}
}

// friendReceive gives the features a delivered PDU first; true: consumed.
func (n *Node) friendReceive(rx *network.Rx) bool {
	if n.ff.friend != nil && n.ff.friend.Receive(rx) {
		return true
	}
	return n.ff.lpn != nil && n.ff.lpn.Receive(rx)
}

// friendSecurityChanged queues Friend Updates after an IV Index change.
func (n *Node) friendSecurityChanged() {
	if n.ff.friend != nil {
		n.ff.friend.SecurityUpdate()
	}
}

// sendFriendPDU hands a sealed PDU of the features to the bearer.
func (n *Node) sendFriendPDU(pdu []byte, tx mesh.Transmit, sent func()) {
	if nb, ok := n.ff.bearer.(mesh.NotifyBearer); ok && sent != nil {
		nb.SendNotify(mesh.ADMessage, pdu, tx, sent)
		return
	}
	n.ff.bearer.Send(mesh.ADMessage, pdu, tx)
	if sent != nil {
		n.cfg.Clock.AfterFunc(0, sent)
	}
}

// subscriptions lists the group and virtual addresses the node's models
// subscribe to, for the Friend Subscription List.
func (n *Node) subscriptions() []mesh.Address {
	var out []mesh.Address
	for _, e := range n.acc.Elements() {
		for _, m := range e.Models {
			for _, s := range m.Subscriptions() {
				if (s.Address.IsGroup() || s.Address.IsVirtual()) && !slices.Contains(out, s.Address) {
					out = append(out, s.Address)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// lpnBearer counts a Low Power node's advertising events (its radio-on
// time) on the way to the real bearer, keeping the optional interfaces.
type lpnBearer struct {
	inner mesh.Bearer
	n     *Node
	clk   mesh.Clock
}

var (
	_ mesh.RelayBearer  = (*lpnBearer)(nil)
	_ mesh.NotifyBearer = (*lpnBearer)(nil)
)

func (b *lpnBearer) note(tx mesh.Transmit) {
	if l := b.n.ff.lpn; l != nil {
		l.NoteTransmit(tx)
	}
}

func (b *lpnBearer) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.note(tx)
	b.inner.Send(kind, payload, tx)
}

func (b *lpnBearer) SendRelay(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	b.note(tx)
	if rb, ok := b.inner.(mesh.RelayBearer); ok {
		rb.SendRelay(kind, payload, tx)
		return
	}
	b.inner.Send(kind, payload, tx)
}

func (b *lpnBearer) SendNotify(kind mesh.ADType, payload []byte, tx mesh.Transmit, sent func()) {
	b.note(tx)
	if nb, ok := b.inner.(mesh.NotifyBearer); ok {
		nb.SendNotify(kind, payload, tx, sent)
		return
	}
	b.inner.Send(kind, payload, tx)
	b.clk.AfterFunc(0, sent)
}

// lpnNoAcks reports whether the transport must not acknowledge rx: a Low
// Power node does not while in a friendship (its Friend does, OBO).
func (n *Node) lpnNoAcks(rx *network.Rx) bool {
	return n.ff.lpn != nil && (rx.Friendship || n.ff.lpn.Established())
}
