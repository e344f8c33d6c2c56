package transport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// accessVector is one access sample with what EncryptAccess needs.
type accessVector struct {
	v      vectors.NetworkPDU
	key    crypto.Key
	params AccessCrypto
	label  [16]byte
}

func accessVectors(t testing.TB) []accessVector {
	t.Helper()
	var out []accessVector
	for _, v := range vectors.MustLoad().NetworkPDUs {
		a := v.Access
		if a == nil {
			continue
		}
		av := accessVector{v: v}
		av.params = AccessCrypto{
			DevKey:  a.KeyType == "device",
			SZMIC:   a.SZMIC == 1,
			Seq:     vectors.Uint(v.PDUs[0].SEQ),
			IVIndex: vectors.Uint(v.IVIndex),
			Src:     mesh.Address(vectors.Uint(v.SRC)),
			Dst:     mesh.Address(vectors.Uint(v.DST)),
		}
		if av.params.DevKey {
			av.key = vectors.Key(v.DevKey)
		} else {
			av.key = vectors.Key(v.AppKey)
		}
		if v.LabelUUID != "" {
			av.label = vectors.Key(v.LabelUUID)
		}
		out = append(out, av)
	}
	if len(out) != 7 {
		t.Fatalf("found %d access samples, want 7", len(out))
	}
	return out
}

func (av *accessVector) crypto() *AccessCrypto {
	p := av.params
	if av.v.LabelUUID != "" {
		p.Label = &av.label
	}
	return &p
}

func TestEncryptAccess_Vectors(t *testing.T) {
	t.Parallel()
	for _, av := range accessVectors(t) {
		t.Run(av.v.ID, func(t *testing.T) {
			a := av.v.Access
			c := crypto.NewCCM(av.key)
			upper, err := EncryptAccess(nil, c, av.crypto(), vectors.Hex(a.AccessMessage))
			if err != nil {
				t.Fatal(err)
			}
			if want := vectors.Hex(a.UpperTransportPDU); !bytes.Equal(upper, want) {
				t.Fatalf("upper PDU %x, want %x", upper, want)
			}
			if want := vectors.Hex(a.TransMIC); !bytes.Equal(upper[len(upper)-len(want):], want) {
				t.Fatalf("TransMIC %x, want %x", upper[len(upper)-len(want):], want)
			}
			// Segments: 12 octets each, as the sample splits them.
			for i, s := range a.Segments {
				lo, hi := i*AccessSegmentSize, min((i+1)*AccessSegmentSize, len(upper))
				if want := vectors.Hex(s); !bytes.Equal(upper[lo:hi], want) {
					t.Errorf("segment %d %x, want %x", i, upper[lo:hi], want)
				}
			}
			plain, err := DecryptAccess(nil, c, av.crypto(), upper)
			if err != nil || !bytes.Equal(plain, vectors.Hex(a.AccessMessage)) {
				t.Fatalf("DecryptAccess = %x, %v", plain, err)
			}
			// A flipped bit fails authentication.
			upper[0] ^= 1
			if _, err := DecryptAccess(nil, c, av.crypto(), upper); !errors.Is(err, crypto.ErrAuth) {
				t.Fatalf("tampered PDU: %v, want ErrAuth", err)
			}
		})
	}
}

func TestDecryptAccess_WrongLabel(t *testing.T) {
	t.Parallel()
	for _, av := range accessVectors(t) {
		if av.v.LabelUUID == "" {
			continue
		}
		c := crypto.NewCCM(av.key)
		p := av.crypto()
		other := av.label
		other[15] ^= 0xFF
		p.Label = &other
		if _, err := DecryptAccess(nil, c, p, vectors.Hex(av.v.Access.UpperTransportPDU)); !errors.Is(err, crypto.ErrAuth) {
			t.Errorf("%s: wrong Label UUID: %v, want ErrAuth", av.v.ID, err)
		}
	}
}

func TestEncryptAccess_Limits(t *testing.T) {
	t.Parallel()
	c := crypto.NewCCM(crypto.Key{1})
	p := &AccessCrypto{Src: 1, Dst: 2}
	cases := []struct {
		name  string
		n     int
		szmic bool
		err   error
	}{
		{"empty", 0, false, ErrTooLong},
		{"380", 380, false, nil},
		{"381", 381, false, ErrTooLong},
		{"376 long MIC", 376, true, nil},
		{"377 long MIC", 377, true, ErrTooLong},
	}
	for _, cs := range cases {
		p.SZMIC = cs.szmic
		out, err := EncryptAccess(nil, c, p, make([]byte, cs.n))
		if !errors.Is(err, cs.err) {
			t.Errorf("%s: %v, want %v", cs.name, err, cs.err)
		}
		if err == nil && len(out) != MaxUpperAccessPDU {
			t.Errorf("%s: upper PDU of %d octets, want 384", cs.name, len(out))
		}
	}
	if _, err := EncryptAccess(nil, c, &AccessCrypto{DevKey: true, Src: 1, Dst: 0xC000}, []byte{1}); !errors.Is(err, ErrAddress) {
		t.Errorf("DevKey to a group: %v, want ErrAddress", err)
	}
	if _, err := EncryptAccess(nil, c, &AccessCrypto{Src: 1, Dst: 0x8001}, []byte{1}); !errors.Is(err, ErrAddress) {
		t.Errorf("virtual without label: %v, want ErrAddress", err)
	}
}

func TestChooseSZMIC(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n    int
		want bool
	}{
		{1, true}, // 1 segment either way (5 or 9 octets)
		{4, true},
		{5, false}, // 9 vs 13 octets: the long MIC would add a segment
		{8, false},
		{12, true}, // 16 and 20 octets: 2 segments either way
		{16, true},
		{17, false},
		{20, false}, // msg06: 24 octets vs 28
		{364, true},
		{376, true},
		{377, false},
		{380, false},
	}
	for _, c := range cases {
		if got := ChooseSZMIC(c.n); got != c.want {
			t.Errorf("ChooseSZMIC(%d) = %t, want %t", c.n, got, c.want)
		}
		if c.want && AccessSegments(c.n, 8) != AccessSegments(c.n, 4) {
			t.Errorf("ChooseSZMIC(%d) adds a segment", c.n)
		}
	}
}

func TestEncryptAccess_ZeroAlloc(t *testing.T) {
	c := crypto.NewCCM(crypto.Key{1})
	p := &AccessCrypto{SZMIC: true, Src: 1, Dst: 0x8123, Label: &[16]byte{2}}
	p.Dst = mesh.Address(crypto.VirtualAddress(*p.Label))
	msg := make([]byte, 376)
	buf := make([]byte, 0, MaxUpperAccessPDU)
	out := make([]byte, 0, MaxUpperAccessPDU)
	n := testing.AllocsPerRun(50, func() {
		up, err := EncryptAccess(buf[:0], c, p, msg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecryptAccess(out[:0], c, p, up); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("EncryptAccess+DecryptAccess allocate %v times", n)
	}
}
