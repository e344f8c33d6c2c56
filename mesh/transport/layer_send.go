package transport

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// txPair holds the segmented transfer in progress from one source to one
// destination and those queued behind it (§3.5.3.3: one at a time).
type txPair struct {
	active *txMsg
	queue  []*txMsg
}

// txMsg is one segmented message to send. Its state machine:
//
//	queued ─start→ pass (segments paced by the segment interval)
//	pass ─last unacked segment sent→ waiting (retransmissions timer)
//	waiting ─timer, budget left→ pass        waiting ─timer, no budget→ failed (unicast) / done (multicast)
//	any ─ack completes→ done    any ─ack 0→ rejected
type txMsg struct {
	key pair
	ctl bool

	// access message (encrypted at start)
	access    []byte
	akf       bool
	aid       uint8
	appIndex  uint16
	devKey    bool
	secretKey crypto.Key
	label     *[16]byte
	opcode    uint8 // control

	netKeyIndex uint16
	ttl         uint8
	forceSeg    bool
	done        func(error)

	// set at start
	upper       []byte
	szmic       bool
	seqAuth     SeqAuth
	segN        uint8
	segSize     int
	acked       uint32
	firstSeq    uint32
	firstUnsent bool
	lastSeq     uint32

	remaining           int
	remainingNoProgress int
	passNext            int // next segment of the running pass; -1 when not in a pass
	retransmitting      bool

	timer mesh.Timer
	gen   uint64

	// inFlight counts segments handed to the network layer that have not
	// gone out yet (NetPDU.Sent); while it is not zero the next segment
	// and the retransmissions timer wait (then is what runs next). So the
	// SAR timers count from the air, not from a queue behind other
	// traffic, as Zephyr's seg_tx waits for its advertising callbacks.
	inFlight int
	then     func(*txMsg)
	ended    bool
}

func (t *txMsg) multicast() bool { return !t.key.dst.IsUnicast() }

func (t *txMsg) fullMask() uint32 { return uint32(uint64(1)<<(t.segN+1) - 1) }

// SendAccess encrypts and sends an access message. Messages whose Upper
// Transport PDU fits one PDU (access payload ≤ 11 octets) go unsegmented
// unless ForceSegmented is set; longer ones run the SAR transmitter, one
// transfer per (Src, Dst) at a time, later ones queued.
//
// done (may be nil) runs on the executor, never inside SendAccess: with nil
// once an unsegmented message was handed to Send, once a segmented message
// to a unicast address was fully acknowledged, or once a multicast one was
// sent with all its retransmissions; with an error wrapping ErrTimeout,
// ErrRejected or ErrSeqExhausted when a transfer failed. A non-nil return
// means nothing was sent and done will not run.
func (l *Layer) SendAccess(m *AccessTx, done func(error)) error {
	t, err := l.prepareAccess(m)
	if err != nil {
		return err
	}
	t.done = done
	if !m.ForceSegmented && len(m.Payload) <= MaxUnsegAccessLen {
		if err := l.sendUnsegAccess(t); err != nil {
			return err
		}
		l.post(done, nil)
		return nil
	}
	return l.enqueue(t)
}

