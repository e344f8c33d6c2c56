package transport

import (
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

func BenchmarkEncryptAccess380(b *testing.B) {
	c := crypto.NewCCM(testAppKey)
	p := &AccessCrypto{Src: 1, Dst: 2, IVIndex: 5}
	msg := payload(MaxAccessLen, 1)
	buf := make([]byte, 0, MaxUpperAccessPDU)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		p.Seq++
		if _, err := EncryptAccess(buf[:0], c, p, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSegment(b *testing.B) {
	in := mustHexS("8026ac01ee9dddfd2169326d23f3afdf")
	var m SegAccess
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendAccess380 segments, encrypts and sends a 380-octet message
// to a unicast peer and completes it with one full acknowledgment.
func BenchmarkSendAccess380(b *testing.B) {
	k := newLink(b, 1, 0)
	keys := newTestKeys()
	var seq uint32
	var segs int
	n := k.addNode(keys, []mesh.Address{1}, func(c *Config) {
		c.NextSeq = func(mesh.Address) (uint32, error) { seq++; return seq, nil }
		c.Send = func(*NetPDU) error { segs++; return nil }
	})
	msg := payload(MaxAccessLen, 1)
	tx := &AccessTx{Src: 1, Dst: 2, AppKeyIndex: 0x456, TTL: 5, Payload: msg}
	ackPDU := NetPDU{CTL: true, TTL: 5, SRC: 2, DST: 1}
	var ack SegmentAck
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		first := seq + 1
		if err := n.l.SendAccess(tx, nil); err != nil {
			b.Fatal(err)
		}
		k.clk.Advance(2 * time.Second)
		ack = SegmentAck{SeqZero: NewSeqAuth(k.iv, first).SeqZero(), AckedSegments: 0xFFFFFFFF}
		ackPDU.SEQ++
		ackPDU.LowerPDU, _ = ack.AppendBinary(ackPDU.LowerPDU[:0])
		n.l.Receive(&ackPDU, k.iv)
		k.clk.Advance(time.Millisecond)
	}
	if n.l.Stats().TxCompleted == 0 {
		b.Fatal("no transfer completed")
	}
}

// BenchmarkReceiveUnsegAccess: the unsegmented receive path, decryption and
// delivery included.
func BenchmarkReceiveUnsegAccess(b *testing.B) {
	l, p := unsegReceiver(b)
	b.ReportAllocs()
	for b.Loop() {
		delete(l.rpl.last, p.SRC) // let the same sample through again
		l.Receive(p, 0x12345678)
	}
}

// unsegReceiver returns a layer and a PDU carrying sample message #18
// (AppKey, to all-nodes), which the layer accepts once per replay list
// entry.
func unsegReceiver(tb testing.TB) (*Layer, *NetPDU) {
	tb.Helper()
	k := newLink(tb, 1, 0)
	n := k.addNode(vectorKeys(), []mesh.Address{2}, func(c *Config) {
		c.DeliverAccess = func(*AccessMessage) {}
	})
	p := &NetPDU{TTL: 3, SEQ: 7, SRC: 0x1201, DST: 0xFFFF, LowerPDU: mustHexS("665a8bde6d9106ea078a")}
	return n.l, p
}

// TestReceive_ZeroAlloc: once warm, receiving an unsegmented access message
// (decode, replay check, decryption, delivery, list update) allocates
// nothing.
func TestReceive_ZeroAlloc(t *testing.T) {
	l, p := unsegReceiver(t)
	l.Receive(p, 0x12345678)
	if l.Stats().AccessDelivered != 1 {
		t.Fatalf("sample not accepted: %+v", l.Stats())
	}
	allocs := testing.AllocsPerRun(100, func() {
		delete(l.rpl.last, p.SRC) // let the same sample through again
		l.Receive(p, 0x12345678)
	})
	if allocs != 0 {
		t.Fatalf("Receive allocates %v times", allocs)
	}
	if l.Stats().AccessDelivered < 100 {
		t.Fatalf("delivered %d", l.Stats().AccessDelivered)
	}
}
