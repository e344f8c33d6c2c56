package transport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

type codecCase struct {
	name string
	ctl  bool
	hex  string
	want PDU   // nil when err is set
	err  error // sentinel
}

var codecCases = []codecCase{
	// Unsegmented Access
	{"msg16 devkey", false, "00 89511bf1d1a81c11dcef", &UnsegAccess{UpperPDU: mustHexS("89511bf1d1a81c11dcef")}, nil},
	{"msg18 appkey", false, "66 5a8bde6d9106ea078a", &UnsegAccess{AKF: true, AID: 0x26, UpperPDU: mustHexS("5a8bde6d9106ea078a")}, nil},
	{"unseg access min", false, "40 0102030405", &UnsegAccess{AKF: true, UpperPDU: mustHexS("0102030405")}, nil},
	{"unseg access max", false, "7f 0102030405060708090a0b0c0d0e0f", &UnsegAccess{AKF: true, AID: 0x3f, UpperPDU: mustHexS("0102030405060708090a0b0c0d0e0f")}, nil},
	{"unseg access upper 4", false, "00 01020304", nil, ErrLength},
	{"unseg access upper 16", false, "00 0102030405060708090a0b0c0d0e0f10", nil, ErrLength},
	{"empty", false, "", nil, ErrLength},
	{"header only", false, "66", nil, ErrLength},
	// Segmented Access
	{"msg06 seg0", false, "8026ac01 ee9dddfd2169326d23f3afdf", &SegAccess{SeqZero: 0x9ab, SegO: 0, SegN: 1, Segment: mustHexS("ee9dddfd2169326d23f3afdf")}, nil},
	{"msg06 seg1", false, "8026ac21 cfdc18c52fdef772e0e17308", &SegAccess{SeqZero: 0x9ab, SegO: 1, SegN: 1, Segment: mustHexS("cfdc18c52fdef772e0e17308")}, nil},
	{"msg24 seg1 szmic", false, "e6a03421 1c01cea6", &SegAccess{AKF: true, AID: 0x26, SZMIC: true, SeqZero: 0x80d, SegO: 1, SegN: 1, Segment: mustHexS("1c01cea6")}, nil},
	{"seg access 31/31", false, "80 ffffff 01", &SegAccess{SZMIC: true, SeqZero: 0x1fff, SegO: 31, SegN: 31, Segment: []byte{1}}, nil},
	{"seg access SegO>SegN", false, "80 000041 01", nil, ErrField},
	{"seg access no segment", false, "80000000", nil, ErrLength},
	{"seg access 13 octets", false, "80000000 0102030405060708090a0b0c0d", nil, ErrLength},
	// Unsegmented Control
	{"msg01 friend request", true, "03 4b50057e400000010000", &UnsegControl{Opcode: 3, Params: mustHexS("4b50057e400000010000")}, nil},
	{"msg03 friend offer", true, "04 fa0205a6000a", &UnsegControl{Opcode: 4, Params: mustHexS("fa0205a6000a")}, nil},
	{"msg04 friend poll", true, "01 00", &UnsegControl{Opcode: 1, Params: []byte{0}}, nil},
	{"control no params", true, "0a", &UnsegControl{Opcode: 0x0a}, nil},
	{"control 11 params", true, "7f 0102030405060708090a0b", &UnsegControl{Opcode: 0x7f, Params: mustHexS("0102030405060708090a0b")}, nil},
	{"control 12 params", true, "7f 0102030405060708090a0b0c", nil, ErrLength},
	// Segment Acknowledgment
	{"msg07 ack", true, "00 a6ac 00000002", &SegmentAck{OBO: true, SeqZero: 0x9ab, AckedSegments: 2}, nil},
	{"ack reject", true, "00 0004 00000000", &SegmentAck{SeqZero: 1}, nil},
	{"ack RFU", true, "00 a6ad 00000002", nil, ErrField},
	{"ack short", true, "00 a6ac 000000", nil, ErrLength},
	{"ack long", true, "00 a6ac 0000000200", nil, ErrLength},
	// Segmented Control
	{"seg control", true, "8a 000021 0102030405060708", &SegControl{Opcode: 0x0a, SeqZero: 0, SegO: 1, SegN: 1, Segment: mustHexS("0102030405060708")}, nil},
	{"seg control max seqzero", true, "81 7fffe0 01", &SegControl{Opcode: 1, SeqZero: 0x1fff, SegO: 31, SegN: 0, Segment: []byte{1}}, ErrField},
	{"seg control RFU", true, "81 800000 01", nil, ErrField},
	{"seg control opcode 0", true, "80 000000 01", nil, ErrField},
	{"seg control 9 octets", true, "81 000000 010203040506070809", nil, ErrLength},
	{"seg control no segment", true, "81000000", nil, ErrLength},
}

