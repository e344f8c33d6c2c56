package friend

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/network"
)

// Defaults of LPNParams and timing of the Low Power feature.
const (
	// DefaultReceiveDelay is the ReceiveDelay requested (Zephyr's
	// CONFIG_BT_MESH_LPN_RECV_DELAY).
	DefaultReceiveDelay = 100 * time.Millisecond
	// DefaultPollTimeout is the PollTimeout requested (Zephyr's
	// CONFIG_BT_MESH_LPN_POLL_TIMEOUT, 300 × 100 ms).
	DefaultPollTimeout = 30 * time.Second
	// DefaultMinQueueSizeLog asks for a Friend Queue of at least 2^3 = 8
	// Lower Transport PDUs.
	DefaultMinQueueSizeLog = 3
	// DefaultAttempts is how many times a Poll (or Subscription List
	// request) is sent before the friendship counts as lost: the first
	// transmission and 5 resends (Zephyr's budget; the spec recommends at
	// least 3 resends, §3.6.6.4.2).
	DefaultAttempts = 6
	// DefaultRetryPause is the pause after an empty receive window before
	// the request is sent again (Zephyr's POLL_RETRY_TIMEOUT).
	DefaultRetryPause = 100 * time.Millisecond
	// DefaultRequestRetry is the pause before a new Friend Request after
	// no acceptable Offer, or after losing a Friend (Zephyr's
	// CONFIG_BT_MESH_LPN_RETRY_TIMEOUT).
	DefaultRequestRetry = 8 * time.Second
	// DefaultTxPollInterval is the poll period while a segmented message
	// of the LPN's own waits for acknowledgments, which reach it through
	// the Friend Queue (Zephyr polls at least every second then).
	DefaultTxPollInterval = time.Second
	// DefaultAirTime is the air time of one advertising event, for the
	// radio-on estimate (the simulator's default).
	DefaultAirTime = 1200 * time.Microsecond
	// OfferListenDelay and OfferListenWindow frame the Friend Offers an
	// LPN listens for after its Friend Request: from 100 ms to 1.1 s
	// (§3.6.6.4.1).
	OfferListenDelay  = 100 * time.Millisecond
	OfferListenWindow = time.Second
)

// LPNParams tune the Low Power feature. Zero fields take the defaults.
type LPNParams struct {
	NetKeyIndex  uint16        // the subnet of the friendship
	ReceiveDelay time.Duration // 0: DefaultReceiveDelay; 10–255 ms
	PollTimeout  time.Duration // 0: DefaultPollTimeout; 1 s – 95 h, 100 ms steps
	// PollInterval is the period of Polls when the Friend Queue is empty.
	// 0: as long as the PollTimeout allows with every attempt of one Poll,
	// PollTimeout − Attempts × (ReceiveDelay + ReceiveWindow + RetryPause).
	PollInterval        time.Duration
	MinQueueSizeLog     uint8 // 0: DefaultMinQueueSizeLog; 1–7
	RSSIFactor          Factor
	ReceiveWindowFactor Factor
	Attempts            int           // 0: DefaultAttempts
	RetryPause          time.Duration // 0: DefaultRetryPause
	RequestRetry        time.Duration // 0: DefaultRequestRetry; more than 1.1 s
	TxPollInterval      time.Duration // 0: DefaultTxPollInterval
	AirTime             time.Duration // 0: DefaultAirTime
	// Counter is the LPNCounter of the first Friend Request; a node that
	// persists it never reuses friendship credentials across reboots.
	Counter uint16

	// Subscriptions returns the group and virtual addresses the node
	// listens to, for the Friend Subscription List. nil: none.
	Subscriptions func() []mesh.Address
	// TxPending reports whether a segmented message of the node's waits
	// for acknowledgments; the LPN then polls every TxPollInterval. nil:
	// never.
	TxPending func() bool
	// OnUpdate receives the Flags and IV Index of every Friend Update, to
	// process as a Secure Network beacon (§3.6.6.4.2). nil: ignored.
	OnUpdate func(u Update)
	// OnFriendship reports an established (true) or lost (false)
	// friendship. nil: none.
	OnFriendship func(established bool, friend mesh.Address)
}

