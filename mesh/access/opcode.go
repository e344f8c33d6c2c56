package access

import (
	"encoding/binary"
	"fmt"
)

// Opcode is an access-layer opcode held in its on-air octet order: written
// big-endian in Size() octets, the value is exactly the octets on the air
// (Mesh Protocol v1.1 §3.7.3.1, Table 3.43).
//
//	0x00 – 0x7E           1 octet   0xxxxxxx (0x7F is reserved)
//	0x8000 – 0xBFFF       2 octets  10xxxxxx xxxxxxxx
//	0xC00000 – 0xFFFFFF   3 octets  11oooooo cccccccc CCCCCCCC
//
// A vendor opcode carries a 6-bit opcode o and a 16-bit Company ID sent
// little-endian: low octet c, then high octet C. So vendor opcode 0x23 of
// company 0x0136 is Opcode(0xE33601), on the air E3 36 01. Build one with
// VendorOpcode.
type Opcode uint32

// Maximum access message sizes (§3.7.3): 380 octets in 32 segments with a
// 32-bit TransMIC.
const (
	MaxMessageSize = 380
)

// VendorOpcode returns the 3-octet opcode of vendor opcode op (6 bits) of
// company cid.
func VendorOpcode(op uint8, cid uint16) Opcode {
	return Opcode(0xC00000 | uint32(op&0x3f)<<16 | uint32(cid&0xff)<<8 | uint32(cid>>8))
}

// IsVendor reports whether o is a 3-octet vendor opcode.
func (o Opcode) IsVendor() bool { return o >= 0xC00000 && o <= 0xFFFFFF }

// CompanyID returns the Company ID of a vendor opcode, or 0.
func (o Opcode) CompanyID() uint16 {
	if !o.IsVendor() {
		return 0
	}
	return uint16(o>>8&0xff) | uint16(o&0xff)<<8
}

// Size returns the number of octets of o on the air: 1, 2 or 3, or 0 when o
// is not a valid opcode (0x7F, 0x80–0x7FFF, 0xC000–0xBFFFFF, above
// 0xFFFFFF).
func (o Opcode) Size() int {
	switch {
	case o <= 0x7e:
		return 1
	case o >= 0x8000 && o <= 0xbfff:
		return 2
	case o.IsVendor():
		return 3
	}
	return 0
}

// String prints o as hex in its on-air octets, e.g. "0x8003", "0xe33601".
func (o Opcode) String() string {
	switch o.Size() {
	case 1:
		return fmt.Sprintf("0x%02x", uint32(o))
	case 2:
		return fmt.Sprintf("0x%04x", uint32(o))
	case 3:
		return fmt.Sprintf("0x%06x", uint32(o))
	}
	return fmt.Sprintf("Opcode(0x%x)", uint32(o))
}

// AppendOpcode appends the on-air octets of o to b.
func AppendOpcode(b []byte, o Opcode) ([]byte, error) {
	switch o.Size() {
	case 1:
		return append(b, byte(o)), nil
	case 2:
		return binary.BigEndian.AppendUint16(b, uint16(o)), nil
	case 3:
		return append(b, byte(o>>16), byte(o>>8), byte(o)), nil
	}
	return b, fmt.Errorf("%w: %s cannot be encoded", ErrOpcode, o)
}

// DecodeOpcode splits an access message into its opcode and parameters.
// params aliases p.
func DecodeOpcode(p []byte) (Opcode, []byte, error) {
	if len(p) == 0 {
		return 0, nil, fmt.Errorf("%w: empty access message", ErrLength)
	}
	b := p[0]
	var n int
	switch {
	case b == 0x7f:
		return 0, nil, fmt.Errorf("%w: opcode octet 0x7f", ErrRFU)
	case b < 0x80:
		n = 1
	case b < 0xc0:
		n = 2
	default:
		n = 3
	}
	if len(p) < n {
		return 0, nil, fmt.Errorf("%w: %d-octet opcode in %d octets", ErrLength, n, len(p))
	}
	var o Opcode
	for _, c := range p[:n] {
		o = o<<8 | Opcode(c)
	}
	return o, p[n:], nil
}
