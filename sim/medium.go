package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Defaults of MediumConfig.
const (
	// DefaultAirTime is how long one advertising event occupies the air:
	// a 29-octet mesh AD structure in an ADV_NONCONN_IND (≈ 376 µs at
	// 1 Mbit/s) on three channels with the gaps between them.
	DefaultAirTime = 1200 * time.Microsecond
	// DefaultMinGap is the shortest time between the starts of two
	// advertising events of one node: the legacy advertising interval
	// minimum (Core v5.4 Vol 6 Part B §4.4.2.2.1), 20 ms.
	DefaultMinGap = 20 * time.Millisecond
	// DefaultAdvDelay is the upper bound of the random advDelay added to
	// every advertising event (Core v5.4 Vol 6 Part B §4.4.2.2.1: 0–10 ms).
	DefaultAdvDelay = 10 * time.Millisecond
)

// MediumConfig configures a Medium. Zero fields take the defaults above; a
// negative MinGap or AdvDelay means none.
type MediumConfig struct {
	AirTime  time.Duration // 0: DefaultAirTime
	MinGap   time.Duration // 0: DefaultMinGap; < 0: no gap
	AdvDelay time.Duration // 0: DefaultAdvDelay; < 0: no random delay
	// Capture, when set, sees every advertising event at its end, with the
	// number of nodes that received it (see PcapCapture).
	Capture func(Capture)
	Logger  *slog.Logger // nil: discard
}

