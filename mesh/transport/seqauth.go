package transport

import "fmt"

// SeqAuth is the 56-bit sequence authentication value of a message (Mesh
// Protocol v1.1 §3.5.3.1): the IV Index in the high 32 bits and the SEQ of
// the message's first segment in the low 24 bits. SeqZero is its low 13 bits.
type SeqAuth uint64

// NewSeqAuth returns IV Index ‖ SEQ.
func NewSeqAuth(ivIndex, seq uint32) SeqAuth {
	return SeqAuth(uint64(ivIndex)<<24 | uint64(seq&0xFFFFFF))
}

// IVIndex returns the IV Index part.
func (s SeqAuth) IVIndex() uint32 { return uint32(s >> 24) }

// Seq returns the 24-bit SEQ part.
func (s SeqAuth) Seq() uint32 { return uint32(s) & 0xFFFFFF }

// SeqZero returns the low 13 bits.
func (s SeqAuth) SeqZero() uint16 { return uint16(s) & SeqZeroMask }

// String prints the value as 14 hex digits.
func (s SeqAuth) String() string { return fmt.Sprintf("0x%014x", uint64(s)) }

// RecoverSeqAuth returns the SeqAuth of a segment that arrived with SEQ seq
// under ivIndex and carries seqZero: the largest value whose SEQ part is in
// [seq−8191, seq] and whose low 13 bits equal seqZero (Mesh Protocol v1.1
// §3.5.3.1). It fails with ErrSeqAuth when that SEQ part would be negative.
func RecoverSeqAuth(ivIndex, seq uint32, seqZero uint16) (SeqAuth, error) {
	seq &= 0xFFFFFF
	if seqZero > SeqZeroMask {
		return 0, fmt.Errorf("%w: SeqZero 0x%x has more than 13 bits", ErrSeqAuth, seqZero)
	}
	back := (seq - uint32(seqZero)) & SeqZeroMask // how far below seq the first segment was sent
	if back > seq {
		return 0, fmt.Errorf("%w: SeqZero 0x%04x does not fit below SEQ 0x%06x", ErrSeqAuth, seqZero, seq)
	}
	return NewSeqAuth(ivIndex, seq-back), nil
}
