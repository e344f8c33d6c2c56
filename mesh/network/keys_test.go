package network

import (
	"errors"
	"slices"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

func testKey(b byte) crypto.Key {
	var k crypto.Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func TestNewKeysVectors(t *testing.T) {
	f := vectors.MustLoad()
	for _, v := range f.SecureNetworkBeacons {
		k := NewKeys(vectors.Key(v.NetKey))
		if k.BeaconKey != vectors.Key(v.BeaconKey) {
			t.Errorf("%s: BeaconKey %x, want %s", v.ID, k.BeaconKey, v.BeaconKey)
		}
		if got := k.NetworkID[:]; string(got) != string(vectors.Hex(v.NetworkID)) {
			t.Errorf("%s: Network ID %x, want %s", v.ID, got, v.NetworkID)
		}
	}
	for _, v := range f.PrivateBeacons {
		if k := NewKeys(vectors.Key(v.NetKey)); k.PrivateBeaconKey != vectors.Key(v.PrivateBeaconKey) {
			t.Errorf("%s: PrivateBeaconKey %x, want %s", v.ID, k.PrivateBeaconKey, v.PrivateBeaconKey)
		}
	}
	for _, v := range f.ProxyServiceData {
		k := NewKeys(vectors.Key(v.NetKey))
		if v.IdentityKey != "" && k.IdentityKey != vectors.Key(v.IdentityKey) {
			t.Errorf("%s: IdentityKey %x, want %s", v.ID, k.IdentityKey, v.IdentityKey)
		}
		if v.NetworkID != "" && string(k.NetworkID[:]) != string(vectors.Hex(v.NetworkID)) {
			t.Errorf("%s: Network ID %x, want %s", v.ID, k.NetworkID, v.NetworkID)
		}
	}
	k := NewKeys(vectors.Key(msg01NetKey))
	if k.Credentials.NID() != 0x68 || k.NetKey != vectors.Key(msg01NetKey) {
		t.Errorf("managed-flooding NID %02x, want 68", k.Credentials.NID())
	}
}

func TestSubnetsAddGetListDelete(t *testing.T) {
	s := NewSubnets()
	if _, err := s.Add(0x1000, testKey(1)); !errors.Is(err, ErrKeyIndex) {
		t.Fatalf("Add 0x1000: %v, want ErrKeyIndex", err)
	}
	for _, i := range []uint16{5, 0, 0xfff} {
		if _, err := s.Add(i, testKey(byte(i))); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	k0, _ := s.Get(0)
	if k, err := s.Add(0, testKey(0)); err != nil || k != k0 {
		t.Fatalf("Add same key again: %p %v, want %p nil", k, err, k0)
	}
	if _, err := s.Add(0, testKey(9)); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("Add other key at 0: %v, want ErrKeyExists", err)
	}
	if got := s.List(nil); !slices.Equal(got, []uint16{0, 5, 0xfff}) || s.Len() != 3 {
		t.Fatalf("List %v", got)
	}
	if k0.Index() != 0 || k0.Phase() != PhaseNormal || k0.New() != nil || k0.Tx() != k0.Old() ||
		k0.Credentials() != k0.Old().Credentials {
		t.Fatalf("fresh NetKey state wrong: %+v", k0)
	}
	if c := s.Candidates(k0.Old().Credentials.NID()); len(c) == 0 || !slices.ContainsFunc(c, func(c Candidate) bool { return c.NetKey == k0 }) {
		t.Fatalf("Candidates miss NetKey 0: %+v", c)
	}
	if err := s.Delete(5); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(5); !errors.Is(err, ErrUnknownNetKey) {
		t.Fatalf("Delete twice: %v", err)
	}
	if _, ok := s.Get(5); ok {
		t.Fatal("Get after Delete found the key")
	}
	for nid := range 128 {
		for _, c := range s.Candidates(uint8(nid)) {
			if c.NetKey.Index() == 5 {
				t.Fatal("deleted key still a candidate")
			}
		}
	}
}

func TestSubnetsSharedNID(t *testing.T) {
	// Find two keys whose managed-flooding NIDs collide.
	seen := map[uint8]crypto.Key{}
	var a, b crypto.Key
	for i := 0; ; i++ {
		k := testKey(byte(i))
		k[15] = byte(i >> 8)
		nid, _, _ := crypto.K2(k, ManagedFloodingP)
		if prev, ok := seen[nid]; ok {
			a, b = prev, k
			break
		}
		seen[nid] = k
	}
	s := NewSubnets()
	s.Add(7, b)
	s.Add(3, a)
	nid := NewCredentials(a, ManagedFloodingP).NID()
	c := s.Candidates(nid)
	if len(c) != 2 || c[0].NetKey.Index() != 3 || c[1].NetKey.Index() != 7 {
		t.Fatalf("Candidates(%02x) = %+v, want NetKeys 3 and 7", nid, c)
	}
}

func TestKeyRefresh(t *testing.T) {
	s := NewSubnets()
	oldKey, newKey := testKey(0x10), testKey(0x20)
	k, _ := s.Add(1, oldKey)
	f, err := s.AddFriendship(1, 0x1201, 0x2345, 0, 0x072f)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := s.SetPhase(1, Phase2); !errors.Is(err, ErrPhase) {
		t.Fatalf("Phase2 from normal: %v, want ErrPhase", err)
	}
	if p, err := s.SetPhase(1, Phase3); err != nil || p != PhaseNormal {
		t.Fatalf("Phase3 from normal: %v %v, want no change", p, err)
	}
	if _, err := s.Update(2, newKey); !errors.Is(err, ErrUnknownNetKey) {
		t.Fatalf("Update unknown: %v", err)
	}

	// Phase 1: transmit old, receive both.
	if _, err := s.Update(1, newKey); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(1, newKey); err != nil {
		t.Fatalf("Update with the same key in phase 1: %v", err)
	}
	if _, err := s.Update(1, testKey(0x30)); !errors.Is(err, ErrCannotUpdate) {
		t.Fatalf("Update with another key in phase 1: %v", err)
	}
	if k.Phase() != Phase1 || k.Tx().NetKey != oldKey || k.New().NetKey != newKey || f.Tx() != f.Old() || f.New() == nil {
		t.Fatalf("phase 1 state wrong")
	}
	wantCands := func(phase string, creds ...*Credentials) {
		t.Helper()
		var all []*Credentials
		for nid := range 128 {
			for _, c := range s.Candidates(uint8(nid)) {
				all = append(all, c.Credentials)
				isNew := k.New() != nil && (c.Credentials == k.New().Credentials || c.Credentials == f.New())
				if c.NewKey != isNew {
					t.Errorf("%s: NewKey flag wrong on %+v", phase, c)
				}
				if (c.Friendship != nil) != (c.Credentials == f.Old() || c.Credentials == f.New()) {
					t.Errorf("%s: Friendship wrong on %+v", phase, c)
				}
			}
		}
		if len(all) != len(creds) {
			t.Fatalf("%s: %d candidates, want %d", phase, len(all), len(creds))
		}
		for _, c := range creds {
			if !slices.Contains(all, c) {
				t.Fatalf("%s: credentials with NID %02x missing", phase, c.NID())
			}
		}
	}
	wantCands("phase 1", k.Old().Credentials, k.New().Credentials, f.Old(), f.New())

	// Phase 2: transmit new, receive both; a second Phase2 is a no-op.
	if p, err := s.SetPhase(1, Phase2); err != nil || p != Phase2 {
		t.Fatalf("Phase2: %v %v", p, err)
	}
	if p, err := s.SetPhase(1, Phase2); err != nil || p != Phase2 {
		t.Fatalf("Phase2 again: %v %v", p, err)
	}
	if k.Tx().NetKey != newKey || k.Credentials() != k.New().Credentials || f.Tx() != f.New() {
		t.Fatal("phase 2 does not transmit with the new key")
	}
	if _, err := s.Update(1, newKey); !errors.Is(err, ErrCannotUpdate) {
		t.Fatalf("Update in phase 2: %v", err)
	}
	if _, err := s.SetPhase(1, Phase1); !errors.Is(err, ErrPhase) {
		t.Fatalf("Phase1 transition: %v", err)
	}
	wantCands("phase 2", k.Old().Credentials, k.New().Credentials, f.Old(), f.New())
	if c := s.Candidates(k.New().Credentials.NID()); c[0].Credentials != k.New().Credentials && c[0].Friendship == nil {
		t.Error("phase 2: the new key is not tried first")
	}

	// Phase 3: revoke the old key.
	newCreds, newF := k.New().Credentials, f.New()
	if p, err := s.SetPhase(1, Phase3); err != nil || p != PhaseNormal {
		t.Fatalf("Phase3: %v %v", p, err)
	}
	if k.Phase() != PhaseNormal || k.New() != nil || k.Old().Credentials != newCreds || f.Old() != newF || f.New() != nil {
		t.Fatal("phase 3 did not revoke the old key")
	}
	wantCands("normal", newCreds, newF)
}

func TestFriendshipCredentials(t *testing.T) {
	// Sample message #4 uses these friendship credentials (NID 5e).
	s := NewSubnets()
	s.Add(0, vectors.Key(msg01NetKey))
	if _, err := s.AddFriendship(1, 0x1201, 0x2345, 0, 0x072f); !errors.Is(err, ErrUnknownNetKey) {
		t.Fatalf("AddFriendship unknown key: %v", err)
	}
	if _, err := s.AddFriendship(0, 0xc000, 0x2345, 0, 0x072f); !errors.Is(err, ErrBadSRC) {
		t.Fatalf("AddFriendship group LPN: %v", err)
	}
	f, err := s.AddFriendship(0, 0x1201, 0x2345, 0, 0x072f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Tx().NID() != 0x5e || f.Tx().EncryptionKey() != vectors.Key("be635105434859f484fc798e043ce40e") || f.NetKeyIndex() != 0 {
		t.Fatalf("friendship NID %02x", f.Tx().NID())
	}
	if again, _ := s.AddFriendship(0, 0x1201, 0x2345, 0, 0x072f); again != f {
		t.Fatal("registering the same pair twice made a second one")
	}
	k, _ := s.Get(0)
	if len(k.Friendships()) != 1 {
		t.Fatalf("%d friendships", len(k.Friendships()))
	}
	c := s.Candidates(0x5e)
	if len(c) != 1 || c[0].Friendship != f || c[0].Credentials != f.Tx() {
		t.Fatalf("Candidates(5e) = %+v", c)
	}
	if err := s.RemoveFriendship(f); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFriendship(f); !errors.Is(err, ErrUnknownFriendship) {
		t.Fatalf("RemoveFriendship twice: %v", err)
	}
	if len(s.Candidates(0x5e)) != 0 {
		t.Fatal("removed friendship still a candidate")
	}
}

func TestKeyRefreshPhaseString(t *testing.T) {
	for p, want := range map[KeyRefreshPhase]string{0: "normal", 1: "phase1", 2: "phase2", 3: "phase3", 9: "KeyRefreshPhase(0x09)"} {
		if p.String() != want {
			t.Errorf("%d: %q, want %q", p, p.String(), want)
		}
	}
}
