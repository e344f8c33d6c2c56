package friend

import (
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// entry is one Friend Queue entry (§3.5.5): a Lower Transport PDU with the
// network fields it goes out with (TTL already decremented) and the IV
// Index it was received under; or a Friend Update placeholder, built when
// it is sent.
type entry struct {
	iv       uint32
	ctl      bool
	ttl      uint8
	seq      uint32
	src, dst mesh.Address
	n        uint8
	pdu      [network.MaxAccessTransportSize]byte
	update   bool
}

func entryFrom(rx *network.Rx) entry {
	e := entry{iv: rx.IVIndex, ctl: rx.CTL, ttl: rx.TTL - 1, seq: rx.SEQ, src: rx.SRC, dst: rx.DST}
	e.n = uint8(copy(e.pdu[:], rx.TransportPDU))
	return e
}

// ackSeqZero returns the SeqZero of a stored Segment Acknowledgment.
func (e *entry) ackSeqZero() (uint16, bool) {
	if e.update || !e.ctl || e.n != transport.SegmentAckLen || e.pdu[0] != transport.OpSegmentAck {
		return 0, false
	}
	return (uint16(e.pdu[1])<<8 | uint16(e.pdu[2])) >> 2 & transport.SeqZeroMask, true
}

// store queues a PDU for every LPN it is for (§3.5.5: on the friendship's
// subnet, to an LPN element or a subscribed address, received TTL ≥ 2, not
// already queued, not from the LPN itself). Segments are reassembled
// first. It reports whether the PDU was consumed (a unicast DST, which the
// network layer delivered only because it is an LPN's).
func (f *Friend) store(rx *network.Rx) bool {
	consumed := rx.DST.IsUnicast() && !f.st.isOwn(rx.DST)
	if rx.TTL < 2 || len(rx.TransportPDU) == 0 {
		return consumed
	}
	f.targets = f.targets[:0]
	for _, c := range f.lpns {
		if c.established && c.netIdx == rx.NetKeyIndex && c.matches(rx.DST) && !c.owns(rx.SRC) {
			f.targets = append(f.targets, c)
		}
	}
	if len(f.targets) == 0 {
		return consumed
	}
	if rx.TransportPDU[0]&0x80 != 0 {
		f.segment(rx)
		return consumed
	}
	f.fresh = append(f.fresh[:0], entryFrom(rx))
	for _, c := range f.targets {
		f.enqueue(c, f.fresh)
	}
	return consumed
}

// enqueue appends the PDUs of one message to c's queue. Duplicates (same
// SRC and SEQ) are skipped; a newer Segment Acknowledgment replaces a
// queued one of the same transfer; when the queue is full the oldest
// entries that are not Friend Updates are discarded until it fits (§3.5.5).
// A segmented message longer than the whole queue is discarded at once:
// its tail alone would be of no use to the LPN.
func (f *Friend) enqueue(c *lpnCtx, es []entry) {
	var keep []entry
	for _, e := range es {
		if !slices.ContainsFunc(c.queue, func(q entry) bool { return !q.update && q.src == e.src && q.seq == e.seq }) {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return
	}
	if len(keep) > f.p.QueueSize {
		f.stats.QueueOverflows += uint64(len(keep))
		f.log.Warn("friend: message larger than the friend queue", "lpn", c.addr, "pdus", len(keep), "queue", f.p.QueueSize)
		return
	}
	if sz, ok := keep[0].ackSeqZero(); ok && len(keep) == 1 {
		k := keep[0]
		c.queue = slices.DeleteFunc(c.queue, func(q entry) bool {
			qz, ok := q.ackSeqZero()
			return ok && qz == sz && q.src == k.src && q.dst == k.dst
		})
	}
	for len(c.queue)+len(keep) > f.p.QueueSize {
		i := slices.IndexFunc(c.queue, func(q entry) bool { return !q.update })
		if i < 0 {
			break
		}
		c.queue = slices.Delete(c.queue, i, i+1)
		f.stats.QueueOverflows++
	}
	c.queue = append(c.queue, keep...)
	f.stats.Queued += uint64(len(keep))
	f.high(c)
}

func (f *Friend) high(c *lpnCtx) {
	f.stats.QueueHigh = max(f.stats.QueueHigh, uint64(len(c.queue)))
}

// pairKey names one reassembly: a source and a destination.
type pairKey struct{ src, dst mesh.Address }

// reasm is the Friend's reassembly of one segmented message for its LPNs
// (§3.5.3.4 with OBO): segments are kept as received, with their own SEQ
// and TTL, and acknowledged on the LPN's behalf when the DST is unicast.
type reasm struct {
	key      pairKey
	netIdx   uint16
	sa       transport.SeqAuth
	segN     uint8
	received uint32
	done     bool
	rxTTL    uint8
	lastAck  time.Time
	segs     [transport.MaxSegments]entry
	ack      gate
	discard  gate
}

func (r *reasm) full() uint32 { return uint32(uint64(1)<<(r.segN+1) - 1) }

func (r *reasm) stopTimers() {
	r.ack.stop()
	r.discard.stop()
}

// segment takes one segment for f.targets.
func (f *Friend) segment(rx *network.Rx) {
	tp := rx.TransportPDU
	var (
		seqZero    uint16
		segO, segN uint8
	)
	if rx.CTL {
		var s transport.SegControl
		if s.Unmarshal(tp) != nil {
			return
		}
		seqZero, segO, segN = s.SeqZero, s.SegO, s.SegN
	} else {
		var s transport.SegAccess
		if s.Unmarshal(tp) != nil {
			return
		}
		seqZero, segO, segN = s.SeqZero, s.SegO, s.SegN
	}
	sa, err := transport.RecoverSeqAuth(rx.IVIndex, rx.SEQ, seqZero)
	if err != nil {
		return
	}
	key := pairKey{rx.SRC, rx.DST}
	unicast := rx.DST.IsUnicast()
	now := f.st.Clock.Now()
	r := f.reasm[key]
	switch {
	case r != nil && sa < r.sa:
		return
	case r != nil && sa == r.sa && r.done:
		// Most recent message again: its acknowledgment was lost.
		if unicast && now.Sub(r.lastAck) >= f.p.SARRx.AckRateLimit() {
			r.lastAck = now
			f.sendOBOAck(r, r.full(), 1)
		}
		return
	case r == nil || sa > r.sa:
		if r == nil {
			f.evictReasm()
			r = &reasm{key: key}
			f.reasm[key] = r
		}
		r.stopTimers()
		r.netIdx, r.sa, r.segN, r.received, r.done = rx.NetKeyIndex, sa, segN, 0, false
	}
	if segN != r.segN || r.received&(1<<segO) != 0 {
		return
	}
	r.segs[segO] = entryFrom(rx)
	r.received |= 1 << segO
	r.rxTTL = rx.TTL
	if r.received != r.full() {
		r.discard.arm(f.st.Clock, f.p.SARRx.DiscardTimeoutDuration(), func() {
			r.ack.stop()
			delete(f.reasm, r.key)
		})
		if unicast && !r.ack.armed() {
			r.ack.arm(f.st.Clock, f.p.SARRx.AckDelay(r.segN), func() {
				r.lastAck = f.st.Clock.Now()
				f.sendOBOAck(r, r.received, f.p.SARRx.AckTransmissions(r.segN))
			})
		}
		return
	}
	// Complete: acknowledge on the LPN's behalf, then queue every segment
	// (§3.5.5: only a fully reassembled and acknowledged message).
	r.stopTimers()
	r.done = true
	if unicast {
		r.lastAck = now
		f.sendOBOAck(r, r.full(), f.p.SARRx.AckTransmissions(r.segN))
	}
	f.stats.Segmented++
	for _, c := range f.targets {
		f.enqueue(c, r.segs[:r.segN+1])
	}
}

// evictReasm bounds the reassembly table: completed entries go first.
func (f *Friend) evictReasm() {
	const limit = 64
	if len(f.reasm) < limit {
		return
	}
	keys := make([]pairKey, 0, len(f.reasm))
	for k := range f.reasm {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pairKey) int {
		if a.src != b.src {
			return int(a.src) - int(b.src)
		}
		return int(a.dst) - int(b.dst)
	})
	for _, k := range keys {
		if r := f.reasm[k]; r.done {
			delete(f.reasm, k)
			if len(f.reasm) < limit {
				return
			}
		}
	}
}

// sendOBOAck sends a Segment Acknowledgment with OBO = 1 from the Friend's
// primary address to the segments' source, n times spaced by the segment
// reception interval.
func (f *Friend) sendOBOAck(r *reasm, acked uint32, n int) {
	ttl := f.st.DefaultTTL()
	if r.rxTTL == 0 {
		ttl = 0
	}
	once := func() {
		var b [transport.SegmentAckLen]byte
		lp, _ := (&transport.SegmentAck{OBO: true, SeqZero: r.sa.SeqZero(), AckedSegments: acked}).AppendBinary(b[:0])
		if _, err := f.out.lower(r.netIdx, r.key.src, ttl, lp, nil, f.st.NetworkTransmit(), nil); err != nil {
			f.log.Debug("friend: OBO ack not sent", "dst", r.key.src, "err", err)
			return
		}
		f.stats.OBOAcks++
	}
	once()
	for i := 1; i < n; i++ {
		f.st.Clock.AfterFunc(time.Duration(i)*f.p.SARRx.SegmentReceptionInterval(), once)
	}
}