func (l *Layer) prepareAccess(m *AccessTx) (*txMsg, error) {
	dst := m.Dst
	if m.Label != nil && dst == 0 {
		dst = mesh.Address(crypto.VirtualAddress(*m.Label))
	}
	switch {
	case !m.Src.IsUnicast():
		return nil, fmt.Errorf("%w: source %v is not unicast", ErrAddress, m.Src)
	case dst.IsUnassigned():
		return nil, fmt.Errorf("%w: unassigned destination", ErrAddress)
	case dst.IsVirtual() && m.Label == nil:
		return nil, fmt.Errorf("%w: virtual destination %v without its Label UUID", ErrAddress, dst)
	case dst.IsVirtual() && mesh.Address(crypto.VirtualAddress(*m.Label)) != dst:
		return nil, fmt.Errorf("%w: Label UUID hashes to %04x, not %v", ErrAddress, crypto.VirtualAddress(*m.Label), dst)
	case !dst.IsVirtual() && m.Label != nil:
		return nil, fmt.Errorf("%w: Label UUID with non-virtual destination %v", ErrAddress, dst)
	case m.DevKey && !dst.IsUnicast():
		return nil, fmt.Errorf("%w: DevKey message to %v", ErrAddress, dst)
	case m.TTL > MaxTTL || m.TTL == 1:
		return nil, fmt.Errorf("%w: TTL %d", ErrField, m.TTL)
	case len(m.Payload) < 1 || len(m.Payload) > MaxAccessLen:
		return nil, fmt.Errorf("%w: access message of %d octets, want 1–%d", ErrTooLong, len(m.Payload), MaxAccessLen)
	}
	t := &txMsg{
		key:         pair{m.Src, dst},
		access:      append([]byte(nil), m.Payload...),
		devKey:      m.DevKey,
		netKeyIndex: m.NetKeyIndex,
		ttl:         m.TTL,
		forceSeg:    m.ForceSegmented,
		passNext:    -1,
	}
	if m.Label != nil {
		lb := *m.Label
		t.label = &lb
	}
	if m.DevKey {
		who := m.DevKeyAddr
		if who == 0 {
			who = dst
		}
		k, ok := l.cfg.Keys.DevKey(who)
		if !ok {
			return nil, fmt.Errorf("%w: no DevKey for %v", ErrNoKey, who)
		}
		t.secretKey = k
	} else {
		k, ok := l.cfg.Keys.AppKey(m.AppKeyIndex)
		if !ok {
			return nil, fmt.Errorf("%w: no AppKey with index %d", ErrNoKey, m.AppKeyIndex)
		}
		t.secretKey, t.akf, t.aid, t.appIndex, t.netKeyIndex = k.Key, true, k.AID&aidMask, k.Index, k.NetKeyIndex
	}
	return t, nil
}

func (l *Layer) sendUnsegAccess(t *txMsg) error {
	seq, err := l.cfg.NextSeq(t.key.src)
	if err != nil {
		return fmt.Errorf("transport: allocate SEQ: %w", err)
	}
	p := AccessCrypto{DevKey: t.devKey, Seq: seq, IVIndex: l.cfg.IVIndex(), Src: t.key.src, Dst: t.key.dst, Label: t.label}
	l.lower = append(l.lower[:0], akfAID(t.akf, t.aid))
	l.lower, err = EncryptAccess(l.lower, l.ccm(t.secretKey), &p, t.access)
	if err != nil {
		return err
	}
	l.stats.UnsegmentedSent++
	return l.sendPDU(false, t.netKeyIndex, t.ttl, seq, t.key.src, t.key.dst, l.lower)
}

// SendControl sends a transport control message. Parameters longer than 11
// octets (or ForceSegmented) run the SAR transmitter like access messages.
func (l *Layer) SendControl(m *ControlTx) error {
	switch {
	case !m.Src.IsUnicast():
		return fmt.Errorf("%w: source %v is not unicast", ErrAddress, m.Src)
	case m.Dst.IsUnassigned() || m.Dst.IsVirtual():
		return fmt.Errorf("%w: control message to %v", ErrAddress, m.Dst)
	case m.Opcode == OpSegmentAck || m.Opcode > 0x7F:
		return fmt.Errorf("%w: control opcode 0x%02x", ErrField, m.Opcode)
	case m.TTL > MaxTTL || m.TTL == 1:
		return fmt.Errorf("%w: TTL %d", ErrField, m.TTL)
	case len(m.Params) > MaxControlParams:
		return fmt.Errorf("%w: control parameters of %d octets", ErrTooLong, len(m.Params))
	}
	if !m.ForceSegmented && len(m.Params) <= MaxUnsegControlParams {
		seq, err := l.cfg.NextSeq(m.Src)
		if err != nil {
			return fmt.Errorf("transport: allocate SEQ: %w", err)
		}
		l.lower = append(l.lower[:0], m.Opcode)
		l.lower = append(l.lower, m.Params...)
		l.stats.UnsegmentedSent++
		if err := l.sendPDU(true, m.NetKeyIndex, m.TTL, seq, m.Src, m.Dst, l.lower); err != nil {
			return err
		}
		l.post(m.Done, nil)
		return nil
	}
	if len(m.Params) == 0 {
		return fmt.Errorf("%w: a segmented control message needs parameters", ErrLength)
	}
	t := &txMsg{
		key:         pair{m.Src, m.Dst},
		ctl:         true,
		opcode:      m.Opcode,
		access:      append([]byte(nil), m.Params...),
		netKeyIndex: m.NetKeyIndex,
		ttl:         m.TTL,
		done:        m.Done,
		passNext:    -1,
	}
	return l.enqueue(t)
}

