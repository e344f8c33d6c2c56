package blob

import (
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Model IDs of the BLOB Transfer models (MshMBT v1.0; Zephyr
// include/zephyr/bluetooth/mesh/access.h BT_MESH_MODEL_ID_BLOB_SRV/_CLI).
const (
	ServerModelID access.ModelID = 0x1400
	ClientModelID access.ModelID = 0x1401
)

// Opcodes of the BLOB Transfer messages (MshMBT v1.0 §5.3; Zephyr
// subsys/bluetooth/mesh/blob.h). Block Start is 0x8304 and Block Get 0x8305.
const (
	OpTransferGet        access.Opcode = 0x8300
	OpTransferStart      access.Opcode = 0x8301
	OpTransferCancel     access.Opcode = 0x8302
	OpTransferStatus     access.Opcode = 0x8303
	OpBlockStart         access.Opcode = 0x8304
	OpBlockGet           access.Opcode = 0x8305
	OpInformationGet     access.Opcode = 0x8306
	OpInformationStatus  access.Opcode = 0x8307
	OpChunkTransfer      access.Opcode = 0x66
	OpBlockStatus        access.Opcode = 0x67
	OpPartialBlockReport access.Opcode = 0x68
)

// Size limits that follow from the message layouts and the 380-octet
// access payload (opcode and parameters, 32-bit TransMIC).
const (
	// MaxChunkSize is the largest Chunk Size whose Chunk Transfer fits one
	// access message: 380 − 1 (opcode) − 2 (Chunk Number).
	MaxChunkSize = access.MaxMessageSize - 3
	// MaxBlockStatusChunks is the largest chunk count whose Missing Chunks
	// bit field fits a Block Status: (380 − 1 − 5) × 8. Zephyr caps
	// BT_MESH_BLOB_CHUNK_COUNT_MAX at the same 2992.
	MaxBlockStatusChunks = (access.MaxMessageSize - 1 - 5) * 8
	// MaxTransferStatusBlocks is the largest block count whose Blocks Not
	// Received bit field fits a Transfer Status: (380 − 2 − 17) × 8.
	MaxTransferStatusBlocks = (access.MaxMessageSize - 2 - 17) * 8
	// MinBlockSizeLog and MaxBlockSizeLog bound Block Size Log (64 octets
	// to 4 GiB; see docs/blob.md for the sources of this range).
	MinBlockSizeLog = 0x06
	MaxBlockSizeLog = 0x20
	// MinChunkSize and MinMTU are the smallest Max Chunk Size and Server
	// MTU Size a client accepts in an Information Status (Zephyr
	// blob_cli.c; see docs/blob.md).
	MinChunkSize = 8
	MinMTU       = 20
)

// ErrMessage is wrapped by every codec error of this package together with
// access.ErrLength, access.ErrRFU or access.ErrProhibited, so callers can
// branch on either.
var ErrMessage = errors.New("blob: bad message")

// ErrCapabilities reports an Information Status whose values are out of
// the ranges a client can use.
var ErrCapabilities = errors.New("blob: unusable capabilities")

func lenErr(name string, got int, want string) error {
	return fmt.Errorf("%w: %w: %s: %d octets, want %s", ErrMessage, access.ErrLength, name, got, want)
}

func rfuErr(name, what string, v uint64) error {
	return fmt.Errorf("%w: %w: %s: %s 0x%x", ErrMessage, access.ErrRFU, name, what, v)
}

func prohibitedErr(name, what string, v uint64) error {
	return fmt.Errorf("%w: %w: %s: %s 0x%x", ErrMessage, access.ErrProhibited, name, what, v)
}

// Status is the 4-bit Status field of BLOB Transfer Status and BLOB Block
// Status (MshMBT v1.0 §5.2.x, Table "Status codes"). Values 0x0B–0x0F are
// reserved for future use and rejected by the decoders.
type Status uint8

// Status codes, in spec order.
const (
	StatusSuccess                 Status = 0x00
	StatusInvalidBlockNumber      Status = 0x01
	StatusInvalidBlockSize        Status = 0x02
	StatusInvalidChunkSize        Status = 0x03
	StatusWrongPhase              Status = 0x04
	StatusInvalidParameter        Status = 0x05
	StatusWrongBLOBID             Status = 0x06
	StatusBLOBTooLarge            Status = 0x07
	StatusUnsupportedTransferMode Status = 0x08
	StatusInternalError           Status = 0x09
	StatusInformationUnavailable  Status = 0x0A
)

var statusNames = [...]string{
	"Success", "Invalid Block Number", "Invalid Block Size", "Invalid Chunk Size",
	"Wrong Phase", "Invalid Parameter", "Wrong BLOB ID", "BLOB Too Large",
	"Unsupported Transfer Mode", "Internal Error", "Information Unavailable",
}

// String returns the spec name of s.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(0x%02x)", uint8(s))
}

// Valid reports whether s is a defined status code.
func (s Status) Valid() bool { return int(s) < len(statusNames) }

// Phase is the Transfer Phase state of a BLOB Transfer Server (MshMBT v1.0
// §5.2.2), as carried in BLOB Transfer Status. Values above 0x05 are
// prohibited.
type Phase uint8

// Transfer Phase values.
const (
	PhaseInactive        Phase = 0x00
	PhaseWaitingForStart Phase = 0x01 // Waiting for Transfer Start
	PhaseWaitingForBlock Phase = 0x02 // Waiting for Next Block
	PhaseWaitingForChunk Phase = 0x03 // Waiting for Next Chunk
	PhaseComplete        Phase = 0x04
	PhaseSuspended       Phase = 0x05
	maxPhase                   = PhaseSuspended
)

var phaseNames = [...]string{
	"Inactive", "Waiting for Transfer Start", "Waiting for Next Block",
	"Waiting for Next Chunk", "Complete", "Suspended",
}

// String returns the spec name of p.
func (p Phase) String() string {
	if p <= maxPhase {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(0x%02x)", uint8(p))
}

// TransferMode is the 2-bit Transfer Mode field (MshMBT v1.0 §5.2.x). In
// BLOB Transfer Start it is Push or Pull; in BLOB Transfer Status it may
// also be ModeNone. 0b11 is prohibited.
type TransferMode uint8

// Transfer Mode values.
const (
	ModeNone TransferMode = 0b00 // no active transfer (Transfer Status only)
	ModePush TransferMode = 0b01 // Push BLOB Transfer mode
	ModePull TransferMode = 0b10 // Pull BLOB Transfer mode
)

// String returns "None", "Push", "Pull" or "Mode(3)".
func (m TransferMode) String() string {
	switch m {
	case ModeNone:
		return "None"
	case ModePush:
		return "Push"
	case ModePull:
		return "Pull"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Modes returns the Supported Transfer Mode bit of m (0 for ModeNone).
func (m TransferMode) Modes() SupportedModes {
	switch m {
	case ModePush:
		return SupportPush
	case ModePull:
		return SupportPull
	}
	return 0
}

// SupportedModes is the Supported Transfer Mode bit field of BLOB
// Information Status: bit 0 Push, bit 1 Pull, bits 2–7 RFU.
type SupportedModes uint8

// Supported Transfer Mode bits.
const (
	SupportPush SupportedModes = 1 << 0
	SupportPull SupportedModes = 1 << 1
	supportRFU  SupportedModes = 0xfc
)

// Has reports whether mode m is among s.
func (s SupportedModes) Has(m TransferMode) bool { return m.Modes() != 0 && s&m.Modes() != 0 }

// String lists the modes, e.g. "Push|Pull".
func (s SupportedModes) String() string {
	switch s {
	case 0:
		return "none"
	case SupportPush:
		return "Push"
	case SupportPull:
		return "Pull"
	case SupportPush | SupportPull:
		return "Push|Pull"
	}
	return fmt.Sprintf("SupportedModes(0x%02x)", uint8(s))
}

// BlockFormat is the 2-bit Format field of BLOB Block Status.
type BlockFormat uint8

// Block Status formats.
const (
	FormatAllMissing  BlockFormat = 0b00 // All Chunks Missing: no list follows
	FormatNoneMissing BlockFormat = 0b01 // No Chunks Missing: no list follows
	FormatSomeMissing BlockFormat = 0b10 // Some Chunks Missing: Missing Chunks bit field follows
	FormatEncodedList BlockFormat = 0b11 // Encoded Missing Chunks list follows
)

// String returns the spec name of f.
func (f BlockFormat) String() string {
	return [...]string{"All Chunks Missing", "No Chunks Missing", "Some Chunks Missing", "Encoded Missing Chunks"}[f&3]
}

// NewMessage returns a zero message of the BLOB Transfer message with
// opcode op, or nil if op is not a BLOB Transfer opcode.
func NewMessage(op access.Opcode) access.Message {
	switch op {
	case OpTransferGet:
		return new(TransferGet)
	case OpTransferStart:
		return new(TransferStart)
	case OpTransferCancel:
		return new(TransferCancel)
	case OpTransferStatus:
		return new(TransferStatus)
	case OpBlockStart:
		return new(BlockStart)
	case OpBlockGet:
		return new(BlockGet)
	case OpInformationGet:
		return new(InformationGet)
	case OpInformationStatus:
		return new(InformationStatus)
	case OpChunkTransfer:
		return new(ChunkTransfer)
	case OpBlockStatus:
		return new(BlockStatus)
	case OpPartialBlockReport:
		return new(PartialBlockReport)
	}
	return nil
}

// Opcodes lists every BLOB Transfer opcode.
var Opcodes = []access.Opcode{
	OpTransferGet, OpTransferStart, OpTransferCancel, OpTransferStatus,
	OpBlockStart, OpBlockGet, OpInformationGet, OpInformationStatus,
	OpChunkTransfer, OpBlockStatus, OpPartialBlockReport,
}

var (
	_ access.Message = (*TransferGet)(nil)
	_ access.Message = (*TransferStart)(nil)
	_ access.Message = (*TransferCancel)(nil)
	_ access.Message = (*TransferStatus)(nil)
	_ access.Message = (*BlockStart)(nil)
	_ access.Message = (*BlockGet)(nil)
	_ access.Message = (*BlockStatus)(nil)
	_ access.Message = (*PartialBlockReport)(nil)
	_ access.Message = (*ChunkTransfer)(nil)
	_ access.Message = (*InformationGet)(nil)
	_ access.Message = (*InformationStatus)(nil)
)

// emptyParams is the codec of a message without parameters.
func emptyUnmarshal(name string, p []byte) error {
	if len(p) != 0 {
		return lenErr(name, len(p), "0")
	}
	return nil
}
