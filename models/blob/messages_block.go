package blob

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// BlockStart is BLOB Block Start (opcode 0x8304), 4 octets:
//
//	0      2  Block Number
//	2      2  Chunk Size
//
// It is answered by BlockStatus.
type BlockStart struct {
	BlockNumber uint16
	ChunkSize   uint16
}

// Opcode returns OpBlockStart.
func (*BlockStart) Opcode() access.Opcode { return OpBlockStart }

// AppendBinary appends the 4 parameter octets.
func (m *BlockStart) AppendBinary(b []byte) ([]byte, error) {
	b = binary.LittleEndian.AppendUint16(b, m.BlockNumber)
	return binary.LittleEndian.AppendUint16(b, m.ChunkSize), nil
}

// Marshal returns the parameters.
func (m *BlockStart) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 4 octets. Chunk Size 0 decodes; a server
// answers it with Invalid Chunk Size.
func (m *BlockStart) Unmarshal(p []byte) error {
	if len(p) != 4 {
		return lenErr("block start", len(p), "4")
	}
	m.BlockNumber = binary.LittleEndian.Uint16(p)
	m.ChunkSize = binary.LittleEndian.Uint16(p[2:])
	return nil
}

// BlockGet is BLOB Block Get (opcode 0x8305): no parameters; it asks for
// the Block Status of the server's current block.
type BlockGet struct{}

// Opcode returns OpBlockGet.
func (*BlockGet) Opcode() access.Opcode { return OpBlockGet }

// AppendBinary appends nothing.
func (*BlockGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *BlockGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*BlockGet) Unmarshal(p []byte) error { return emptyUnmarshal("block get", p) }

// BlockStatus is BLOB Block Status (opcode 0x67), at least 5 octets:
//
//	0      1  Status (bits 0–3) | RFU (bits 4–5) | Format (bits 6–7)
//	1      2  Block Number
//	3      2  Chunk Size
//	5      n  Missing Chunks bit field   (FormatSomeMissing, n ≥ 1)
//	5      n  Encoded Missing Chunks     (FormatEncodedList, n ≥ 0)
//
// FormatAllMissing and FormatNoneMissing carry nothing after Chunk Size.
// The decoder cannot know the block's chunk count, so a decoded Missing
// has length 8·n; MissingChunks resolves any format against the count.
type BlockStatus struct {
	Status      Status
	Format      BlockFormat
	BlockNumber uint16
	ChunkSize   uint16
	// Missing is the bit field of FormatSomeMissing.
	Missing ChunkSet
	// EncodedMissing is the list of FormatEncodedList, in wire order.
	EncodedMissing []uint16
}

// Opcode returns OpBlockStatus.
func (*BlockStatus) Opcode() access.Opcode { return OpBlockStatus }

// Len returns the encoded parameter length.
func (m *BlockStatus) Len() int {
	switch m.Format {
	case FormatSomeMissing:
		return 5 + len(m.Missing.bits)
	case FormatEncodedList:
		return 5 + ChunkListLen(m.EncodedMissing)
	}
	return 5
}

// AppendBinary appends the parameters. FormatSomeMissing needs a non-empty
// Missing.
func (m *BlockStatus) AppendBinary(b []byte) ([]byte, error) {
	switch {
	case !m.Status.Valid():
		return b, rfuErr("block status", "status", uint64(m.Status))
	case m.Format > FormatEncodedList:
		return b, prohibitedErr("block status", "format", uint64(m.Format))
	case m.Format == FormatSomeMissing && m.Missing.Len() == 0:
		return b, lenErr("block status", 5, "a Missing Chunks bit field")
	}
	b = append(b, byte(m.Status)|byte(m.Format)<<6)
	b = binary.LittleEndian.AppendUint16(b, m.BlockNumber)
	b = binary.LittleEndian.AppendUint16(b, m.ChunkSize)
	switch m.Format {
	case FormatSomeMissing:
		b = m.Missing.AppendBitField(b)
	case FormatEncodedList:
		b = AppendChunkList(b, m.EncodedMissing)
	}
	return b, nil
}

