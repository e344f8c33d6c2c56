package beacon

import (
	"bytes"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// seedBeacons adds every published beacon and service data to f.
func seedBeacons(f *testing.F) {
	v := vectors.MustLoad()
	for _, b := range v.SecureNetworkBeacons {
		f.Add(vectors.Hex(b.Beacon))
	}
	for _, b := range v.PrivateBeacons {
		f.Add(vectors.Hex(b.ADStructure)[2:])
	}
	for _, b := range v.UnprovisionedDeviceBeacons {
		f.Add(vectors.Hex(b.Beacon))
	}
	for _, s := range v.ProxyServiceData {
		f.Add(vectors.Hex(s.ADStructure))
		f.Add(vectors.Hex(s.ADStructure)[4:])
	}
	f.Add([]byte{})
}

// roundTrip checks decode → encode gives the input back.
func roundTrip(t *testing.T, p []byte, enc func() ([]byte, error)) {
	t.Helper()
	out, err := enc()
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if !bytes.Equal(out, p) {
		t.Fatalf("round trip %x → %x", p, out)
	}
}

func FuzzSecureNetwork(f *testing.F) {
	seedBeacons(f)
	key := crypto.BeaconKey(vectors.Key("7dd7364cd842ad18c17c2b820c84c3d6"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var b SecureNetwork
		if b.Unmarshal(p) != nil {
			return
		}
		_ = b.Verify(key)
		roundTrip(t, p, b.Marshal)
	})
}

func FuzzPrivate(f *testing.F) {
	seedBeacons(f)
	key := vectors.Key("6be76842460b2d3a5850d4698409f1bb")
	f.Fuzz(func(t *testing.T, p []byte) {
		var b Private
		if b.Unmarshal(p) != nil {
			return
		}
		if fl, iv, err := b.Decrypt(key); err == nil {
			if again := NewPrivate(key, b.Random, fl, iv); again != b {
				t.Fatalf("re-encrypt %+v, want %+v", again, b)
			}
		}
		roundTrip(t, p, b.Marshal)
	})
}

func FuzzUnprovisioned(f *testing.F) {
	seedBeacons(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		var b Unprovisioned
		if b.Unmarshal(p) != nil {
			return
		}
		roundTrip(t, p, b.Marshal)
	})
}

func FuzzServiceData(f *testing.F) {
	seedBeacons(f)
	idKey := crypto.IdentityKey(vectors.Key("7dd7364cd842ad18c17c2b820c84c3d6"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var s ServiceData
		if s.Unmarshal(p) == nil {
			_ = s.MatchNode(idKey, 0x1201)
			_ = s.MatchNetwork(idKey, [8]byte{})
			roundTrip(t, p, s.Marshal)
		}
		var a ServiceData
		if a.UnmarshalAD(p) == nil {
			roundTrip(t, p, func() ([]byte, error) { return a.AppendAD(nil) })
		}
	})
}

// FuzzHandleBeacon feeds arbitrary payloads through the receive path with
// the IV Update machine attached: no panic, and the IV Index never moves
// backwards or by more than 42.
func FuzzHandleBeacon(f *testing.F) {
	seedBeacons(f)
	v := vectors.MustLoad()
	keys := []KeySet{
		NewKeySet(0, vectors.Key(v.SecureNetworkBeacons[0].NetKey), false),
		NewKeySet(1, vectors.Key(v.PrivateBeacons[0].NetKey), false),
		NewKeySet(2, vectors.Key(v.PrivateBeacons[1].NetKey), true),
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		clk := faketime.New()
		iv, _ := NewIVUpdate(IVUpdateConfig{Clock: clk, State: IVState{Index: 0x12345678}, TestMode: true})
		s, _ := NewService(Config{Clock: clk, IV: iv})
		before := iv.Index()
		_, _ = s.HandleBeacon(p, keys...)
		if d := iv.Index() - before; d > IVRecoveryLimit {
			t.Fatalf("IV moved from %08x to %08x", before, iv.Index())
		}
	})
}
