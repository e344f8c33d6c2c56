package dfu

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Model IDs of the Firmware Update models (MshDFU v1.0; Zephyr
// BT_MESH_MODEL_ID_DFU_SRV/_CLI). The server extends the BLOB Transfer
// Server and the client the BLOB Transfer Client on the same element.
const (
	ServerModelID access.ModelID = 0x1402
	ClientModelID access.ModelID = 0x1403
)

// Opcodes of the Firmware Update messages (Zephyr
// subsys/bluetooth/mesh/dfu.h; docs/dfu.md). All are acknowledged
// requests answered by the status named in their comment.
const (
	OpInformationGet    access.Opcode = 0x8308 // → OpInformationStatus
	OpInformationStatus access.Opcode = 0x8309
	OpMetadataCheck     access.Opcode = 0x830A // → OpMetadataStatus
	OpMetadataStatus    access.Opcode = 0x830B
	OpUpdateGet         access.Opcode = 0x830C // → OpUpdateStatus
	OpUpdateStart       access.Opcode = 0x830D // → OpUpdateStatus
	OpUpdateCancel      access.Opcode = 0x830E // → OpUpdateStatus
	OpUpdateApply       access.Opcode = 0x830F // → OpUpdateStatus
	OpUpdateStatus      access.Opcode = 0x8310
)

// Field limits (MshDFU v1.0 as encoded by Zephyr, Nordic and Silicon Labs;
// docs/dfu.md).
const (
	// MinFirmwareIDLen and MaxFirmwareIDLen bound a Firmware ID: Company
	// ID (2 octets) and 0–106 octets of Version Information.
	MinFirmwareIDLen = 2
	MaxFirmwareIDLen = 108
	// MaxMetadataLen is the longest Incoming Firmware Metadata.
	MaxMetadataLen = 255
	// MaxURILen is the longest Update URI (1-octet length field).
	MaxURILen = 255
	// maxParams is the longest parameter field of a 2-octet opcode.
	maxParams = access.MaxMessageSize - 2
)

// Status is the 3-bit status code of Firmware Update Firmware Metadata
// Status and Firmware Update Status (MshDFU Table FS-6 in docs/dfu.md).
// Every 3-bit value is defined.
type Status uint8

// Status codes, in spec order.
const (
	StatusSuccess                Status = 0x00
	StatusInsufficientResources  Status = 0x01
	StatusWrongPhase             Status = 0x02
	StatusInternalError          Status = 0x03
	StatusWrongFirmwareIndex     Status = 0x04
	StatusMetadataCheckFailed    Status = 0x05
	StatusTemporarilyUnavailable Status = 0x06
	StatusBLOBTransferBusy       Status = 0x07
)

var statusNames = [...]string{
	"Success", "Insufficient Resources", "Wrong Phase", "Internal Error",
	"Wrong Firmware Index", "Metadata Check Failed", "Temporarily Unavailable",
	"BLOB Transfer Busy",
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

// Phase is the Update Phase of a Firmware Update Server (MshDFU Table 4.5,
// 3 bits, 0x0–0x6), extended with the Retrieved Update Phase values a
// client or Distribution Server keeps per target (MshDFU Table 4.8, 4
// bits, 0x7–0xA). A Firmware Update Status carries only 0x0–0x6.
//
// Server transitions (see server.go):
//
//	Idle ──Start──▶ Transfer Active ──BLOB done──▶ Verifying Update ──▶ Verification Succeeded ──Apply──▶ Applying Update ──▶ Idle
//	                  │   ▲                                   └──────▶ Verification Failed
//	        timeout / │   │ Start, same parameters
//	        reboot    ▼   │
//	               Transfer Error
//
// Cancel returns every phase to Idle.
type Phase uint8

// Update Phase values, then the Retrieved Update Phase values.
const (
	PhaseIdle                  Phase = 0x0
	PhaseTransferError         Phase = 0x1
	PhaseTransferActive        Phase = 0x2
	PhaseVerifyingUpdate       Phase = 0x3
	PhaseVerificationSucceeded Phase = 0x4
	PhaseVerificationFailed    Phase = 0x5
	PhaseApplyingUpdate        Phase = 0x6
	PhaseTransferCanceled      Phase = 0x7 // Retrieved Update Phase only
	PhaseApplySuccess          Phase = 0x8 // Retrieved Update Phase only
	PhaseApplyFailed           Phase = 0x9 // Retrieved Update Phase only
	PhaseUnknown               Phase = 0xA // Retrieved Update Phase only: not yet retrieved
	maxUpdatePhase                   = PhaseApplyingUpdate
)

var phaseNames = [...]string{
	"Idle", "Transfer Error", "Transfer Active", "Verifying Update",
	"Verification Succeeded", "Verification Failed", "Applying Update",
	"Transfer Canceled", "Apply Success", "Apply Failed", "Unknown",
}

// String returns the spec name of p.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(0x%02x)", uint8(p))
}

// IsUpdatePhase reports whether p is an Update Phase a server can be in
// (0x0–0x6), the values a Firmware Update Status may carry.
func (p Phase) IsUpdatePhase() bool { return p <= maxUpdatePhase }

// Valid reports whether p is a defined Retrieved Update Phase (0x0–0xA).
func (p Phase) Valid() bool { return int(p) < len(phaseNames) }

// AdditionalInfo is the 5-bit Firmware Update Additional Information: what
// applying the new firmware does to the node (MshDFU Table FS-4 in
// docs/dfu.md). Values 0x04–0x1F are reserved for future use.
type AdditionalInfo uint8

// Additional Information values.
const (
	// InfoNoChange: Composition Data will not change.
	InfoNoChange AdditionalInfo = 0x0
	// InfoCompositionChangeNoRPR: Composition Data will change and the
	// node does not support Remote Provisioning; the new data takes effect
	// after re-provisioning.
	InfoCompositionChangeNoRPR AdditionalInfo = 0x1
	// InfoCompositionChange: Composition Data will change and Remote
	// Provisioning is supported; the node shows the new data in
	// Composition Data Page 128 until a Node Provisioning Protocol
	// Interface procedure refreshes it.
	InfoCompositionChange AdditionalInfo = 0x2
	// InfoUnprovision: the node will be unprovisioned after the new
	// firmware is applied.
	InfoUnprovision   AdditionalInfo = 0x3
	maxAdditionalInfo                = InfoUnprovision
)

var infoNames = [...]string{
	"No Change", "Composition Change (no Remote Provisioning)",
	"Composition Change", "Unprovision",
}

// String returns a short name of a.
func (a AdditionalInfo) String() string {
	if a <= maxAdditionalInfo {
		return infoNames[a]
	}
	return fmt.Sprintf("AdditionalInfo(0x%02x)", uint8(a))
}

// Valid reports whether a is a defined value (not RFU).
func (a AdditionalInfo) Valid() bool { return a <= maxAdditionalInfo }

// validTTL reports whether ttl is allowed in Update TTL: 0x00–0x7F or
// 0xFF (use the Default TTL); 0x80–0xFE are prohibited.
func validTTL(ttl uint8) bool { return ttl <= access.MaxTTL || ttl == access.DefaultTTL }

// NewMessage returns a zero message of the Firmware Update message with
// opcode op, or nil if op is not a Firmware Update opcode.
func NewMessage(op access.Opcode) access.Message {
	switch op {
	case OpInformationGet:
		return new(InformationGet)
	case OpInformationStatus:
		return new(InformationStatus)
	case OpMetadataCheck:
		return new(MetadataCheck)
	case OpMetadataStatus:
		return new(MetadataStatus)
	case OpUpdateGet:
		return new(UpdateGet)
	case OpUpdateStart:
		return new(UpdateStart)
	case OpUpdateCancel:
		return new(UpdateCancel)
	case OpUpdateApply:
		return new(UpdateApply)
	case OpUpdateStatus:
		return new(UpdateStatus)
	}
	return nil
}

// Opcodes lists every Firmware Update opcode.
var Opcodes = []access.Opcode{
	OpInformationGet, OpInformationStatus, OpMetadataCheck, OpMetadataStatus,
	OpUpdateGet, OpUpdateStart, OpUpdateCancel, OpUpdateApply, OpUpdateStatus,
}

var opNames = map[access.Opcode]string{
	OpInformationGet: "Information Get", OpInformationStatus: "Information Status",
	OpMetadataCheck: "Metadata Check", OpMetadataStatus: "Metadata Status",
	OpUpdateGet: "Update Get", OpUpdateStart: "Update Start", OpUpdateCancel: "Update Cancel",
	OpUpdateApply: "Update Apply", OpUpdateStatus: "Update Status",
}

func opName(op access.Opcode) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return op.String()
}

var (
	_ access.Message = (*InformationGet)(nil)
	_ access.Message = (*InformationStatus)(nil)
	_ access.Message = (*MetadataCheck)(nil)
	_ access.Message = (*MetadataStatus)(nil)
	_ access.Message = (*UpdateGet)(nil)
	_ access.Message = (*UpdateStart)(nil)
	_ access.Message = (*UpdateCancel)(nil)
	_ access.Message = (*UpdateApply)(nil)
	_ access.Message = (*UpdateStatus)(nil)
)

func emptyUnmarshal(name string, p []byte) error {
	if len(p) != 0 {
		return lenErr(name, len(p), "0")
	}
	return nil
}
