package network

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// vectorCredentials builds the credentials a sample message names.
func vectorCredentials(t *testing.T, m *vectors.NetworkPDU) *Credentials {
	t.Helper()
	p := ManagedFloodingP
	if m.Credentials == "friendship" {
		f := m.Friendship
		p = crypto.FriendshipP(uint16(vectors.Uint(f.LPNAddress)), uint16(vectors.Uint(f.FriendAddress)),
			uint16(vectors.Uint(f.LPNCounter)), uint16(vectors.Uint(f.FriendCounter)))
	}
	c := NewCredentials(vectors.Key(m.NetKey), p)
	if got, want := c.NID(), uint8(vectors.Uint(m.NID)); got != want {
		t.Fatalf("NID %02x, want %02x", got, want)
	}
	if c.EncryptionKey() != vectors.Key(m.EncryptionKey) || c.PrivacyKey() != vectors.Key(m.PrivacyKey) {
		t.Fatal("k2 keys differ from the vector")
	}
	return c
}

func TestSampleNetworkPDUs(t *testing.T) {
	f := vectors.MustLoad()
	if len(f.NetworkPDUs) != 16 {
		t.Fatalf("%d sample messages, want 16", len(f.NetworkPDUs))
	}
	pdus := 0
	for i := range f.NetworkPDUs {
		m := &f.NetworkPDUs[i]
		t.Run(m.ID, func(t *testing.T) {
			c := vectorCredentials(t, m)
			iv := vectors.Uint(m.IVIndex)
			for j, p := range m.PDUs {
				pdus++
				h := Header{
					IVI: uint8(m.IVI),
					NID: c.NID(),
					CTL: p.CTL == 1,
					TTL: uint8(p.TTL),
					SEQ: vectors.Uint(p.SEQ),
					SRC: mesh.Address(vectors.Uint(m.SRC)),
					DST: mesh.Address(vectors.Uint(m.DST)),
				}
				ltp := vectors.Hex(p.LowerTransportPDU)
				want := vectors.Hex(p.NetworkPDU)

				got, err := c.Seal([]byte{0xAA}, &h, ltp, iv)
				if err != nil {
					t.Fatalf("pdu %d: Seal: %v", j, err)
				}
				if got[0] != 0xAA || !bytes.Equal(got[1:], want) {
					t.Fatalf("pdu %d: Seal\n got %x\nwant %x", j, got[1:], want)
				}
				// Intermediates left in the scratch space by Seal.
				if n := vectors.Hex(p.NetworkNonce); !bytes.Equal(c.nonce[:], n) {
					t.Errorf("pdu %d: network nonce %x, want %x", j, c.nonce, n)
				}
				if p.PrivacyPlaintext != "" && !bytes.Equal(c.ppt[:], vectors.Hex(p.PrivacyPlaintext)) {
					t.Errorf("pdu %d: privacy plaintext %x, want %s", j, c.ppt, p.PrivacyPlaintext)
				}
				if p.PECB != "" && !bytes.Equal(c.pecb[:6], vectors.Hex(p.PECB)) {
					t.Errorf("pdu %d: PECB %x, want %s", j, c.pecb[:6], p.PECB)
				}
				mic := MICSize(h.CTL)
				if enc := vectors.Hex(p.EncDstTransportPDU); !bytes.Equal(want[7:len(want)-mic], enc) {
					t.Errorf("pdu %d: EncDST‖EncTransportPDU %x, want %x", j, want[7:len(want)-mic], enc)
				}
				if nm := vectors.Hex(p.NetMIC); !bytes.Equal(want[len(want)-mic:], nm) {
					t.Errorf("pdu %d: NetMIC %x, want %x", j, want[len(want)-mic:], nm)
				}
				if cl := vectors.Hex(p.CtlTTLSeqSrc); cl[0] != h.ctlTTL() {
					t.Errorf("pdu %d: CTL‖TTL %02x, want %02x", j, h.ctlTTL(), cl[0])
				}

				ivi, nid, err := PeekIVINID(want)
				if err != nil || ivi != h.IVI || nid != h.NID {
					t.Errorf("pdu %d: PeekIVINID = %d, %02x, %v", j, ivi, nid, err)
				}
				oh, tp, err := c.Open([]byte{0xBB}, want, iv)
				if err != nil {
					t.Fatalf("pdu %d: Open: %v", j, err)
				}
				if oh != h {
					t.Errorf("pdu %d: Open header %+v, want %+v", j, oh, h)
				}
				if tp[0] != 0xBB || !bytes.Equal(tp[1:], ltp) {
					t.Errorf("pdu %d: Open transport PDU %x, want %x", j, tp[1:], ltp)
				}
				if p.PECB != "" && !bytes.Equal(c.pecb[:6], vectors.Hex(p.PECB)) {
					t.Errorf("pdu %d: Open PECB %x, want %s", j, c.pecb[:6], p.PECB)
				}
			}
		})
	}
	if pdus != 18 {
		t.Errorf("%d network PDUs checked, want 18 (msg06 and msg24 have two)", pdus)
	}
}

