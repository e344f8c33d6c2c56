package config

import (
	"fmt"
	"maps"
	"slices"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// NetKey is one entry of a node's NetKey List.
type NetKey struct {
	Key   [16]byte
	New   *[16]byte // the new key during Key Refresh (Phase 1 and 2)
	Phase uint8     // Key Refresh Phase: 0 normal, 1, 2
}

// AppKey is one entry of a node's AppKey List, bound to one NetKey.
type AppKey struct {
	NetKeyIndex uint16
	Key         [16]byte
	New         *[16]byte // the new key during Key Refresh, after AppKey Update
}

// Features holds the node-wide states the Configuration Server sets.
type Features struct {
	DefaultTTL      uint8         // 0x00 or 0x02–0x7F
	NetworkTransmit mesh.Transmit // Network Transmit state
	Relay           FeatureState  // Relay state
	RelayRetransmit mesh.Transmit // Relay Retransmit state
	Beacon          bool          // Secure Network Beacon state
}

// NodeState is what the Configuration Server needs from the node besides
// the access.Layer (which holds models, bindings, subscriptions and
// publication). The Server decides every status itself from these reads;
// the setters only store, and apply side effects (derive NID, AID and
// beacon keys; start or stop beacons; change transmit parameters).
//
// Setters return ErrInsufficientResources (wrapped or not) when there is no
// room, or another error for a storage failure. Delete of a missing index
// is a no-op.
type NodeState interface {
	NetKey(idx uint16) (NetKey, bool)
	NetKeyIndexes() []uint16 // ascending
	SetNetKey(idx uint16, k NetKey) error
	DeleteNetKey(idx uint16)

	AppKey(idx uint16) (AppKey, bool)
	AppKeyIndexes() []uint16 // ascending, all NetKeys
	SetAppKey(idx uint16, k AppKey) error
	DeleteAppKey(idx uint16)

	Features() Features
	SetFeatures(f Features) error

	// Reset runs after the Node Reset Status has been sent: the node
	// forgets its keys and addresses and becomes unprovisioned.
	Reset()
}

// Default limits of MemoryState.
const (
	DefaultMaxNetKeys = 4
	DefaultMaxAppKeys = 8
)

// DefaultFeatures are the Features of a new MemoryState: Default TTL 7,
// three network transmissions 20 ms apart, relay disabled with the same
// retransmit, beacons on.
var DefaultFeatures = Features{
	DefaultTTL:      access.DefaultTTLValue,
	NetworkTransmit: mesh.DefaultNetworkTransmit,
	Relay:           FeatureDisabled,
	RelayRetransmit: mesh.DefaultNetworkTransmit,
	Beacon:          true,
}

// MemoryState is a NodeState in memory. Set the exported fields before
// use; the zero value works with the default limits and zero Features (use
// NewMemoryState for DefaultFeatures).
type MemoryState struct {
	MaxNetKeys, MaxAppKeys int    // 0: DefaultMaxNetKeys, DefaultMaxAppKeys
	OnReset                func() // optional, run by Reset after clearing
	OnChange               func() // optional, run after every successful setter

	netKeys  map[uint16]NetKey
	appKeys  map[uint16]AppKey
	features Features
}

var _ NodeState = (*MemoryState)(nil)

// NewMemoryState returns a MemoryState with DefaultFeatures.
func NewMemoryState() *MemoryState { return &MemoryState{features: DefaultFeatures} }

func (s *MemoryState) changed() {
	if s.OnChange != nil {
		s.OnChange()
	}
}

// NetKey implements NodeState.
func (s *MemoryState) NetKey(idx uint16) (NetKey, bool) { k, ok := s.netKeys[idx]; return k, ok }

// NetKeyIndexes implements NodeState.
func (s *MemoryState) NetKeyIndexes() []uint16 { return slices.Sorted(maps.Keys(s.netKeys)) }

// SetNetKey implements NodeState.
func (s *MemoryState) SetNetKey(idx uint16, k NetKey) error {
	limit := s.MaxNetKeys
	if limit == 0 {
		limit = DefaultMaxNetKeys
	}
	if _, ok := s.netKeys[idx]; !ok && len(s.netKeys) >= limit {
		return fmt.Errorf("%w: %d NetKeys", ErrInsufficientResources, limit)
	}
	if s.netKeys == nil {
		s.netKeys = map[uint16]NetKey{}
	}
	s.netKeys[idx] = k
	s.changed()
	return nil
}

// DeleteNetKey implements NodeState.
func (s *MemoryState) DeleteNetKey(idx uint16) { delete(s.netKeys, idx); s.changed() }

// AppKey implements NodeState.
func (s *MemoryState) AppKey(idx uint16) (AppKey, bool) { k, ok := s.appKeys[idx]; return k, ok }

// AppKeyIndexes implements NodeState.
func (s *MemoryState) AppKeyIndexes() []uint16 { return slices.Sorted(maps.Keys(s.appKeys)) }

// SetAppKey implements NodeState.
func (s *MemoryState) SetAppKey(idx uint16, k AppKey) error {
	limit := s.MaxAppKeys
	if limit == 0 {
		limit = DefaultMaxAppKeys
	}
	if _, ok := s.appKeys[idx]; !ok && len(s.appKeys) >= limit {
		return fmt.Errorf("%w: %d AppKeys", ErrInsufficientResources, limit)
	}
	if s.appKeys == nil {
		s.appKeys = map[uint16]AppKey{}
	}
	s.appKeys[idx] = k
	s.changed()
	return nil
}

// DeleteAppKey implements NodeState.
func (s *MemoryState) DeleteAppKey(idx uint16) { delete(s.appKeys, idx); s.changed() }

// Features implements NodeState.
func (s *MemoryState) Features() Features { return s.features }

// SetFeatures implements NodeState.
func (s *MemoryState) SetFeatures(f Features) error { s.features = f; s.changed(); return nil }

// Reset implements NodeState: it forgets all keys, restores
// DefaultFeatures and runs OnReset.
func (s *MemoryState) Reset() {
	s.netKeys, s.appKeys, s.features = nil, nil, DefaultFeatures
	if s.OnReset != nil {
		s.OnReset()
	}
}
