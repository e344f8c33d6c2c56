package blob

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// InformationGet is BLOB Information Get (opcode 0x8306): no parameters.
// It is answered by InformationStatus.
type InformationGet struct{}

// Opcode returns OpInformationGet.
func (*InformationGet) Opcode() access.Opcode { return OpInformationGet }

// AppendBinary appends nothing.
func (*InformationGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *InformationGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*InformationGet) Unmarshal(p []byte) error { return emptyUnmarshal("information get", p) }

// InformationStatus is BLOB Information Status (opcode 0x8307), the
// server's capabilities, 13 octets:
//
//	0      1  Min Block Size Log
//	1      1  Max Block Size Log
//	2      2  Max Total Chunks (per block)
//	4      2  Max Chunk Size
//	6      4  Max BLOB Size
//	10     2  Server MTU Size
//	12     1  Supported Transfer Mode (bit 0 Push, bit 1 Pull, bits 2–7 RFU)
//
// The decoder checks only the layout and the RFU bits; Validate checks the
// value ranges a client relies on.
type InformationStatus struct {
	MinBlockSizeLog uint8
	MaxBlockSizeLog uint8
	MaxTotalChunks  uint16
	MaxChunkSize    uint16
	MaxBLOBSize     uint32
	MTU             uint16
	Modes           SupportedModes
}

// Opcode returns OpInformationStatus.
func (*InformationStatus) Opcode() access.Opcode { return OpInformationStatus }

// AppendBinary appends the 13 parameter octets.
func (m *InformationStatus) AppendBinary(b []byte) ([]byte, error) {
	if m.Modes&supportRFU != 0 {
		return b, rfuErr("information status", "supported transfer mode", uint64(m.Modes))
	}
	b = append(b, m.MinBlockSizeLog, m.MaxBlockSizeLog)
	b = binary.LittleEndian.AppendUint16(b, m.MaxTotalChunks)
	b = binary.LittleEndian.AppendUint16(b, m.MaxChunkSize)
	b = binary.LittleEndian.AppendUint32(b, m.MaxBLOBSize)
	b = binary.LittleEndian.AppendUint16(b, m.MTU)
	return append(b, byte(m.Modes)), nil
}

// Marshal returns the parameters.
func (m *InformationStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 13 octets.
func (m *InformationStatus) Unmarshal(p []byte) error {
	if len(p) != 13 {
		return lenErr("information status", len(p), "13")
	}
	if p[12]&byte(supportRFU) != 0 {
		return rfuErr("information status", "supported transfer mode", uint64(p[12]))
	}
	*m = InformationStatus{
		MinBlockSizeLog: p[0],
		MaxBlockSizeLog: p[1],
		MaxTotalChunks:  binary.LittleEndian.Uint16(p[2:]),
		MaxChunkSize:    binary.LittleEndian.Uint16(p[4:]),
		MaxBLOBSize:     binary.LittleEndian.Uint32(p[6:]),
		MTU:             binary.LittleEndian.Uint16(p[10:]),
		Modes:           SupportedModes(p[12]),
	}
	return nil
}

// Validate checks the capability ranges Zephyr's client requires before it
// uses a server (blob_cli.c, info_status): Min Block Size Log ≥ 0x06, Max
// Block Size Log ≤ 0x20 and ≥ Min, Max Total Chunks ≠ 0, Max Chunk Size
// ≥ 8, Max BLOB Size ≠ 0, Server MTU Size ≥ 20, and at least one mode.
func (m *InformationStatus) Validate() error {
	switch {
	case m.MinBlockSizeLog < MinBlockSizeLog || m.MaxBlockSizeLog > MaxBlockSizeLog || m.MaxBlockSizeLog < m.MinBlockSizeLog:
		return fmt.Errorf("%w: information status: block size log range 0x%02x–0x%02x", ErrCapabilities, m.MinBlockSizeLog, m.MaxBlockSizeLog)
	case m.MaxTotalChunks == 0:
		return fmt.Errorf("%w: information status: max total chunks 0", ErrCapabilities)
	case m.MaxChunkSize < MinChunkSize:
		return fmt.Errorf("%w: information status: max chunk size %d", ErrCapabilities, m.MaxChunkSize)
	case m.MaxBLOBSize == 0:
		return fmt.Errorf("%w: information status: max BLOB size 0", ErrCapabilities)
	case m.MTU < MinMTU:
		return fmt.Errorf("%w: information status: server MTU %d", ErrCapabilities, m.MTU)
	case m.Modes&(SupportPush|SupportPull) == 0:
		return fmt.Errorf("%w: information status: no transfer mode", ErrCapabilities)
	}
	return nil
}