func (p *LPNParams) withDefaults() error {
	if p.ReceiveDelay == 0 {
		p.ReceiveDelay = DefaultReceiveDelay
	}
	if p.PollTimeout == 0 {
		p.PollTimeout = DefaultPollTimeout
	}
	if p.MinQueueSizeLog == 0 {
		p.MinQueueSizeLog = DefaultMinQueueSizeLog
	}
	if p.Attempts == 0 {
		p.Attempts = DefaultAttempts
	}
	if p.RetryPause == 0 {
		p.RetryPause = DefaultRetryPause
	}
	if p.RequestRetry == 0 {
		p.RequestRetry = DefaultRequestRetry
	}
	if p.TxPollInterval == 0 {
		p.TxPollInterval = DefaultTxPollInterval
	}
	if p.AirTime == 0 {
		p.AirTime = DefaultAirTime
	}
	pt := p.PollTimeout / (100 * time.Millisecond)
	switch {
	case p.ReceiveDelay < MinReceiveDelay*time.Millisecond || p.ReceiveDelay > 255*time.Millisecond:
		return fmt.Errorf("friend: ReceiveDelay %v, want 10–255 ms", p.ReceiveDelay)
	case pt < MinPollTimeout || pt > MaxPollTimeout:
		return fmt.Errorf("friend: PollTimeout %v out of range", p.PollTimeout)
	case p.MinQueueSizeLog > 7:
		return fmt.Errorf("friend: MinQueueSizeLog %d", p.MinQueueSizeLog)
	case p.RSSIFactor > 3 || p.ReceiveWindowFactor > 3:
		return fmt.Errorf("friend: factor above 3")
	case p.RequestRetry <= OfferListenDelay+OfferListenWindow:
		return fmt.Errorf("friend: RequestRetry %v, want more than 1.1 s", p.RequestRetry)
	case p.Attempts < 1:
		return fmt.Errorf("friend: Attempts %d", p.Attempts)
	}
	return nil
}

// LPNConfig configures an LPN.
type LPNConfig struct {
	Stack
	LPNParams
}

// LPNState is where the Low Power feature stands:
//
//	Off ──Start──▶ Searching ──Offer──▶ Establishing ──Update──▶ Established
//	                  │  ▲                    │                      │
//	           no Offer  └──RequestRetry── Waiting ◀──no answer──────┘
//
// An LPN that is Off listens all the time; in every other state it
// listens only in its receive windows.
type LPNState uint8

// LPN states.
const (
	LPNOff          LPNState = iota // feature stopped: the radio listens continuously
	LPNSearching                    // Friend Request sent, listening for Offers
	LPNWaiting                      // pause before the next Friend Request
	LPNEstablishing                 // first Poll sent to the chosen Friend
	LPNEstablished                  // friendship established
)

// String names the state.
func (s LPNState) String() string {
	switch s {
	case LPNOff:
		return "off"
	case LPNSearching:
		return "searching"
	case LPNWaiting:
		return "waiting"
	case LPNEstablishing:
		return "establishing"
	case LPNEstablished:
		return "established"
	}
	return fmt.Sprintf("LPNState(%d)", uint8(s))
}

// LPNStats counts what an LPN did. ListenTime and Transmissions give its
// radio-on time (RadioOnTime).
type LPNStats struct {
	Requests          uint64 // Friend Requests sent
	Offers            uint64 // Friend Offers received
	Established       uint64 // friendships established
	Lost              uint64 // friendships lost (no answer before PollTimeout)
	EstablishFailures uint64 // chosen Friends that never answered the first Poll
	SearchFailures    uint64 // Friend Requests without an acceptable Offer
	Polls             uint64 // Friend Polls sent, resends included
	Resends           uint64 // requests sent again after an empty window
	Updates           uint64 // Friend Updates received
	Messages          uint64 // stored messages received from the Friend
	SubListAdds       uint64 // Subscription List Adds sent
	SubListRemoves    uint64 // Subscription List Removes sent
	SubListConfirms   uint64
	// ListenTime is the time spent in receive windows.
	ListenTime time.Duration
	// Transmissions counts advertising events the node sent (NoteTransmit).
	Transmissions uint64
}

