package fw

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// indexFormat is the "format" field of index.json.
const indexFormat = 1

// maxIndexSize bounds index.json; far more than 65535 slots need.
const maxIndexSize = 64 << 20

// index is the content of index.json. Sum is the hex SHA-256 of the JSON
// encoding of the index with Sum empty, so bit rot is caught even when the
// JSON still parses.
//
//	{"format":1,"next":7,"slots":[{"name":"app","gen":6,"fwid":"5900…",
//	  "metadata":"4d44…","size":65536,"sha256":"…"}],"sum":"…"}
type index struct {
	Format int          `json:"format"`
	Next   uint64       `json:"next"`
	Slots  []slotRecord `json:"slots"`
	Sum    string       `json:"sum"`
}

// slotRecord is one slot in the index.
type slotRecord struct {
	Name       string   `json:"name"`
	Gen        uint64   `json:"gen"`
	FirmwareID hexBytes `json:"fwid"`
	Metadata   hexBytes `json:"metadata"`
	Size       int64    `json:"size"`
	SHA256     hexBytes `json:"sha256"`

	corrupt bool // found damaged since the store opened; not persisted
}

func (r *slotRecord) info() SlotInfo {
	in := SlotInfo{
		Name: r.Name, FirmwareID: bytes.Clone(r.FirmwareID), Metadata: bytes.Clone(r.Metadata),
		Size: r.Size, Corrupt: r.corrupt,
	}
	copy(in.SHA256[:], r.SHA256)
	return in
}

// hexBytes is a []byte that JSON carries as a lower-case hex string.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(p []byte) error {
	b := make([]byte, hex.DecodedLen(len(p)))
	if _, err := hex.Decode(b, p); err != nil {
		return err
	}
	*h = b
	return nil
}

func (x *index) find(name string) *slotRecord {
	for i := range x.Slots {
		if x.Slots[i].Name == name {
			return &x.Slots[i]
		}
	}
	return nil
}

func (x *index) clone() index {
	c := *x
	c.Slots = slices.Clone(x.Slots)
	return c
}

func (x *index) sum() (string, error) {
	c := *x
	c.Sum = ""
	p, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:]), nil
}

// marshal returns index.json's bytes, with Sum filled in.
func (x *index) marshal() ([]byte, error) {
	sum, err := x.sum()
	if err != nil {
		return nil, fmt.Errorf("fw: index: %w", err)
	}
	c := *x
	c.Sum = sum
	p, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("fw: index: %w", err)
	}
	return append(p, '\n'), nil
}

// parseIndex decodes index.json strictly. Every failure wraps ErrCorrupt.
func parseIndex(p []byte) (*index, error) {
	if len(p) > maxIndexSize {
		return nil, fmt.Errorf("%w: index: %d octets", ErrCorrupt, len(p))
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	var x index
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: index: data after the JSON object", ErrCorrupt)
	}
	if x.Format != indexFormat {
		return nil, fmt.Errorf("%w: index: format %d, want %d", ErrCorrupt, x.Format, indexFormat)
	}
	if sum, err := x.sum(); err != nil || sum != x.Sum {
		return nil, fmt.Errorf("%w: index: checksum %q does not match its contents", ErrCorrupt, x.Sum)
	}
	names := map[string]bool{}
	gens := map[uint64]bool{}
	for _, r := range x.Slots {
		if err := checkSlotArgs("index", r.Name, r.FirmwareID, r.Metadata, r.Size); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if len(r.SHA256) != sha256.Size {
			return nil, fmt.Errorf("%w: index: slot %s: SHA-256 has %d octets", ErrCorrupt, r.Name, len(r.SHA256))
		}
		if names[r.Name] || gens[r.Gen] || r.Gen == 0 || r.Gen >= x.Next {
			return nil, fmt.Errorf("%w: index: slot %s: duplicate name or bad generation %d", ErrCorrupt, r.Name, r.Gen)
		}
		names[r.Name], gens[r.Gen] = true, true
	}
	return &x, nil
}
