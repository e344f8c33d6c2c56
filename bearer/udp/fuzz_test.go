package udp

import (
	"bytes"
	"testing"
)

// FuzzParseDatagram checks that the datagram decoder never panics, never
// accepts more than one AD structure's worth of data, and that what it
// accepts encodes back to the same octets.
func FuzzParseDatagram(f *testing.F) {
	for _, tc := range datagramCases {
		f.Add(mustHex(f, tc.hex))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		kind, payload, err := ParseDatagram(p)
		if err != nil {
			return
		}
		if len(p) > MaxDatagram || len(payload) == 0 {
			t.Fatalf("accepted %d octets", len(p))
		}
		out, err := AppendDatagram(nil, kind, payload)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("re-encoded %x, %v; want %x", out, err, p)
		}
	})
}
