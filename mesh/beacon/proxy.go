package beacon

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// IdentificationType is the first octet of Mesh Proxy Service data (Mesh
// Protocol v1.1 §7.2.2.2).
type IdentificationType uint8

// Identification types; 0x04–0xFF are RFU.
const (
	IDNetworkID              IdentificationType = 0x00
	IDNodeIdentity           IdentificationType = 0x01
	IDPrivateNetworkIdentity IdentificationType = 0x02
	IDPrivateNodeIdentity    IdentificationType = 0x03
)

// String names the identification type.
func (t IdentificationType) String() string {
	switch t {
	case IDNetworkID:
		return "network-id"
	case IDNodeIdentity:
		return "node-identity"
	case IDPrivateNetworkIdentity:
		return "private-network-identity"
	case IDPrivateNodeIdentity:
		return "private-node-identity"
	}
	return fmt.Sprintf("IdentificationType(0x%02x)", uint8(t))
}

// MeshProxyUUID is the 16-bit UUID of the Mesh Proxy Service, 0x1828.
const MeshProxyUUID uint16 = 0x1828

// adServiceData16 is the AD type «Service Data - 16-bit UUID».
const adServiceData16 = 0x16

// Lengths of Mesh Proxy Service data (after the UUID).
const (
	NetworkIDDataLen = 9  // type + Network ID
	IdentityDataLen  = 17 // type + Hash + Random
)

// ServiceData is the Service Data of a Mesh Proxy Service advertisement
// (Mesh Protocol v1.1 §7.2.2.2), after the 16-bit UUID:
//
//	0x00 Network ID:               Type (1) | Network ID (8)
//	0x01 Node Identity:            Type (1) | Hash (8) | Random (8)
//	0x02 Private Network Identity: Type (1) | Hash (8) | Random (8)
//	0x03 Private Node Identity:    Type (1) | Hash (8) | Random (8)
//
// Each Hash is the last 8 octets of e(IdentityKey, plaintext), with
// plaintexts (confirmed by the §8.6 sample data):
//
//	Node Identity:            0x0000000000 00 (6 zero octets) ‖ Random ‖ Address
//	Private Network Identity: Network ID ‖ Random
//	Private Node Identity:    0x0000000000 (5 zero octets) ‖ 0x03 ‖ Random ‖ Address
type ServiceData struct {
	Type      IdentificationType
	NetworkID [8]byte // IDNetworkID only
	Hash      [8]byte // identity types only
	Random    [8]byte // identity types only
}

// NetworkIDData returns Network ID service data.
func NetworkIDData(networkID [8]byte) ServiceData {
	return ServiceData{Type: IDNetworkID, NetworkID: networkID}
}

// NodeIdentityData returns Node Identity service data for the node whose
// primary element address is addr.
func NodeIdentityData(identityKey crypto.Key, random [8]byte, addr mesh.Address) ServiceData {
	return ServiceData{Type: IDNodeIdentity, Hash: nodeHash(identityKey, 0x00, random, addr), Random: random}
}

// PrivateNetworkIdentityData returns Private Network Identity service data.
func PrivateNetworkIdentityData(identityKey crypto.Key, networkID, random [8]byte) ServiceData {
	return ServiceData{Type: IDPrivateNetworkIdentity, Hash: networkHash(identityKey, networkID, random), Random: random}
}

// PrivateNodeIdentityData returns Private Node Identity service data.
func PrivateNodeIdentityData(identityKey crypto.Key, random [8]byte, addr mesh.Address) ServiceData {
	return ServiceData{Type: IDPrivateNodeIdentity, Hash: nodeHash(identityKey, 0x03, random, addr), Random: random}
}

func nodeHash(identityKey crypto.Key, kind byte, random [8]byte, addr mesh.Address) (h [8]byte) {
	var in [16]byte
	in[5] = kind
	copy(in[6:14], random[:])
	binary.BigEndian.PutUint16(in[14:], uint16(addr))
	out := crypto.AES(identityKey, in)
	copy(h[:], out[8:])
	return h
}

func networkHash(identityKey crypto.Key, networkID, random [8]byte) (h [8]byte) {
	var in [16]byte
	copy(in[:8], networkID[:])
	copy(in[8:], random[:])
	out := crypto.AES(identityKey, in)
	copy(h[:], out[8:])
	return h
}

