package friend

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Defaults of FriendParams and timing of the Friend feature.
const (
	// DefaultQueueSize is the Friend Queue offered per LPN, in Lower
	// Transport PDUs (Zephyr's CONFIG_BT_MESH_FRIEND_QUEUE_SIZE).
	DefaultQueueSize = 16
	// DefaultSubListSize is the Friend Subscription List size offered.
	DefaultSubListSize = 8
	// DefaultReceiveWindow is the ReceiveWindow offered (Zephyr's
	// CONFIG_BT_MESH_FRIEND_RECV_WIN).
	DefaultReceiveWindow = 255 * time.Millisecond
	// DefaultMaxLPNs is how many friendships a Friend holds at once.
	DefaultMaxLPNs = 4
	// FirstPollWait is how long a Friend waits for the first Friend Poll
	// after its Friend Offer went out (§3.6.6.3.1).
	FirstPollWait = time.Second
	// MinOfferDelay is the shortest Friend Offer Delay (§3.6.6.3.1).
	MinOfferDelay = 100 * time.Millisecond
	// ClearRepeatStart is the first period of the Friend Clear repeat
	// timer; it doubles after every repeat (§3.6.6.3.1).
	ClearRepeatStart = time.Second
	// ClearTTL is the TTL of a Friend Clear sent by a new Friend.
	ClearTTL = 0x7F
)

// OfferDelay is the Friend Offer Delay (§3.6.6.3.1): ReceiveWindowFactor ×
// ReceiveWindow − RSSIFactor × RSSI, in ms, and at least 100 ms. window is
// the ReceiveWindow the Friend offers, rssi the measured RSSI of the
// Friend Request in dBm (RSSIUnavailable when not measured). The factors
// are exact: 2.5 × 255 ms gives 637.5 ms.
func OfferDelay(rwf, rssif Factor, window time.Duration, rssi int8) time.Duration {
	ms := window / time.Millisecond
	tenths := int64(rwf.Tenths())*int64(ms) - int64(rssif.Tenths())*int64(rssi)
	d := time.Duration(tenths) * 100 * time.Microsecond
	return max(d, MinOfferDelay)
}

// FriendParams tune the Friend feature. Zero fields take the defaults.
type FriendParams struct {
	QueueSize     int           // 0: DefaultQueueSize; at most 255
	SubListSize   int           // 0: DefaultSubListSize; at most 255
	ReceiveWindow time.Duration // 0: DefaultReceiveWindow; 1–255 ms
	MaxLPNs       int           // 0: DefaultMaxLPNs
	// RSSI returns the RSSI at which the Friend Request from src was
	// received, if the bearer measured it. nil: unavailable (0x7F).
	RSSI func(src mesh.Address) (int8, bool)
	// SARRx times the Segment Acknowledgments the Friend sends on behalf
	// of its LPNs. Zero: transport.DefaultSARReceiver.
	SARRx transport.SARReceiver
}

func (p *FriendParams) withDefaults() error {
	if p.QueueSize == 0 {
		p.QueueSize = DefaultQueueSize
	}
	if p.SubListSize == 0 {
		p.SubListSize = DefaultSubListSize
	}
	if p.ReceiveWindow == 0 {
		p.ReceiveWindow = DefaultReceiveWindow
	}
	if p.MaxLPNs == 0 {
		p.MaxLPNs = DefaultMaxLPNs
	}
	if p.SARRx == (transport.SARReceiver{}) {
		p.SARRx = transport.DefaultSARReceiver
	}
	switch {
	case p.QueueSize < 2 || p.QueueSize > 255:
		return fmt.Errorf("friend: QueueSize %d, want 2–255", p.QueueSize)
	case p.SubListSize < 0 || p.SubListSize > 255:
		return fmt.Errorf("friend: SubListSize %d, want 0–255", p.SubListSize)
	case p.ReceiveWindow < time.Millisecond || p.ReceiveWindow > 255*time.Millisecond:
		return fmt.Errorf("friend: ReceiveWindow %v, want 1–255 ms", p.ReceiveWindow)
	case p.MaxLPNs < 1:
		return fmt.Errorf("friend: MaxLPNs %d", p.MaxLPNs)
	}
	return nil
}

