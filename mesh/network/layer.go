package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// DefaultRelayDelay is the largest random delay before a relayed PDU is
// handed to the bearer when Config.RelayDelay is 0. The spec asks for a
// small random delay before relaying (§3.4.6.3) without a number.
const DefaultRelayDelay = 10 * time.Millisecond

// Config configures a Layer. Zero fields take the documented defaults.
type Config struct {
	Clock  mesh.Clock   // required
	Bearer mesh.Bearer  // required
	Rand   *rand.Rand   // relay delays; nil: a fixed-seed PCG
	Logger *slog.Logger // nil: discard

	// Subnets is the node's NetKey List, shared with the configuration and
	// beacon code. nil: the Layer makes an empty one (see Layer.Subnets).
	Subnets *Subnets
	// IV returns the node's IV Index state. nil: always IVState{}.
	IV func() IVState

	NetworkTransmit mesh.Transmit // originated PDUs (zero: one transmission)
	RelayRetransmit mesh.Transmit // relayed PDUs (zero: one transmission)
	Relay           bool          // the Relay feature is enabled (see SetRelay)
	// RelayDelay is the largest random delay before relaying. 0:
	// DefaultRelayDelay; negative: relay at once.
	RelayDelay time.Duration
	// CacheSize is the Network Message Cache size. 0: DefaultCacheSize.
	CacheSize int

	// IsLocal reports whether a unicast address belongs to one of this
	// node's elements. nil: none does.
	IsLocal func(mesh.Address) bool
	// Listens reports whether the node wants a group or virtual address it
	// sent to back through the local interface. nil: every group and
	// virtual address loops back, and the upper layers filter.
	Listens func(mesh.Address) bool
	// FriendOnly, when it returns true, makes the layer ignore every PDU
	// not secured with friendship credentials (a Low Power node in a
	// friendship). nil: never.
	FriendOnly func() bool
	// Deliver receives every PDU for this node: received ones for a local
	// unicast, group, virtual or fixed-group DST, and own PDUs looped back.
	// rx and the slices in it are valid only during the call. nil: drop.
	Deliver func(rx *Rx)
	// ForLPN reports whether a unicast DST that is not this node's belongs
	// to a Low Power node this node is the Friend of. Such PDUs are
	// delivered too (and relayed as usual), so the Friend can queue them
	// (Mesh Protocol v1.1 §3.5.5). nil: none.
	ForLPN func(mesh.Address) bool
	// Memo, when set, shares the results of decrypting received PDUs with
	// the other layers that hold it (a simulator's nodes on one
	// executor; see OpenMemo). nil: every PDU is decrypted here.
	Memo *OpenMemo
}

// Rx is a network PDU delivered to the node.
type Rx struct {
	Header
	NetKeyIndex  uint16
	IVIndex      uint32      // the IV Index the PDU was secured with
	Friendship   bool        // secured with friendship credentials
	Friend       *Friendship // those credentials (received PDUs only; nil on loopback)
	NewKey       bool        // secured with the new key of a Key Refresh
	Loopback     bool        // originated by this node (local interface)
	TransportPDU []byte      // lower transport PDU
	Raw          []byte      // the network PDU as received (or sent)
}

// Tx is a lower transport PDU to send. The caller allocates SEQ.
type Tx struct {
	NetKeyIndex  uint16
	CTL          bool
	TTL          uint8
	SEQ          uint32
	SRC, DST     mesh.Address
	TransportPDU []byte
	// Friendship selects friendship credentials (from Friendship.Tx); such
	// PDUs go out once. nil: the subnet's managed-flooding credentials.
	Friendship *Credentials
	// Sent, if set, runs on the executor once the PDU has gone out for
	// the last time: when the bearer says so (mesh.NotifyBearer), else
	// right after Send. It also runs when the PDU is not transmitted
	// (local unicast, TTL 1 filtered) — but not when Send returns an error.
	Sent func()
}

// Stats counts what the Layer did with PDUs, one counter per drop reason.
type Stats struct {
	Received  uint64 // PDUs given to Receive
	Delivered uint64 // received PDUs passed to Deliver
	Relayed   uint64 // relayed PDUs handed to the bearer
	Sent      uint64 // originated PDUs handed to the bearer
	Loopback  uint64 // originated PDUs delivered through the local interface

	DropLength     uint64 // shorter than 14 or longer than 29 octets
	DropUnknownNID uint64 // no credentials with that NID
	DropIVIndex    uint64 // IVI names IV Index −1 while the IV Index is 0
	DropAuth       uint64 // NetMIC failed with every candidate
	DropBadSRC     uint64 // authenticated, but SRC not unicast
	DropBadDST     uint64 // authenticated, but DST unassigned (or virtual for control)
	DropOwnSRC     uint64 // SRC is one of this node's elements
	DropCached     uint64 // already in the Network Message Cache
	DropNotFriend  uint64 // heard directly by a Low Power node that takes PDUs from its Friend only
	TxFiltered     uint64 // originated with TTL 1: not sent on the bearer (output filter)
}