// MatchNode reports whether Node Identity or Private Node Identity data
// identifies the node at addr under identityKey.
func (s *ServiceData) MatchNode(identityKey crypto.Key, addr mesh.Address) bool {
	var want [8]byte
	switch s.Type {
	case IDNodeIdentity:
		want = nodeHash(identityKey, 0x00, s.Random, addr)
	case IDPrivateNodeIdentity:
		want = nodeHash(identityKey, 0x03, s.Random, addr)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(want[:], s.Hash[:]) == 1
}

// MatchNetwork reports whether Network ID or Private Network Identity data
// identifies the subnet with networkID (and identityKey, for the private form).
func (s *ServiceData) MatchNetwork(identityKey crypto.Key, networkID [8]byte) bool {
	switch s.Type {
	case IDNetworkID:
		return s.NetworkID == networkID
	case IDPrivateNetworkIdentity:
		want := networkHash(identityKey, networkID, s.Random)
		return subtle.ConstantTimeCompare(want[:], s.Hash[:]) == 1
	}
	return false
}

// AppendBinary appends the service data (identification type first, no
// UUID) to p. It fails with ErrType for an RFU identification type.
func (s *ServiceData) AppendBinary(p []byte) ([]byte, error) {
	switch s.Type {
	case IDNetworkID:
		p = append(p, byte(s.Type))
		return append(p, s.NetworkID[:]...), nil
	case IDNodeIdentity, IDPrivateNetworkIdentity, IDPrivateNodeIdentity:
		p = append(p, byte(s.Type))
		p = append(p, s.Hash[:]...)
		return append(p, s.Random[:]...), nil
	}
	return p, fmt.Errorf("%w: %v", ErrType, s.Type)
}

// Marshal returns the service data (no UUID).
func (s *ServiceData) Marshal() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, IdentityDataLen))
}

// Unmarshal decodes service data (identification type first, no UUID).
// It does not retain p.
func (s *ServiceData) Unmarshal(p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty mesh proxy service data", ErrLength)
	}
	t := IdentificationType(p[0])
	*s = ServiceData{Type: t}
	switch t {
	case IDNetworkID:
		if len(p) != NetworkIDDataLen {
			return fmt.Errorf("%w: %v service data has %d octets, want %d", ErrLength, t, len(p), NetworkIDDataLen)
		}
		copy(s.NetworkID[:], p[1:9])
	case IDNodeIdentity, IDPrivateNetworkIdentity, IDPrivateNodeIdentity:
		if len(p) != IdentityDataLen {
			return fmt.Errorf("%w: %v service data has %d octets, want %d", ErrLength, t, len(p), IdentityDataLen)
		}
		copy(s.Hash[:], p[1:9])
		copy(s.Random[:], p[9:17])
	default:
		return fmt.Errorf("%w: RFU %v", ErrType, t)
	}
	return nil
}

// AppendAD appends the complete AD structure to p:
//
//	Length (1) | AD type 0x16 | UUID 0x1828 (2, little-endian) | service data
func (s *ServiceData) AppendAD(p []byte) ([]byte, error) {
	start := len(p)
	p = append(p, 0, adServiceData16)
	p = binary.LittleEndian.AppendUint16(p, MeshProxyUUID)
	p, err := s.AppendBinary(p)
	if err != nil {
		return p[:start], err
	}
	p[start] = byte(len(p) - start - 1)
	return p, nil
}

// UnmarshalAD decodes one complete Service Data AD structure carrying the
// Mesh Proxy Service UUID; the Length octet must cover exactly the rest of p.
func (s *ServiceData) UnmarshalAD(p []byte) error {
	if len(p) < 4 {
		return fmt.Errorf("%w: service data AD has %d octets, want at least 4", ErrLength, len(p))
	}
	if int(p[0]) != len(p)-1 {
		return fmt.Errorf("%w: AD length octet %d, have %d octets after it", ErrLength, p[0], len(p)-1)
	}
	if p[1] != adServiceData16 {
		return fmt.Errorf("%w: AD type 0x%02x, want service data 0x16", ErrType, p[1])
	}
	if u := binary.LittleEndian.Uint16(p[2:4]); u != MeshProxyUUID {
		return fmt.Errorf("%w: service UUID 0x%04x, want 0x%04x", ErrType, u, MeshProxyUUID)
	}
	return s.Unmarshal(p[4:])
}