// FriendConfig configures a Friend.
type FriendConfig struct {
	Stack
	FriendParams
}

// FriendStats counts what a Friend did. All counters only grow except
// QueueHigh, a high-water mark.
type FriendStats struct {
	Requests       uint64 // Friend Requests received
	Refused        uint64 // Requests not answered (queue too small, too many LPNs, bad range)
	Offers         uint64 // Friend Offers sent
	Established    uint64 // friendships established (first Poll received)
	Terminated     uint64 // friendships ended, for any reason
	PollTimeouts   uint64 // of which by PollTimeout expiry
	Polls          uint64 // Friend Polls received
	Resends        uint64 // responses resent because the FSN did not change
	Updates        uint64 // Friend Updates sent (first transmissions)
	Queued         uint64 // PDUs stored in a Friend Queue
	Delivered      uint64 // stored PDUs sent to an LPN (first transmissions)
	QueueOverflows uint64 // PDUs discarded because a Friend Queue was full
	QueueHigh      uint64 // the most PDUs any Friend Queue held
	Segmented      uint64 // segmented messages reassembled and queued
	OBOAcks        uint64 // Segment Acknowledgments sent on behalf of an LPN
	SubListAdds    uint64
	SubListRemoves uint64
	SubListFull    uint64 // addresses not added: the list was full
	ClearsSent     uint64 // Friend Clears sent to a previous Friend
	ClearConfirmed uint64 // Friend Clear Confirms received for them
	ClearsReceived uint64 // valid Friend Clears that ended a friendship
	Dropped        uint64 // friendship control messages ignored
}

// LPNInfo describes one friendship a Friend holds.
type LPNInfo struct {
	Address       mesh.Address
	Elements      int
	NetKeyIndex   uint16
	Established   bool
	QueueLen      int
	QueueSize     int
	Subscriptions []mesh.Address
	ReceiveDelay  time.Duration
	PollTimeout   time.Duration
	LPNCounter    uint16
	FriendCounter uint16
}

// Friend is the Friend feature of a node (Mesh Protocol v1.1 §3.6.6.3,
// §3.5.5): it answers Friend Requests, keeps a Friend Queue per Low Power
// node, answers Friend Polls from it, acknowledges segments on behalf of
// its LPNs, manages their subscription lists and runs the Friend Clear
// procedure. Call every method on the node's executor.
type Friend struct {
	st      Stack
	p       FriendParams
	log     *slog.Logger
	out     sealer
	enabled bool

	lpns    []*lpnCtx
	counter uint16 // FriendCounter of the next Offer
	reasm   map[pairKey]*reasm
	stats   FriendStats

	targets []*lpnCtx
	fresh   []entry
	buf     [network.MaxPDUSize]byte
}

// lpnCtx is one friendship (or an Offer waiting for its first Poll).
type lpnCtx struct {
	addr          mesh.Address
	elements      int
	netIdx        uint16
	lpnCounter    uint16
	friendCounter uint16
	recvDelay     time.Duration
	pollTimeout   time.Duration
	prev          mesh.Address
	cred          *network.Friendship
	established   bool

	fsn     uint8
	hasFSN  bool
	last    []byte // the last response sent, for a byte-identical resend
	queue   []entry
	subs    []mesh.Address
	offered bool

	offer, poll, respond, confirm gate
	// Friend Clear procedure toward prev
	clearRepeat gate
	clearPeriod time.Duration
	clearStart  time.Time
}

func (c *lpnCtx) owns(a mesh.Address) bool {
	return a.IsUnicast() && a >= c.addr && int(a-c.addr) < c.elements
}

func (c *lpnCtx) matches(dst mesh.Address) bool {
	return c.owns(dst) || slices.Contains(c.subs, dst)
}

// NewFriend returns an enabled Friend.
func NewFriend(cfg FriendConfig) (*Friend, error) {
	if err := cfg.Stack.withDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.FriendParams.withDefaults(); err != nil {
		return nil, err
	}
	f := &Friend{st: cfg.Stack, p: cfg.FriendParams, log: cfg.Logger, enabled: true, reasm: map[pairKey]*reasm{}}
	f.out.st = &f.st
	return f, nil
}