// Layer is a node's network layer (Mesh Protocol v1.1 §3.4): it encrypts and
// sends lower transport PDUs, receives, authenticates and de-duplicates
// network PDUs, delivers those for the node and relays the others. Call
// every method on the node's executor.
type Layer struct {
	clock      mesh.Clock
	bearer     mesh.Bearer
	rand       *rand.Rand
	log        *slog.Logger
	subnets    *Subnets
	iv         func() IVState
	ntx, rtx   mesh.Transmit
	relay      bool
	relayDelay time.Duration
	isLocal    func(mesh.Address) bool
	forLPN     func(mesh.Address) bool
	friendOnly func() bool
	listens    func(mesh.Address) bool
	deliver    func(*Rx)

	cache *Cache
	memo  *OpenMemo
	stats Stats

	rx    Rx
	rxBuf [MaxAccessTransportSize]byte
	txBuf [MaxPDUSize]byte

	free []*pending // reusable relay and loopback buffers
}

// pending is a PDU waiting on the clock: a relay or a loopback delivery.
type pending struct {
	l    *Layer
	pdu  [MaxPDUSize]byte
	n    int
	tp   [MaxAccessTransportSize]byte
	rx   Rx
	loop bool
	fire func() // bound once to p.run, so rescheduling allocates no closure
}

