package udp

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
)

// Sizes of a datagram (one AD structure of legacy advertising data, Core
// v5.4 Vol 3 Part C §11; Mesh Protocol v1.1 §3.3.1).
const (
	// MaxADData is the size of legacy advertising data.
	MaxADData = 31
	// MaxPayload is the largest PDU in one AD structure: MaxADData minus
	// the AD length and AD type octets.
	MaxPayload = MaxADData - 2
	// MaxDatagram is the largest valid datagram: AD type and payload.
	MaxDatagram = 1 + MaxPayload
)

// AppendDatagram appends the datagram carrying payload as an AD structure
// of type kind to b.
//
//	AD type (1) | payload (1–29)
func AppendDatagram(b []byte, kind mesh.ADType, payload []byte) ([]byte, error) {
	if err := checkPDU(kind, len(payload)); err != nil {
		return b, err
	}
	b = append(b, byte(kind))
	return append(b, payload...), nil
}

// ParseDatagram decodes a datagram. The payload aliases p.
func ParseDatagram(p []byte) (kind mesh.ADType, payload []byte, err error) {
	if len(p) == 0 {
		return 0, nil, ErrEmpty
	}
	kind = mesh.ADType(p[0])
	if err := checkPDU(kind, len(p)-1); err != nil {
		return 0, nil, err
	}
	return kind, p[1:], nil
}

// checkPDU checks an AD type and payload length.
func checkPDU(kind mesh.ADType, n int) error {
	switch {
	case kind != mesh.ADMessage && kind != mesh.ADBeacon:
		return fmt.Errorf("%w: %v", ErrADType, kind)
	case n == 0:
		return fmt.Errorf("%w: %v", ErrEmptyPayload, kind)
	case n > MaxPayload:
		return fmt.Errorf("%w: %v payload of %d octets, at most %d", ErrTooLong, kind, n, MaxPayload)
	}
	return nil
}