// Stats returns the counters.
func (f *Friend) Stats() FriendStats { return f.stats }

// Params returns the parameters in use.
func (f *Friend) Params() FriendParams { return f.p }

// Enabled reports whether the Friend feature is enabled.
func (f *Friend) Enabled() bool { return f.enabled }

// SetEnabled enables or disables the Friend feature (Config Friend Set).
// Disabling ends every friendship, as Zephyr does.
func (f *Friend) SetEnabled(on bool) {
	f.enabled = on
	if !on {
		for len(f.lpns) > 0 {
			f.terminate(f.lpns[0], "friend feature disabled")
		}
	}
}

// Close ends every friendship and stops every timer.
func (f *Friend) Close() {
	f.SetEnabled(false)
	for _, r := range f.reasm {
		r.stopTimers()
	}
	clear(f.reasm)
}

// LPNs describes the friendships held, in the order they were made.
func (f *Friend) LPNs() []LPNInfo {
	out := make([]LPNInfo, 0, len(f.lpns))
	for _, c := range f.lpns {
		out = append(out, LPNInfo{
			Address: c.addr, Elements: c.elements, NetKeyIndex: c.netIdx, Established: c.established,
			QueueLen: len(c.queue), QueueSize: f.p.QueueSize, Subscriptions: slices.Clone(c.subs),
			ReceiveDelay: c.recvDelay, PollTimeout: c.pollTimeout,
			LPNCounter: c.lpnCounter, FriendCounter: c.friendCounter,
		})
	}
	return out
}

// ForLPN reports whether a is an element address of a Low Power node this
// Friend is in an established friendship with (network.Config.ForLPN).
func (f *Friend) ForLPN(a mesh.Address) bool {
	for _, c := range f.lpns {
		if c.established && c.owns(a) {
			return true
		}
	}
	return false
}

// SecurityUpdate appends a Friend Update to every Friend Queue: call it
// when the IV Index, the IV Update flag or a Key Refresh flag changed
// (§3.5.5). Friend Updates are never evicted to make room.
func (f *Friend) SecurityUpdate() {
	for _, c := range f.lpns {
		if c.established {
			c.queue = append(c.queue, entry{update: true})
			f.high(c)
		}
	}
}

func (f *Friend) find(netIdx uint16, lpn mesh.Address) *lpnCtx {
	for _, c := range f.lpns {
		if c.netIdx == netIdx && c.addr == lpn {
			return c
		}
	}
	return nil
}

func (f *Friend) byCred(cred *network.Friendship) *lpnCtx {
	if cred == nil {
		return nil
	}
	for _, c := range f.lpns {
		if c.cred == cred {
			return c
		}
	}
	return nil
}

func (f *Friend) debug() bool { return f.log.Enabled(context.Background(), slog.LevelDebug) }

// Receive processes a PDU the network layer delivered to the node. It
// handles friendship control messages addressed to this Friend (or to
// all-friends) and stores messages for its LPNs, and reports whether the
// PDU was consumed: then the transport layer should not see it. A message
// to a group an LPN subscribed is stored and not consumed.
func (f *Friend) Receive(rx *network.Rx) bool {
	if rx.Loopback {
		return false
	}
	tp := rx.TransportPDU
	if rx.CTL && len(tp) > 0 && tp[0]&0x80 == 0 && tp[0] >= OpPoll && tp[0] <= OpSubListConfirm &&
		(rx.DST == mesh.AddrAllFriends || rx.DST == f.st.Primary()) {
		f.control(rx, tp[0], tp[1:])
		return true
	}
	return f.store(rx)
}

