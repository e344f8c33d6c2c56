package beacon

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

func TestInterval(t *testing.T) {
	for _, c := range []struct {
		observed int
		want     time.Duration
	}{
		{0, 10 * time.Second},
		{1, 20 * time.Second},
		{5, 60 * time.Second},
		{59, 600 * time.Second},
		{200, 600 * time.Second},
	} {
		if got := intervalFor(DefaultObservationPeriod, c.observed); got != c.want {
			t.Errorf("observed %d: %s, want %s", c.observed, got, c.want)
		}
	}
	// A longer observation period: expected = 6, interval = 60 s·(o+1)/6.
	if got := intervalFor(time.Minute, 2); got != 30*time.Second {
		t.Errorf("60 s period, 2 observed: %s", got)
	}
}

func TestService_Config(t *testing.T) {
	if _, err := NewService(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil clock: %v", err)
	}
	if _, err := NewService(Config{Clock: faketime.New(), ObservationPeriod: time.Second}); !errors.Is(err, ErrConfig) {
		t.Fatalf("short period: %v", err)
	}
	s, _ := NewService(Config{Clock: faketime.New()})
	if err := s.Start(); !errors.Is(err, ErrConfig) {
		t.Fatalf("start without Send: %v", err)
	}
	s.SendNow() // no Send: no-op
}

