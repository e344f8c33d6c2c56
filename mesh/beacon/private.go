package beacon

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// PrivateLen is the length of a Mesh Private beacon including its type octet.
const PrivateLen = 27

// Private is the Mesh Private beacon (type 0x02, Mesh Protocol v1.1
// §3.10.4). On air, 27 octets with the type:
//
//	Type 0x02 (1) | Random (13) | Obfuscated_Private_Beacon_Data (5) | Authentication_Tag (8)
//
// The Private Beacon Data is Flags (1) ‖ IV Index (4, big-endian). The
// obfuscation and tag are exactly AES-CCM under the PrivateBeaconKey with
// Random as the 13-octet nonce, no additional data and an 8-octet MIC:
// B0 = 0x19‖Random‖0x0005, counter blocks 0x01‖Random‖i (fact sheet §8).
type Private struct {
	Random         [13]byte
	ObfuscatedData [5]byte
	AuthTag        [8]byte
}

// NewPrivate builds a Mesh Private beacon carrying flags and ivIndex,
// obfuscated and authenticated under privateBeaconKey (crypto.PrivateBeaconKey
// of the subnet's NetKey) with random. Callers draw random from their
// injected randomness and renew it per the Random Update Interval and on
// every change of flags or IV Index.
func NewPrivate(privateBeaconKey crypto.Key, random [13]byte, flags Flags, ivIndex uint32) Private {
	var data [5]byte
	data[0] = byte(flags)
	binary.BigEndian.PutUint32(data[1:], ivIndex)
	var out [13]byte
	sealed, err := crypto.NewCCM(privateBeaconKey).Seal(out[:0], &random, data[:], nil, 8)
	if err != nil {
		panic("beacon: private beacon CCM: " + err.Error()) // 8-octet MIC is always valid
	}
	b := Private{Random: random}
	copy(b.ObfuscatedData[:], sealed[:5])
	copy(b.AuthTag[:], sealed[5:13])
	return b
}

// Decrypt verifies the Authentication Tag under privateBeaconKey and returns
// the de-obfuscated flags and IV Index. It returns an error wrapping ErrAuth
// when the tag does not verify, and ErrRFU when the flags carry RFU bits.
func (b *Private) Decrypt(privateBeaconKey crypto.Key) (Flags, uint32, error) {
	var in [13]byte
	copy(in[:5], b.ObfuscatedData[:])
	copy(in[5:], b.AuthTag[:])
	var out [5]byte
	plain, err := crypto.NewCCM(privateBeaconKey).Open(out[:0], &b.Random, in[:], nil, 8)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: mesh private beacon: %v", ErrAuth, err)
	}
	f := Flags(plain[0])
	if f&flagsRFU != 0 {
		return 0, 0, fmt.Errorf("%w: mesh private beacon flags 0x%02x", ErrRFU, uint8(f))
	}
	return f, binary.BigEndian.Uint32(plain[1:5]), nil
}

// AppendBinary appends the beacon, type octet first, to p.
func (b *Private) AppendBinary(p []byte) ([]byte, error) {
	p = append(p, byte(TypePrivate))
	p = append(p, b.Random[:]...)
	p = append(p, b.ObfuscatedData[:]...)
	return append(p, b.AuthTag[:]...), nil
}

// Marshal returns the 27-octet beacon.
func (b *Private) Marshal() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, PrivateLen))
}

// Unmarshal decodes a Mesh Private beacon (type octet first). It checks
// length and type; the tag is checked by Decrypt. It does not retain p.
func (b *Private) Unmarshal(p []byte) error {
	if len(p) != PrivateLen {
		return fmt.Errorf("%w: mesh private beacon has %d octets, want %d", ErrLength, len(p), PrivateLen)
	}
	if Type(p[0]) != TypePrivate {
		return fmt.Errorf("%w: %v, want mesh private beacon", ErrType, Type(p[0]))
	}
	copy(b.Random[:], p[1:14])
	copy(b.ObfuscatedData[:], p[14:19])
	copy(b.AuthTag[:], p[19:27])
	return nil
}