// control handles one friendship control message for this node.
func (f *Friend) control(rx *network.Rx, op uint8, params []byte) {
	m, err := Decode(op, params)
	if err != nil {
		f.stats.Dropped++
		if f.debug() {
			f.log.Debug("friend: control dropped", "src", rx.SRC, "err", err)
		}
		return
	}
	if !f.enabled && op == OpRequest {
		return
	}
	if err := f.st.Replay.Check(rx.SRC, rx.IVIndex, rx.SEQ); err != nil {
		f.stats.Dropped++
		return
	}
	f.st.Replay.Update(rx.SRC, rx.IVIndex, rx.SEQ) //nolint:errcheck // a full list only weakens replay protection
	switch m := m.(type) {
	case *Request:
		if rx.DST == mesh.AddrAllFriends && rx.Friend == nil {
			f.onRequest(rx, m)
		}
	case *Poll:
		if c := f.byCred(rx.Friend); c != nil && rx.SRC == c.addr {
			f.onPoll(c, m.FSN)
		}
	case *SubListAdd:
		if c := f.byCred(rx.Friend); c != nil && c.established && rx.SRC == c.addr {
			f.onSubList(c, true, m.TransactionNumber, m.Addresses)
		}
	case *SubListRemove:
		if c := f.byCred(rx.Friend); c != nil && c.established && rx.SRC == c.addr {
			f.onSubList(c, false, m.TransactionNumber, m.Addresses)
		}
	case *Clear:
		f.onClear(rx, m)
	case *ClearConfirm:
		f.onClearConfirm(rx, m)
	default:
		f.stats.Dropped++ // Update, Offer, Confirm: messages for an LPN
	}
}

// onRequest answers a Friend Request with an Offer after the Friend Offer
// Delay, if this Friend can meet its criteria (§3.6.6.3.1).
func (f *Friend) onRequest(rx *network.Rx, req *Request) {
	f.stats.Requests++
	if req.MinQueueSize() > f.p.QueueSize || int(rx.SRC)+int(req.NumElements)-1 > 0x7FFF {
		f.stats.Refused++
		return
	}
	if old := f.find(rx.NetKeyIndex, rx.SRC); old != nil {
		f.terminate(old, "new friend request")
	}
	if len(f.lpns) >= f.p.MaxLPNs {
		f.stats.Refused++
		return
	}
	rssi := int8(RSSIUnavailable)
	if f.p.RSSI != nil {
		if v, ok := f.p.RSSI(rx.SRC); ok {
			rssi = v
		}
	}
	c := &lpnCtx{
		addr: rx.SRC, elements: int(req.NumElements), netIdx: rx.NetKeyIndex, lpnCounter: req.LPNCounter,
		recvDelay:   time.Duration(req.ReceiveDelay) * time.Millisecond,
		pollTimeout: time.Duration(req.PollTimeout) * 100 * time.Millisecond,
		prev:        req.PreviousAddress,
	}
	f.lpns = append(f.lpns, c)
	delay := OfferDelay(req.ReceiveWindowFactor, req.RSSIFactor, f.p.ReceiveWindow, rssi)
	if f.debug() {
		f.log.Debug("friend: request", "src", rx.SRC, "offer_delay", delay, "lpn_counter", req.LPNCounter)
	}
	c.offer.arm(f.st.Clock, delay, func() { f.sendOffer(c, rssi) })
}

func (f *Friend) sendOffer(c *lpnCtx, rssi int8) {
	c.friendCounter = f.counter
	f.counter++ // §3.6.6.3.1: incremented after each Offer
	cred, err := f.st.Subnets.AddFriendship(c.netIdx, c.addr, f.st.Primary(), c.lpnCounter, c.friendCounter)
	if err != nil {
		f.log.Warn("friend: cannot derive friendship credentials", "lpn", c.addr, "err", err)
		f.terminate(c, "credentials")
		return
	}
	c.cred = cred
	m := &Offer{ReceiveWindow: uint8(f.p.ReceiveWindow / time.Millisecond), QueueSize: uint8(f.p.QueueSize),
		SubscriptionListSize: uint8(f.p.SubListSize), RSSI: rssi, FriendCounter: c.friendCounter}
	// The LPN has 1 s from the Offer's reception to poll: count it from
	// the air, not from the advertiser queue.
	wait := func() {
		if !c.established {
			c.offer.arm(f.st.Clock, FirstPollWait, func() {
				if !c.established {
					f.terminate(c, "no first poll")
				}
			})
		}
	}
	if _, err := f.out.control(c.netIdx, c.addr, 0, m, nil, mesh.Transmit{}, wait); err != nil {
		f.log.Warn("friend: offer not sent", "lpn", c.addr, "err", err)
		f.terminate(c, "offer")
		return
	}
	c.offered = true
	f.stats.Offers++
}