func (c *MediumConfig) withDefaults() {
	if c.AirTime <= 0 {
		c.AirTime = DefaultAirTime
	}
	switch {
	case c.MinGap == 0:
		c.MinGap = DefaultMinGap
	case c.MinGap < 0:
		c.MinGap = 0
	}
	switch {
	case c.AdvDelay == 0:
		c.AdvDelay = DefaultAdvDelay
	case c.AdvDelay < 0:
		c.AdvDelay = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Capture describes one advertising event for a capture writer.
type Capture struct {
	Start     time.Time   // when the event went on air
	Node      NodeID      // sender
	Kind      mesh.ADType // AD type of the payload
	Payload   []byte      // valid only during the call
	Relayed   bool        // sent with SendRelay
	InRange   int         // nodes with a link from the sender
	Delivered int         // nodes that received it; 0: lost everywhere
}

// Cause is why a reception failed.
type Cause uint8

// Causes of a failed reception, in the order they are checked: a reception
// that fails for several reasons counts under the first.
const (
	CauseRadioOff     Cause = iota + 1 // receiver off during the reception
	CauseNotListening                  // receiver's Listening hook said no
	CauseHalfDuplex                    // receiver was transmitting
	CauseCollision                     // another transmission overlapped at the receiver
	CauseLink                          // the link lost it
)

// String names the cause.
func (c Cause) String() string {
	switch c {
	case CauseRadioOff:
		return "radio-off"
	case CauseNotListening:
		return "not-listening"
	case CauseHalfDuplex:
		return "half-duplex"
	case CauseCollision:
		return "collision"
	case CauseLink:
		return "link-loss"
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// link is a directed link sender→to with its loss state.
type link struct {
	to NodeID
	ch channel
}

// radio is one node's advertiser and receiver.
type radio struct {
	id      NodeID
	recv    mesh.ReceiveFunc
	listen  func() bool
	on      bool
	onSince int64
	links   []link
	rng     *rand.Rand // advertising delay
	lossRng *rand.Rand // link loss of receptions at this node

	// advertiser
	queue     []*pdu // FIFO; queue[head:] are waiting
	head      int
	pending   bool   // a txStart event is scheduled
	onAir     bool   // a transmission of ours is on air
	gen       uint32 // bumped on radio off to cancel a pending txStart
	lastStart int64
	started   bool // lastStart is valid
	// own transmissions, for half duplex: current and previous
	curStart, curEnd, prevStart, prevEnd int64

	// receiver
	rxActive int    // transmissions on air that this node hears
	rxStarts uint64 // transmissions that began while heard here

	m NodeMetrics
}

// pdu is one queued Send: its payload and how many events remain.
type pdu struct {
	kind    mesh.ADType
	buf     []byte
	left    int
	sent    int
	spacing int64
	relayed bool
	refs    int // transmissions on air using buf
	queued  bool
	done    func() // SendNotify's callback, run when the last transmission starts or the PDU is dropped
}

// rxState is one receiver's view of one transmission.
type rxState struct {
	to        NodeID
	mark      uint64 // receiver's rxStarts right after this transmission began
	busy      bool   // receiver already heard something at the start
	listening bool   // Listening hook at the start
}

// transmission is one advertising event on air.
type transmission struct {
	from   NodeID
	p      *pdu
	start  int64
	digest uint64
	rx     []rxState // one per link of the sender at the start
}

// Medium is the simulated radio: nodes, their directed links, and the
// advertising events between them. It runs on an Engine; every method must
// be called on the engine's loop (or before Run).
type Medium struct {
	e      *Engine
	cfg    MediumConfig
	radios []*radio
	txs    []*transmission // slab indexed by txEnd event arg
	freeTx []int
	pool   []*pdu
	total  MediumMetrics
}

// NewMedium returns a medium on e with no nodes.
func NewMedium(e *Engine, cfg MediumConfig) *Medium {
	cfg.withDefaults()
	return &Medium{e: e, cfg: cfg}
}

// Engine returns the engine the medium runs on.
func (m *Medium) Engine() *Engine { return m.e }

// Config returns the medium's configuration with defaults filled in.
func (m *Medium) Config() MediumConfig { return m.cfg }

// Len returns the number of nodes (the highest ID plus one).
func (m *Medium) Len() int { return len(m.radios) }

// AddNodes makes sure nodes 0..n-1 exist; new nodes have their radio on
// and no links.
func (m *Medium) AddNodes(n int) {
	for len(m.radios) < n {
		id := NodeID(len(m.radios))
		m.radios = append(m.radios, &radio{
			id: id, on: true,
			rng:     m.e.Rand("adv", int(id)),
			lossRng: m.e.Rand("loss", int(id)),
		})
	}
}

func (m *Medium) radio(id NodeID) *radio {
	if id < 0 {
		panic(fmt.Sprintf("sim: node %d", id))
	}
	m.AddNodes(int(id) + 1)
	return m.radios[id]
}

// SetReceiver registers the function that receives node id's PDUs. It runs
// on the engine loop at the end of each successful reception; payload is
// valid only during the call.
func (m *Medium) SetReceiver(id NodeID, recv mesh.ReceiveFunc) { m.radio(id).recv = recv }

// SetListening installs a hook that tells whether node id's receiver is
// listening (e.g. a Low Power node's receive window). It is asked at the
// start and at the end of each reception; both must say yes. nil means
// always listening.
func (m *Medium) SetListening(id NodeID, listening func() bool) { m.radio(id).listen = listening }

// SetLink creates or replaces the directed link from→to.
func (m *Medium) SetLink(from, to NodeID, loss Loss) error {
	if err := loss.Validate(); err != nil {
		return fmt.Errorf("sim: link %d→%d: %w", from, to, err)
	}
	if from == to {
		return fmt.Errorf("%w: link from node %d to itself", ErrConfig, from)
	}
	r := m.radio(from)
	m.radio(to)
	for i := range r.links {
		if r.links[i].to == to {
			r.links[i].ch = channel{Loss: loss}
			return nil
		}
	}
	r.links = append(r.links, link{to: to, ch: channel{Loss: loss}})
	return nil
}

// Connect creates links in both directions with the same loss model.
func (m *Medium) Connect(a, b NodeID, loss Loss) error {
	if err := m.SetLink(a, b, loss); err != nil {
		return err
	}
	return m.SetLink(b, a, loss)
}

// RemoveLink deletes the directed link from→to, if any.
func (m *Medium) RemoveLink(from, to NodeID) {
	r := m.radio(from)
	for i := range r.links {
		if r.links[i].to == to {
			r.links = append(r.links[:i], r.links[i+1:]...)
			return
		}
	}
}

// Neighbors returns the nodes node id has a link to.
func (m *Medium) Neighbors(id NodeID) []NodeID {
	r := m.radio(id)
	out := make([]NodeID, len(r.links))
	for i, l := range r.links {
		out[i] = l.to
	}
	return out
}

// RadioOn reports whether node id's radio is on.
func (m *Medium) RadioOn(id NodeID) bool { return m.radio(id).on }

// SetRadio switches node id's radio on or off. A radio that is off hears
// nothing and sends nothing: switching off drops its queued PDUs (counted
// as Dropped) and Sends while off are dropped. An advertising event already
// on air finishes.
func (m *Medium) SetRadio(id NodeID, on bool) {
	r := m.radio(id)
	if r.on == on {
		return
	}
	r.on = on
	if on {
		r.onSince = m.e.now
		return
	}
	r.gen++
	r.pending = false
	for _, p := range r.queue[r.head:] {
		r.m.Dropped++
		p.queued = false
		if p.done != nil {
			m.notify(r.id, p.done)
			p.done = nil
		}
		m.release(p)
	}
	clear(r.queue)
	r.queue, r.head = r.queue[:0], 0
	r.m.QueueLen = 0
}

// Send queues payload from node id for tx.Transmissions() advertising
// events spaced by tx.Interval() (at least MinGap apart, plus the random
// advertising delay). The payload is copied.
func (m *Medium) Send(id NodeID, kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	m.send(id, kind, payload, tx, false)
}

// notify runs a SendNotify callback as its own engine event.
func (m *Medium) notify(id NodeID, done func()) {
	if done != nil {
		m.e.Clock(id).AfterFunc(0, done)
	}
}

// SendRelay is Send for a PDU the node relays; it is counted as Relayed.
func (m *Medium) SendRelay(id NodeID, kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	m.send(id, kind, payload, tx, true)
}

// SendNotify is Send with a callback that runs, on the engine, once the
// last transmission of payload has started (or the PDU was dropped).
func (m *Medium) SendNotify(id NodeID, kind mesh.ADType, payload []byte, tx mesh.Transmit, sent func()) {
	m.send(id, kind, payload, tx, false, sent)
}

func (m *Medium) send(id NodeID, kind mesh.ADType, payload []byte, tx mesh.Transmit, relayed bool, sent ...func()) {
	r := m.radio(id)
	r.m.Sent++
	if relayed {
		r.m.Relayed++
	}
	var done func()
	if len(sent) > 0 {
		done = sent[0]
	}
	if !r.on {
		r.m.Dropped++
		m.notify(id, done)
		return
	}
	p := m.newPDU()
	p.kind, p.relayed, p.done = kind, relayed, done
	p.buf = append(p.buf[:0], payload...)
	p.left, p.sent = tx.Transmissions(), 0
	p.spacing = int64(tx.Interval())
	p.queued = true
	if r.head > 0 && r.head == len(r.queue) {
		clear(r.queue)
		r.queue, r.head = r.queue[:0], 0
	}
	r.queue = append(r.queue, p)
	r.m.QueueLen = len(r.queue) - r.head
	r.m.QueueMax = max(r.m.QueueMax, r.m.QueueLen)
	if !r.pending && !r.onAir {
		m.scheduleNext(r)
	}
}

func (m *Medium) newPDU() *pdu {
	if n := len(m.pool); n > 0 {
		p := m.pool[n-1]
		m.pool = m.pool[:n-1]
		return p
	}
	return &pdu{}
}

// release returns p to the pool once it is neither queued nor on air.
func (m *Medium) release(p *pdu) {
	if p.refs == 0 && !p.queued {
		m.pool = append(m.pool, p)
	}
}

// scheduleNext schedules the next advertising event of r's head PDU.
func (m *Medium) scheduleNext(r *radio) {
	if r.head == len(r.queue) {
		return
	}
	p := r.queue[r.head]
	gap := int64(m.cfg.MinGap)
	if p.sent > 0 {
		gap = max(gap, p.spacing)
	}
	at := m.e.now
	if r.started {
		at = max(at, r.lastStart+gap)
	}
	if d := int64(m.cfg.AdvDelay); d > 0 {
		at += r.rng.Int64N(d + 1)
	}
	r.pending = true
	m.e.schedule(at, (*txStarter)(m), int64(r.id)|int64(r.gen)<<32, r.id)
}

// txStarter and txEnder are the Medium seen as the engine's two handlers.
type (
	txStarter Medium
	txEnder   Medium
)

func (s *txStarter) handle(arg int64) { (*Medium)(s).txStart(NodeID(arg&0xffffffff), uint32(arg>>32)) }
func (s *txEnder) handle(arg int64)   { (*Medium)(s).txEnd(int(arg)) }

func (m *Medium) txStart(id NodeID, gen uint32) {
	r := m.radios[id]
	if gen != r.gen || !r.pending {
		return
	}
	r.pending = false
	p := r.queue[r.head]
	p.left--
	p.sent++
	p.refs++
	if p.left == 0 {
		p.queued = false
		if p.done != nil {
			m.notify(id, p.done)
			p.done = nil
		}
		r.queue[r.head] = nil
		r.head++
		r.m.QueueLen = len(r.queue) - r.head
	}
	now := m.e.now
	air := int64(m.cfg.AirTime)
	r.onAir, r.started, r.lastStart = true, true, now
	r.prevStart, r.prevEnd = r.curStart, r.curEnd
	r.curStart, r.curEnd = now, now+air
	r.m.Transmissions++
	r.m.AirTime += m.cfg.AirTime
	r.m.TxByKind.add(p.kind)
	m.total.Transmissions++
	m.total.AirTime += m.cfg.AirTime

	idx := m.newTx()
	t := m.txs[idx]
	t.from, t.p, t.start = id, p, now
	t.digest = hashBytes(p.buf) ^ uint64(p.kind)
	if cap(t.rx) < len(r.links) {
		t.rx = make([]rxState, len(r.links))
	}
	t.rx = t.rx[:len(r.links)]
	for i := range r.links {
		to := m.radios[r.links[i].to]
		to.rxStarts++
		t.rx[i] = rxState{to: to.id, mark: to.rxStarts, busy: to.rxActive > 0, listening: to.listen == nil || to.listen()}
		to.rxActive++
	}
	m.e.note(KindTxStart, id, t.digest)
	m.e.schedule(now+air, (*txEnder)(m), int64(idx), id)
}

func (m *Medium) newTx() int {
	if n := len(m.freeTx); n > 0 {
		i := m.freeTx[n-1]
		m.freeTx = m.freeTx[:n-1]
		return i
	}
	m.txs = append(m.txs, &transmission{})
	return len(m.txs) - 1
}

func (m *Medium) txEnd(idx int) {
	t := m.txs[idx]
	s := m.radios[t.from]
	now := m.e.now
	p := t.p
	delivered := 0
	for i := range t.rx {
		st := &t.rx[i]
		r := m.radios[st.to]
		r.rxActive--
		// The sender's links may have changed while on air: find this
		// receiver's link again; a link removed meanwhile lost the PDU.
		var lost bool
		if l := s.linkTo(i, st.to); l != nil {
			lost = l.ch.lose(r.lossRng) // step the link even if lost otherwise
		} else {
			lost = true
		}
		var cause Cause
		switch {
		case !r.on || r.onSince > t.start:
			cause = CauseRadioOff
		case !st.listening || (r.listen != nil && !r.listen()):
			cause = CauseNotListening
		case overlaps(r.curStart, r.curEnd, t.start, now) || overlaps(r.prevStart, r.prevEnd, t.start, now):
			cause = CauseHalfDuplex
		case st.busy || r.rxStarts != st.mark:
			cause = CauseCollision
		case lost:
			cause = CauseLink
		}
		if cause != 0 {
			r.m.Lost.add(cause)
			m.total.Lost.add(cause)
			m.e.note(KindLost, r.id, uint64(cause))
			continue
		}
		delivered++
		r.m.Received++
		m.total.Deliveries++
		m.e.note(KindDeliver, r.id, t.digest)
		if r.recv != nil {
			r.recv(p.kind, p.buf)
		}
	}
	if delivered == 0 {
		m.total.Unheard++
	}
	if m.cfg.Capture != nil {
		m.cfg.Capture(Capture{
			Start: Epoch.Add(time.Duration(t.start)), Node: t.from, Kind: p.kind,
			Payload: p.buf, Relayed: p.relayed, InRange: len(t.rx), Delivered: delivered,
		})
	}
	m.e.note(KindTxEnd, t.from, uint64(delivered))
	p.refs--
	m.release(p)
	t.p = nil
	m.freeTx = append(m.freeTx, idx)
	s.onAir = false
	if s.on && !s.pending {
		m.scheduleNext(s)
	}
}

// overlaps reports whether [a0, a1) and [b0, b1) share an instant.
func overlaps(a0, a1, b0, b1 int64) bool { return a1 > a0 && a0 < b1 && b0 < a1 }

// linkTo returns r's link to node to, looking first at index i.
func (r *radio) linkTo(i int, to NodeID) *link {
	if i < len(r.links) && r.links[i].to == to {
		return &r.links[i]
	}
	for j := range r.links {
		if r.links[j].to == to {
			return &r.links[j]
		}
	}
	return nil
}
