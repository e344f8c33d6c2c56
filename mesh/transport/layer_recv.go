package transport

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Receive processes a PDU the network layer delivered: it was authenticated
// with the NetKey at p.NetKeyIndex under ivIndex. p and p.LowerPDU are valid
// only during the call. Input that is malformed, replayed or not for this
// node is dropped and counted in Stats.
func (l *Layer) Receive(p *NetPDU, ivIndex uint32) {
	if len(p.LowerPDU) == 0 || !p.SRC.IsUnicast() || p.DST.IsUnassigned() {
		l.stats.Malformed++
		return
	}
	if p.DST.IsUnicast() && !l.isLocal(p.DST) {
		return // not for us; relaying is the network layer's business
	}
	seg := p.LowerPDU[0]&segBit != 0
	switch {
	case !p.CTL && !seg:
		if err := l.ua.Unmarshal(p.LowerPDU); err != nil {
			l.malformed(p, err)
			return
		}
		l.receiveUnsegAccess(p, ivIndex)
	case !p.CTL:
		if err := l.sa.Unmarshal(p.LowerPDU); err != nil {
			l.malformed(p, err)
			return
		}
		s := &l.sa
		l.receiveSegment(p, ivIndex, segInfo{hdr: p.LowerPDU[0], szmic: s.SZMIC, seqZero: s.SeqZero, segO: s.SegO, segN: s.SegN, data: s.Segment})
	case p.DST.IsVirtual():
		l.malformed(p, fmt.Errorf("%w: control message to virtual %v", ErrAddress, p.DST))
	case !seg && p.LowerPDU[0] == OpSegmentAck:
		if err := l.ack.Unmarshal(p.LowerPDU); err != nil {
			l.malformed(p, err)
			return
		}
		l.receiveAck(p, ivIndex)
	case !seg:
		if err := l.uc.Unmarshal(p.LowerPDU); err != nil {
			l.malformed(p, err)
			return
		}
		l.receiveUnsegControl(p, ivIndex)
	default:
		if err := l.sc.Unmarshal(p.LowerPDU); err != nil {
			l.malformed(p, err)
			return
		}
		s := &l.sc
		l.receiveSegment(p, ivIndex, segInfo{ctl: true, hdr: p.LowerPDU[0], seqZero: s.SeqZero, segO: s.SegO, segN: s.SegN, data: s.Segment})
	}
}

func (l *Layer) malformed(p *NetPDU, err error) {
	l.stats.Malformed++
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("transport: dropped PDU", "src", p.SRC, "dst", p.DST, "err", err)
	}
}

// checkReplay applies the replay protection list to a received PDU.
func (l *Layer) checkReplay(p *NetPDU, ivIndex uint32) bool {
	if err := l.rpl.Check(p.SRC, ivIndex, p.SEQ); err != nil {
		l.stats.ReplaysDropped++
		if l.log.Enabled(context.Background(), slog.LevelDebug) {
			l.log.Debug("transport: replay protection", "src", p.SRC, "err", err)
		}
		return false
	}
	return true
}

func (l *Layer) receiveUnsegAccess(p *NetPDU, ivIndex uint32) {
	if !l.checkReplay(p, ivIndex) {
		return
	}
	sa := NewSeqAuth(ivIndex, p.SEQ)
	if !l.openAccess(p, l.ua.AKF, l.ua.AID, false, sa, l.ua.UpperPDU) {
		return
	}
	l.deliverAccess()
	// §3.9.8: an unsegmented message updates the list once processed.
	l.updateRPL(p.SRC, ivIndex, p.SEQ)
}