// terminate ends a friendship (or a pending Offer): timers stop, the
// queue is discarded and the credentials are forgotten.
func (f *Friend) terminate(c *lpnCtx, reason string) {
	for _, g := range []*gate{&c.offer, &c.poll, &c.respond, &c.confirm, &c.clearRepeat} {
		g.stop()
	}
	if c.cred != nil {
		_ = f.st.Subnets.RemoveFriendship(c.cred)
		c.cred = nil
	}
	c.queue, c.last = nil, nil
	if i := slices.Index(f.lpns, c); i >= 0 {
		f.lpns = slices.Delete(f.lpns, i, i+1)
	}
	if c.established {
		f.stats.Terminated++
		f.log.Info("friend: friendship ended", "lpn", c.addr, "reason", reason)
	}
	c.established = false
}

func (f *Friend) restartPollTimeout(c *lpnCtx) {
	c.poll.arm(f.st.Clock, c.pollTimeout, func() {
		f.stats.PollTimeouts++
		f.terminate(c, "poll timeout")
	})
}

// onPoll answers a Friend Poll (§3.5.5, §3.6.6.3.2): the same response
// again when the FSN did not change, otherwise the next queued PDU or a
// Friend Update, ReceiveDelay after the Poll arrived.
func (f *Friend) onPoll(c *lpnCtx, fsn uint8) {
	f.stats.Polls++
	f.restartPollTimeout(c)
	if !c.established {
		c.established = true
		c.offer.stop()
		f.stats.Established++
		f.log.Info("friend: friendship established", "lpn", c.addr, "lpn_counter", c.lpnCounter, "friend_counter", c.friendCounter)
		f.startClear(c)
	}
	if c.respond.armed() {
		return // the answer to a copy of this Poll is on its way
	}
	if c.hasFSN && fsn == c.fsn && len(c.last) > 0 {
		c.respond.arm(f.st.Clock, c.recvDelay, func() {
			f.stats.Resends++
			f.st.Send(c.last, mesh.Transmit{}, nil)
		})
		return
	}
	c.last = c.last[:0] // acknowledged
	c.fsn, c.hasFSN = fsn, true
	c.respond.arm(f.st.Clock, c.recvDelay, func() { f.sendNext(c) })
}

// sendNext sends the oldest queued PDU, or a Friend Update when the queue
// is empty, and keeps it for a resend.
func (f *Friend) sendNext(c *lpnCtx) {
	var (
		pdu []byte
		err error
	)
	switch {
	case len(c.queue) == 0:
		pdu, err = f.sendUpdate(c, false)
	case c.queue[0].update:
		c.queue = slices.Delete(c.queue, 0, 1)
		pdu, err = f.sendUpdate(c, len(c.queue) > 0)
	default:
		e := c.queue[0]
		c.queue = slices.Delete(c.queue, 0, 1)
		h := network.Header{CTL: e.ctl, TTL: e.ttl, SEQ: e.seq, SRC: e.src, DST: e.dst}
		// §3.5.5: a stored PDU goes out with friendship credentials under
		// the IV Index it was received with.
		pdu, err = c.cred.Tx().Seal(f.buf[:0], &h, e.pdu[:e.n], e.iv)
		if err == nil {
			f.stats.Delivered++
			f.st.Send(pdu, mesh.Transmit{}, nil)
		}
	}
	if err != nil {
		f.log.Warn("friend: response not sent", "lpn", c.addr, "err", err)
		return
	}
	c.last = append(c.last[:0], pdu...)
}

// sendUpdate sends a Friend Update with the node's IV Index and flags.
func (f *Friend) sendUpdate(c *lpnCtx, md bool) ([]byte, error) {
	iv := f.st.IV()
	u := &Update{IVUpdate: iv.Updating, IVIndex: iv.Index, MD: md}
	if k, ok := f.st.Subnets.Get(c.netIdx); ok && k.Phase() == network.Phase2 {
		u.KeyRefresh = true
	}
	pdu, err := f.out.control(c.netIdx, c.addr, 0, u, c.cred.Tx(), mesh.Transmit{}, nil)
	if err == nil {
		f.stats.Updates++
	}
	return pdu, err
}