func mustHexS(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecode_Table(t *testing.T) {
	t.Parallel()
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			in := mustHex(t, c.hex)
			got, err := Decode(c.ctl, in)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Decode(%s) error %v, want %v", c.hex, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", c.hex, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decode(%s) = %+v, want %+v", c.hex, got, c.want)
			}
			out, err := got.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("re-encode = %x, %v; want %x", out, err, in)
			}
			// No strict prefix of a valid PDU of a fixed kind decodes as
			// the same message.
			for n := 0; n < len(in); n++ {
				if p, err := Decode(c.ctl, in[:n]); err == nil && reflect.DeepEqual(p, got) {
					t.Fatalf("prefix %x decodes as the full PDU", in[:n])
				}
			}
		})
	}
}

func TestAppendBinary_Rejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    PDU
		err  error
	}{
		{"unseg AID 7 bits", &UnsegAccess{AID: 0x40, UpperPDU: make([]byte, 5)}, ErrField},
		{"unseg upper short", &UnsegAccess{UpperPDU: make([]byte, 4)}, ErrLength},
		{"unseg upper long", &UnsegAccess{UpperPDU: make([]byte, 16)}, ErrLength},
		{"seg SeqZero 14 bits", &SegAccess{SeqZero: 0x2000, Segment: []byte{1}}, ErrField},
		{"seg SegN 32", &SegAccess{SegN: 32, Segment: []byte{1}}, ErrField},
		{"seg SegO > SegN", &SegAccess{SegO: 2, SegN: 1, Segment: []byte{1}}, ErrField},
		{"seg empty", &SegAccess{}, ErrLength},
		{"seg 13", &SegAccess{Segment: make([]byte, 13)}, ErrLength},
		{"control opcode 0", &UnsegControl{}, ErrField},
		{"control opcode 0x80", &UnsegControl{Opcode: 0x80}, ErrField},
		{"control 12 params", &UnsegControl{Opcode: 1, Params: make([]byte, 12)}, ErrLength},
		{"ack SeqZero", &SegmentAck{SeqZero: 0x2000}, ErrField},
		{"seg control opcode 0", &SegControl{Segment: []byte{1}}, ErrField},
		{"seg control 9", &SegControl{Opcode: 1, Segment: make([]byte, 9)}, ErrLength},
	}
	for _, c := range cases {
		if _, err := c.m.AppendBinary(nil); !errors.Is(err, c.err) {
			t.Errorf("%s: AppendBinary error %v, want %v", c.name, err, c.err)
		}
	}
}

// TestDecode_Vectors decodes the lower transport PDU of every network PDU
// sample and checks it against the sample's own fields.
func TestDecode_Vectors(t *testing.T) {
	t.Parallel()
	f := vectors.MustLoad()
	n := 0
	for _, v := range f.NetworkPDUs {
		for i, p := range v.PDUs {
			lower := vectors.Hex(p.LowerTransportPDU)
			got, err := Decode(p.CTL == 1, lower)
			if err != nil {
				t.Errorf("%s pdu %d: Decode(%x): %v", v.ID, i, lower, err)
				continue
			}
			n++
			out, err := got.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, lower) {
				t.Errorf("%s pdu %d: re-encode %x, %v", v.ID, i, out, err)
			}
			if p.Segment != nil {
				checkSegment(t, v, i, got)
				continue
			}
			switch m := got.(type) {
			case *UnsegAccess:
				a := v.Access
				if a == nil || m.AKF != (a.AKF == 1) || m.AID != uint8(vectors.Uint(a.AID)) ||
					!bytes.Equal(m.UpperPDU, vectors.Hex(a.UpperTransportPDU)) {
					t.Errorf("%s: unsegmented access %+v disagrees with %+v", v.ID, m, a)
				}
			case *UnsegControl:
				c := v.Control
				if c == nil || m.Opcode != uint8(vectors.Uint(c.Opcode)) || !bytes.Equal(m.Params, vectors.Hex(c.Parameters)) {
					t.Errorf("%s: control %+v disagrees with %+v", v.ID, m, c)
				}
			case *SegmentAck:
				c := v.Control
				if c == nil || c.OBO == nil || m.OBO != (*c.OBO == 1) || m.SeqZero != uint16(vectors.Uint(c.SeqZero)) ||
					m.AckedSegments != vectors.Uint(c.AckedSegments) {
					t.Errorf("%s: ack %+v disagrees with %+v", v.ID, m, c)
				}
			default:
				t.Errorf("%s pdu %d: unexpected %T", v.ID, i, got)
			}
		}
	}
	if n != 18 {
		t.Fatalf("decoded only %d sample PDUs", n)
	}
}