// openAccess finds the key (and Label UUID) that authenticates upper and
// fills l.amsg with the plaintext. It reports success.
func (l *Layer) openAccess(p *NetPDU, akf bool, aid uint8, szmic bool, sa SeqAuth, upper []byte) bool {
	c := AccessCrypto{SZMIC: szmic, Seq: sa.Seq(), IVIndex: sa.IVIndex(), Src: p.SRC, Dst: p.DST}
	m := &l.amsg
	*m = AccessMessage{Src: p.SRC, Dst: p.DST, NetKeyIndex: p.NetKeyIndex, TTL: p.TTL, IVIndex: sa.IVIndex(), SeqAuth: uint64(sa)}
	l.labels = l.labels[:0]
	if p.DST.IsVirtual() {
		l.labels = l.cfg.Keys.LabelUUIDs(p.DST, l.labels)
		if len(l.labels) == 0 {
			l.stats.DecryptFailures++
			return false
		}
	}
	if !akf {
		if aid != 0 || !p.DST.IsUnicast() {
			l.stats.Malformed++
			return false
		}
		c.DevKey = true
		for _, who := range [2]mesh.Address{p.DST, p.SRC} { // own DevKey, then the peer's
			k, ok := l.cfg.Keys.DevKey(who)
			if !ok {
				continue
			}
			if out, err := l.cfg.Memo.decrypt(l, l.plain[:0], k, &c, upper); err == nil {
				m.DevKey, m.DevKeyAddr, m.Payload = true, who, out
				return true
			}
		}
		l.stats.DecryptFailures++
		return false
	}
	l.appKeys = l.cfg.Keys.AppKeysByAID(aid, l.appKeys[:0])
	for _, k := range l.appKeys {
		if k.NetKeyIndex != p.NetKeyIndex || k.AID != aid {
			continue // an AppKey is only valid on the subnet it is bound to
		}
		if !p.DST.IsVirtual() {
			if out, err := l.cfg.Memo.decrypt(l, l.plain[:0], k.Key, &c, upper); err == nil {
				m.AppKeyIndex, m.Payload = k.Index, out
				return true
			}
			continue
		}
		for i := range l.labels { // several Label UUIDs may hash to DST
			c.Label = &l.labels[i]
			if out, err := l.cfg.Memo.decrypt(l, l.plain[:0], k.Key, &c, upper); err == nil {
				l.label = l.labels[i]
				m.AppKeyIndex, m.Label, m.Payload = k.Index, &l.label, out
				return true
			}
		}
		c.Label = nil
	}
	l.stats.DecryptFailures++
	return false
}

func (l *Layer) deliverAccess() {
	l.stats.AccessDelivered++
	if l.cfg.DeliverAccess != nil {
		l.cfg.DeliverAccess(&l.amsg)
	}
}

func (l *Layer) receiveUnsegControl(p *NetPDU, ivIndex uint32) {
	if !l.checkReplay(p, ivIndex) {
		return
	}
	l.cmsg = ControlMessage{Src: p.SRC, Dst: p.DST, NetKeyIndex: p.NetKeyIndex, TTL: p.TTL,
		IVIndex: ivIndex, Seq: p.SEQ, Opcode: l.uc.Opcode, Params: l.uc.Params}
	l.deliverControl()
	l.updateRPL(p.SRC, ivIndex, p.SEQ)
}

func (l *Layer) deliverControl() {
	l.stats.ControlDelivered++
	if l.cfg.DeliverControl != nil {
		l.cfg.DeliverControl(&l.cmsg)
	}
}

// receiveAck matches a Segment Acknowledgment to an outgoing transfer
// (§3.5.3.3, Table 3.24): same SeqZero, from the destination (or OBO from a
// Friend), on the same NetKey, newly acknowledging a segment.
func (l *Layer) receiveAck(p *NetPDU, ivIndex uint32) {
	var t *txMsg
	if tp := l.tx[pair{p.DST, p.SRC}]; tp != nil && tp.active != nil {
		t = tp.active
	} else if l.ack.OBO {
		for _, k := range sortedPairs(l.tx) {
			if a := l.tx[k].active; a != nil && k.src == p.DST && k.dst.IsUnicast() && a.seqAuth.SeqZero() == l.ack.SeqZero {
				t = a
				break
			}
		}
	}
	if t == nil || t.multicast() || t.seqAuth.SeqZero() != l.ack.SeqZero || t.netKeyIndex != p.NetKeyIndex {
		return
	}
	if !l.checkReplay(p, ivIndex) {
		return
	}
	if l.onAck(t, l.ack.AckedSegments) {
		l.updateRPL(p.SRC, ivIndex, p.SEQ)
	}
}

// segInfo is one received segment, access or control.
type segInfo struct {
	ctl     bool
	hdr     byte // octet 0: SEG, AKF, AID or SEG, opcode
	szmic   bool
	seqZero uint16
	segO    uint8
	segN    uint8
	data    []byte
}

