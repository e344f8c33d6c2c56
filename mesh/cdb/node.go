package cdb

import (
	"encoding/json"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Node is an entry of nodes.
type Node struct {
	UUID                UUID      `json:"UUID"`
	UnicastAddress      Address   `json:"unicastAddress"`
	DeviceKey           *Key      `json:"deviceKey,omitempty"`
	Security            Security  `json:"security,omitempty"`
	NetKeys             []NodeKey `json:"netKeys"`
	AppKeys             []NodeKey `json:"appKeys"`
	ConfigComplete      bool      `json:"configComplete"`
	Name                string    `json:"name,omitempty"`
	CID                 *Hex16    `json:"cid,omitempty"`
	PID                 *Hex16    `json:"pid,omitempty"`
	VID                 *Hex16    `json:"vid,omitempty"`
	CRPL                *Hex16    `json:"crpl,omitempty"`
	Features            *Features `json:"features,omitempty"`
	SecureNetworkBeacon *bool     `json:"secureNetworkBeacon,omitempty"`
	DefaultTTL          *int      `json:"defaultTTL,omitempty"`
	NetworkTransmit     *Transmit `json:"networkTransmit,omitempty"`
	RelayRetransmit     *Transmit `json:"relayRetransmit,omitempty"`
	Elements            []Element `json:"elements"`
	Excluded            bool      `json:"excluded"`
	// HeartbeatPub and HeartbeatSub are kept as read.
	HeartbeatPub json.RawMessage `json:"heartbeatPub,omitempty"`
	HeartbeatSub json.RawMessage `json:"heartbeatSub,omitempty"`
}

// UnmarshalJSON accepts the older "blacklisted" for "excluded" (and, by
// encoding/json's case folding, bluez's "uuid" for "UUID").
func (n *Node) UnmarshalJSON(b []byte) error {
	type plain Node
	var raw struct {
		plain
		Blacklisted bool `json:"blacklisted"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*n = Node(raw.plain)
	n.Excluded = n.Excluded || raw.Blacklisted
	return nil
}

// NodeKey is a key index a node knows; Updated is true once the node has
// the new key of a Key Refresh.
type NodeKey struct {
	Index   uint16 `json:"index"`
	Updated bool   `json:"updated"`
}

// FeatureState is a node feature's state in features.
type FeatureState int

// Feature states.
const (
	FeatureDisabled    FeatureState = 0
	FeatureEnabled     FeatureState = 1
	FeatureUnsupported FeatureState = 2
)

// Features is a node's features; a nil field was not recorded.
type Features struct {
	Relay    *FeatureState `json:"relay,omitempty"`
	Proxy    *FeatureState `json:"proxy,omitempty"`
	Friend   *FeatureState `json:"friend,omitempty"`
	LowPower *FeatureState `json:"lowPower,omitempty"`
}

// Transmit is networkTransmit or relayRetransmit: Count transmissions
// (1–8), Interval milliseconds apart (10–320, steps of 10).
type Transmit struct {
	Count    int `json:"count"`
	Interval int `json:"interval"`
}

// Mesh converts to the wire Network Transmit / Relay Retransmit state.
func (t Transmit) Mesh() mesh.Transmit {
	return mesh.Transmit{Count: uint8(max(t.Count-1, 0)), IntervalSteps: uint8(max(t.Interval/10-1, 0))}
}

// Element is an entry of a node's elements; its address is the node's
// unicastAddress + Index.
type Element struct {
	Name     string  `json:"name,omitempty"`
	Index    int     `json:"index"`
	Location Hex16   `json:"location"`
	Models   []Model `json:"models"`
}

// Model is an entry of an element's models.
type Model struct {
	ModelID   ModelID  `json:"modelId"`
	Subscribe []Target `json:"subscribe"`
	Bind      []uint16 `json:"bind"`
	Publish   *Publish `json:"publish,omitempty"`
}

// Publish is a model's publication.
type Publish struct {
	Address     Target     `json:"address"`
	Index       uint16     `json:"index"` // AppKey index
	TTL         int        `json:"ttl"`   // 0–127, or 255 for the node's Default TTL
	Period      Period     `json:"period"`
	Credentials int        `json:"credentials"` // 0 managed flooding, 1 friendship
	Retransmit  Retransmit `json:"retransmit"`
}

// Period is a publish period: NumberOfSteps (0–63) × Resolution ms (100,
// 1000, 10000 or 600000). Very old files wrote one integer of
// milliseconds, which is read into the finest resolution that holds it.
type Period struct {
	NumberOfSteps int `json:"numberOfSteps"`
	Resolution    int `json:"resolution"`
}

// Resolutions of a publish period, in milliseconds.
var periodResolutions = []int{100, 1000, 10000, 600000}

// UnmarshalJSON reads the object form or the old integer form.
func (p *Period) UnmarshalJSON(b []byte) error {
	var ms int
	if err := json.Unmarshal(b, &ms); err == nil {
		for _, r := range periodResolutions {
			if ms%r == 0 && ms/r <= 63 {
				*p = Period{NumberOfSteps: ms / r, Resolution: r}
				return nil
			}
		}
		return fmt.Errorf("%w: publish period %d ms is not a step count of a resolution", ErrSyntax, ms)
	}
	type plain Period
	return json.Unmarshal(b, (*plain)(p))
}

// Retransmit is a publication's retransmission: Count (0–7) extra
// transmissions, Interval ms apart (50–1600, steps of 50).
type Retransmit struct {
	Count    int `json:"count"`
	Interval int `json:"interval"`
}

// ElementCount returns the number of elements (at least 1: a node whose
// composition is not yet known still has its primary element).
func (n *Node) ElementCount() int { return max(len(n.Elements), 1) }

// Owns reports whether addr is one of the node's element addresses.
func (n *Node) Owns(addr mesh.Address) bool {
	lo := mesh.Address(n.UnicastAddress)
	return addr >= lo && int(addr) < int(lo)+n.ElementCount()
}

// DevKey returns the node's device key, or ErrNoKey.
func (n *Node) DevKey() (crypto.Key, error) {
	if n.DeviceKey == nil {
		return crypto.Key{}, fmt.Errorf("%w: device key of node %v", ErrNoKey, n.UnicastAddress.Mesh())
	}
	return crypto.Key(*n.DeviceKey), nil
}

// Node returns the node that owns addr (its primary or any element
// address), or nil.
func (d *Database) Node(addr mesh.Address) *Node {
	for _, n := range d.Nodes {
		if n.Owns(addr) {
			return n
		}
	}
	return nil
}

// NodeByUUID returns the node with the device UUID, or nil.
func (d *Database) NodeByUUID(u UUID) *Node {
	for _, n := range d.Nodes {
		if n.UUID == u {
			return n
		}
	}
	return nil
}

// NetKey returns the current key of NetKey Index idx.
func (d *Database) NetKey(idx uint16) (crypto.Key, error) {
	for _, k := range d.NetKeys {
		if k.Index == idx {
			if k.Key == nil {
				return crypto.Key{}, fmt.Errorf("%w: netKey %d", ErrNoKey, idx)
			}
			return crypto.Key(*k.Key), nil
		}
	}
	return crypto.Key{}, fmt.Errorf("%w: netKey %d", ErrNotFound, idx)
}

// AppKey returns the current key of AppKey Index idx and the NetKey Index
// it is bound to.
func (d *Database) AppKey(idx uint16) (key crypto.Key, boundNetKey uint16, err error) {
	for _, k := range d.AppKeys {
		if k.Index == idx {
			if k.Key == nil {
				return crypto.Key{}, k.BoundNetKey, fmt.Errorf("%w: appKey %d", ErrNoKey, idx)
			}
			return crypto.Key(*k.Key), k.BoundNetKey, nil
		}
	}
	return crypto.Key{}, 0, fmt.Errorf("%w: appKey %d", ErrNotFound, idx)
}

// emptyIfNil returns s, or an empty non-nil slice: the schema wants every
// list present, so lists are written as [] rather than null.
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MarshalJSON writes absent lists as [].
func (n Node) MarshalJSON() ([]byte, error) {
	type plain Node
	n.NetKeys, n.AppKeys, n.Elements = emptyIfNil(n.NetKeys), emptyIfNil(n.AppKeys), emptyIfNil(n.Elements)
	return json.Marshal(plain(n))
}

// MarshalJSON writes absent lists as [].
func (e Element) MarshalJSON() ([]byte, error) {
	type plain Element
	e.Models = emptyIfNil(e.Models)
	return json.Marshal(plain(e))
}

// MarshalJSON writes absent lists as [].
func (m Model) MarshalJSON() ([]byte, error) {
	type plain Model
	m.Subscribe, m.Bind = emptyIfNil(m.Subscribe), emptyIfNil(m.Bind)
	return json.Marshal(plain(m))
}

// MarshalJSON writes absent lists as [].
func (p Provisioner) MarshalJSON() ([]byte, error) {
	type plain Provisioner
	p.AllocatedUnicastRange = emptyIfNil(p.AllocatedUnicastRange)
	p.AllocatedGroupRange = emptyIfNil(p.AllocatedGroupRange)
	p.AllocatedSceneRange = emptyIfNil(p.AllocatedSceneRange)
	return json.Marshal(plain(p))
}

// MarshalJSON writes absent lists as [].
func (s Scene) MarshalJSON() ([]byte, error) {
	type plain Scene
	s.Addresses = emptyIfNil(s.Addresses)
	return json.Marshal(plain(s))
}