type lpnReq uint8

const (
	reqNone lpnReq = iota
	reqPoll
	reqAdd
	reqRemove
)

// LPN is the Low Power feature of a node (Mesh Protocol v1.1 §3.6.6.4): it
// finds a Friend, polls it for stored messages with the receive delay and
// window, keeps its Friend Subscription List in step with the node's
// subscriptions, and finds another Friend when this one stops answering.
// Its radio listens only inside receive windows: give Listening to the
// bearer (the simulator's listening hook). Call every method on the
// node's executor.
type LPN struct {
	st    Stack
	p     LPNParams
	log   *slog.Logger
	out   sealer
	state LPNState

	counter    uint16 // LPNCounter of the next Friend Request
	reqCounter uint16 // LPNCounter of the Request in use
	prev       mesh.Address
	friend     mesh.Address
	offer      Offer
	cred       *network.Friendship
	fsn        uint8
	lastRx     rxKey
	hasLastRx  bool

	req      lpnReq
	attempts int
	reqGen   uint64
	tn       uint8 // TransactionNumber of the next new Add/Remove
	reqTN    uint8
	reqAddrs []mesh.Address
	subs     []mesh.Address // confirmed in the Friend Subscription List
	lastPoll time.Time
	pollNow  bool

	win struct {
		start, end time.Time
		open       bool
	}
	timer gate
	stats LPNStats
	rxBuf [network.MaxAccessTransportSize]byte
}

type rxKey struct {
	src mesh.Address
	seq uint32
	iv  uint32
}

// NewLPN returns an LPN in state LPNOff; Start begins the search for a
// Friend.
func NewLPN(cfg LPNConfig) (*LPN, error) {
	if err := cfg.Stack.withDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.LPNParams.withDefaults(); err != nil {
		return nil, err
	}
	l := &LPN{st: cfg.Stack, p: cfg.LPNParams, log: cfg.Logger, counter: cfg.Counter}
	l.out.st = &l.st
	return l, nil
}

// Params returns the parameters in use.
func (l *LPN) Params() LPNParams { return l.p }

// State returns the state.
func (l *LPN) State() LPNState { return l.state }

// Established reports whether a friendship is established.
func (l *LPN) Established() bool { return l.state == LPNEstablished }

// Friend returns the Friend's address while a friendship is established
// (or being established), and AddrUnassigned otherwise.
func (l *LPN) Friend() mesh.Address {
	if l.state == LPNEstablished || l.state == LPNEstablishing {
		return l.friend
	}
	return mesh.AddrUnassigned
}

// QueueSize returns the Friend Queue size the Friend granted in its Offer
// (Lower Transport PDUs), or 0 without a friendship. Applications size
// what they ask for with it (a BLOB Transfer Server in Pull mode).
func (l *LPN) QueueSize() int {
	if l.state != LPNEstablished {
		return 0
	}
	return int(l.offer.QueueSize)
}

// Offer returns the accepted Friend Offer while a friendship is
// established.
func (l *LPN) Offer() (Offer, bool) { return l.offer, l.state == LPNEstablished }

// Counter returns the LPNCounter the next Friend Request will carry.
func (l *LPN) Counter() uint16 { return l.counter }

// Stats returns the counters.
func (l *LPN) Stats() LPNStats {
	s := l.stats
	if l.win.open {
		now := l.st.Clock.Now()
		if now.After(l.win.start) {
			s.ListenTime += earlier(now, l.win.end).Sub(l.win.start)
		}
	}
	return s
}

