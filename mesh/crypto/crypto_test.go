package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 4493 §4 examples.
func TestCMAC_RFC4493(t *testing.T) {
	key := vectors.Key("2b7e151628aed2a6abf7158809cf4f3c")
	msg := mustHex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got := AESCMAC(key, msg[:tc.n])
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("CMAC of %d octets = %x, want %s", tc.n, got, tc.want)
		}
		// The same message split across parts gives the same MAC.
		if tc.n > 5 {
			got2 := AESCMAC(key, msg[:3], msg[3:tc.n-2], msg[tc.n-2:tc.n])
			if got2 != got {
				t.Errorf("CMAC of %d octets in parts = %x, want %x", tc.n, got2, got)
			}
		}
	}
}

// RFC 3610 §8, packet vector #1 (M = 8, 8 octets of additional data).
func TestCCM_RFC3610(t *testing.T) {
	key := vectors.Key("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
	var nonce [NonceSize]byte
	copy(nonce[:], mustHex(t, "00000003020100a0a1a2a3a4a5"))
	aad := mustHex(t, "0001020304050607")
	pt := mustHex(t, "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e")
	want := "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"
	c := NewCCM(key)
	ct, err := c.Seal(nil, &nonce, pt, aad, 8)
	if err != nil || hex.EncodeToString(ct) != want {
		t.Fatalf("Seal = %x, %v; want %s", ct, err, want)
	}
	back, err := c.Open(nil, &nonce, ct, aad, 8)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("Open = %x, %v", back, err)
	}
	ct[3] ^= 1
	if _, err := c.Open(nil, &nonce, ct, aad, 8); !errors.Is(err, ErrAuth) {
		t.Fatalf("Open of a tampered message: %v, want ErrAuth", err)
	}
	if _, err := c.Seal(nil, &nonce, pt, nil, 6); !errors.Is(err, ErrMICSize) {
		t.Fatalf("Seal with a 6-octet MIC: %v", err)
	}
	if _, err := c.Open(nil, &nonce, []byte{1, 2}, nil, 4); !errors.Is(err, ErrAuth) {
		t.Fatalf("Open of 2 octets: %v", err)
	}
}

func TestS1(t *testing.T) {
	for _, v := range vectors.MustLoad().S1 {
		got := S1(vectors.Hex(v.M))
		if hex.EncodeToString(got[:]) != v.Output {
			t.Errorf("%s: s1 = %x, want %s", v.ID, got, v.Output)
		}
	}
}

func TestK1(t *testing.T) {
	for _, v := range vectors.MustLoad().K1 {
		got := K1(vectors.Hex(v.N), vectors.Key(v.Salt), vectors.Hex(v.P))
		if hex.EncodeToString(got[:]) != v.Output {
			t.Errorf("%s: k1 = %x, want %s", v.ID, got, v.Output)
		}
	}
}

func TestK2(t *testing.T) {
	for _, v := range vectors.MustLoad().K2 {
		p := vectors.Hex(v.P)
		if v.Friendship != nil {
			fp := FriendshipP(uint16(vectors.Uint(v.Friendship.LPNAddress)), uint16(vectors.Uint(v.Friendship.FriendAddress)),
				uint16(vectors.Uint(v.Friendship.LPNCounter)), uint16(vectors.Uint(v.Friendship.FriendCounter)))
			if !bytes.Equal(fp, p) {
				t.Errorf("%s: FriendshipP = %x, want %x", v.ID, fp, p)
			}
		}
		nid, enc, priv := K2(vectors.Key(v.N), p)
		if uint32(nid) != vectors.Uint(v.NID) || hex.EncodeToString(enc[:]) != v.EncryptionKey || hex.EncodeToString(priv[:]) != v.PrivacyKey {
			t.Errorf("%s: k2 = %02x %x %x, want %s %s %s", v.ID, nid, enc, priv, v.NID, v.EncryptionKey, v.PrivacyKey)
		}
	}
}

func TestK3K4(t *testing.T) {
	f := vectors.MustLoad()
	for _, v := range f.K3 {
		got := K3(vectors.Key(v.N))
		if hex.EncodeToString(got[:]) != v.NetworkID {
			t.Errorf("%s: k3 = %x, want %s", v.ID, got, v.NetworkID)
		}
	}
	for _, v := range f.K4 {
		if got := K4(vectors.Key(v.N)); uint32(got) != vectors.Uint(v.AID) {
			t.Errorf("%s: k4 = %02x, want %s", v.ID, got, v.AID)
		}
	}
}

func TestVirtualAddress(t *testing.T) {
	for _, v := range vectors.MustLoad().VirtualAddresses {
		if got := VirtualAddress(vectors.Key(v.LabelUUID)); uint32(got) != vectors.Uint(v.VirtualAddress) {
			t.Errorf("%s: virtual address = %04x, want %s", v.ID, got, v.VirtualAddress)
		}
	}
}