// TestService_Cadence: alone, a node beacons every 10 s; hearing two
// beacons of the subnet per observation period, it slows to 30 s.
func TestService_Cadence(t *testing.T) {
	clk := faketime.New()
	net0 := NewKeySet(0, vectors.Key("7dd7364cd842ad18c17c2b820c84c3d6"), false)
	var sent []time.Duration
	s, err := NewService(Config{
		Clock:   clk,
		Rand:    rand.New(rand.NewPCG(1, 2)),
		Subnets: func() []uint16 { return []uint16{0} },
		Send:    func(uint16) { sent = append(sent, clk.Now().Sub(faketime.Epoch)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	_ = s.Start() // idempotent
	clk.Advance(61 * time.Second)
	if len(sent) != 6 { // first tick jittered into [0, 10 s)
		t.Fatalf("alone: %d beacons in 61 s (%v), want 6", len(sent), sent)
	}
	for i := 1; i < len(sent); i++ {
		if d := sent[i] - sent[i-1]; d != 10*time.Second {
			t.Fatalf("alone: gap %s", d)
		}
	}
	// Hear two beacons from others every 20 s.
	b := net0.SecureNetworkBeacon(0, 5)
	payload, _ := b.Marshal()
	hear := func() {
		for range 2 {
			if _, err := s.HandleBeacon(payload, net0); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stop bool
	var every func()
	every = func() {
		if stop {
			return
		}
		hear()
		clk.AfterFunc(20*time.Second, every)
	}
	every()
	clk.Advance(40 * time.Second) // let the observation settle
	if got := s.Interval(0); got != 30*time.Second {
		t.Fatalf("interval %s, want 30s", got)
	}
	sent = sent[:0]
	clk.Advance(300 * time.Second)
	if len(sent) < 9 || len(sent) > 11 {
		t.Fatalf("with 2 observed: %d beacons in 300 s, want about 10 (%v)", len(sent), sent)
	}
	stop = true
	s.Stop()
	n := len(sent)
	clk.Advance(100 * time.Second)
	if len(sent) != n {
		t.Fatal("sent after Stop")
	}
	s.SendNow()
	if len(sent) != n+1 {
		t.Fatal("SendNow did not send")
	}
}

// TestService_HandleBeacon covers the receive path: authentication against
// candidates, primary-subnet rule, Key Refresh reporting and IV following.
func TestService_HandleBeacon(t *testing.T) {
	f := vectors.MustLoad()
	primaryKey := vectors.Key(f.SecureNetworkBeacons[0].NetKey)
	otherKey := vectors.Key(f.PrivateBeacons[1].NetKey)
	net0 := NewKeySet(0, primaryKey, false)
	net1 := NewKeySet(1, otherKey, false)
	net1new := NewKeySet(1, primaryKey, true) // same material, index 1, new key

	clk := faketime.New()
	iv, err := NewIVUpdate(IVUpdateConfig{Clock: clk, State: IVState{Index: 0x12345678}})
	if err != nil {
		t.Fatal(err)
	}
	type kr struct {
		idx         uint16
		newKey, flg bool
	}
	var krs []kr
	var unprov []Unprovisioned
	s, err := NewService(Config{
		Clock:           clk,
		IV:              iv,
		OnKeyRefresh:    func(i uint16, n, k bool) { krs = append(krs, kr{i, n, k}) },
		OnUnprovisioned: func(u Unprovisioned) { unprov = append(unprov, u) },
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(96 * time.Hour)

	// Spec sample 8.4.3 (IV 0x12345678, Normal) on the primary subnet: no change.
	r, err := s.HandleBeacon(vectors.Hex(f.SecureNetworkBeacons[0].Beacon), net1, net0)
	if err != nil || r.NetKeyIndex != 0 || r.IV != IVNoChange || r.IVIndex != 0x12345678 {
		t.Fatalf("8.4.3: %+v %v", r, err)
	}
	// 8.4.4 (IV 0x12345679, IV Update flag) on a secondary subnet while the
	// primary is known: ignored for IV, KR still reported.
	r, err = s.HandleBeacon(vectors.Hex(f.SecureNetworkBeacons[1].Beacon), net1new, net0x(net0))
	if err != nil || r.NetKeyIndex != 1 || !r.NewKey || r.IV != IVIgnored {
		t.Fatalf("8.4.4 on secondary: %+v %v", r, err)
	}
	// The same on the primary: follow into In Progress.
	r, err = s.HandleBeacon(vectors.Hex(f.SecureNetworkBeacons[1].Beacon), net0)
	if err != nil || r.IV != IVEnteredUpdate || !iv.Updating() || iv.Index() != 0x12345679 {
		t.Fatalf("8.4.4 on primary: %+v %v, iv %v", r, err, iv.State())
	}
	// Without a primary candidate, a secondary subnet drives the IV.
	clk.Advance(96 * time.Hour) // own timer returns to Normal
	if iv.Updating() {
		t.Fatal("still in progress")
	}
	r, err = s.HandleBeacon(vectors.Hex(f.SecureNetworkBeacons[2].Beacon), net1new)
	if err != nil || r.IV != IVNoChange {
		t.Fatalf("8.4.5 secondary-only: %+v %v", r, err)
	}
	if len(krs) != 4 || krs[1] != (kr{1, true, false}) {
		t.Fatalf("key refresh reports %v", krs)
	}

	// Mesh Private beacon 8.4.6.2 on its own subnet.
	pv := f.PrivateBeacons[1]
	r, err = s.HandleBeacon(vectors.Hex(pv.ADStructure)[2:], net0, net1)
	if err != nil || r.Type != TypePrivate || r.NetKeyIndex != 1 || r.IVIndex != 0 || r.IV != IVIgnored {
		t.Fatalf("private: %+v %v", r, err)
	}

	// Drops.
	if _, err := s.HandleBeacon(vectors.Hex(f.SecureNetworkBeacons[0].Beacon), net1); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("unknown network: %v", err)
	}
	bad := vectors.Hex(f.SecureNetworkBeacons[0].Beacon)
	bad[21] ^= 1
	if _, err := s.HandleBeacon(bad, net0); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("bad auth: %v", err)
	}
	if _, err := s.HandleBeacon(vectors.Hex(pv.ADStructure)[2:], net0); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("private, wrong subnet: %v", err)
	}
	for _, p := range [][]byte{nil, {0x03}, {0x01, 0x00}, {0x02}, {0x00, 1}} {
		if _, err := s.HandleBeacon(p, net0); err == nil {
			t.Fatalf("%x accepted", p)
		}
	}

	// Unprovisioned device beacon.
	r, err = s.HandleBeacon(vectors.Hex(f.UnprovisionedDeviceBeacons[1].Beacon))
	if err != nil || r.Type != TypeUnprovisioned || len(unprov) != 1 || !unprov[0].HasURIHash {
		t.Fatalf("unprovisioned: %+v %v", r, err)
	}
}

// net0x returns a primary-subnet key set that does not authenticate the
// test beacons (another NetKey), so the primary is known but not matched.
func net0x(k KeySet) KeySet {
	k.NetworkID[0] ^= 0xff
	k.BeaconKey = crypto.Key{1}
	k.PrivateBeaconKey = crypto.Key{1}
	return k
}

// TestService_PrivateBeaconRoundTrip builds a private beacon for a subnet
// and handles it as a receiver would.
func TestService_PrivateBeaconRoundTrip(t *testing.T) {
	clk := faketime.New()
	ks := NewKeySet(0, crypto.Key{9, 9, 9}, false)
	iv, _ := NewIVUpdate(IVUpdateConfig{Clock: clk, State: IVState{Index: 41}, TestMode: true})
	s, _ := NewService(Config{Clock: clk, IV: iv})
	b := ks.PrivateBeacon([13]byte{1, 2, 3}, FlagIVUpdate, 42)
	p, _ := b.Marshal()
	r, err := s.HandleBeacon(p, ks)
	if err != nil || r.IV != IVEnteredUpdate || iv.Index() != 42 {
		t.Fatalf("%+v %v", r, err)
	}
}