// Marshal returns the parameters.
func (m *BlockStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes a Block Status of any format. Missing and
// EncodedMissing reuse their storage.
func (m *BlockStatus) Unmarshal(p []byte) error {
	const name = "block status"
	if len(p) < 5 {
		return lenErr(name, len(p), "at least 5")
	}
	st, f := Status(p[0]&0x0f), BlockFormat(p[0]>>6)
	switch {
	case p[0]&0x30 != 0:
		return rfuErr(name, "RFU bits", uint64(p[0]&0x30))
	case !st.Valid():
		return rfuErr(name, "status", uint64(st))
	}
	rest := p[5:]
	missing, list := m.Missing, m.EncodedMissing[:0]
	missing.Reset(0)
	switch f {
	case FormatAllMissing, FormatNoneMissing:
		if len(rest) != 0 {
			return lenErr(name, len(p), fmt.Sprintf("5 for format %s", f))
		}
	case FormatSomeMissing:
		if len(rest) == 0 {
			return lenErr(name, len(p), "a Missing Chunks bit field")
		}
		if 8*len(rest) > MaxChunks {
			return lenErr(name, len(p), "at most 8192 bit field octets")
		}
		if err := missing.SetBitField(rest, 8*len(rest)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case FormatEncodedList:
		var err error
		if list, err = ParseChunkList(list, rest); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	*m = BlockStatus{
		Status: st, Format: f,
		BlockNumber: binary.LittleEndian.Uint16(p[1:]),
		ChunkSize:   binary.LittleEndian.Uint16(p[3:]),
		Missing:     missing, EncodedMissing: list,
	}
	return nil
}

// MissingChunks resolves m against the block's chunk count: it sets dst to
// the set (of length chunks) of chunks the server reports missing, for any
// format. It fails when the bit field is not ⌈chunks/8⌉ octets or marks a
// chunk ≥ chunks, or when the list names a chunk ≥ chunks.
func (m *BlockStatus) MissingChunks(dst *ChunkSet, chunks int) error {
	dst.Reset(chunks)
	switch m.Format {
	case FormatAllMissing:
		dst.Fill()
	case FormatSomeMissing:
		return dst.SetBitField(m.Missing.bits, chunks)
	case FormatEncodedList:
		for _, c := range m.EncodedMissing {
			if int(c) >= chunks {
				return prohibitedErr("block status", "missing chunk", uint64(c))
			}
			dst.Set(int(c))
		}
	}
	return nil
}

// PartialBlockReport is BLOB Partial Block Report (opcode 0x68), sent by a
// server in Pull mode: the Encoded Missing Chunks it asks for next (0 or
// more octets; see AppendChunkNumber). An empty list means the server has
// every chunk of the current block.
type PartialBlockReport struct {
	EncodedMissing []uint16
}

// Opcode returns OpPartialBlockReport.
func (*PartialBlockReport) Opcode() access.Opcode { return OpPartialBlockReport }

// AppendBinary appends the encoded list.
func (m *PartialBlockReport) AppendBinary(b []byte) ([]byte, error) {
	return AppendChunkList(b, m.EncodedMissing), nil
}

// Marshal returns the parameters.
func (m *PartialBlockReport) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes the list, reusing EncodedMissing's storage.
func (m *PartialBlockReport) Unmarshal(p []byte) error {
	list, err := ParseChunkList(m.EncodedMissing, p)
	if err != nil {
		m.EncodedMissing = list[:0]
		return fmt.Errorf("partial block report: %w", err)
	}
	m.EncodedMissing = list
	return nil
}

// ChunkTransfer is BLOB Chunk Transfer (opcode 0x66), unacknowledged:
//
//	0      2  Chunk Number
//	2      n  Chunk Data, 1 ≤ n ≤ MaxChunkSize
//
// Unmarshal copies the data into Data's own storage (reused when it has the
// capacity), so a ChunkTransfer kept for reuse decodes without allocating
// and never aliases the input.
type ChunkTransfer struct {
	Number uint16
	Data   []byte
}

// Opcode returns OpChunkTransfer.
func (*ChunkTransfer) Opcode() access.Opcode { return OpChunkTransfer }

// AppendBinary appends the parameters; Data must hold 1 … MaxChunkSize
// octets.
func (m *ChunkTransfer) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Data) == 0 || len(m.Data) > MaxChunkSize {
		return b, lenErr("chunk transfer", 2+len(m.Data), fmt.Sprintf("3 to %d", 2+MaxChunkSize))
	}
	b = binary.LittleEndian.AppendUint16(b, m.Number)
	return append(b, m.Data...), nil
}

// Marshal returns the parameters.
func (m *ChunkTransfer) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 3 … 2+MaxChunkSize octets.
func (m *ChunkTransfer) Unmarshal(p []byte) error {
	if len(p) < 3 || len(p) > 2+MaxChunkSize {
		return lenErr("chunk transfer", len(p), fmt.Sprintf("3 to %d", 2+MaxChunkSize))
	}
	m.Number = binary.LittleEndian.Uint16(p)
	m.Data = append(m.Data[:0], p[2:]...)
	return nil
}

// Clone returns a copy of m with its own Data.
func (m *ChunkTransfer) Clone() *ChunkTransfer {
	return &ChunkTransfer{Number: m.Number, Data: append([]byte(nil), m.Data...)}
}
