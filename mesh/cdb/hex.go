package cdb

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// Key is a 128-bit key written as 32 hex digits (read in either case,
// written in upper case as nRF Mesh does).
type Key [16]byte

// Crypto returns the key as a crypto.Key.
func (k Key) Crypto() crypto.Key { return crypto.Key(k) }

// MarshalText writes 32 upper-case hex digits.
func (k Key) MarshalText() ([]byte, error) { return upperHex(k[:]), nil }

// UnmarshalText reads 32 hex digits.
func (k *Key) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("%w: key %q has %d hex digits, want 32", ErrSyntax, b, len(b))
	}
	if _, err := hex.Decode(k[:], b); err != nil {
		return fmt.Errorf("%w: key %q: %v", ErrSyntax, b, err)
	}
	return nil
}

// UUID is a 128-bit UUID: read as RFC 4122 dashed text or 32 hex digits,
// in either case; written dashed and upper case (CDB 1.0.1).
type UUID [16]byte

// String prints the dashed upper-case form.
func (u UUID) String() string {
	h := upperHex(u[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// MarshalText writes the dashed upper-case form.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads the dashed or 32-digit form.
func (u *UUID) UnmarshalText(b []byte) error {
	s := string(b)
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return fmt.Errorf("%w: UUID %q is not in 8-4-4-4-12 form", ErrSyntax, s)
		}
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return fmt.Errorf("%w: UUID %q: want 32 hex digits, dashed or not", ErrSyntax, b)
	}
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return fmt.Errorf("%w: UUID %q: %v", ErrSyntax, b, err)
	}
	return nil
}

// Address is a 16-bit mesh address written as 4 hex digits.
type Address uint16

// Mesh returns the address as a mesh.Address.
func (a Address) Mesh() mesh.Address { return mesh.Address(a) }

// MarshalText writes 4 upper-case hex digits.
func (a Address) MarshalText() ([]byte, error) { return hex4(uint16(a)), nil }

// UnmarshalText reads 4 hex digits.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := parseHex16(b, "address")
	*a = Address(v)
	return err
}

// Hex16 is a 16-bit value written as 4 hex digits (cid, pid, vid, crpl,
// location, scene numbers).
type Hex16 uint16

// MarshalText writes 4 upper-case hex digits.
func (h Hex16) MarshalText() ([]byte, error) { return hex4(uint16(h)), nil }

// UnmarshalText reads 4 hex digits.
func (h *Hex16) UnmarshalText(b []byte) error {
	v, err := parseHex16(b, "value")
	*h = Hex16(v)
	return err
}

// ModelID is a model identifier: 4 hex digits for a SIG model, 8 for a
// vendor model (Company ID then model ID, as bluez and nRF Mesh write it).
type ModelID struct {
	ID     uint32 // SIG: 16-bit model ID; vendor: CID<<16 | model ID
	Vendor bool
}

// SIGModel returns the ModelID of a SIG model.
func SIGModel(id uint16) ModelID { return ModelID{ID: uint32(id)} }

// VendorModel returns the ModelID of a vendor model.
func VendorModel(cid, id uint16) ModelID {
	return ModelID{ID: uint32(cid)<<16 | uint32(id), Vendor: true}
}

// String prints the hex form.
func (m ModelID) String() string {
	if m.Vendor {
		return fmt.Sprintf("%08X", m.ID)
	}
	return fmt.Sprintf("%04X", m.ID)
}

// MarshalText writes 4 or 8 upper-case hex digits.
func (m ModelID) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads 4 or 8 hex digits.
func (m *ModelID) UnmarshalText(b []byte) error {
	if len(b) != 4 && len(b) != 8 {
		return fmt.Errorf("%w: modelId %q: want 4 or 8 hex digits", ErrSyntax, b)
	}
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return fmt.Errorf("%w: modelId %q: %v", ErrSyntax, b, err)
	}
	*m = ModelID{ID: uint32(v), Vendor: len(b) == 8}
	return nil
}

// Target is a publish or subscribe address, or a group address: 4 hex
// digits, or 32 hex digits for a virtual address's Label UUID.
type Target struct {
	Address mesh.Address // for a Label UUID, its virtual address
	Label   *UUID        // set for a virtual address
}

// LabelTarget returns the Target of a Label UUID.
func LabelTarget(label UUID) Target {
	return Target{Address: mesh.Address(crypto.VirtualAddress(label)), Label: &label}
}

// MarshalText writes 4 hex digits, or the 32-digit Label UUID.
func (t Target) MarshalText() ([]byte, error) {
	if t.Label != nil {
		return upperHex(t.Label[:]), nil
	}
	return hex4(uint16(t.Address)), nil
}

// UnmarshalText reads 4 hex digits or a 32-digit (or dashed) Label UUID.
func (t *Target) UnmarshalText(b []byte) error {
	if len(b) == 4 {
		v, err := parseHex16(b, "address")
		*t = Target{Address: mesh.Address(v)}
		return err
	}
	var u UUID
	if err := u.UnmarshalText(b); err != nil {
		return fmt.Errorf("%w: address %q: want 4 hex digits or a Label UUID", ErrSyntax, b)
	}
	*t = LabelTarget(u)
	return nil
}

func parseHex16(b []byte, what string) (uint16, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: %s %q: want 4 hex digits", ErrSyntax, what, b)
	}
	v, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: %v", ErrSyntax, what, b, err)
	}
	return uint16(v), nil
}

func hex4(v uint16) []byte { return []byte(fmt.Sprintf("%04X", v)) }

func upperHex(b []byte) []byte { return []byte(strings.ToUpper(hex.EncodeToString(b))) }

// Time is an ISO 8601 timestamp: read as RFC 3339 (with or without the
// zone, then UTC), written as RFC 3339.
type Time struct{ time.Time }

// MarshalText writes RFC 3339.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.Format(time.RFC3339)), nil }

// UnmarshalText reads RFC 3339, with fractional seconds or without a zone.
func (t *Time) UnmarshalText(b []byte) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, string(b)); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("%w: timestamp %q is not ISO 8601", ErrSyntax, b)
}
