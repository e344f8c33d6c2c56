package fw

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
)

// Verifier checks an image against its metadata as the image streams
// through it: write the image in order, then call Finish. Without a public
// key it checks the size and the hash; with one it also checks the
// signature over the metadata, the Firmware ID and the hash.
//
// A target can verify while the image is stored (when the chunks arrive in
// order) or afterwards from its slot:
//
//	v := fw.NewVerifier(meta, fwid, pub)
//	_, err := io.Copy(v, io.NewSectionReader(img, 0, img.Size()))
//	if err == nil { err = v.Finish() }
type Verifier struct {
	meta *Metadata
	fwid []byte
	pub  ed25519.PublicKey
	h    hash.Hash
	n    uint64
}

// NewVerifier returns a Verifier for an image described by meta with
// Firmware ID fwid. pub may be nil: then the signature is not checked.
func NewVerifier(meta *Metadata, fwid []byte, pub ed25519.PublicKey) *Verifier {
	return &Verifier{meta: meta, fwid: fwid, pub: pub, h: sha256.New()}
}

// Write feeds the next octets of the image. It fails with ErrSizeMismatch
// once more octets arrive than the metadata's image size.
func (v *Verifier) Write(p []byte) (int, error) {
	if v.n+uint64(len(p)) > uint64(v.meta.Size) {
		return 0, fmt.Errorf("%w: more than %d octets", ErrSizeMismatch, v.meta.Size)
	}
	v.n += uint64(len(p))
	v.h.Write(p)
	return len(p), nil
}

// Written returns how many image octets were fed so far.
func (v *Verifier) Written() int64 { return int64(v.n) }

// Finish checks, in this order, the size (ErrSizeMismatch), the hash
// (ErrHashMismatch) and, when the Verifier has a public key, the signature
// (ErrBadSignature).
func (v *Verifier) Finish() error {
	if v.n != uint64(v.meta.Size) {
		return fmt.Errorf("%w: image has %d octets, metadata says %d", ErrSizeMismatch, v.n, v.meta.Size)
	}
	var sum [32]byte
	v.h.Sum(sum[:0])
	if sum != v.meta.SHA256 {
		return fmt.Errorf("%w: image %x…, metadata %x…", ErrHashMismatch, sum[:8], v.meta.SHA256[:8])
	}
	if v.pub == nil {
		return nil
	}
	return v.meta.VerifySignature(v.pub, v.fwid)
}

// VerifyImage reads the image from r and checks it as a Verifier does.
func VerifyImage(r io.Reader, meta *Metadata, fwid []byte, pub ed25519.PublicKey) error {
	v := NewVerifier(meta, fwid, pub)
	if _, err := io.Copy(v, r); err != nil {
		return fmt.Errorf("fw: verify: %w", err)
	}
	return v.Finish()
}