// New returns a network layer. It panics without a Clock or Bearer.
func New(cfg Config) *Layer {
	if cfg.Clock == nil || cfg.Bearer == nil {
		panic("network: Config needs a Clock and a Bearer")
	}
	l := &Layer{
		clock:      cfg.Clock,
		bearer:     cfg.Bearer,
		rand:       cfg.Rand,
		log:        cfg.Logger,
		subnets:    cfg.Subnets,
		iv:         cfg.IV,
		ntx:        cfg.NetworkTransmit,
		rtx:        cfg.RelayRetransmit,
		relay:      cfg.Relay,
		relayDelay: cfg.RelayDelay,
		isLocal:    cfg.IsLocal,
		forLPN:     cfg.ForLPN,
		friendOnly: cfg.FriendOnly,
		listens:    cfg.Listens,
		deliver:    cfg.Deliver,
	}
	if l.rand == nil {
		l.rand = rand.New(rand.NewPCG(0, 0))
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.subnets == nil {
		l.subnets = NewSubnets()
	}
	if l.iv == nil {
		l.iv = func() IVState { return IVState{} }
	}
	if l.relayDelay == 0 {
		l.relayDelay = DefaultRelayDelay
	}
	if l.isLocal == nil {
		l.isLocal = func(mesh.Address) bool { return false }
	}
	if l.listens == nil {
		l.listens = func(mesh.Address) bool { return true }
	}
	if l.deliver == nil {
		l.deliver = func(*Rx) {}
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	l.cache = NewCache(size)
	l.memo = cfg.Memo
	return l
}

// Subnets returns the NetKey List the layer uses.
func (l *Layer) Subnets() *Subnets { return l.subnets }

// Stats returns the counters.
func (l *Layer) Stats() Stats { return l.stats }

// Relay reports whether the Relay feature is enabled.
func (l *Layer) Relay() bool { return l.relay }

// SetRelay enables or disables the Relay feature (Config Relay Set).
func (l *Layer) SetRelay(on bool) { l.relay = on }

// RelayRetransmit returns the Relay Retransmit state.
func (l *Layer) RelayRetransmit() mesh.Transmit { return l.rtx }

// SetRelayRetransmit sets the Relay Retransmit state.
func (l *Layer) SetRelayRetransmit(t mesh.Transmit) { l.rtx = t }

// NetworkTransmit returns the Network Transmit state.
func (l *Layer) NetworkTransmit() mesh.Transmit { return l.ntx }

// SetNetworkTransmit sets the Network Transmit state.
func (l *Layer) SetNetworkTransmit(t mesh.Transmit) { l.ntx = t }

// ResetCache empties the Network Message Cache.
func (l *Layer) ResetCache() { l.cache.Reset() }

func (l *Layer) debug() bool { return l.log.Enabled(context.Background(), slog.LevelDebug) }

// Receive processes one network PDU from the advertising bearer (§3.4.6):
// it drops PDUs of unknown NID, that fail authentication with every
// candidate, with invalid addresses, from this node, or already in the
// Network Message Cache; delivers the rest when DST is a local unicast,
// group, virtual or fixed-group address; and relays when the Relay feature
// is on, TTL ≥ 2 and DST is not a local unicast address. pdu is not
// retained.
func (l *Layer) Receive(pdu []byte) {
	l.stats.Received++
	ivi, nid, err := PeekIVINID(pdu)
	if err != nil {
		l.stats.DropLength++
		l.drop("length", err)
		return
	}
	cands := l.subnets.Candidates(nid)
	if len(cands) == 0 {
		l.stats.DropUnknownNID++
		return
	}
	ivs := l.iv()
	if !ivs.Accepts(ivi) {
		l.stats.DropIVIndex++
		return
	}
	ivIndex := ivs.RxIndex(ivi)
	var (
		h     Header
		tp    []byte
		match *Candidate
	)
	for i := range cands {
		h, tp, err = l.memo.open(cands[i].Credentials, l.rxBuf[:0], pdu, ivIndex)
		if err != ErrAuth { // authenticated (maybe with bad addresses), or malformed
			match = &cands[i]
			break
		}
	}
	switch {
	case match == nil:
		l.stats.DropAuth++
		return
	case errors.Is(err, ErrBadSRC):
		l.stats.DropBadSRC++
		l.drop("src", err)
		return
	case err != nil: // ErrBadDST: lengths were checked by PeekIVINID
		l.stats.DropBadDST++
		l.drop("dst", err)
		return
	}
	if l.isLocal(h.SRC) {
		l.stats.DropOwnSRC++
		return
	}
	// A Low Power node in a friendship ignores what it hears directly and
	// takes it from its Friend, in order; it must not cache it either, or
	// the Friend's copy (same SRC and SEQ) would be dropped as seen.
	if match.Friendship == nil && l.friendOnly != nil && l.friendOnly() {
		l.stats.DropNotFriend++
		return
	}
	if !l.cache.Add(h.SRC, h.SEQ, ivIndex) {
		l.stats.DropCached++
		return
	}
	localUnicast := h.DST.IsUnicast() && l.isLocal(h.DST)
	if l.debug() {
		l.log.Debug("network: rx", "src", h.SRC, "dst", h.DST, "seq", h.SEQ, "ttl", h.TTL,
			"ctl", h.CTL, "net_idx", match.NetKey.index, "friendship", match.Friendship != nil)
	}
	// Relay first, from the cleartext fields, so nothing Deliver does can
	// disturb them (the relayed copy is sealed now and sent later).
	if l.relay && h.TTL >= 2 && !localUnicast && match.Friendship == nil {
		l.scheduleRelay(match.Credentials, h, tp, ivIndex)
	}
	forLPN := !localUnicast && h.DST.IsUnicast() && l.forLPN != nil && l.forLPN(h.DST)
	if localUnicast || !h.DST.IsUnicast() || forLPN {
		l.rx = Rx{
			Header:       h,
			NetKeyIndex:  match.NetKey.index,
			IVIndex:      ivIndex,
			Friendship:   match.Friendship != nil,
			Friend:       match.Friendship,
			NewKey:       match.NewKey,
			TransportPDU: tp,
			Raw:          pdu,
		}
		l.stats.Delivered++
		l.deliver(&l.rx)
		l.rx = Rx{}
	}
}

func (l *Layer) drop(reason string, err error) {
	if l.debug() {
		l.log.Debug("network: drop", "reason", reason, "err", err)
	}
}

// getPending takes a reusable buffer.
func (l *Layer) getPending() *pending {
	if n := len(l.free); n > 0 {
		p := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		return p
	}
	p := &pending{l: l}
	p.fire = p.run
	return p
}

func (p *pending) run() {
	l := p.l
	if p.loop {
		l.stats.Loopback++
		l.deliver(&p.rx)
		p.rx = Rx{}
	} else if l.relay { // the feature may have been turned off meanwhile
		l.stats.Relayed++
		if rb, ok := l.bearer.(mesh.RelayBearer); ok {
			rb.SendRelay(mesh.ADMessage, p.pdu[:p.n], l.rtx)
		} else {
			l.bearer.Send(mesh.ADMessage, p.pdu[:p.n], l.rtx)
		}
	}
	l.free = append(l.free, p)
}

// scheduleRelay re-encrypts the PDU with TTL−1 under the same credentials
// and IV Index (§3.4.6.3) and hands it to the bearer after a random delay.
func (l *Layer) scheduleRelay(c *Credentials, h Header, tp []byte, ivIndex uint32) {
	h.TTL--
	p := l.getPending()
	out, err := c.Seal(p.pdu[:0], &h, tp, ivIndex)
	if err != nil { // impossible: the fields came from an authenticated PDU
		l.free = append(l.free, p)
		l.log.Warn("network: relay seal", "err", err)
		return
	}
	p.n, p.loop = len(out), false
	var d time.Duration
	if l.relayDelay > 0 {
		d = time.Duration(l.rand.Int64N(int64(l.relayDelay) + 1))
	}
	l.clock.AfterFunc(d, p.fire)
}

// Send encrypts tx with the subnet's transmit credentials (or tx.Friendship)
// and the transmit IV Index, records it in the Network Message Cache, loops
// it back to Deliver when DST is a local unicast address or a group or
// virtual address the node listens to, and unless DST is local hands it to
// the bearer: with Network Transmit, or once for friendship credentials.
// A PDU with TTL 1 is not sent on the bearer (output filter, §3.4.5).
func (l *Layer) Send(tx *Tx) error {
	k, ok := l.subnets.Get(tx.NetKeyIndex)
	if !ok {
		return fmt.Errorf("%w: 0x%03x", ErrUnknownNetKey, tx.NetKeyIndex)
	}
	creds := tx.Friendship
	if creds == nil {
		creds = k.Credentials()
	}
	ivIndex := l.iv().TxIndex()
	h := Header{CTL: tx.CTL, TTL: tx.TTL, SEQ: tx.SEQ, SRC: tx.SRC, DST: tx.DST}
	pdu, err := creds.Seal(l.txBuf[:0], &h, tx.TransportPDU, ivIndex)
	if err != nil {
		return fmt.Errorf("network: send to %v: %w", tx.DST, err)
	}
	l.cache.Add(tx.SRC, tx.SEQ, ivIndex)
	if l.debug() {
		l.log.Debug("network: tx", "src", tx.SRC, "dst", tx.DST, "seq", tx.SEQ, "ttl", tx.TTL,
			"ctl", tx.CTL, "net_idx", tx.NetKeyIndex)
	}
	localUnicast := tx.DST.IsUnicast() && l.isLocal(tx.DST)
	if localUnicast || (!tx.DST.IsUnicast() && l.listens(tx.DST)) {
		h.IVI, h.NID = uint8(ivIndex&1), creds.NID()
		l.loopback(h, tx, k, pdu, ivIndex)
	}
	switch {
	case localUnicast:
		l.sentNow(tx.Sent)
	case tx.TTL == 1:
		l.stats.TxFiltered++
		l.sentNow(tx.Sent)
	default:
		t := l.ntx
		if tx.Friendship != nil {
			t = mesh.Transmit{}
		}
		l.stats.Sent++
		if nb, ok := l.bearer.(mesh.NotifyBearer); ok && tx.Sent != nil {
			nb.SendNotify(mesh.ADMessage, pdu, t, tx.Sent)
		} else {
			l.bearer.Send(mesh.ADMessage, pdu, t)
			l.sentNow(tx.Sent)
		}
	}
	return nil
}

// sentNow runs a Tx.Sent callback from the clock, never inside Send.
func (l *Layer) sentNow(f func()) {
	if f != nil {
		l.clock.AfterFunc(0, f)
	}
}

// loopback queues a copy of an originated PDU for Deliver. It runs from the
// clock, not inside Send, so a Deliver that sends again never re-enters.
func (l *Layer) loopback(h Header, tx *Tx, k *NetKey, pdu []byte, ivIndex uint32) {
	p := l.getPending()
	p.loop = true
	p.n = copy(p.pdu[:], pdu)
	n := copy(p.tp[:], tx.TransportPDU)
	p.rx = Rx{
		Header:       h,
		NetKeyIndex:  k.index,
		IVIndex:      ivIndex,
		Friendship:   tx.Friendship != nil,
		NewKey:       k.phase == Phase2,
		Loopback:     true,
		TransportPDU: p.tp[:n],
		Raw:          p.pdu[:p.n],
	}
	l.clock.AfterFunc(0, p.fire)
}