func (s *segInfo) segSize() int {
	if s.ctl {
		return ControlSegmentSize
	}
	return AccessSegmentSize
}

// rxStatus is where a reassembly stands.
type rxStatus uint8

const (
	rxActive    rxStatus = iota // segments arriving
	rxCompleted                 // all segments arrived and were acknowledged
	rxDiscarded                 // the Discard timer ended it
)

// rxState is the SAR receiver state of one (SRC, DST) pair: the last
// SeqAuth seen, whether that message completed, and while active its
// segments and timers.
type rxState struct {
	key         pair
	seqAuth     SeqAuth
	status      rxStatus
	ctl         bool
	hdr         byte
	szmic       bool
	segN        uint8
	segSize     int
	netKeyIndex uint16
	ttl         uint8
	firstSeq    uint32
	received    uint32
	lastLen     int
	buf         []byte
	lastAck     time.Time
	lastUsed    time.Time
	noAck       bool // segments from a Friend Queue: an LPN does not acknowledge

	ackTimer, discardTimer mesh.Timer
	ackGen, discardGen     uint64
}

func (st *rxState) fullMask() uint32 { return uint32(uint64(1)<<(st.segN+1) - 1) }

// rxVerdict is the receiver's reading of one segment (Mesh Protocol v1.1
// §3.5.3.4, evaluated top to bottom).
type rxVerdict uint8

const (
	verdictSeqAuthError rxVerdict = iota // older SeqAuth, that message never completed
	verdictRepeatedOld                   // older SeqAuth of a completed message
	verdictMostRecent                    // SeqAuth of the last completed message: re-acknowledge
	verdictReject                        // a new message, but no resources
	verdictFirst                         // first segment of a new message
	verdictRepeated                      // segment already received
	verdictLate                          // the Discard timer already ended this message
	verdictNext                          // a new segment, not the last missing one
	verdictLast                          // the last missing segment
)

var verdictNames = [...]string{"SeqAuthError", "RepeatedOld", "MostRecent", "Reject", "First", "Repeated", "Late", "Next", "Last"}

// String names the verdict.
func (v rxVerdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("rxVerdict(%d)", uint8(v))
}

// classify is the §3.5.3.4 decision table. st is the pair's state or nil;
// room reports whether a new reassembly could start.
func classify(st *rxState, sa SeqAuth, segO uint8, room bool) rxVerdict {
	switch {
	case st != nil && sa < st.seqAuth && st.status == rxCompleted:
		return verdictRepeatedOld
	case st != nil && sa < st.seqAuth:
		return verdictSeqAuthError
	case st != nil && sa == st.seqAuth && st.status == rxCompleted:
		return verdictMostRecent
	case (st == nil || sa > st.seqAuth) && !room:
		return verdictReject
	case st == nil || sa > st.seqAuth:
		return verdictFirst
	case st.received&(1<<segO) != 0:
		return verdictRepeated
	case st.status == rxDiscarded:
		return verdictLate
	case st.received|1<<segO == st.fullMask():
		return verdictLast
	default:
		return verdictNext
	}
}