func TestK2Vectors(t *testing.T) {
	for _, v := range vectors.MustLoad().K2 {
		t.Run(v.ID, func(t *testing.T) {
			c := NewCredentials(vectors.Key(v.N), vectors.Hex(v.P))
			if c.NID() != uint8(vectors.Uint(v.NID)) {
				t.Errorf("NID %02x, want %s", c.NID(), v.NID)
			}
			if c.EncryptionKey() != vectors.Key(v.EncryptionKey) {
				t.Errorf("EncryptionKey %x, want %s", c.EncryptionKey(), v.EncryptionKey)
			}
			if c.PrivacyKey() != vectors.Key(v.PrivacyKey) {
				t.Errorf("PrivacyKey %x, want %s", c.PrivacyKey(), v.PrivacyKey)
			}
			switch v.Credentials {
			case "managed_flooding":
				if !bytes.Equal(vectors.Hex(v.P), ManagedFloodingP) {
					t.Errorf("P %s is not ManagedFloodingP", v.P)
				}
			case "directed":
				if !bytes.Equal(vectors.Hex(v.P), DirectedP) {
					t.Errorf("P %s is not DirectedP", v.P)
				}
			}
		})
	}
}

// msg01 is sample message #1 (§8.3.1): a control PDU, CTL=1, TTL 0,
// SEQ 000001, SRC 1201, DST fffd, IV Index 12345678.
const (
	msg01NetKey = "7dd7364cd842ad18c17c2b820c84c3d6"
	msg01PDU    = "68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df"
	msg01IV     = 0x12345678
)

func msg01Creds(t testing.TB) *Credentials {
	return NewCredentials(vectors.Key(msg01NetKey), ManagedFloodingP)
}

func TestOpenBadLengths(t *testing.T) {
	c := msg01Creds(t)
	valid := mustHex(t, msg01PDU)
	for n := 0; n <= 40; n++ {
		var pdu []byte
		if n <= len(valid) {
			pdu = valid[:n]
		} else {
			pdu = append(bytes.Clone(valid), make([]byte, n-len(valid))...)
		}
		_, _, err := c.Open(nil, pdu, msg01IV)
		_, _, perr := PeekIVINID(pdu)
		switch {
		case n < MinPDUSize:
			if !errors.Is(err, ErrTooShort) || !errors.Is(perr, ErrTooShort) {
				t.Errorf("%d octets: Open %v, Peek %v, want ErrTooShort", n, err, perr)
			}
		case n > MaxPDUSize:
			if !errors.Is(err, ErrTooLong) || !errors.Is(perr, ErrTooLong) {
				t.Errorf("%d octets: Open %v, Peek %v, want ErrTooLong", n, err, perr)
			}
		case n == len(valid):
			if err != nil || perr != nil {
				t.Errorf("%d octets: Open %v, Peek %v, want success", n, err, perr)
			}
		default: // a strict prefix never authenticates
			if !errors.Is(err, ErrAuth) || !errors.Is(err, crypto.ErrAuth) || perr != nil {
				t.Errorf("%d octets: Open %v, Peek %v, want ErrAuth", n, err, perr)
			}
		}
	}
}

