// Package wire holds a bounds-checked reader for decoding PDUs. A Reader
// remembers the first short read, so a decoder is straight-line code that
// cannot index out of range: read every field, then check Done.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort is wrapped by Reader errors when input ended early.
var ErrShort = errors.New("short input")

// ErrTrailing is wrapped by Done when octets remain after the last field.
var ErrTrailing = errors.New("trailing octets")

// Reader reads fields from p. Reads past the end return zero values and
// record an error that Err and Done report.
type Reader struct {
	p   []byte
	off int
	err error
}

// NewReader returns a Reader over p. It does not copy p.
func NewReader(p []byte) *Reader { return &Reader{p: p} }

// Reset makes r read p from the start, clearing any error.
func (r *Reader) Reset(p []byte) { *r = Reader{p: p} }

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.p)-r.off < n {
		r.err = fmt.Errorf("%w: need %d octets at offset %d, have %d", ErrShort, n, r.off, len(r.p)-r.off)
		return nil
	}
	b := r.p[r.off : r.off+n]
	r.off += n
	return b
}

// U8 reads one octet.
func (r *Reader) U8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// U16LE reads a little-endian uint16.
func (r *Reader) U16LE() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U16BE reads a big-endian uint16.
func (r *Reader) U16BE() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// U24LE reads a little-endian 24-bit value.
func (r *Reader) U24LE() uint32 {
	if b := r.take(3); b != nil {
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	}
	return 0
}

// U24BE reads a big-endian 24-bit value.
func (r *Reader) U24BE() uint32 {
	if b := r.take(3); b != nil {
		return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	}
	return 0
}

// U32LE reads a little-endian uint32.
func (r *Reader) U32LE() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U32BE reads a big-endian uint32.
func (r *Reader) U32BE() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Bytes returns the next n octets without copying them.
func (r *Reader) Bytes(n int) []byte { return r.take(n) }

// Rest returns all remaining octets without copying them.
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	b := r.p[r.off:]
	r.off = len(r.p)
	return b
}

// Len returns the number of unread octets.
func (r *Reader) Len() int {
	if r.err != nil {
		return 0
	}
	return len(r.p) - r.off
}

// Err returns the first error, if any.
func (r *Reader) Err() error { return r.err }

// Done returns the first error, or ErrTrailing if octets remain unread.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.p) {
		return fmt.Errorf("%w: %d after offset %d", ErrTrailing, len(r.p)-r.off, r.off)
	}
	return nil
}