// RadioOnTime estimates the radio's on time: the receive windows plus
// AirTime per advertising event sent.
func (l *LPN) RadioOnTime() time.Duration {
	s := l.Stats()
	return s.ListenTime + time.Duration(s.Transmissions)*l.p.AirTime
}

// NoteTransmit counts the advertising events of one PDU the node hands to
// its bearer (the node's bearer wrapper calls it for every Send).
func (l *LPN) NoteTransmit(tx mesh.Transmit) { l.stats.Transmissions += uint64(tx.Transmissions()) }

// Listening reports whether the receiver is on: always while the feature
// is off, otherwise only inside a receive window.
func (l *LPN) Listening() bool {
	if l.state == LPNOff {
		return true
	}
	if !l.win.open {
		return false
	}
	now := l.st.Clock.Now()
	return !now.Before(l.win.start) && now.Before(l.win.end)
}

func (l *LPN) openWindow(delay, length time.Duration) {
	l.closeWindow()
	now := l.st.Clock.Now()
	l.win.start, l.win.end, l.win.open = now.Add(delay), now.Add(delay+length), true
}

func (l *LPN) closeWindow() {
	if !l.win.open {
		return
	}
	l.win.open = false
	if now := l.st.Clock.Now(); now.After(l.win.start) {
		l.stats.ListenTime += earlier(now, l.win.end).Sub(l.win.start)
	}
}

// Start begins looking for a Friend (a Friend Request now).
func (l *LPN) Start() {
	if l.state != LPNOff {
		return
	}
	l.search()
}

// Stop ends the Low Power feature: an established friendship is ended
// with a Friend Clear to the Friend (§3.6.6.4, TTL 0), and the radio
// listens continuously again.
func (l *LPN) Stop() {
	if l.state == LPNEstablished {
		m := &Clear{LPNAddress: l.st.Primary(), LPNCounter: l.reqCounter}
		if _, err := l.out.control(l.p.NetKeyIndex, l.friend, 0, m, nil, l.st.NetworkTransmit(), nil); err != nil {
			l.log.Warn("friend: lpn clear not sent", "err", err)
		}
	}
	l.drop()
	l.state = LPNOff
}

// Close stops every timer without sending anything (power off).
func (l *LPN) Close() {
	l.drop()
	l.state = LPNOff
}

// drop forgets the friendship and any outstanding request.
func (l *LPN) drop() {
	l.timer.stop()
	l.closeWindow()
	l.req, l.reqGen = reqNone, l.reqGen+1
	if l.cred != nil {
		_ = l.st.Subnets.RemoveFriendship(l.cred)
		l.cred = nil
	}
	l.subs = nil
}

// search sends a Friend Request and listens for Offers from 100 ms to
// 1.1 s after it went out (§3.6.6.4.1).
func (l *LPN) search() {
	l.drop()
	l.state = LPNSearching
	req := &Request{
		RSSIFactor: l.p.RSSIFactor, ReceiveWindowFactor: l.p.ReceiveWindowFactor, MinQueueSizeLog: l.p.MinQueueSizeLog,
		ReceiveDelay: uint8(l.p.ReceiveDelay / time.Millisecond), PollTimeout: uint32(l.p.PollTimeout / (100 * time.Millisecond)),
		PreviousAddress: l.prev, NumElements: uint8(l.st.Elements()), LPNCounter: l.counter,
	}
	l.reqCounter = l.counter
	gen := l.reqGen
	sent := func() {
		if gen != l.reqGen || l.state != LPNSearching {
			return
		}
		l.openWindow(OfferListenDelay, OfferListenWindow)
		l.timer.arm(l.st.Clock, OfferListenDelay+OfferListenWindow, l.searchFailed)
	}
	if _, err := l.out.control(l.p.NetKeyIndex, mesh.AddrAllFriends, 0, req, nil, mesh.Transmit{}, sent); err != nil {
		l.log.Warn("friend: friend request not sent", "err", err)
		l.wait()
		return
	}
	l.counter++ // §3.6.6.4.1: incremented after each Request
	l.stats.Requests++
}