func TestOpenRejects(t *testing.T) {
	c := msg01Creds(t)
	valid := mustHex(t, msg01PDU)
	flip := func(i int, mask byte) []byte {
		p := bytes.Clone(valid)
		p[i] ^= mask
		return p
	}
	tests := []struct {
		name string
		pdu  []byte
		iv   uint32
		want error
	}{
		{"valid", valid, msg01IV, nil},
		{"other NID", flip(0, 0x01), msg01IV, ErrNID},
		{"IVI flipped", flip(0, 0x80), msg01IV, ErrIVI},
		{"IV Index LSB differs", valid, msg01IV + 1, ErrIVI},
		{"IV Index differs", valid, msg01IV - 2, ErrAuth},
		{"obfuscated header", flip(3, 0x10), msg01IV, ErrAuth},
		{"EncDST", flip(7, 0x01), msg01IV, ErrAuth},
		{"NetMIC", flip(len(valid)-1, 0x80), msg01IV, ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Open(nil, tc.pdu, tc.iv)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
	// Other credentials with the same NID would still fail.
	other := NewCredentials(vectors.Key("00112233445566778899aabbccddeeff"), ManagedFloodingP)
	other.nid = c.nid
	if _, _, err := other.Open(nil, valid, msg01IV); !errors.Is(err, ErrAuth) {
		t.Fatalf("Open with other keys: %v, want ErrAuth", err)
	}
}

func TestOpenBadAddresses(t *testing.T) {
	c := msg01Creds(t)
	// Seal cannot produce these, so build them by bypassing the checks.
	seal := func(h Header, tp []byte) []byte {
		pdu := []byte{c.nid, h.ctlTTL(), byte(h.SEQ >> 16), byte(h.SEQ >> 8), byte(h.SEQ), byte(h.SRC >> 8), byte(h.SRC)}
		plain := append([]byte{byte(h.DST >> 8), byte(h.DST)}, tp...)
		n := crypto.NetworkNonce(h.ctlTTL(), h.SEQ, uint16(h.SRC), 0)
		pdu, _ = crypto.NewCCM(c.encKey).Seal(pdu, &n, plain, nil, MICSize(h.CTL))
		c.pecbFor(pdu[7:], 0)
		for i := 1; i < 7; i++ {
			pdu[i] ^= c.pecb[i-1]
		}
		return pdu
	}
	tests := []struct {
		name string
		h    Header
		want error
	}{
		{"unassigned SRC", Header{SRC: 0, DST: 1, SEQ: 1}, ErrBadSRC},
		{"group SRC", Header{SRC: 0xc000, DST: 1, SEQ: 1}, ErrBadSRC},
		{"virtual SRC", Header{SRC: 0x8001, DST: 1, SEQ: 1}, ErrBadSRC},
		{"unassigned DST", Header{SRC: 1, DST: 0, SEQ: 1}, ErrBadDST},
		{"control to virtual", Header{CTL: true, SRC: 1, DST: 0x8123, SEQ: 1}, ErrBadDST},
		{"access to virtual", Header{SRC: 1, DST: 0x8123, SEQ: 1}, nil},
		{"control to group", Header{CTL: true, SRC: 1, DST: 0xffff, SEQ: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pdu := seal(tc.h, []byte{1, 2, 3})
			h, _, err := c.Open(nil, pdu, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			if h.SRC != tc.h.SRC || h.DST != tc.h.DST {
				t.Fatalf("Open header %+v, want addresses of %+v", h, tc.h)
			}
			_, err = c.Seal(nil, &tc.h, []byte{1, 2, 3}, 0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Seal: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSealRejects(t *testing.T) {
	c := msg01Creds(t)
	good := Header{TTL: 5, SEQ: 1, SRC: 0x0001, DST: 0xc000}
	tests := []struct {
		name string
		mod  func(h *Header)
		tpn  int
		want error
	}{
		{"access 1 octet", nil, 1, nil},
		{"access 16 octets", nil, 16, nil},
		{"access empty", nil, 0, ErrTooShort},
		{"access 17 octets", nil, 17, ErrTooLong},
		{"control 1 octet", func(h *Header) { h.CTL = true }, 1, nil},
		{"control 12 octets", func(h *Header) { h.CTL = true }, 12, nil},
		{"control empty", func(h *Header) { h.CTL = true }, 0, ErrTooShort},
		{"control 13 octets", func(h *Header) { h.CTL = true }, 13, ErrTooLong},
		{"TTL 127", func(h *Header) { h.TTL = 127 }, 4, nil},
		{"TTL 128", func(h *Header) { h.TTL = 128 }, 4, ErrTTL},
		{"SEQ max", func(h *Header) { h.SEQ = MaxSEQ }, 4, nil},
		{"SEQ 2^24", func(h *Header) { h.SEQ = MaxSEQ + 1 }, 4, ErrSEQ},
		{"SRC group", func(h *Header) { h.SRC = 0xc001 }, 4, ErrBadSRC},
		{"DST unassigned", func(h *Header) { h.DST = 0 }, 4, ErrBadDST},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := good
			if tc.mod != nil {
				tc.mod(&h)
			}
			tp := make([]byte, tc.tpn)
			out, err := c.Seal([]byte{0xEE}, &h, tp, 7)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Seal: %v, want %v", err, tc.want)
			}
			if err != nil {
				if len(out) != 1 {
					t.Fatalf("failed Seal changed dst: %x", out)
				}
				return
			}
			if len(out)-1 != HeaderSize+tc.tpn+MICSize(h.CTL) {
				t.Fatalf("PDU of %d octets", len(out)-1)
			}
			oh, otp, err := c.Open(nil, out[1:], 7)
			h.IVI, h.NID = 1, c.NID()
			if err != nil || oh != h || !bytes.Equal(otp, tp) {
				t.Fatalf("Open: %+v %x %v, want %+v %x", oh, otp, err, h, tp)
			}
		})
	}
}

func TestSealOpenAllocs(t *testing.T) {
	c := msg01Creds(t)
	h := Header{TTL: 5, SEQ: 0x123456, SRC: 0x0102, DST: 0xc003}
	tp := bytes.Repeat([]byte{0x5a}, 16)
	buf := make([]byte, 0, MaxPDUSize)
	out := make([]byte, 0, MaxAccessTransportSize)
	pdu, _ := c.Seal(nil, &h, tp, 1)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := c.Seal(buf[:0], &h, tp, 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Seal: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := c.Open(out[:0], pdu, 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Open: %v allocations, want 0", n)
	}
	bad := bytes.Clone(pdu)
	bad[len(bad)-1] ^= 1
	if n := testing.AllocsPerRun(100, func() { _, _, _ = c.Open(out[:0], bad, 1) }); n != 0 {
		t.Errorf("Open (auth failure): %v allocations, want 0", n)
	}
}

func bench29(b *testing.B) (*Credentials, *Header, []byte) {
	c := msg01Creds(b)
	h := &Header{TTL: 5, SEQ: 0x123456, SRC: 0x0102, DST: 0xc003}
	return c, h, bytes.Repeat([]byte{0x5a}, MaxAccessTransportSize)
}

func BenchmarkSeal29(b *testing.B) {
	c, h, tp := bench29(b)
	buf := make([]byte, 0, MaxPDUSize)
	b.ReportAllocs()
	b.SetBytes(MaxPDUSize)
	for b.Loop() {
		if _, err := c.Seal(buf[:0], h, tp, 0x12345678); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen29(b *testing.B) {
	c, h, tp := bench29(b)
	pdu, _ := c.Seal(nil, h, tp, 0x12345678)
	if len(pdu) != MaxPDUSize {
		b.Fatalf("PDU of %d octets", len(pdu))
	}
	out := make([]byte, 0, MaxAccessTransportSize)
	b.ReportAllocs()
	b.SetBytes(MaxPDUSize)
	for b.Loop() {
		if _, _, err := c.Open(out[:0], pdu, 0x12345678); err != nil {
			b.Fatal(err)
		}
	}
}