// onSubList applies a Subscription List Add or Remove and confirms it
// ReceiveDelay later (§3.6.6.3.3). Addresses beyond the offered list size
// are dropped silently, as Zephyr does; the Confirm is sent anyway.
func (f *Friend) onSubList(c *lpnCtx, add bool, tn uint8, addrs []mesh.Address) {
	f.restartPollTimeout(c)
	if add {
		f.stats.SubListAdds++
		for _, a := range addrs {
			switch {
			case slices.Contains(c.subs, a):
			case len(c.subs) < f.p.SubListSize:
				c.subs = append(c.subs, a)
			default:
				f.stats.SubListFull++
			}
		}
	} else {
		f.stats.SubListRemoves++
		c.subs = slices.DeleteFunc(c.subs, func(a mesh.Address) bool { return slices.Contains(addrs, a) })
	}
	c.confirm.arm(f.st.Clock, c.recvDelay, func() {
		if _, err := f.out.control(c.netIdx, c.addr, 0, &SubListConfirm{TransactionNumber: tn}, c.cred.Tx(), mesh.Transmit{}, nil); err != nil {
			f.log.Warn("friend: subscription confirm not sent", "lpn", c.addr, "err", err)
		}
	})
}

// startClear runs the Friend Clear procedure toward the LPN's previous
// Friend (§3.6.6.3.1): a Clear now, then after 1 s, 2 s, 4 s … until a
// Confirm arrives or 2 × PollTimeout has passed.
func (f *Friend) startClear(c *lpnCtx) {
	if !c.prev.IsUnicast() || c.prev == f.st.Primary() {
		return
	}
	c.clearStart = f.st.Clock.Now()
	c.clearPeriod = ClearRepeatStart
	f.sendClear(c)
}

func (f *Friend) sendClear(c *lpnCtx) {
	if f.st.Clock.Now().Sub(c.clearStart) >= 2*c.pollTimeout {
		return // Procedure timer expired
	}
	m := &Clear{LPNAddress: c.addr, LPNCounter: c.lpnCounter}
	if _, err := f.out.control(c.netIdx, c.prev, ClearTTL, m, nil, f.st.NetworkTransmit(), nil); err != nil {
		f.log.Warn("friend: clear not sent", "prev", c.prev, "err", err)
		return
	}
	f.stats.ClearsSent++
	c.clearRepeat.arm(f.st.Clock, c.clearPeriod, func() { f.sendClear(c) })
	c.clearPeriod *= 2
}

func (f *Friend) onClearConfirm(rx *network.Rx, m *ClearConfirm) {
	for _, c := range f.lpns {
		if c.netIdx == rx.NetKeyIndex && c.prev == rx.SRC && c.addr == m.LPNAddress && c.lpnCounter == m.LPNCounter && c.clearRepeat.armed() {
			c.clearRepeat.stop()
			f.stats.ClearConfirmed++
		}
	}
}

// onClear ends the friendship a valid Friend Clear names and confirms it
// (§3.6.6.3.2): valid when the Clear's LPNCounter is 0–255 past the one
// of the Request that set the friendship up.
func (f *Friend) onClear(rx *network.Rx, m *Clear) {
	c := f.find(rx.NetKeyIndex, m.LPNAddress)
	if c == nil || !c.established || m.LPNCounter-c.lpnCounter > 255 {
		return
	}
	f.stats.ClearsReceived++
	f.terminate(c, "friend clear")
	ttl := uint8(ClearTTL)
	if rx.TTL == 0 {
		ttl = 0
	}
	conf := &ClearConfirm{LPNAddress: m.LPNAddress, LPNCounter: m.LPNCounter}
	if _, err := f.out.control(rx.NetKeyIndex, rx.SRC, ttl, conf, nil, f.st.NetworkTransmit(), nil); err != nil {
		f.log.Warn("friend: clear confirm not sent", "dst", rx.SRC, "err", err)
	}
}