func (l *Layer) sendPDU(ctl bool, netKeyIndex uint16, ttl uint8, seq uint32, src, dst mesh.Address, lower []byte, sent ...func()) error {
	l.out = NetPDU{NetKeyIndex: netKeyIndex, CTL: ctl, TTL: ttl, SEQ: seq, SRC: src, DST: dst, LowerPDU: lower}
	if len(sent) > 0 {
		l.out.Sent = sent[0]
	}
	if err := l.cfg.Send(&l.out); err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	return nil
}

func (l *Layer) enqueue(t *txMsg) error {
	if l.txCount >= l.cfg.MaxTxMessages {
		return fmt.Errorf("%w (%d)", ErrBusy, l.txCount)
	}
	tp := l.tx[t.key]
	if tp == nil {
		tp = &txPair{}
		l.tx[t.key] = tp
	}
	l.txCount++
	if tp.active != nil {
		tp.queue = append(tp.queue, t)
		return nil
	}
	tp.active = t
	if err := l.startTx(t); err != nil {
		tp.active = nil
		l.txCount--
		if len(tp.queue) == 0 {
			delete(l.tx, t.key)
		}
		return err
	}
	return nil
}

// startTx allocates SeqAuth, encrypts and begins the first pass.
func (l *Layer) startTx(t *txMsg) error {
	seq, err := l.cfg.NextSeq(t.key.src)
	if err != nil {
		return fmt.Errorf("transport: allocate SEQ: %w", err)
	}
	iv := l.cfg.IVIndex()
	t.seqAuth = NewSeqAuth(iv, seq)
	t.firstSeq, t.firstUnsent, t.lastSeq = seq, true, seq
	if t.ctl {
		t.upper = t.access
		t.segSize = ControlSegmentSize
	} else {
		t.szmic = ChooseSZMIC(len(t.access))
		p := AccessCrypto{DevKey: t.devKey, SZMIC: t.szmic, Seq: seq, IVIndex: iv, Src: t.key.src, Dst: t.key.dst, Label: t.label}
		t.upper, err = EncryptAccess(make([]byte, 0, len(t.access)+8), l.ccm(t.secretKey), &p, t.access)
		if err != nil {
			return err
		}
		t.segSize = AccessSegmentSize
	}
	t.segN = uint8((len(t.upper) - 1) / t.segSize)
	sar := l.cfg.SARTx
	if t.multicast() {
		t.remaining = int(sar.MulticastRetransmissionsCount)
	} else {
		t.remaining = int(sar.UnicastRetransmissionsCount)
		t.remainingNoProgress = int(sar.UnicastRetransmissionsWithoutProgressCount)
	}
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("transport: segmented transfer start", "src", t.key.src, "dst", t.key.dst,
			"seq_auth", t.seqAuth.String(), "segments", int(t.segN)+1, "szmic", t.szmic)
	}
	l.startPass(t)
	return nil
}