func TestBeaconKeys(t *testing.T) {
	f := vectors.MustLoad()
	for _, v := range f.SecureNetworkBeacons {
		if got := BeaconKey(vectors.Key(v.NetKey)); hex.EncodeToString(got[:]) != v.BeaconKey {
			t.Errorf("%s: BeaconKey = %x, want %s", v.ID, got, v.BeaconKey)
		}
	}
	for _, v := range f.PrivateBeacons {
		if got := PrivateBeaconKey(vectors.Key(v.NetKey)); hex.EncodeToString(got[:]) != v.PrivateBeaconKey {
			t.Errorf("%s: PrivateBeaconKey = %x, want %s", v.ID, got, v.PrivateBeaconKey)
		}
	}
	for _, v := range f.ProxyServiceData {
		if v.IdentityKey == "" {
			continue
		}
		if got := IdentityKey(vectors.Key(v.NetKey)); hex.EncodeToString(got[:]) != v.IdentityKey {
			t.Errorf("%s: IdentityKey = %x, want %s", v.ID, got, v.IdentityKey)
		}
	}
}

// The network, application and device nonces of every sample message.
func TestNonces(t *testing.T) {
	for _, v := range vectors.MustLoad().NetworkPDUs {
		iv := vectors.Uint(v.IVIndex)
		src, dst := uint16(vectors.Uint(v.SRC)), uint16(vectors.Uint(v.DST))
		for i, p := range v.PDUs {
			if p.NetworkNonce == "" {
				continue
			}
			n := NetworkNonce(uint8(p.CTL<<7|p.TTL), vectors.Uint(p.SEQ), src, iv)
			if hex.EncodeToString(n[:]) != p.NetworkNonce {
				t.Errorf("%s pdu %d: network nonce %x, want %s", v.ID, i, n, p.NetworkNonce)
			}
		}
		if a := v.Access; a != nil && a.Nonce != "" {
			seq := vectors.Uint(v.PDUs[0].SEQ)
			var n [NonceSize]byte
			if a.KeyType == "device" {
				n = DeviceNonce(a.SZMIC == 1, seq, src, dst, iv)
			} else {
				n = ApplicationNonce(a.SZMIC == 1, seq, src, dst, iv)
			}
			if hex.EncodeToString(n[:]) != a.Nonce {
				t.Errorf("%s: access nonce %x, want %s", v.ID, n, a.Nonce)
			}
		}
	}
}

// Upper transport encryption of every sample access message.
func TestAccessCCM(t *testing.T) {
	for _, v := range vectors.MustLoad().NetworkPDUs {
		a := v.Access
		if a == nil || a.Nonce == "" {
			continue
		}
		key := v.AppKey
		if a.KeyType == "device" {
			key = v.DevKey
		}
		var nonce [NonceSize]byte
		copy(nonce[:], vectors.Hex(a.Nonce))
		var aad []byte
		if v.LabelUUID != "" {
			aad = vectors.Hex(v.LabelUUID)
		}
		mic := 4
		if a.SZMIC == 1 {
			mic = 8
		}
		c := NewCCM(vectors.Key(key))
		got, err := c.Seal(nil, &nonce, vectors.Hex(a.AccessMessage), aad, mic)
		if err != nil || hex.EncodeToString(got) != a.UpperTransportPDU {
			t.Errorf("%s: upper transport PDU %x (%v), want %s", v.ID, got, err, a.UpperTransportPDU)
		}
		back, err := c.Open(nil, &nonce, got, aad, mic)
		if err != nil || hex.EncodeToString(back) != a.AccessMessage {
			t.Errorf("%s: opened %x (%v), want %s", v.ID, back, err, a.AccessMessage)
		}
	}
}

func TestCCMZeroAlloc(t *testing.T) {
	c := NewCCM(vectors.Key("0953fa93e7caac9638f58820220a398e"))
	var nonce [NonceSize]byte
	pt := make([]byte, 18)
	buf := make([]byte, 0, 64)
	out := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		ct, _ := c.Seal(buf[:0], &nonce, pt, nil, 4)
		if _, err := c.Open(out[:0], &nonce, ct, nil, 4); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("CCM Seal+Open allocates %.0f times, want 0", allocs)
	}
}

func BenchmarkCCMSeal18(b *testing.B) {
	c := NewCCM(vectors.Key("0953fa93e7caac9638f58820220a398e"))
	var nonce [NonceSize]byte
	pt := make([]byte, 18)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Seal(buf[:0], &nonce, pt, nil, 4)
	}
}
