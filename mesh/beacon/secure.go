package beacon

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// SecureNetworkLen is the length of a Secure Network beacon including its
// type octet.
const SecureNetworkLen = 22

// SecureNetwork is the Secure Network beacon (type 0x01, Mesh Protocol v1.1
// §3.10.3). On air, big-endian, 22 octets with the type:
//
//	Type 0x01 (1) | Flags (1) | Network ID (8) | IV Index (4) | Authentication Value (8)
//
// Authentication Value is the first 8 octets of
// AES-CMAC_BeaconKey(Flags ‖ Network ID ‖ IV Index).
type SecureNetwork struct {
	Flags     Flags
	NetworkID [8]byte
	IVIndex   uint32
	Auth      [8]byte
}

// authValue computes the Authentication Value under beaconKey.
func (b *SecureNetwork) authValue(beaconKey crypto.Key) (v [8]byte) {
	var in [13]byte
	in[0] = byte(b.Flags)
	copy(in[1:9], b.NetworkID[:])
	binary.BigEndian.PutUint32(in[9:], b.IVIndex)
	mac := crypto.AESCMAC(beaconKey, in[:])
	copy(v[:], mac[:8])
	return v
}

// Authenticate sets Auth to the Authentication Value under beaconKey (the
// subnet's BeaconKey, crypto.BeaconKey of its NetKey).
func (b *SecureNetwork) Authenticate(beaconKey crypto.Key) {
	b.Auth = b.authValue(beaconKey)
}

// Verify checks Auth under beaconKey; it returns an error wrapping ErrAuth
// when it does not match. It does not compare the Network ID: callers pick
// the candidate keys by Network ID first.
func (b *SecureNetwork) Verify(beaconKey crypto.Key) error {
	want := b.authValue(beaconKey)
	if subtle.ConstantTimeCompare(want[:], b.Auth[:]) != 1 {
		return fmt.Errorf("%w: secure network beacon (IV Index 0x%08x, flags %v)", ErrAuth, b.IVIndex, b.Flags)
	}
	return nil
}

// AppendBinary appends the beacon, type octet first, to p.
func (b *SecureNetwork) AppendBinary(p []byte) ([]byte, error) {
	p = append(p, byte(TypeSecureNetwork), byte(b.Flags))
	p = append(p, b.NetworkID[:]...)
	p = binary.BigEndian.AppendUint32(p, b.IVIndex)
	return append(p, b.Auth[:]...), nil
}

// Marshal returns the 22-octet beacon.
func (b *SecureNetwork) Marshal() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, SecureNetworkLen))
}

// Unmarshal decodes a Secure Network beacon (type octet first). It checks
// the length, type and RFU flag bits, not the authentication value. It does
// not retain p.
func (b *SecureNetwork) Unmarshal(p []byte) error {
	if len(p) != SecureNetworkLen {
		return fmt.Errorf("%w: secure network beacon has %d octets, want %d", ErrLength, len(p), SecureNetworkLen)
	}
	if Type(p[0]) != TypeSecureNetwork {
		return fmt.Errorf("%w: %v, want secure network beacon", ErrType, Type(p[0]))
	}
	f := Flags(p[1])
	if f&flagsRFU != 0 {
		return fmt.Errorf("%w: secure network beacon flags 0x%02x", ErrRFU, uint8(f))
	}
	b.Flags = f
	copy(b.NetworkID[:], p[2:10])
	b.IVIndex = binary.BigEndian.Uint32(p[10:14])
	copy(b.Auth[:], p[14:22])
	return nil
}
