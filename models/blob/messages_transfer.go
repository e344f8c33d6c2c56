package blob

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// TransferGet is BLOB Transfer Get (opcode 0x8300): no parameters. It is
// answered by TransferStatus.
type TransferGet struct{}

// Opcode returns OpTransferGet.
func (*TransferGet) Opcode() access.Opcode { return OpTransferGet }

// AppendBinary appends nothing.
func (*TransferGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *TransferGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*TransferGet) Unmarshal(p []byte) error { return emptyUnmarshal("transfer get", p) }

// TransferStart is BLOB Transfer Start (opcode 0x8301), 16 octets:
//
//	0      1  RFU (bits 0–5, zero) | Transfer Mode (bits 6–7: Push or Pull)
//	1      8  BLOB ID (little-endian)
//	9      4  BLOB Size
//	13     1  Block Size Log
//	14     2  MTU Size (the client's)
//
// The decoder rejects RFU bits and Transfer Mode 0b00 and 0b11, which a
// server ignores without an answer.
type TransferStart struct {
	Mode         TransferMode
	ID           uint64
	Size         uint32
	BlockSizeLog uint8
	MTU          uint16
}

const transferStartLen = 16

// Opcode returns OpTransferStart.
func (*TransferStart) Opcode() access.Opcode { return OpTransferStart }

// AppendBinary appends the 16 parameter octets.
func (m *TransferStart) AppendBinary(b []byte) ([]byte, error) {
	if m.Mode != ModePush && m.Mode != ModePull {
		return b, prohibitedErr("transfer start", "transfer mode", uint64(m.Mode))
	}
	b = append(b, byte(m.Mode)<<6)
	b = binary.LittleEndian.AppendUint64(b, m.ID)
	b = binary.LittleEndian.AppendUint32(b, m.Size)
	b = append(b, m.BlockSizeLog)
	return binary.LittleEndian.AppendUint16(b, m.MTU), nil
}

// Marshal returns the parameters.
func (m *TransferStart) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 16 octets.
func (m *TransferStart) Unmarshal(p []byte) error {
	if len(p) != transferStartLen {
		return lenErr("transfer start", len(p), "16")
	}
	if p[0]&0x3f != 0 {
		return rfuErr("transfer start", "RFU bits", uint64(p[0]&0x3f))
	}
	mode := TransferMode(p[0] >> 6)
	if mode != ModePush && mode != ModePull {
		return prohibitedErr("transfer start", "transfer mode", uint64(mode))
	}
	*m = TransferStart{
		Mode:         mode,
		ID:           binary.LittleEndian.Uint64(p[1:]),
		Size:         binary.LittleEndian.Uint32(p[9:]),
		BlockSizeLog: p[13],
		MTU:          binary.LittleEndian.Uint16(p[14:]),
	}
	return nil
}

// TransferCancel is BLOB Transfer Cancel (opcode 0x8302): the 8-octet BLOB
// ID (little-endian).
type TransferCancel struct {
	ID uint64
}

// Opcode returns OpTransferCancel.
func (*TransferCancel) Opcode() access.Opcode { return OpTransferCancel }

// AppendBinary appends the BLOB ID.
func (m *TransferCancel) AppendBinary(b []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(b, m.ID), nil
}

// Marshal returns the parameters.
func (m *TransferCancel) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 8 octets.
func (m *TransferCancel) Unmarshal(p []byte) error {
	if len(p) != 8 {
		return lenErr("transfer cancel", len(p), "8")
	}
	m.ID = binary.LittleEndian.Uint64(p)
	return nil
}

// TransferStatus is BLOB Transfer Status (opcode 0x8303), 2, 10 or
// 17 + ⌈blocks/8⌉ octets:
//
//	0      1  Status (bits 0–3) | RFU (bits 4–5) | Transfer Mode (bits 6–7)
//	1      1  Transfer Phase
//	2      8  BLOB ID                       (HasID)
//	10     4  BLOB Size                     (HasSize, only with HasID)
//	14     1  Block Size Log                (HasSize)
//	15     2  Transfer MTU Size             (HasSize)
//	17     n  Blocks Not Received bit field (HasSize), n = ⌈BlockCount/8⌉
//
// The bit field's length follows from BLOB Size and Block Size Log, and the
// decoder requires exactly that length (so BlocksNotReceived.Len() is the
// block count). A Transfer Status with HasSize never has HasID false.
type TransferStatus struct {
	Status Status
	Mode   TransferMode
	Phase  Phase

	HasID bool
	ID    uint64

	HasSize           bool
	Size              uint32
	BlockSizeLog      uint8
	MTU               uint16
	BlocksNotReceived ChunkSet
}

