package blob

import (
	"fmt"
	"math/bits"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// MaxChunks is the number of distinct 16-bit chunk (or block) numbers, the
// largest size of a ChunkSet.
const MaxChunks = 1 << 16

// ChunkSet is a set of chunk numbers (or block numbers) below a fixed
// length Len, stored as the wire bit field of Missing Chunks and Blocks Not
// Received (MshMBT v1.0: item k is bit k mod 8 of octet k/8, LSB first;
// padding bits are 0). The zero value is an empty set of length 0.
//
// A ChunkSet value shares its storage with its copies: use Clone for an
// independent copy. Methods that change the set have pointer receivers.
type ChunkSet struct {
	n    int
	bits []byte
}

// NewChunkSet returns an empty set of length n, 0 ≤ n ≤ MaxChunks.
func NewChunkSet(n int) ChunkSet {
	var s ChunkSet
	s.Reset(n)
	return s
}

// FullChunkSet returns a set of length n holding 0 … n−1.
func FullChunkSet(n int) ChunkSet {
	s := NewChunkSet(n)
	s.Fill()
	return s
}

// Reset empties s and sets its length to n, reusing its storage when it is
// large enough. It panics if n is outside 0 … MaxChunks.
func (s *ChunkSet) Reset(n int) {
	if n < 0 || n > MaxChunks {
		panic(fmt.Sprintf("blob: ChunkSet length %d out of range", n))
	}
	k := (n + 7) / 8
	if cap(s.bits) >= k {
		s.bits = s.bits[:k]
		clear(s.bits)
	} else {
		s.bits = make([]byte, k)
	}
	s.n = n
}

// Fill adds every number below Len to s.
func (s *ChunkSet) Fill() {
	for i := range s.bits {
		s.bits[i] = 0xff
	}
	if r := s.n % 8; r != 0 {
		s.bits[len(s.bits)-1] = 1<<r - 1
	}
}

// Len returns the length of s: the numbers it can hold are 0 … Len−1.
func (s ChunkSet) Len() int { return s.n }

// Has reports whether i is in s.
func (s ChunkSet) Has(i int) bool {
	return i >= 0 && i < s.n && s.bits[i/8]&(1<<(i%8)) != 0
}

// Set adds i to s; numbers outside 0 … Len−1 are ignored.
func (s *ChunkSet) Set(i int) {
	if i >= 0 && i < s.n {
		s.bits[i/8] |= 1 << (i % 8)
	}
}

// Clear removes i from s.
func (s *ChunkSet) Clear(i int) {
	if i >= 0 && i < s.n {
		s.bits[i/8] &^= 1 << (i % 8)
	}
}

// Count returns the number of members.
func (s ChunkSet) Count() int {
	c := 0
	for _, b := range s.bits {
		c += bits.OnesCount8(b)
	}
	return c
}

// Empty reports whether s has no members.
func (s ChunkSet) Empty() bool {
	for _, b := range s.bits {
		if b != 0 {
			return false
		}
	}
	return true
}

// Next returns the smallest member ≥ i, or −1 when there is none.
func (s ChunkSet) Next(i int) int {
	if i < 0 {
		i = 0
	}
	for i < s.n {
		b := s.bits[i/8] >> (i % 8)
		if b != 0 {
			return i + bits.TrailingZeros8(b)
		}
		i = (i/8 + 1) * 8
	}
	return -1
}

// Union adds every member of o below Len to s.
func (s *ChunkSet) Union(o ChunkSet) {
	for i := range min(len(s.bits), len(o.bits)) {
		s.bits[i] |= o.bits[i]
	}
	if r := s.n % 8; r != 0 && len(o.bits) >= len(s.bits) {
		s.bits[len(s.bits)-1] &= 1<<r - 1
	}
}

// Equal reports whether s and o have the same length and members.
func (s ChunkSet) Equal(o ChunkSet) bool { return s.n == o.n && string(s.bits) == string(o.bits) }

// Clone returns an independent copy of s.
func (s ChunkSet) Clone() ChunkSet {
	return ChunkSet{n: s.n, bits: append([]byte(nil), s.bits...)}
}

// BitField returns the wire bit field of s, ⌈Len/8⌉ octets. It shares
// storage with s.
func (s ChunkSet) BitField() []byte { return s.bits }

// AppendBitField appends the wire bit field of s to b.
func (s ChunkSet) AppendBitField(b []byte) []byte { return append(b, s.bits...) }

// SetBitField makes s the set of length n encoded by the bit field p, which
// must be exactly ⌈n/8⌉ octets with zero padding bits. s keeps no
// reference to p.
func (s *ChunkSet) SetBitField(p []byte, n int) error {
	if n < 0 || n > MaxChunks {
		return fmt.Errorf("%w: %w: bit field of %d items", ErrMessage, access.ErrProhibited, n)
	}
	if len(p) != (n+7)/8 {
		return lenErr("bit field", len(p), fmt.Sprintf("%d for %d items", (n+7)/8, n))
	}
	if r := n % 8; r != 0 && p[len(p)-1]>>r != 0 {
		return rfuErr("bit field", "padding", uint64(p[len(p)-1]))
	}
	s.Reset(n)
	copy(s.bits, p)
	return nil
}

// AppendList appends up to max members of s, lowest first, to dst and
// returns it (for an Encoded Missing Chunks list). max ≤ 0 means all.
func (s ChunkSet) AppendList(dst []uint16, max int) []uint16 {
	k := 0
	for i := s.Next(0); i >= 0 && (max <= 0 || k < max); i = s.Next(i + 1) {
		dst = append(dst, uint16(i))
		k++
	}
	return dst
}

// AppendChunkNumber appends chunk number c in the Encoded Missing Chunks
// form: the UTF-8 encoding of c as a code point (RFC 3629), 1 to 3 octets.
//
//	0x0000–0x007F  0xxxxxxx
//	0x0080–0x07FF  110xxxxx 10xxxxxx
//	0x0800–0xFFFF  1110xxxx 10xxxxxx 10xxxxxx
//
// Every 16-bit value is encoded, the surrogate range 0xD800–0xDFFF
// included (unicode/utf8 would replace those).
func AppendChunkNumber(b []byte, c uint16) []byte {
	switch {
	case c < 0x80:
		return append(b, byte(c))
	case c < 0x800:
		return append(b, 0xc0|byte(c>>6), 0x80|byte(c&0x3f))
	}
	return append(b, 0xe0|byte(c>>12), 0x80|byte(c>>6&0x3f), 0x80|byte(c&0x3f))
}

// AppendChunkList appends the Encoded Missing Chunks form of list to b.
func AppendChunkList(b []byte, list []uint16) []byte {
	for _, c := range list {
		b = AppendChunkNumber(b, c)
	}
	return b
}

// ChunkListLen returns the encoded length of list in octets.
func ChunkListLen(list []uint16) int {
	n := 0
	for _, c := range list {
		switch {
		case c < 0x80:
			n++
		case c < 0x800:
			n += 2
		default:
			n += 3
		}
	}
	return n
}

// ParseChunkList decodes an Encoded Missing Chunks list, appending the chunk
// numbers to dst[:0]. It rejects truncated sequences, stray continuation
// octets, lead octets of 4-octet forms and overlong encodings, so every
// list has exactly one encoding.
func ParseChunkList(dst []uint16, p []byte) ([]uint16, error) {
	dst = dst[:0]
	for i := 0; i < len(p); {
		b0 := p[i]
		var c uint16
		var n int
		switch {
		case b0 < 0x80:
			c, n = uint16(b0), 1
		case b0&0xe0 == 0xc0:
			c, n = uint16(b0&0x1f), 2
		case b0&0xf0 == 0xe0:
			c, n = uint16(b0&0x0f), 3
		default:
			return dst, prohibitedErr("encoded chunk list", fmt.Sprintf("lead octet at %d", i), uint64(b0))
		}
		if len(p)-i < n {
			return dst, lenErr("encoded chunk list", len(p), fmt.Sprintf("%d more octets at %d", n, i))
		}
		for _, bk := range p[i+1 : i+n] {
			if bk&0xc0 != 0x80 {
				return dst, prohibitedErr("encoded chunk list", fmt.Sprintf("continuation octet after %d", i), uint64(bk))
			}
			c = c<<6 | uint16(bk&0x3f)
		}
		if (n == 2 && c < 0x80) || (n == 3 && c < 0x800) {
			return dst, prohibitedErr("encoded chunk list", fmt.Sprintf("overlong form at %d of", i), uint64(c))
		}
		dst = append(dst, c)
		i += n
	}
	return dst, nil
}

// BlockSize returns 2^log, the size of every block but the last, or 0 when
// log is above 63.
func BlockSize(log uint8) uint64 {
	if log > 63 {
		return 0
	}
	return 1 << log
}

// BlockCount returns the number of blocks of a BLOB of size octets with
// blocks of 2^log octets: ⌈size / 2^log⌉.
func BlockCount(size uint32, log uint8) int {
	if size == 0 {
		return 0
	}
	if log >= 32 {
		return 1
	}
	bs := uint64(1) << log
	return int((uint64(size) + bs - 1) / bs)
}

// BlockOffset returns the offset of block in the BLOB.
func BlockOffset(log uint8, block int) int64 {
	if log >= 32 {
		return 0
	}
	return int64(block) << log
}

// BlockLen returns the size of block (0-based) of a BLOB of size octets:
// 2^log, or the remainder for the last block; 0 when block is out of range.
func BlockLen(size uint32, log uint8, block int) int {
	if block < 0 || block >= BlockCount(size, log) {
		return 0
	}
	rest := int64(size) - BlockOffset(log, block)
	if log < 32 && rest > int64(1)<<log {
		return 1 << log
	}
	return int(rest)
}

// ChunkCount returns the number of chunks of a block of blockLen octets cut
// into chunks of chunkSize octets: ⌈blockLen / chunkSize⌉ (0 when chunkSize
// is 0).
func ChunkCount(blockLen int, chunkSize uint16) int {
	if chunkSize == 0 || blockLen <= 0 {
		return 0
	}
	return (blockLen + int(chunkSize) - 1) / int(chunkSize)
}

// ChunkLen returns the size of chunk (0-based) of a block of blockLen
// octets: chunkSize, or the remainder for the last chunk; 0 when out of
// range.
func ChunkLen(blockLen int, chunkSize uint16, chunk int) int {
	if chunk < 0 || chunk >= ChunkCount(blockLen, chunkSize) {
		return 0
	}
	return min(int(chunkSize), blockLen-chunk*int(chunkSize))
}
