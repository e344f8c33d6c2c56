package beacon

import (
	"fmt"
	"strings"
)

// Type is the Beacon Type octet that starts every Mesh Beacon (Mesh
// Protocol v1.1 §3.10).
type Type uint8

// Beacon types.
const (
	TypeUnprovisioned Type = 0x00 // Unprovisioned Device beacon
	TypeSecureNetwork Type = 0x01 // Secure Network beacon
	TypePrivate       Type = 0x02 // Mesh Private beacon (v1.1)
)

// String names the beacon type.
func (t Type) String() string {
	switch t {
	case TypeUnprovisioned:
		return "unprovisioned"
	case TypeSecureNetwork:
		return "secure-network"
	case TypePrivate:
		return "private"
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// PayloadType returns the type octet of a beacon payload (the octets after
// the AD type 0x2B), or an error wrapping ErrLength if p is empty.
func PayloadType(p []byte) (Type, error) {
	if len(p) == 0 {
		return 0, fmt.Errorf("%w: empty beacon", ErrLength)
	}
	return Type(p[0]), nil
}

// Flags is the Flags octet of Secure Network and Mesh Private beacons:
//
//	bit 0  Key Refresh Flag (1: Key Refresh phase 2 in progress)
//	bit 1  IV Update Flag   (1: IV Update in progress)
//	bits 2–7 RFU
type Flags uint8

// Flag bits.
const (
	FlagKeyRefresh Flags = 1 << 0
	FlagIVUpdate   Flags = 1 << 1
	flagsRFU       Flags = 0xfc
)

// MakeFlags builds a Flags octet.
func MakeFlags(keyRefresh, ivUpdate bool) Flags {
	var f Flags
	if keyRefresh {
		f |= FlagKeyRefresh
	}
	if ivUpdate {
		f |= FlagIVUpdate
	}
	return f
}

// KeyRefresh reports the Key Refresh flag.
func (f Flags) KeyRefresh() bool { return f&FlagKeyRefresh != 0 }

// IVUpdate reports the IV Update flag.
func (f Flags) IVUpdate() bool { return f&FlagIVUpdate != 0 }

// String prints the set flags, e.g. "kr|ivu", "none", or with RFU bits
// "ivu|rfu(0x80)".
func (f Flags) String() string {
	var parts []string
	if f.KeyRefresh() {
		parts = append(parts, "kr")
	}
	if f.IVUpdate() {
		parts = append(parts, "ivu")
	}
	if r := f & flagsRFU; r != 0 {
		parts = append(parts, fmt.Sprintf("rfu(0x%02x)", uint8(r)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}