func (l *Layer) startPass(t *txMsg) {
	t.passNext = 0
	l.continuePass(t)
}

// nextUnacked returns the first unacknowledged segment at or after i, or -1.
func (t *txMsg) nextUnacked(i int) int {
	if i > int(t.segN) {
		return -1
	}
	pending := ^t.acked & t.fullMask() >> uint(i)
	if pending == 0 {
		return -1
	}
	return i + bits.TrailingZeros32(pending)
}

// continuePass sends the next unacknowledged segment of the running pass
// and schedules the one after it, or the retransmissions timer.
func (l *Layer) continuePass(t *txMsg) {
	if t.inFlight > 0 {
		t.then = l.continuePass
		return
	}
	i := t.nextUnacked(t.passNext)
	if i < 0 {
		l.endPass(t)
		return
	}
	seq := t.firstSeq
	if t.firstUnsent {
		t.firstUnsent = false
	} else {
		var err error
		if seq, err = l.cfg.NextSeq(t.key.src); err != nil {
			l.finishTx(t, fmt.Errorf("transport: allocate SEQ: %w", err))
			return
		}
	}
	// §3.5.3.3: a transfer not done before SEQ moves 8192 past SeqAuth is
	// cancelled, since SeqZero could no longer identify it.
	if (seq-t.seqAuth.Seq())&0xFFFFFF >= 8192 {
		l.finishTx(t, fmt.Errorf("%w: SeqAuth %v, SEQ 0x%06x", ErrSeqExhausted, t.seqAuth, seq))
		return
	}
	t.lastSeq = seq
	l.sendSegment(t, i, seq)
	t.passNext = i + 1
	if t.nextUnacked(t.passNext) < 0 {
		l.endPass(t)
		return
	}
	l.armTx(t, l.cfg.SARTx.SegmentInterval(), l.continuePass)
}

// endPass starts the unicast or multicast retransmissions timer.
func (l *Layer) endPass(t *txMsg) {
	t.passNext = -1
	if t.inFlight > 0 {
		t.then = l.endPass
		return
	}
	t.retransmitting = true
	if t.multicast() {
		l.armTx(t, l.cfg.SARTx.MulticastRetransmissionsInterval(), l.onMulticastTimer)
		return
	}
	l.armTx(t, l.cfg.SARTx.UnicastRetransmissionsInterval(t.ttl), l.onUnicastTimer)
}

func (l *Layer) sendSegment(t *txMsg, segO int, seq uint32) {
	lo := segO * t.segSize
	hi := min(lo+t.segSize, len(t.upper))
	b := l.lower[:0]
	if t.ctl {
		b = append(b, segBit|t.opcode)
		b = appendSegHeader(b, false, t.seqAuth.SeqZero(), uint8(segO), t.segN)
	} else {
		b = append(b, segBit|akfAID(t.akf, t.aid))
		b = appendSegHeader(b, t.szmic, t.seqAuth.SeqZero(), uint8(segO), t.segN)
	}
	b = append(b, t.upper[lo:hi]...)
	l.lower = b
	if t.retransmitting {
		l.stats.SegmentsRetransmitted++
	} else {
		l.stats.SegmentsSent++
	}
	t.inFlight++
	if err := l.sendPDU(t.ctl, t.netKeyIndex, t.ttl, seq, t.key.src, t.key.dst, b, func() { l.onSegmentSent(t) }); err != nil {
		// The segment counts as lost; the retransmissions recover it.
		t.inFlight--
		l.log.Debug("transport: segment not sent", "src", t.key.src, "dst", t.key.dst, "err", err)
	}
}

// onSegmentSent runs when a segment has left the bearer.
func (l *Layer) onSegmentSent(t *txMsg) {
	t.inFlight--
	if t.ended || t.inFlight > 0 || t.then == nil {
		return
	}
	f := t.then
	t.then = nil
	f(t)
}

