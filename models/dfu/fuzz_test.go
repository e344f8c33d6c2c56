package dfu

import (
	"reflect"
	"testing"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// FuzzUnmarshal decodes (opcode, params) with every Firmware Update
// message: no panic, and a decoded message encodes to the same parameters
// and decodes to an equal value.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range messageTests {
		f.Add(uint32(tc.op), hx(tc.in))
	}
	f.Fuzz(func(t *testing.T, op uint32, p []byte) {
		m := NewMessage(access.Opcode(op))
		if m == nil { // spread other values over the known opcodes
			m = NewMessage(Opcodes[int(op%uint32(len(Opcodes)))])
		}
		if m.Unmarshal(p) != nil {
			return
		}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%s: decoded %+v does not encode: %v", m.Opcode(), m, err)
		}
		if string(b) != string(p) {
			t.Fatalf("%s: re-encoded %x, input %x", m.Opcode(), b, p)
		}
		m2 := NewMessage(m.Opcode())
		if err := m2.Unmarshal(b); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%s: second decode %+v, %v", m.Opcode(), m2, err)
		}
	})
}
