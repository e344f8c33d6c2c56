package transport

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
)

// FuzzDecode: no input panics Decode, and whatever decodes re-encodes to
// the same octets (every lower transport encoding is canonical).
func FuzzDecode(f *testing.F) {
	for _, c := range codecCases {
		f.Add(c.ctl, mustHexS(stripSpaces(c.hex)))
	}
	for _, v := range vectors.MustLoad().NetworkPDUs {
		for _, p := range v.PDUs {
			f.Add(p.CTL == 1, vectors.Hex(p.LowerTransportPDU))
		}
	}
	f.Fuzz(func(t *testing.T, ctl bool, p []byte) {
		m, err := Decode(ctl, p)
		if err != nil {
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if !bytes.Equal(out, p) {
			t.Fatalf("re-encoded %x, input %x", out, p)
		}
	})
}

// FuzzSegmentAck: Segment Acknowledgment alone.
func FuzzSegmentAck(f *testing.F) {
	f.Add(mustHexS("00a6ac00000002"))
	f.Add(mustHexS("00000400000000"))
	f.Add(mustHexS("00a6ad00000002"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var a SegmentAck
		if err := a.Unmarshal(p); err != nil {
			return
		}
		out, err := a.AppendBinary(nil)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("round trip %x → %+v → %x, %v", p, a, out, err)
		}
	})
}

// FuzzSARStates: the packed SAR Transmitter and Receiver states.
func FuzzSARStates(f *testing.F) {
	f.Add(mustHexS("25722109"))
	f.Add(mustHexS("235100"))
	f.Add(mustHexS("ffffff"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var s SARTransmitter
		if s.Unmarshal(p) == nil {
			if out, err := s.AppendBinary(nil); err != nil || !bytes.Equal(out, p) {
				t.Fatalf("SAR Transmitter %x → %x, %v", p, out, err)
			}
		}
		var r SARReceiver
		if r.Unmarshal(p) == nil {
			if out, err := r.AppendBinary(nil); err != nil || !bytes.Equal(out, p) {
				t.Fatalf("SAR Receiver %x → %x, %v", p, out, err)
			}
		}
	})
}

// FuzzReceiver feeds a Layer a stream of PDUs built from the input (mostly
// segments from a few sources with nearby SEQs and SeqZeros) with time
// passing between them. Nothing may panic and the reassembly bookkeeping
// must stay consistent.
func FuzzReceiver(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(mustHexS("0180000021aabbccddeeff00112233445566778899"))
	f.Add(mustHexS("028026ac01ee9dddfd2169326d23f3afdf038026ac21cfdc18c52fdef772e0e17308"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k := newLink(t, 1, 0)
		keys := newTestKeys()
		n := k.addNode(keys, []mesh.Address{2}, func(c *Config) { c.MaxRxMessages = 2; c.RPLSize = 3 })
		seq := uint32(100)
		for len(data) >= 2 {
			ctl := data[0]&1 != 0
			src := mesh.Address(data[0]>>1&3 + 1)
			dst := mesh.Address(2)
			if data[0]&0x08 != 0 {
				dst = 0xC000
			}
			seq += uint32(data[0] >> 4)
			size := int(data[1]%17) + 1
			data = data[2:]
			size = min(size, len(data))
			pdu := data[:size]
			data = data[size:]
			n.l.Receive(&NetPDU{CTL: ctl, TTL: 4, SEQ: seq, SRC: src, DST: dst, LowerPDU: pdu}, k.iv)
			k.clk.Advance(time.Duration(size) * 50 * time.Millisecond)
			if n.l.rxActive < 0 || n.l.rxActive > 2 {
				t.Fatalf("rxActive %d", n.l.rxActive)
			}
		}
		k.clk.Advance(time.Minute)
		if n.l.rxActive != 0 {
			t.Fatalf("%d reassemblies survive the discard timeout", n.l.rxActive)
		}
	})
}

func stripSpaces(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil))
}