func (l *Layer) armTx(t *txMsg, d time.Duration, f func(*txMsg)) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.gen++
	gen := t.gen
	t.timer = l.clk.AfterFunc(d, func() {
		if gen == t.gen { // a superseded timer must not act
			f(t)
		}
	})
}

func (l *Layer) stopTx(t *txMsg) {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.gen++
}

// onUnicastTimer: SAR Unicast Retransmissions timer expired.
func (l *Layer) onUnicastTimer(t *txMsg) {
	if t.remaining > 0 && t.remainingNoProgress > 0 {
		t.remaining--
		t.remainingNoProgress--
		l.startPass(t)
		return
	}
	l.stats.TxTimeouts++
	l.finishTx(t, fmt.Errorf("%w: %v → %v, SeqAuth %v, %d of %d segments acknowledged",
		ErrTimeout, t.key.src, t.key.dst, t.seqAuth, bits.OnesCount32(t.acked), int(t.segN)+1))
}

// onMulticastTimer: SAR Multicast Retransmissions timer expired.
func (l *Layer) onMulticastTimer(t *txMsg) {
	if t.remaining > 0 {
		t.remaining--
		l.startPass(t)
		return
	}
	l.stats.TxCompleted++
	l.finishTx(t, nil)
}

// onAck handles a Segment Acknowledgment already matched to t and checked
// for SeqZero and NetKey. It reports whether the ack was valid (so its SEQ
// goes into the replay protection list).
func (l *Layer) onAck(t *txMsg, acked uint32) bool {
	if acked == 0 {
		l.stats.TxRejected++
		l.finishTx(t, fmt.Errorf("%w: %v → %v, SeqAuth %v", ErrRejected, t.key.src, t.key.dst, t.seqAuth))
		return true
	}
	acked &= t.fullMask()
	if acked&^t.acked == 0 {
		return false // §3.5.3.3: an ack that adds nothing is not valid
	}
	l.stats.AcksReceived++
	t.acked |= acked
	if t.acked == t.fullMask() {
		l.stats.TxCompleted++
		l.finishTx(t, nil)
		return true
	}
	t.remainingNoProgress = int(l.cfg.SARTx.UnicastRetransmissionsWithoutProgressCount)
	if t.passNext < 0 && t.remaining > 0 {
		// Progress while waiting: resend what is missing now.
		t.remaining--
		l.startPass(t)
	}
	return true
}

// finishTx ends t, reports to its owner and starts the next queued transfer
// to the same destination.
func (l *Layer) finishTx(t *txMsg, err error) {
	l.stopTx(t)
	t.ended, t.then = true, nil
	l.txCount--
	tp := l.tx[t.key]
	if tp != nil && tp.active == t {
		tp.active = nil
	}
	if err != nil {
		l.log.Debug("transport: segmented transfer failed", "src", t.key.src, "dst", t.key.dst, "err", err)
	}
	l.post(t.done, err)
	for tp != nil && tp.active == nil && len(tp.queue) > 0 {
		next := tp.queue[0]
		tp.queue[0] = nil
		tp.queue = tp.queue[1:]
		tp.active = next
		if serr := l.startTx(next); serr != nil {
			tp.active = nil
			l.txCount--
			l.post(next.done, serr)
		}
	}
	if tp != nil && tp.active == nil && len(tp.queue) == 0 {
		delete(l.tx, t.key)
	}
}

// Reset abandons every transfer and reassembly: transfers report ErrClosed.
func (l *Layer) Reset() {
	for _, k := range sortedPairs(l.tx) {
		tp := l.tx[k]
		for _, t := range tp.queue {
			l.txCount--
			l.post(t.done, ErrClosed)
		}
		tp.queue = nil
		if tp.active != nil {
			l.finishTx(tp.active, ErrClosed)
		}
	}
	for _, k := range sortedPairs(l.rx) {
		l.dropRx(l.rx[k])
	}
	clear(l.rx)
}