func (l *Layer) receiveSegment(p *NetPDU, ivIndex uint32, s segInfo) {
	size := s.segSize()
	if (s.segO < s.segN && len(s.data) != size) || len(s.data) > size {
		l.malformed(p, fmt.Errorf("%w: segment %d of %d has %d octets", ErrLength, s.segO, s.segN, len(s.data)))
		return
	}
	sa, err := RecoverSeqAuth(ivIndex, p.SEQ, s.seqZero)
	if err != nil {
		l.stats.SeqAuthErrors++
		return
	}
	if !l.checkReplay(p, ivIndex) {
		return
	}
	key := pair{p.SRC, p.DST}
	st := l.rx[key]
	if st != nil && sa == st.seqAuth && st.status == rxActive &&
		(st.segN != s.segN || st.hdr != s.hdr || st.szmic != s.szmic || st.ctl != s.ctl) {
		l.malformed(p, fmt.Errorf("%w: segment disagrees with earlier segments of SeqAuth %v", ErrField, sa))
		return
	}
	room := l.rxActive < l.cfg.MaxRxMessages
	if st != nil && st.status == rxActive {
		room = true // a newer message replaces the pair's own reassembly
	}
	now := l.clk.Now()
	switch v := classify(st, sa, s.segO, room); v {
	case verdictSeqAuthError, verdictRepeatedOld:
		l.stats.SeqAuthErrors++
	case verdictRepeated, verdictLate:
		// ignored
	case verdictMostRecent:
		// §3.5.3.4: re-acknowledge a completed message, rate limited.
		if p.DST.IsUnicast() && !p.FromFriend && (st.lastAck.IsZero() || now.Sub(st.lastAck) >= l.cfg.SARRx.AckRateLimit()) {
			st.lastAck = now
			l.sendAck(p.DST, p.SRC, st.netKeyIndex, p.TTL, s.seqZero, st.fullMask(), 1)
		}
	case verdictReject:
		l.stats.RxRejected++
		if p.DST.IsUnicast() && !p.FromFriend {
			l.sendAck(p.DST, p.SRC, p.NetKeyIndex, p.TTL, s.seqZero, 0, 1)
		}
	case verdictFirst:
		if st == nil {
			st = &rxState{key: key}
			l.rx[key] = st
		} else if st.status == rxActive {
			l.dropRx(st) // a newer message supersedes the pending one
		}
		l.beginRx(st, p, sa, &s, now)
		l.storeSegment(st, p, ivIndex, &s, now)
	case verdictNext, verdictLast:
		l.storeSegment(st, p, ivIndex, &s, now)
	}
	l.evictRx()
}

func (l *Layer) beginRx(st *rxState, p *NetPDU, sa SeqAuth, s *segInfo, now time.Time) {
	*st = rxState{
		key: st.key, seqAuth: sa, status: rxActive, ctl: s.ctl, hdr: s.hdr, szmic: s.szmic,
		segN: s.segN, segSize: s.segSize(), netKeyIndex: p.NetKeyIndex, ttl: p.TTL,
		firstSeq: sa.Seq(), lastUsed: now, noAck: p.FromFriend,
		ackGen: st.ackGen + 1, discardGen: st.discardGen + 1,
	}
	if n := len(l.rxFree); n > 0 {
		st.buf = l.rxFree[n-1][:0]
		l.rxFree = l.rxFree[:n-1]
	} else {
		st.buf = make([]byte, 0, MaxUpperAccessPDU)
	}
	st.buf = st.buf[:int(st.segN+1)*st.segSize]
	l.rxActive++
}

func (l *Layer) storeSegment(st *rxState, p *NetPDU, ivIndex uint32, s *segInfo, now time.Time) {
	copy(st.buf[int(s.segO)*st.segSize:], s.data)
	if s.segO == s.segN {
		st.lastLen = len(s.data)
	}
	st.received |= 1 << s.segO
	st.lastUsed = now
	st.ttl = p.TTL
	st.noAck = st.noAck || p.FromFriend
	if st.received == st.fullMask() {
		l.completeRx(st, p, ivIndex)
		return
	}
	l.armDiscard(st)
	if st.key.dst.IsUnicast() && !st.noAck && st.ackTimer == nil {
		l.armAck(st)
	}
}

func (l *Layer) armDiscard(st *rxState) {
	if st.discardTimer != nil {
		st.discardTimer.Stop()
	}
	st.discardGen++
	gen := st.discardGen
	st.discardTimer = l.clk.AfterFunc(l.cfg.SARRx.DiscardTimeoutDuration(), func() {
		if gen == st.discardGen && st.status == rxActive {
			l.stats.RxTimeouts++
			l.dropRx(st)
			st.status = rxDiscarded
		}
	})
}

// armAck starts the SAR Acknowledgment timer if it is not running.
func (l *Layer) armAck(st *rxState) {
	st.ackGen++
	gen := st.ackGen
	st.ackTimer = l.clk.AfterFunc(l.cfg.SARRx.AckDelay(st.segN), func() {
		if gen != st.ackGen || st.status != rxActive {
			return
		}
		st.ackTimer = nil
		st.lastAck = l.clk.Now()
		l.sendAck(st.key.dst, st.key.src, st.netKeyIndex, st.ttl, st.seqAuth.SeqZero(), st.received, l.cfg.SARRx.AckTransmissions(st.segN))
	})
}

