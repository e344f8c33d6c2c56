package friend

import (
	"reflect"
	"testing"
)

// FuzzControl decodes arbitrary friendship control parameters: no panic,
// and whatever decodes re-encodes to the same octets and decodes equal.
func FuzzControl(f *testing.F) {
	for _, c := range codecCases {
		f.Add(c.op, mustHex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, op uint8, p []byte) {
		m, err := Decode(op, p)
		if err != nil {
			return
		}
		out, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%T %+v decoded but does not encode: %v", m, m, err)
		}
		if string(out) != string(p) {
			t.Fatalf("%T re-encodes %x as %x", m, p, out)
		}
		m2, err := Decode(op, out)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v vs %+v (%v)", m, m2, err)
		}
	})
}
