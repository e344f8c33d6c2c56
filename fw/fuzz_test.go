package fw

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// FuzzMetadata: no input panics the parser; whatever parses re-encodes to
// the same octets, and verifying it never panics.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{exampleUnsigned, exampleSigned,
		"4d44 01 03 01000000 " + exampleSHA + " 01 31", "4d44 01 40 01000000 " + exampleSHA + " 01 31 0102030405060708"} {
		f.Add(mustHex(f, s))
	}
	pub := exampleKey().Public().(ed25519.PublicKey)
	fwid := mustHex(f, exampleFWID)
	f.Fuzz(func(t *testing.T, p []byte) {
		var m Metadata
		if err := m.Unmarshal(p); err != nil {
			return
		}
		b, err := m.Marshal()
		if err != nil || !bytes.Equal(b, p) {
			t.Fatalf("re-encode %x → %x, %v", p, b, err)
		}
		_ = m.Verify(pub, fwid, m.SHA256)
		_ = m.AdditionalInformation()
	})
}

// FuzzImageFile: the two decoders agree, never panic, and re-encode what
// they accept.
func FuzzImageFile(f *testing.F) {
	f.Add(mustHex(f, exampleFile))
	f.Add(withCRC(mustHex(f, "4d444655 01 02 00 00 01000000 f105 aa 00000000")))
	f.Add(mustHex(f, "4d444655 01 02 00 00 ffffffff f105 aa"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var a ImageFile
		errA := a.UnmarshalBinary(p)
		b, errB := ReadImageFile(bytes.NewReader(p))
		if (errA == nil) != (errB == nil) {
			t.Fatalf("UnmarshalBinary %v, ReadImageFile %v", errA, errB)
		}
		if errA != nil {
			return
		}
		if !bytes.Equal(a.Image, b.Image) || !bytes.Equal(a.FirmwareID, b.FirmwareID) || !bytes.Equal(a.Metadata, b.Metadata) {
			t.Fatal("decoders disagree")
		}
		out, err := a.MarshalBinary()
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// FuzzIndex: index.json parsing never panics, and what parses re-marshals
// to an index that parses to the same slots.
func FuzzIndex(f *testing.F) {
	f.Add(validIndex(f, nil))
	f.Add(validIndex(f, func(x *index) { x.Slots = nil }))
	f.Add([]byte(`{"format":1,"next":1,"slots":[],"sum":""}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		x, err := parseIndex(p)
		if err != nil {
			return
		}
		q, err := x.marshal()
		if err != nil {
			t.Fatal(err)
		}
		y, err := parseIndex(q)
		if err != nil || len(y.Slots) != len(x.Slots) {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