// dropRx stops a reassembly's timers and frees its buffer.
func (l *Layer) dropRx(st *rxState) {
	if st.ackTimer != nil {
		st.ackTimer.Stop()
		st.ackTimer = nil
	}
	if st.discardTimer != nil {
		st.discardTimer.Stop()
		st.discardTimer = nil
	}
	st.ackGen++
	st.discardGen++
	if st.status == rxActive && st.buf != nil {
		l.rxFree = append(l.rxFree, st.buf[:0])
		st.buf = nil
		l.rxActive--
	}
}

// completeRx acknowledges, delivers and records a reassembled message.
func (l *Layer) completeRx(st *rxState, p *NetPDU, ivIndex uint32) {
	buf := st.buf[:int(st.segN)*st.segSize+st.lastLen]
	st.buf = nil // keep it out of dropRx's hands until delivered
	l.dropRx(st)
	l.rxActive--
	st.status = rxCompleted
	l.stats.RxCompleted++
	if st.key.dst.IsUnicast() && !st.noAck {
		st.lastAck = l.clk.Now()
		l.sendAck(st.key.dst, st.key.src, st.netKeyIndex, st.ttl, st.seqAuth.SeqZero(), st.fullMask(), l.cfg.SARRx.AckTransmissions(st.segN))
	}
	if st.ctl {
		l.cmsg = ControlMessage{Src: st.key.src, Dst: st.key.dst, NetKeyIndex: st.netKeyIndex, TTL: st.ttl,
			IVIndex: st.seqAuth.IVIndex(), Seq: st.firstSeq, Opcode: st.hdr & 0x7F, Params: buf}
		l.deliverControl()
		l.updateRPL(p.SRC, ivIndex, p.SEQ)
	} else {
		hp := *p
		hp.NetKeyIndex = st.netKeyIndex
		if l.openAccess(&hp, st.hdr&akfBit != 0, st.hdr&aidMask, st.szmic, st.seqAuth, buf) {
			l.deliverAccess()
			// §3.9.8: a segmented message updates the list with the SEQ of
			// the segment that completed it.
			l.updateRPL(p.SRC, ivIndex, p.SEQ)
		}
	}
	l.rxFree = append(l.rxFree, buf[:0])
}

// sendAck sends a Segment Acknowledgment from src (our element) to dst,
// n times spaced by the segment reception interval, each with a fresh SEQ.
func (l *Layer) sendAck(src, dst mesh.Address, netKeyIndex uint16, rxTTL uint8, seqZero uint16, acked uint32, n int) {
	ttl := l.ackTTL(rxTTL)
	once := func() {
		seq, err := l.cfg.NextSeq(src)
		if err != nil {
			l.log.Warn("transport: no SEQ for an acknowledgment", "src", src, "err", err)
			return
		}
		var b [SegmentAckLen]byte
		out, _ := (&SegmentAck{SeqZero: seqZero, AckedSegments: acked}).AppendBinary(b[:0])
		l.stats.AcksSent++
		if err := l.sendPDU(true, netKeyIndex, ttl, seq, src, dst, out); err != nil {
			l.log.Debug("transport: acknowledgment not sent", "dst", dst, "err", err)
		}
	}
	once()
	gap := l.cfg.SARRx.SegmentReceptionInterval()
	for i := 1; i < n; i++ {
		l.clk.AfterFunc(time.Duration(i)*gap, once)
	}
}

// evictRx bounds the per-pair state: completed or discarded entries beyond
// the replay list's capacity are forgotten, least recently used first (the
// replay list still guards against their replay).
func (l *Layer) evictRx() {
	limit := max(l.cfg.RPLSize, 2*l.cfg.MaxRxMessages)
	for len(l.rx) > limit {
		var victim *rxState
		for _, k := range sortedPairs(l.rx) {
			st := l.rx[k]
			if st.status == rxActive {
				continue
			}
			if victim == nil || st.lastUsed.Before(victim.lastUsed) {
				victim = st
			}
		}
		if victim == nil {
			return
		}
		delete(l.rx, victim.key)
	}
}
