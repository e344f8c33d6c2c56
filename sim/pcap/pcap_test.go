package pcap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samplePDU is the network PDU of Mesh Protocol v1.1 §8.3.1 (msg01).
const samplePDU = "68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df"

func TestAppendLL_Layout(t *testing.T) {
	payload := mustHex(t, samplePDU)
	b, err := AppendLL(nil, AdvAddress(0x0102), mesh.ADMessage, payload)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "d6 be 89 8e  42 24  02 01 00 44 4d c0  1d 2a")
	if !bytes.Equal(b[:len(want)], want) {
		t.Fatalf("head\n got %x\nwant %x", b[:len(want)], want)
	}
	if !bytes.Equal(b[len(want):len(b)-3], payload) {
		t.Fatal("payload not copied")
	}
	ll, err := ParseLL(b)
	if err != nil {
		t.Fatal(err)
	}
	if ll.PDUType != PDUTypeAdvNonconnInd || !ll.TxAdd || ll.AdvA != AdvAddress(0x0102) ||
		len(ll.AD) != 1 || ll.AD[0].Type != mesh.ADMessage || !bytes.Equal(ll.AD[0].Data, payload) {
		t.Fatalf("ParseLL = %+v", ll)
	}
}

func TestCRC24_Properties(t *testing.T) {
	// The CRC of the empty input is the preset; a flipped bit changes it.
	if got := CRC24(nil, 0x555555); got != 0x555555 {
		t.Fatalf("CRC24(empty) = %06x", got)
	}
	p := mustHex(t, "42 24 02 01 00 44 4d c0")
	a := CRC24(p, 0x555555)
	p[3] ^= 0x10
	if CRC24(p, 0x555555) == a {
		t.Fatal("CRC did not change with the input")
	}
	// Appending the on-air CRC bits (MSB first) to the input leaves a zero
	// remainder in the LFSR: the defining property of a CRC.
	p[3] ^= 0x10
	rec := appendCRC(append([]byte(nil), p...), a)
	if got := CRC24(rec, 0x555555); got != 0 {
		t.Fatalf("remainder over data+CRC = %06x, want 0", got)
	}
}

func TestParseLL_Errors(t *testing.T) {
	good, _ := AppendLL(nil, AdvAddress(7), mesh.ADBeacon, mustHex(t, "01 02 03"))
	tests := []struct {
		name string
		mut  func([]byte) []byte
		want error
	}{
		{"empty", func([]byte) []byte { return nil }, ErrMalformed},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, ErrMalformed},
		{"trailing octet", func(b []byte) []byte { return append(b, 0) }, ErrMalformed},
		{"access address", func(b []byte) []byte { b[0] ^= 1; return b }, ErrMalformed},
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrCRC},
		{"payload bit", func(b []byte) []byte { b[14] ^= 1; return b }, ErrCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLL(tt.mut(bytes.Clone(good)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Every strict prefix fails.
	for n := range len(good) {
		if _, err := ParseLL(good[:n]); err == nil {
			t.Fatalf("prefix of %d octets parsed", n)
		}
	}
}

func TestAppendLL_TooLong(t *testing.T) {
	if _, err := AppendLL(nil, AdvAddress(1), mesh.ADMessage, make([]byte, 29)); err != nil {
		t.Fatalf("29-octet payload: %v", err)
	}
	if _, err := AppendLL(nil, AdvAddress(1), mesh.ADMessage, make([]byte, 30)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("30-octet payload: err = %v", err)
	}
}

func TestWriter_Records(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 1, 234567000, time.UTC)
	payload := mustHex(t, samplePDU)
	if err := w.WritePacket(Packet{Time: at, Channel: 38, AdvA: AdvAddress(3), Kind: mesh.ADMessage, Payload: payload, Unheard: true}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if got := binary.LittleEndian.Uint32(b[20:]); got != LinkType {
		t.Fatalf("link type %d", got)
	}
	rec := b[24:]
	if sec, us := binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint32(rec[4:]); int64(sec) != at.Unix() || us != 234567 {
		t.Fatalf("timestamp %d.%06d", sec, us)
	}
	incl := int(binary.LittleEndian.Uint32(rec[8:]))
	if incl != len(rec)-16 {
		t.Fatalf("incl_len %d, record has %d", incl, len(rec)-16)
	}
	ph := rec[16:26]
	if ph[0] != 12 || int8(ph[1]) != UnheardSignal || binary.LittleEndian.Uint32(ph[4:]) != AdvAccessAddress {
		t.Fatalf("pseudo-header %x", ph)
	}
	if _, err := ParseLL(rec[26:]); err != nil {
		t.Fatal(err)
	}
	if w.Count() != 1 {
		t.Fatalf("Count = %d", w.Count())
	}
}

func FuzzParseLL(f *testing.F) {
	for _, p := range [][]byte{mustHex(f, samplePDU), {}, {1, 2, 3}, make([]byte, 29)} {
		b, _ := AppendLL(nil, AdvAddress(9), mesh.ADMessage, p)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ll, err := ParseLL(b)
		if err != nil {
			return
		}
		// A packet that parses with one AD structure re-encodes to itself.
		if len(ll.AD) == 1 && ll.PDUType == PDUTypeAdvNonconnInd && ll.TxAdd && b[4] == 0x42 {
			again, err := AppendLL(nil, ll.AdvA, ll.AD[0].Type, ll.AD[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("round trip\n got %x\nwant %x", again, b)
			}
		}
	})
}
