package fw

import (
	"errors"
	"strings"
	"testing"
)

// validIndex returns index.json for one slot, with the checksum filled in.
func validIndex(t testing.TB, mod func(*index)) []byte {
	t.Helper()
	x := index{Format: 1, Next: 3, Slots: []slotRecord{{
		Name: "app", Gen: 2, FirmwareID: fwidA, Metadata: metaA, Size: 10, SHA256: make([]byte, 32),
	}}}
	if mod != nil {
		mod(&x)
	}
	p, err := x.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseIndex(t *testing.T) {
	good := string(validIndex(t, nil))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", good, true},
		{"empty store", string(validIndex(t, func(x *index) { x.Slots = nil })), true},
		{"empty", "", false},
		{"not JSON", "hello", false},
		{"trailing object", good + "{}", false},
		{"unknown field", strings.Replace(good, `"format":1`, `"format":1,"x":2`, 1), false},
		{"checksum changed", strings.Replace(good, `"sum":"`, `"sum":"0`, 1), false},
		{"contents changed", strings.Replace(good, `"size":10`, `"size":11`, 1), false},
		{"format 2", string(validIndex(t, func(x *index) { x.Format = 2 })), false},
		{"bad name", string(validIndex(t, func(x *index) { x.Slots[0].Name = "../x" })), false},
		{"short fwid", string(validIndex(t, func(x *index) { x.Slots[0].FirmwareID = []byte{1} })), false},
		{"long metadata", string(validIndex(t, func(x *index) { x.Slots[0].Metadata = make([]byte, 256) })), false},
		{"size 0", string(validIndex(t, func(x *index) { x.Slots[0].Size = 0 })), false},
		{"short hash", string(validIndex(t, func(x *index) { x.Slots[0].SHA256 = make([]byte, 31) })), false},
		{"gen 0", string(validIndex(t, func(x *index) { x.Slots[0].Gen = 0 })), false},
		{"gen not below next", string(validIndex(t, func(x *index) { x.Slots[0].Gen = 3 })), false},
		{"duplicate name", string(validIndex(t, func(x *index) {
			x.Slots = append(x.Slots, x.Slots[0])
			x.Slots[1].Gen = 1
		})), false},
		{"duplicate gen", string(validIndex(t, func(x *index) {
			x.Slots = append(x.Slots, x.Slots[0])
			x.Slots[1].Name = "b"
		})), false},
		{"bad hex", strings.Replace(good, `"fwid":"`, `"fwid":"zz`, 1), false},
	}
	for _, tt := range tests {
		_, err := parseIndex([]byte(tt.in))
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrCorrupt)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