func checkSegment(t *testing.T, v vectors.NetworkPDU, i int, got PDU) {
	t.Helper()
	p := v.PDUs[i]
	m, ok := got.(*SegAccess)
	if !ok {
		t.Fatalf("%s pdu %d: %T, want *SegAccess", v.ID, i, got)
	}
	s := p.Segment
	if m.SZMIC != (s.SZMIC == 1) || m.SeqZero != uint16(vectors.Uint(s.SeqZero)) ||
		int(m.SegO) != s.SegO || int(m.SegN) != s.SegN {
		t.Errorf("%s pdu %d: segment header %+v, want %+v", v.ID, i, m, s)
	}
	if hdr := vectors.Hex(s.Header); !bytes.Equal(vectors.Hex(p.LowerTransportPDU)[:4], hdr) {
		t.Errorf("%s pdu %d: header %x", v.ID, i, hdr)
	}
	if a := v.Access; a != nil && len(a.Segments) > int(m.SegO) {
		if want := vectors.Hex(a.Segments[m.SegO]); !bytes.Equal(m.Segment, want) {
			t.Errorf("%s pdu %d: segment %x, want %x", v.ID, i, m.Segment, want)
		}
	}
	// SeqZero is the low 13 bits of the SEQ of the first segment.
	if sa, err := RecoverSeqAuth(vectors.Uint(v.IVIndex), vectors.Uint(p.SEQ), m.SeqZero); err != nil || sa.SeqZero() != m.SeqZero {
		t.Errorf("%s pdu %d: RecoverSeqAuth = %v, %v", v.ID, i, sa, err)
	}
}

func TestRecoverSeqAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		iv, seq uint32
		zero    uint16
		want    SeqAuth
		err     error
	}{
		{0x58437AF2, 0x647262, 0x1849, 0x58437AF2645849, nil}, // fact sheet example
		{0x12345678, 0x3129ab, 0x09ab, 0x123456783129ab, nil}, // msg06 seg 0
		{0x12345678, 0x3129ac, 0x09ab, 0x123456783129ab, nil}, // msg06 seg 1
		{0x12345678, 0x3129ad, 0x09ab, 0x123456783129ab, nil}, // msg08 retransmission
		{0x12345677, 0x07080e, 0x080d, 0x1234567707080d, nil}, // msg24 seg 1
		{1, 0x002000, 0x0000, 0x1002000, nil},
		{1, 0x002000, 0x0001, 0x1000001, nil}, // one step back across a 13-bit wrap
		{1, 0x000005, 0x1ff0, 0, ErrSeqAuth},  // would be below SEQ 0
		{1, 0x000005, 0x2000, 0, ErrSeqAuth},
		{1, 0xFFFFFF, 0x1FFF, 0x1FFFFFF, nil},
	}
	for _, c := range cases {
		got, err := RecoverSeqAuth(c.iv, c.seq, c.zero)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("RecoverSeqAuth(%x,%x,%x) error %v, want %v", c.iv, c.seq, c.zero, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("RecoverSeqAuth(%x,%x,%x) = %v, %v; want %v", c.iv, c.seq, c.zero, got, err, c.want)
		}
		if got.IVIndex() != c.iv || got.SeqZero() != c.zero || c.seq-got.Seq() > 8191 {
			t.Errorf("parts of %v wrong", got)
		}
	}
}
