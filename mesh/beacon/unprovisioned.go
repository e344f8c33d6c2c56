package beacon

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Lengths of the Unprovisioned Device beacon including its type octet.
const (
	UnprovisionedLen        = 19 // without URI Hash
	UnprovisionedWithURILen = 23 // with URI Hash
)

// OOBURI is the OOB Information bit that says a URI is advertised (Mesh
// Protocol v1.1 §3.9.2, OOB Information bit 1 "Electronic / URI").
const OOBURI uint16 = 1 << 1

// Unprovisioned is the Unprovisioned Device beacon (type 0x00, Mesh
// Protocol v1.1 §3.10.2). On air, big-endian:
//
//	Type 0x00 (1) | Device UUID (16) | OOB Information (2) [| URI Hash (4)]
//
// URI Hash is the first 4 octets of s1(URI data), present when the device
// also advertises a URI.
type Unprovisioned struct {
	UUID       [16]byte
	OOBInfo    uint16
	HasURIHash bool
	URIHash    [4]byte
}

// URIHash returns the URI Hash of a URI AD's data (the URI with its
// scheme-name code point, e.g. 0x17 for "https:"): the first 4 octets of
// s1(uriData).
func URIHash(uriData []byte) (h [4]byte) {
	s := crypto.S1(uriData)
	copy(h[:], s[:4])
	return h
}

// AppendBinary appends the beacon, type octet first, to p.
func (b *Unprovisioned) AppendBinary(p []byte) ([]byte, error) {
	p = append(p, byte(TypeUnprovisioned))
	p = append(p, b.UUID[:]...)
	p = binary.BigEndian.AppendUint16(p, b.OOBInfo)
	if b.HasURIHash {
		p = append(p, b.URIHash[:]...)
	}
	return p, nil
}

// Marshal returns the 19- or 23-octet beacon.
func (b *Unprovisioned) Marshal() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, UnprovisionedWithURILen))
}

// Unmarshal decodes an Unprovisioned Device beacon (type octet first): 19
// octets, or 23 with a URI Hash. It does not retain p.
func (b *Unprovisioned) Unmarshal(p []byte) error {
	if len(p) != UnprovisionedLen && len(p) != UnprovisionedWithURILen {
		return fmt.Errorf("%w: unprovisioned device beacon has %d octets, want %d or %d",
			ErrLength, len(p), UnprovisionedLen, UnprovisionedWithURILen)
	}
	if Type(p[0]) != TypeUnprovisioned {
		return fmt.Errorf("%w: %v, want unprovisioned device beacon", ErrType, Type(p[0]))
	}
	copy(b.UUID[:], p[1:17])
	b.OOBInfo = binary.BigEndian.Uint16(p[17:19])
	b.HasURIHash = len(p) == UnprovisionedWithURILen
	b.URIHash = [4]byte{}
	if b.HasURIHash {
		copy(b.URIHash[:], p[19:23])
	}
	return nil
}
