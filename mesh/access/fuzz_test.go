package access

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzDecodeOpcode(f *testing.F) {
	for _, tc := range opcodeTests {
		f.Add(mustHex(f, tc.in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		op, params, err := DecodeOpcode(p)
		if err != nil {
			return
		}
		b, err := AppendOpcode(nil, op)
		if err != nil {
			t.Fatalf("decoded %s cannot be encoded: %v", op, err)
		}
		if !bytes.Equal(append(b, params...), p) {
			t.Fatalf("round trip %x -> %s %x", p, op, params)
		}
	})
}

func FuzzCompositionData(f *testing.F) {
	for _, tc := range compositionTests {
		f.Add(mustHex(f, tc.in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var c CompositionData
		if c.Unmarshal(p) != nil {
			return
		}
		b, err := c.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		if !bytes.Equal(b, p) {
			t.Fatalf("re-encoded %x, input %x", b, p)
		}
		var d CompositionData
		if err := d.Unmarshal(b); err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("second decode %+v, %v", d, err)
		}
	})
}
