package dfu_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// TestFirmware_ApplyVerifiesAgain: dfu.Firmware verifies the received image
// file (size, hash, signature) before apply, and Apply checks it once more
// from storage, so an image that changed after verification is not
// installed: a flipped octet (the file's CRC), an image swapped under
// valid framing (the hash), a key other than the owner's (the signature)
// and an empty BLOB each fail with their error and Apply returns no
// Firmware ID.
func TestFirmware_ApplyVerifiesAgain(t *testing.T) {
	pub, priv, err := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{8}, 64)))
	fwid := []byte{0x59, 0x00, 0x01, 0x00, 0x03, 0x00}
	image := bytes.Repeat([]byte("new firmware "), 100)
	m, err := fw.NewMetadata("1.0.3", image, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(priv, fwid); err != nil {
		t.Fatal(err)
	}
	meta, _ := m.Marshal()
	file := func(img []byte) []byte {
		var b bytes.Buffer
		if err := fw.WriteImageFile(&b, &fw.ImageFile{FirmwareID: fwid, Metadata: meta, Image: img}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	stored := file(image)
	f := &dfu.Firmware{PublicKey: pub, Data: func(uint64) []byte { return stored }}
	if err := f.Verify(0, meta, 1); err != nil {
		t.Fatalf("good image: %v", err)
	}
	if got, err := f.Apply(0, meta, 1); err != nil || !bytes.Equal(got, fwid) {
		t.Fatalf("apply of the good image: %x, %v", got, err)
	}
	swapped := bytes.Clone(image)
	swapped[0] ^= 0xFF
	for _, tc := range []struct {
		name string
		data []byte
		key  []byte
		want error
	}{
		{"octet flipped in storage", func() []byte { b := bytes.Clone(stored); b[len(b)/2] ^= 0x01; return b }(), pub, fw.ErrImageFile},
		{"image swapped, framing valid", file(swapped), pub, fw.ErrHashMismatch},
		{"other owner's key", stored, otherPub, fw.ErrBadSignature},
		{"empty BLOB (a 0-octet transfer)", []byte{}, pub, fw.ErrImageFile},
	} {
		f := &dfu.Firmware{PublicKey: tc.key, Data: func(uint64) []byte { return tc.data }}
		if err := f.Verify(0, meta, 1); !errors.Is(err, tc.want) {
			t.Errorf("%s: verify %v, want %v", tc.name, err, tc.want)
		}
		if got, err := f.Apply(0, meta, 1); !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: apply %x, %v; want no Firmware ID and %v", tc.name, got, err, tc.want)
		}
	}
}