func (l *LPN) searchFailed() {
	l.stats.SearchFailures++
	l.wait()
}

// wait pauses before the next Friend Request.
func (l *LPN) wait() {
	l.drop()
	l.state = LPNWaiting
	l.timer.arm(l.st.Clock, l.p.RequestRetry, l.search)
}

// Receive processes a PDU the network layer delivered: it takes Friend
// Offers and the friendship control messages meant for the LPN (already
// seen by Heard), and reports whether the PDU was consumed. Stored
// messages from the Friend are not consumed: the transport layer
// reassembles them without acknowledging (transport.NetPDU.FromFriend).
func (l *LPN) Receive(rx *network.Rx) bool {
	tp := rx.TransportPDU
	if rx.Loopback || !rx.CTL || len(tp) == 0 || tp[0]&0x80 != 0 || tp[0] < OpPoll || tp[0] > OpSubListConfirm {
		return false
	}
	if tp[0] == OpOffer && rx.Friend == nil && rx.DST == l.st.Primary() {
		var o Offer
		if err := o.Unmarshal(tp[1:]); err != nil {
			return true
		}
		l.stats.Offers++
		l.onOffer(rx, &o)
	}
	return true
}

// onOffer takes the first acceptable Offer inside the listening window,
// derives the friendship credentials and sends the first Poll.
func (l *LPN) onOffer(rx *network.Rx, o *Offer) {
	if l.state != LPNSearching || rx.NetKeyIndex != l.p.NetKeyIndex || int(o.QueueSize) < 1<<l.p.MinQueueSizeLog {
		return
	}
	l.closeWindow()
	l.timer.stop()
	cred, err := l.st.Subnets.AddFriendship(l.p.NetKeyIndex, l.st.Primary(), rx.SRC, l.reqCounter, o.FriendCounter)
	if err != nil {
		l.log.Warn("friend: cannot derive friendship credentials", "friend", rx.SRC, "err", err)
		l.wait()
		return
	}
	l.cred, l.friend, l.offer = cred, rx.SRC, *o
	l.fsn, l.hasLastRx, l.subs = 0, false, nil
	l.state = LPNEstablishing
	l.log.Info("friend: offer accepted", "friend", rx.SRC, "queue", o.QueueSize, "window_ms", o.ReceiveWindow)
	l.begin(reqPoll)
}

func (l *LPN) window() time.Duration { return time.Duration(l.offer.ReceiveWindow) * time.Millisecond }

// pollInterval returns the period of Polls with an empty Friend Queue.
func (l *LPN) pollInterval() time.Duration {
	if l.p.PollInterval > 0 {
		return l.p.PollInterval
	}
	d := l.p.PollTimeout - time.Duration(l.p.Attempts)*(l.p.ReceiveDelay+l.window()+l.p.RetryPause)
	return max(d, time.Second)
}

// begin starts a new request of kind k.
func (l *LPN) begin(k lpnReq) {
	l.req, l.attempts = k, 0
	if k == reqAdd || k == reqRemove {
		l.reqTN = l.tn
		l.tn++ // §3.6.6.4.3: a new number for every new Add or Remove
	}
	l.send()
}

// send transmits the outstanding request and opens its receive window
// ReceiveDelay after it went on air.
func (l *LPN) send() {
	l.attempts++
	l.reqGen++
	gen := l.reqGen
	var m Message
	switch l.req {
	case reqPoll:
		m = &Poll{FSN: l.fsn}
		l.stats.Polls++
		l.lastPoll = l.st.Clock.Now()
		l.pollNow = false
	case reqAdd:
		m = &SubListAdd{TransactionNumber: l.reqTN, Addresses: l.reqAddrs}
		l.stats.SubListAdds++
	case reqRemove:
		m = &SubListRemove{TransactionNumber: l.reqTN, Addresses: l.reqAddrs}
		l.stats.SubListRemoves++
	default:
		return
	}
	if l.attempts > 1 {
		l.stats.Resends++
	}
	sent := func() {
		if gen != l.reqGen {
			return
		}
		l.openWindow(l.p.ReceiveDelay, l.window())
		l.timer.arm(l.st.Clock, l.p.ReceiveDelay+l.window(), l.noAnswer)
	}
	if _, err := l.out.control(l.p.NetKeyIndex, l.friend, 0, m, l.cred.Tx(), mesh.Transmit{}, sent); err != nil {
		l.log.Warn("friend: lpn request not sent", "err", err)
		l.timer.arm(l.st.Clock, l.p.ReceiveDelay+l.window(), l.noAnswer)
	}
}

