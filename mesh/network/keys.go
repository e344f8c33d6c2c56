package network

import (
	"fmt"
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// MaxKeyIndex is the largest 12-bit NetKey Index.
const MaxKeyIndex = 0x0FFF

// KeyRefreshPhase is the Key Refresh Phase state of a subnet (Mesh Protocol
// v1.1 §3.10.4, §4.2.14), with the spec's numbers:
//
//	Normal ──NetKey Update──▶ Phase1 ──transition 2──▶ Phase2 ──transition 3──▶ Normal (new key only)
//	                          Phase1 ──────────────transition 3──────────────▶ Normal (new key only)
//
// Phase3 is a transition, not a resting state: revoking the old keys
// returns the subnet to Normal with the new key as its only key.
type KeyRefreshPhase uint8

// Key Refresh phases.
const (
	PhaseNormal KeyRefreshPhase = 0 // one key: transmit and receive with it
	Phase1      KeyRefreshPhase = 1 // new key distributed: transmit old, receive old and new
	Phase2      KeyRefreshPhase = 2 // transmit new, receive old and new
	Phase3      KeyRefreshPhase = 3 // revoke old keys (transition to Normal)
)

// String names the phase.
func (p KeyRefreshPhase) String() string {
	switch p {
	case PhaseNormal:
		return "normal"
	case Phase1:
		return "phase1"
	case Phase2:
		return "phase2"
	case Phase3:
		return "phase3"
	}
	return fmt.Sprintf("KeyRefreshPhase(0x%02x)", uint8(p))
}

// Keys is the material derived from one NetKey value (§3.9.6): the
// managed-flooding credentials and the keys of beacons and proxy
// advertising. It is read-only once made.
type Keys struct {
	NetKey           crypto.Key
	Credentials      *Credentials // managed flooding, k2(NetKey, 0x00)
	NetworkID        [8]byte      // k3(NetKey)
	BeaconKey        crypto.Key
	PrivateBeaconKey crypto.Key
	IdentityKey      crypto.Key
}

// NewKeys derives every key of a NetKey value.
func NewKeys(netKey crypto.Key) *Keys {
	return &Keys{
		NetKey:           netKey,
		Credentials:      NewCredentials(netKey, ManagedFloodingP),
		NetworkID:        crypto.K3(netKey),
		BeaconKey:        crypto.BeaconKey(netKey),
		PrivateBeaconKey: crypto.PrivateBeaconKey(netKey),
		IdentityKey:      crypto.IdentityKey(netKey),
	}
}

// NetKey is one subnet's key state: the NetKey at a 12-bit index, the new
// key while a Key Refresh runs, the phase, and the friendship credentials
// registered on it. Change it only through its Subnets.
type NetKey struct {
	index       uint16
	phase       KeyRefreshPhase
	old         *Keys // the current key; the old one during Key Refresh
	new         *Keys // nil in PhaseNormal
	friendships []*Friendship
}

// Index returns the NetKey Index.
func (k *NetKey) Index() uint16 { return k.index }

// Phase returns the Key Refresh phase (never Phase3).
func (k *NetKey) Phase() KeyRefreshPhase { return k.phase }

// Old returns the current key material, which during Key Refresh is the
// old key's.
func (k *NetKey) Old() *Keys { return k.old }

// New returns the new key material during Key Refresh phases 1 and 2, and
// nil otherwise.
func (k *NetKey) New() *Keys { return k.new }

// Tx returns the key material to transmit with: the new key's in phase 2,
// the old (current) key's otherwise (§3.10.4).
func (k *NetKey) Tx() *Keys {
	if k.phase == Phase2 {
		return k.new
	}
	return k.old
}

// Credentials returns the managed-flooding credentials to transmit with.
func (k *NetKey) Credentials() *Credentials { return k.Tx().Credentials }

// Friendships returns the friendship credentials registered on this
// subnet. The slice belongs to k.
func (k *NetKey) Friendships() []*Friendship { return k.friendships }

// Friendship holds the friendship credentials of one LPN–Friend pair on one
// subnet (§3.6.6.1): k2(NetKey, 0x01‖LPNAddress‖FriendAddress‖LPNCounter‖
// FriendCounter), for the old key and, during Key Refresh, the new key.
type Friendship struct {
	LPN           mesh.Address // SRC of the Friend Request
	Friend        mesh.Address // SRC of the Friend Offer
	LPNCounter    uint16
	FriendCounter uint16

	netKey   *NetKey
	old, new *Credentials
}

// NetKeyIndex returns the index of the subnet the credentials belong to.
func (f *Friendship) NetKeyIndex() uint16 { return f.netKey.index }

// Tx returns the friendship credentials to transmit with in the subnet's
// current Key Refresh phase.
func (f *Friendship) Tx() *Credentials {
	if f.netKey.phase == Phase2 {
		return f.new
	}
	return f.old
}

// Old returns the friendship credentials of the current (old) key.
func (f *Friendship) Old() *Credentials { return f.old }

// New returns the friendship credentials of the new key during Key
// Refresh, or nil.
func (f *Friendship) New() *Credentials { return f.new }

func (f *Friendship) p() []byte {
	return crypto.FriendshipP(uint16(f.LPN), uint16(f.Friend), f.LPNCounter, f.FriendCounter)
}

// Candidate is one set of credentials whose NID matches a received PDU.
type Candidate struct {
	NetKey      *NetKey
	Credentials *Credentials
	Friendship  *Friendship // nil: managed-flooding credentials
	NewKey      bool        // derived from the new key of a Key Refresh
}

// Subnets is the node's NetKey List with a NID index over every set of
// credentials accepted on receive. Lookups allocate nothing; changes
// rebuild the index. Methods are for the node's executor only.
type Subnets struct {
	keys  map[uint16]*NetKey
	byNID [128][]Candidate
}

// NewSubnets returns an empty NetKey List.
func NewSubnets() *Subnets { return &Subnets{keys: make(map[uint16]*NetKey)} }

func checkIndex(index uint16) error {
	if index > MaxKeyIndex {
		return fmt.Errorf("%w: 0x%x", ErrKeyIndex, index)
	}
	return nil
}

// Add stores key at index in PhaseNormal (Config NetKey Add). Adding the
// same key again at the same index is not an error and changes nothing; a
// different key there is ErrKeyExists.
func (s *Subnets) Add(index uint16, key crypto.Key) (*NetKey, error) {
	if err := checkIndex(index); err != nil {
		return nil, err
	}
	if k, ok := s.keys[index]; ok {
		if k.old.NetKey == key {
			return k, nil
		}
		return nil, fmt.Errorf("%w: 0x%03x", ErrKeyExists, index)
	}
	k := &NetKey{index: index, old: NewKeys(key)}
	s.keys[index] = k
	s.rebuild()
	return k, nil
}

// Update starts a Key Refresh with newKey (Config NetKey Update): in
// PhaseNormal the new key is stored and the subnet enters Phase1. In Phase1
// the same new key again is accepted and changes nothing; any other case is
// ErrCannotUpdate. Friendship credentials are derived for the new key too.
func (s *Subnets) Update(index uint16, newKey crypto.Key) (*NetKey, error) {
	k, err := s.lookup(index)
	if err != nil {
		return nil, err
	}
	switch {
	case k.phase == PhaseNormal:
		k.new = NewKeys(newKey)
		k.phase = Phase1
		for _, f := range k.friendships {
			f.new = NewCredentials(newKey, f.p())
		}
		s.rebuild()
		return k, nil
	case k.phase == Phase1 && k.new.NetKey == newKey:
		return k, nil
	}
	return nil, fmt.Errorf("%w: 0x%03x in %v", ErrCannotUpdate, index, k.phase)
}

// SetPhase applies a Key Refresh transition (Config Key Refresh Phase Set,
// or a Secure Network beacon's Key Refresh flag):
//
//	Phase2 from Phase1: transmit with the new key; from Phase2: no change.
//	Phase3 from Phase1 or Phase2: revoke the old key, back to PhaseNormal;
//	       from PhaseNormal: no change.
//
// Every other transition is ErrPhase. It returns the subnet's new phase.
func (s *Subnets) SetPhase(index uint16, transition KeyRefreshPhase) (KeyRefreshPhase, error) {
	k, err := s.lookup(index)
	if err != nil {
		return 0, err
	}
	switch {
	case transition == Phase2 && (k.phase == Phase1 || k.phase == Phase2):
		k.phase = Phase2
	case transition == Phase3 && k.phase == PhaseNormal:
	case transition == Phase3:
		k.old, k.new = k.new, nil
		for _, f := range k.friendships {
			f.old, f.new = f.new, nil
		}
		k.phase = PhaseNormal
		s.rebuild()
	default:
		return k.phase, fmt.Errorf("%w: %v to %v on 0x%03x", ErrPhase, k.phase, transition, index)
	}
	return k.phase, nil
}

// Delete removes the NetKey at index with its friendship credentials
// (Config NetKey Delete).
func (s *Subnets) Delete(index uint16) error {
	if _, err := s.lookup(index); err != nil {
		return err
	}
	delete(s.keys, index)
	s.rebuild()
	return nil
}

// Get returns the NetKey at index.
func (s *Subnets) Get(index uint16) (*NetKey, bool) {
	k, ok := s.keys[index]
	return k, ok
}

func (s *Subnets) lookup(index uint16) (*NetKey, error) {
	if err := checkIndex(index); err != nil {
		return nil, err
	}
	k, ok := s.keys[index]
	if !ok {
		return nil, fmt.Errorf("%w: 0x%03x", ErrUnknownNetKey, index)
	}
	return k, nil
}

// List appends the stored NetKey Indexes to dst in ascending order.
func (s *Subnets) List(dst []uint16) []uint16 {
	start := len(dst)
	for i := range s.keys {
		dst = append(dst, i)
	}
	slices.Sort(dst[start:])
	return dst
}

// Len returns the number of NetKeys.
func (s *Subnets) Len() int { return len(s.keys) }

// Candidates returns every set of credentials accepted on receive whose NID
// is nid (several NetKeys may share one; try them all), in ascending NetKey
// Index order, the transmit key first. The slice belongs to s and is valid
// until the next change.
func (s *Subnets) Candidates(nid uint8) []Candidate { return s.byNID[nid&0x7f] }

// AddFriendship derives and registers friendship credentials for an
// LPN–Friend pair on the subnet at index (for the old and, during Key
// Refresh, the new key), so that PDUs secured with them are accepted and
// delivered with Rx.Friendship set. Registering an identical pair again
// returns the existing one.
func (s *Subnets) AddFriendship(index uint16, lpn, friend mesh.Address, lpnCounter, friendCounter uint16) (*Friendship, error) {
	k, err := s.lookup(index)
	if err != nil {
		return nil, err
	}
	if !lpn.IsUnicast() || !friend.IsUnicast() {
		return nil, fmt.Errorf("%w: friendship %v–%v", ErrBadSRC, lpn, friend)
	}
	for _, f := range k.friendships {
		if f.LPN == lpn && f.Friend == friend && f.LPNCounter == lpnCounter && f.FriendCounter == friendCounter {
			return f, nil
		}
	}
	f := &Friendship{LPN: lpn, Friend: friend, LPNCounter: lpnCounter, FriendCounter: friendCounter, netKey: k}
	f.old = NewCredentials(k.old.NetKey, f.p())
	if k.new != nil {
		f.new = NewCredentials(k.new.NetKey, f.p())
	}
	k.friendships = append(k.friendships, f)
	s.rebuild()
	return f, nil
}

// RemoveFriendship forgets friendship credentials (the friendship ended).
func (s *Subnets) RemoveFriendship(f *Friendship) error {
	k, ok := s.keys[f.netKey.index]
	if ok && k == f.netKey {
		if i := slices.Index(k.friendships, f); i >= 0 {
			k.friendships = slices.Delete(k.friendships, i, i+1)
			s.rebuild()
			return nil
		}
	}
	return fmt.Errorf("%w: %v–%v on 0x%03x", ErrUnknownFriendship, f.LPN, f.Friend, f.netKey.index)
}

// rebuild recomputes the NID index, in a deterministic order.
func (s *Subnets) rebuild() {
	for i := range s.byNID {
		clear(s.byNID[i]) // drop references to deleted keys
		s.byNID[i] = s.byNID[i][:0]
	}
	add := func(c Candidate) {
		nid := c.Credentials.NID()
		s.byNID[nid] = append(s.byNID[nid], c)
	}
	for _, index := range s.List(nil) {
		k := s.keys[index]
		txNew := k.phase == Phase2
		mats := [2]struct {
			keys  *Keys
			isNew bool
		}{{k.old, false}, {k.new, true}}
		if txNew {
			mats[0], mats[1] = mats[1], mats[0]
		}
		for _, m := range mats {
			if m.keys == nil {
				continue
			}
			add(Candidate{NetKey: k, Credentials: m.keys.Credentials, NewKey: m.isNew})
			for _, f := range k.friendships {
				c := f.old
				if m.isNew {
					c = f.new
				}
				if c != nil {
					add(Candidate{NetKey: k, Credentials: c, Friendship: f, NewKey: m.isNew})
				}
			}
		}
	}
}
