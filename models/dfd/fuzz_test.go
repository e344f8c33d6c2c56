package dfd

import (
	"reflect"
	"testing"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// FuzzUnmarshal decodes (opcode, parameters) with every decoder: no panic,
// and a decoded message encodes to parameters that decode to an equal
// message.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range msgCases() {
		f.Add(uint16(tc.op), mustHex(f, tc.hex))
	}
	f.Fuzz(func(t *testing.T, op uint16, p []byte) {
		m := NewMessage(access.Opcode(op))
		if m == nil {
			m = NewMessage(Opcodes[int(op)%len(Opcodes)])
		}
		if err := m.Unmarshal(p); err != nil {
			return
		}
		q, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%T %+v decoded from %x does not encode: %v", m, m, p, err)
		}
		m2 := NewMessage(m.Opcode())
		if err := m2.Unmarshal(q); err != nil {
			t.Fatalf("%T: re-encoded %x does not decode: %v", m, q, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("%T: %+v → %x → %+v", m, m, q, m2)
		}
	})
}