// noAnswer runs when a receive window closed empty: send again after
// RetryPause, or give the friendship up.
func (l *LPN) noAnswer() {
	l.closeWindow()
	if l.attempts < l.p.Attempts {
		l.reqGen++
		l.timer.arm(l.st.Clock, l.p.RetryPause, l.send)
		return
	}
	if l.state == LPNEstablishing {
		l.stats.EstablishFailures++
		l.log.Info("friend: friend did not answer the first poll", "friend", l.friend)
		l.wait()
		return
	}
	l.stats.Lost++
	l.prev = l.friend
	l.log.Info("friend: friendship lost", "friend", l.friend)
	l.wait()
	if l.p.OnFriendship != nil {
		l.p.OnFriendship(false, l.prev)
	}
}

// Heard looks at every network PDU the bearer delivered, before the
// network layer: a PDU that authenticates with the friendship credentials
// while a request is outstanding is the Friend's answer. Looking here,
// rather than after the network layer, sees answers that the Network
// Message Cache would drop (a stored copy of a PDU the LPN happened to
// hear directly). pdu is not retained.
func (l *LPN) Heard(pdu []byte) {
	if l.req == reqNone || l.cred == nil {
		return
	}
	ivi, nid, err := network.PeekIVINID(pdu)
	if err != nil {
		return
	}
	ivs := l.st.IV()
	if !ivs.Accepts(ivi) {
		return
	}
	iv := ivs.RxIndex(ivi)
	for _, c := range [2]*network.Credentials{l.cred.Old(), l.cred.New()} {
		if c == nil || c.NID() != nid {
			continue
		}
		h, tp, err := c.Open(l.rxBuf[:0], pdu, iv)
		if err != nil || len(tp) == 0 || l.st.isOwn(h.SRC) {
			continue
		}
		l.answer(&h, tp, iv)
		return
	}
}

// answer handles the Friend's answer to the outstanding request.
func (l *LPN) answer(h *network.Header, tp []byte, iv uint32) {
	ctlOp := uint8(0xFF)
	if h.CTL && tp[0]&0x80 == 0 && h.SRC == l.friend {
		ctlOp = tp[0]
	}
	switch l.req {
	case reqPoll:
		if ctlOp == OpSubListConfirm {
			return // a late Confirm is no answer to a Poll
		}
	case reqAdd, reqRemove:
		var c SubListConfirm
		if ctlOp != OpSubListConfirm || c.Unmarshal(tp[1:]) != nil || c.TransactionNumber != l.reqTN {
			return
		}
		l.endRequest()
		l.stats.SubListConfirms++
		if l.req == reqAdd {
			for _, a := range l.reqAddrs {
				if !slices.Contains(l.subs, a) {
					l.subs = append(l.subs, a)
				}
			}
		} else {
			l.subs = slices.DeleteFunc(l.subs, func(a mesh.Address) bool { return slices.Contains(l.reqAddrs, a) })
		}
		l.req = reqNone
		l.next(false)
		return
	}
	// An answer to a Poll: a Friend Update or a stored message.
	l.endRequest()
	key := rxKey{h.SRC, h.SEQ, iv}
	if !l.hasLastRx || key != l.lastRx {
		l.fsn ^= 1 // §3.6.6.4.2: acknowledge it with the next Poll
	}
	l.lastRx, l.hasLastRx = key, true
	l.req = reqNone
	if ctlOp != OpUpdate {
		l.stats.Messages++
		l.next(true) // a stored message says nothing about more: poll again
		return
	}
	var u Update
	if err := u.Unmarshal(tp[1:]); err != nil {
		l.next(true)
		return
	}
	l.stats.Updates++
	if l.state == LPNEstablishing {
		l.state = LPNEstablished
		l.stats.Established++
		l.log.Info("friend: friendship established", "friend", l.friend, "queue", l.offer.QueueSize)
		if l.p.OnFriendship != nil {
			l.p.OnFriendship(true, l.friend)
		}
	}
	if l.p.OnUpdate != nil {
		l.p.OnUpdate(u)
	}
	l.next(u.MD)
}

