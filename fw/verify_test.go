package fw

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestVerifier(t *testing.T) {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	_, other, _ := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	fwid := mustHex(t, exampleFWID)
	signed := exampleMetadata(t)
	if err := signed.Sign(priv, fwid); err != nil {
		t.Fatal(err)
	}
	wrongKey := exampleMetadata(t)
	if err := wrongKey.Sign(other, fwid); err != nil {
		t.Fatal(err)
	}
	unsigned := exampleMetadata(t)
	img := exampleImage()
	tampered := bytes.Clone(img)
	tampered[1000] ^= 0x80

	tests := []struct {
		name  string
		meta  *Metadata
		pub   ed25519.PublicKey
		fwid  []byte
		image []byte
		err   error
	}{
		{"signed, key", signed, pub, fwid, img, nil},
		{"signed, no key", signed, nil, fwid, img, nil},
		{"unsigned, no key", unsigned, nil, fwid, img, nil},
		{"unsigned, key", unsigned, pub, fwid, img, ErrUnsigned},
		{"wrong key", wrongKey, pub, fwid, img, ErrBadSignature},
		{"wrong key, no key configured", wrongKey, nil, fwid, img, nil},
		{"other Firmware ID", signed, pub, []byte{0xf1, 0x05}, img, ErrBadSignature},
		{"tampered", signed, pub, fwid, tampered, ErrHashMismatch},
		{"tampered, no key", unsigned, nil, fwid, tampered, ErrHashMismatch},
		{"short", signed, pub, fwid, img[:1023], ErrSizeMismatch},
		{"long", signed, pub, fwid, append(bytes.Clone(img), 0), ErrSizeMismatch},
		{"empty", signed, nil, fwid, nil, ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In chunks, as a transfer stores them.
			v := NewVerifier(tt.meta, tt.fwid, tt.pub)
			var err error
			for off := 0; off < len(tt.image) && err == nil; off += 100 {
				_, err = v.Write(tt.image[off:min(off+100, len(tt.image))])
			}
			if err == nil {
				err = v.Finish()
			}
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("streaming: %v, want %v", err, tt.err)
			}
			// Afterwards, from a reader.
			err = VerifyImage(bytes.NewReader(tt.image), tt.meta, tt.fwid, tt.pub)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("VerifyImage: %v, want %v", err, tt.err)
			}
		})
	}
}