// Opcode returns OpTransferStatus.
func (*TransferStatus) Opcode() access.Opcode { return OpTransferStatus }

// Len returns the encoded parameter length.
func (m *TransferStatus) Len() int {
	switch {
	case m.HasSize:
		return 17 + len(m.BlocksNotReceived.bits)
	case m.HasID:
		return 10
	}
	return 2
}

// AppendBinary appends the parameters. It fails when a field is out of
// range, when HasSize is set without HasID, or when BlocksNotReceived's
// length is not the block count.
func (m *TransferStatus) AppendBinary(b []byte) ([]byte, error) {
	switch {
	case !m.Status.Valid():
		return b, rfuErr("transfer status", "status", uint64(m.Status))
	case m.Mode > ModePull:
		return b, prohibitedErr("transfer status", "transfer mode", uint64(m.Mode))
	case m.Phase > maxPhase:
		return b, prohibitedErr("transfer status", "phase", uint64(m.Phase))
	case m.HasSize && !m.HasID:
		return b, fmt.Errorf("%w: transfer status: BLOB Size without BLOB ID", ErrMessage)
	case m.HasSize && m.BlocksNotReceived.Len() != BlockCount(m.Size, m.BlockSizeLog):
		return b, fmt.Errorf("%w: transfer status: Blocks Not Received of %d blocks, BLOB has %d",
			ErrMessage, m.BlocksNotReceived.Len(), BlockCount(m.Size, m.BlockSizeLog))
	}
	b = append(b, byte(m.Status)|byte(m.Mode)<<6, byte(m.Phase))
	if !m.HasID {
		return b, nil
	}
	b = binary.LittleEndian.AppendUint64(b, m.ID)
	if !m.HasSize {
		return b, nil
	}
	b = binary.LittleEndian.AppendUint32(b, m.Size)
	b = append(b, m.BlockSizeLog)
	b = binary.LittleEndian.AppendUint16(b, m.MTU)
	return m.BlocksNotReceived.AppendBitField(b), nil
}

// Marshal returns the parameters.
func (m *TransferStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes any of the three forms. BlocksNotReceived reuses its
// storage.
func (m *TransferStatus) Unmarshal(p []byte) error {
	const name = "transfer status"
	if len(p) != 2 && len(p) != 10 && len(p) < 17 {
		return lenErr(name, len(p), "2, 10 or at least 17")
	}
	st, mode, phase := Status(p[0]&0x0f), TransferMode(p[0]>>6), Phase(p[1])
	switch {
	case p[0]&0x30 != 0:
		return rfuErr(name, "RFU bits", uint64(p[0]&0x30))
	case !st.Valid():
		return rfuErr(name, "status", uint64(st))
	case mode > ModePull:
		return prohibitedErr(name, "transfer mode", uint64(mode))
	case phase > maxPhase:
		return prohibitedErr(name, "phase", uint64(phase))
	}
	bnr := m.BlocksNotReceived
	*m = TransferStatus{Status: st, Mode: mode, Phase: phase, BlocksNotReceived: bnr}
	m.BlocksNotReceived.Reset(0)
	if len(p) == 2 {
		return nil
	}
	m.HasID, m.ID = true, binary.LittleEndian.Uint64(p[2:])
	if len(p) == 10 {
		return nil
	}
	size, log := binary.LittleEndian.Uint32(p[10:]), p[14]
	nb := BlockCount(size, log)
	if nb > MaxChunks {
		return prohibitedErr(name, "block count", uint64(nb))
	}
	if err := m.BlocksNotReceived.SetBitField(p[17:], nb); err != nil {
		m.HasID, m.ID = false, 0
		return fmt.Errorf("%s: blocks not received: %w", name, err)
	}
	m.HasSize, m.Size, m.BlockSizeLog, m.MTU = true, size, log, binary.LittleEndian.Uint16(p[15:])
	return nil
}