func (l *LPN) endRequest() {
	l.closeWindow()
	l.timer.stop()
	l.reqGen++
}

// next picks the LPN's next step once no request is outstanding: more
// data → Poll now; subscription changes → Add or Remove; otherwise wait
// for the next Poll.
func (l *LPN) next(more bool) {
	if l.state != LPNEstablished && l.state != LPNEstablishing {
		return
	}
	if more || l.pollNow {
		l.begin(reqPoll)
		return
	}
	if l.state == LPNEstablished && l.syncSubs() {
		return
	}
	l.idle()
}

// idle waits for the next Poll: PollInterval after the last one, or
// TxPollInterval while the node's own segmented message waits for
// acknowledgments. It checks once per TxPollInterval.
func (l *LPN) idle() {
	step := l.p.TxPollInterval
	l.timer.arm(l.st.Clock, step, func() {
		since := l.st.Clock.Now().Sub(l.lastPoll)
		due := since >= l.pollInterval() || (l.p.TxPending != nil && l.p.TxPending() && since >= step)
		if due || l.pollNow {
			l.begin(reqPoll)
			return
		}
		if d := l.pollInterval() - since; d < step {
			l.timer.arm(l.st.Clock, d, func() { l.begin(reqPoll) })
			return
		}
		l.idle()
	})
}

// Poll asks the Friend for stored messages now, or right after the
// request outstanding (an application expecting an answer calls it).
func (l *LPN) Poll() error {
	if l.state != LPNEstablished {
		return ErrNoFriend
	}
	if l.req != reqNone {
		l.pollNow = true
		return nil
	}
	l.timer.stop()
	l.begin(reqPoll)
	return nil
}

// SyncSubscriptions sends the Friend the subscription changes now if no
// request is outstanding (otherwise they follow it).
func (l *LPN) SyncSubscriptions() {
	if l.state == LPNEstablished && l.req == reqNone {
		l.timer.stop()
		l.next(false)
	}
}

// Subscriptions returns the addresses confirmed in the Friend
// Subscription List.
func (l *LPN) Subscriptions() []mesh.Address { return slices.Clone(l.subs) }

// syncSubs starts an Add or Remove for the first difference between the
// node's subscriptions and the Friend Subscription List, at most five
// addresses at a time and never more than the Friend's list size.
func (l *LPN) syncSubs() bool {
	var want []mesh.Address
	if l.p.Subscriptions != nil {
		for _, a := range l.p.Subscriptions() {
			if (a.IsGroup() || a.IsVirtual()) && !slices.Contains(want, a) {
				want = append(want, a)
			}
		}
	}
	slices.Sort(want)
	if n := int(l.offer.SubscriptionListSize); len(want) > n {
		want = want[:n]
	}
	var add, remove []mesh.Address
	for _, a := range want {
		if !slices.Contains(l.subs, a) && len(add) < MaxSubListAddresses {
			add = append(add, a)
		}
	}
	for _, a := range l.subs {
		if !slices.Contains(want, a) && len(remove) < MaxSubListAddresses {
			remove = append(remove, a)
		}
	}
	switch {
	case len(remove) > 0: // make room first
		l.reqAddrs = remove
		l.begin(reqRemove)
	case len(add) > 0:
		l.reqAddrs = add
		l.begin(reqAdd)
	default:
		return false
	}
	return true
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
