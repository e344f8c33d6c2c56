package transport

import (
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// sentAcks returns the Segment Acknowledgments n sent, with when they left.
func sentAcks(t *testing.T, n *testNode) []SegmentAck {
	t.Helper()
	var out []SegmentAck
	for _, p := range n.sent {
		if !p.CTL || p.LowerPDU[0] != OpSegmentAck {
			continue
		}
		var a SegmentAck
		if err := a.Unmarshal(p.LowerPDU); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// TestReceiver_AckTimer: with one segment of two received, the receiver
// acknowledges it after min(SegN+0.5, 2.5) × 60 ms = 90 ms.
func TestReceiver_AckTimer(t *testing.T) {
	t.Parallel()
	k := newLink(t, 1, 0)
	keys := newTestKeys()
	b := k.addNode(keys, []mesh.Address{2}, nil)
	seg, _ := (&SegAccess{AKF: true, AID: 1, SeqZero: 10, SegO: 0, SegN: 1, Segment: make([]byte, 12)}).AppendBinary(nil)
	b.l.Receive(&NetPDU{TTL: 5, SEQ: 10, SRC: 1, DST: 2, LowerPDU: seg}, k.iv)
	k.clk.Advance(89 * time.Millisecond)
	if len(sentAcks(t, b)) != 0 {
		t.Fatal("acknowledged early")
	}
	k.clk.Advance(time.Millisecond)
	acks := sentAcks(t, b)
	if len(acks) != 1 || acks[0] != (SegmentAck{SeqZero: 10, AckedSegments: 1}) {
		t.Fatalf("acks %+v", acks)
	}
	if p := b.sent[0]; p.SRC != 2 || p.DST != 1 || p.TTL != DefaultAckTTL {
		t.Fatalf("ack PDU %+v", p)
	}
	// Nothing more until a new segment arrives; the discard timer then ends it.
	k.clk.Advance(9 * time.Second)
	if len(sentAcks(t, b)) != 1 {
		t.Fatal("ack timer repeats without new segments")
	}
	k.clk.Advance(2 * time.Second)
	if b.l.Stats().RxTimeouts != 1 {
		t.Fatalf("stats %+v", b.l.Stats())
	}
}

// TestReceiver_AckRetransmissions: acks of messages with SegN above the
// SAR Segments Threshold go out Acknowledgment Retransmissions Count + 1
// times, a segment reception interval apart; others once.
func TestReceiver_AckRetransmissions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		segN uint8
		want int
	}{{3, 1}, {4, 3}} {
		k := newLink(t, 1, 0)
		b := k.addNode(newTestKeys(), []mesh.Address{2}, func(c *Config) {
			c.SARRx = DefaultSARReceiver
			c.SARRx.AcknowledgmentRetransmissionsCount = 2
		})
		for i := uint8(0); i <= c.segN; i++ {
			seg, _ := (&SegAccess{AKF: true, AID: 1, SeqZero: 10, SegO: i, SegN: c.segN, Segment: make([]byte, 12)}).AppendBinary(nil)
			b.l.Receive(&NetPDU{TTL: 0, SEQ: 10 + uint32(i), SRC: 1, DST: 2, LowerPDU: seg}, k.iv)
		}
		full := uint32(1)<<(c.segN+1) - 1
		k.clk.Advance(59 * time.Millisecond)
		if n := len(sentAcks(t, b)); n != 1 {
			t.Fatalf("SegN %d: %d acks at once", c.segN, n)
		}
		k.clk.Advance(time.Second)
		acks := sentAcks(t, b)
		if len(acks) != c.want {
			t.Fatalf("SegN %d: %d acks, want %d", c.segN, len(acks), c.want)
		}
		seqs := map[uint32]bool{}
		for i, a := range acks {
			if a.AckedSegments != full || b.sent[i].TTL != 0 {
				t.Fatalf("SegN %d: ack %+v TTL %d", c.segN, a, b.sent[i].TTL)
			}
			seqs[b.sent[i].SEQ] = true
		}
		if len(seqs) != len(acks) {
			t.Fatal("ack retransmissions reuse a SEQ")
		}
		// The message failed to decrypt (zero bytes), but the lower
		// transport acknowledged it: acks precede the upper transport.
		if b.l.Stats().DecryptFailures != 1 {
			t.Fatalf("stats %+v", b.l.Stats())
		}
	}
}

// TestTransmitter_RetransmissionInterval: the unicast retransmissions timer
// grows with TTL (step + increment·(TTL−1)) and is the step alone at TTL 0.
func TestTransmitter_RetransmissionInterval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ttl  uint8
		want time.Duration
	}{{0, 200 * time.Millisecond}, {2, 250 * time.Millisecond}, {10, 650 * time.Millisecond}} {
		k := newLink(t, 1, 1.0)
		a := k.addNode(newTestKeys(), []mesh.Address{1}, nil)
		if err := a.l.SendAccess(&AccessTx{Src: 1, Dst: 2, AppKeyIndex: 0x456, TTL: c.ttl, Payload: []byte{1}, ForceSegmented: true}, nil); err != nil {
			t.Fatal(err)
		}
		k.clk.Advance(c.want - time.Millisecond)
		if len(a.sent) != 1 {
			t.Fatalf("TTL %d: retransmitted early", c.ttl)
		}
		k.clk.Advance(time.Millisecond)
		if len(a.sent) != 2 || a.sent[1].SEQ == a.sent[0].SEQ {
			t.Fatalf("TTL %d: %d PDUs", c.ttl, len(a.sent))
		}
		// ForceSegmented: a one-segment segmented message with the 64-bit
		// TransMIC (1 + 8 octets still fit one segment).
		var s SegAccess
		if err := s.Unmarshal(a.sent[0].LowerPDU); err != nil || s.SegN != 0 || !s.SZMIC || len(s.Segment) != 9 {
			t.Fatalf("segment %+v, %v", s, err)
		}
	}
}

// TestReceiver_FromFriend: a Low Power node reassembles segments from its
// Friend (FromFriend) without acknowledging them, neither on the timer nor
// at completion nor when a completed message's segment comes again.
func TestReceiver_FromFriend(t *testing.T) {
	t.Parallel()
	k := newLink(t, 1, 0)
	keys := newTestKeys()
	b := k.addNode(keys, []mesh.Address{2}, nil)
	for i, segO := range []uint8{0, 1, 1} {
		seg, _ := (&SegAccess{AKF: true, AID: 1, SeqZero: 10, SegO: segO, SegN: 1, Segment: make([]byte, 12)}).AppendBinary(nil)
		b.l.Receive(&NetPDU{TTL: 5, SEQ: 10 + uint32(i), SRC: 1, DST: 2, LowerPDU: seg, FromFriend: true}, k.iv)
		k.clk.Advance(time.Second)
	}
	if acks := sentAcks(t, b); len(acks) != 0 {
		t.Fatalf("acks %+v", acks)
	}
	if s := b.l.Stats(); s.RxCompleted != 1 || s.AcksSent != 0 {
		t.Fatalf("stats %+v", s)
	}
}
