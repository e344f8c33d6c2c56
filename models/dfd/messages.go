package dfd

import (
	"fmt"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Model IDs of the Firmware Distribution models (MshDFU v1.0; Zephyr
// BT_MESH_MODEL_ID_DFD_SRV/_CLI). The server extends a BLOB Transfer
// Server (for uploads) and the client a BLOB Transfer Client.
const (
	ServerModelID access.ModelID = 0x1404
	ClientModelID access.ModelID = 0x1405
)

// Opcodes of the Firmware Distribution messages (Zephyr
// subsys/bluetooth/mesh/dfd.h; docs/dfd.md). Requests are acknowledged and
// answered by the status named in their comment.
const (
	OpReceiversAdd       access.Opcode = 0x8311 // → OpReceiversStatus
	OpReceiversDeleteAll access.Opcode = 0x8312 // → OpReceiversStatus
	OpReceiversStatus    access.Opcode = 0x8313
	OpReceiversGet       access.Opcode = 0x8314 // → OpReceiversList
	OpReceiversList      access.Opcode = 0x8315
	OpCapabilitiesGet    access.Opcode = 0x8316 // → OpCapabilitiesStatus
	OpCapabilitiesStatus access.Opcode = 0x8317
	OpGet                access.Opcode = 0x8318 // → OpStatus
	OpStart              access.Opcode = 0x8319 // → OpStatus
	OpSuspend            access.Opcode = 0x831A // → OpStatus
	OpCancel             access.Opcode = 0x831B // → OpStatus
	OpApply              access.Opcode = 0x831C // → OpStatus
	OpStatus             access.Opcode = 0x831D
	OpUploadGet          access.Opcode = 0x831E // → OpUploadStatus
	OpUploadStart        access.Opcode = 0x831F // → OpUploadStatus
	OpUploadOOBStart     access.Opcode = 0x8320 // → OpUploadStatus
	OpUploadCancel       access.Opcode = 0x8321 // → OpUploadStatus
	OpUploadStatus       access.Opcode = 0x8322
	OpFirmwareGet        access.Opcode = 0x8323 // → OpFirmwareStatus
	OpFirmwareGetByIndex access.Opcode = 0x8324 // → OpFirmwareStatus
	OpFirmwareDelete     access.Opcode = 0x8325 // → OpFirmwareStatus
	OpFirmwareDeleteAll  access.Opcode = 0x8326 // → OpFirmwareStatus
	OpFirmwareStatus     access.Opcode = 0x8327
)

// Field limits (MshDFU v1.0 as encoded by Zephyr, Nordic and Silicon Labs;
// docs/dfd.md).
const (
	// MinFirmwareIDLen and MaxFirmwareIDLen bound a Firmware ID: Company
	// ID (2 octets) and 0–106 octets of Version Information.
	MinFirmwareIDLen = 2
	MaxFirmwareIDLen = 108
	// MaxMetadataLen is the longest Upload Firmware Metadata.
	MaxMetadataLen = 255
	// MaxURILen is the longest Upload URI (1-octet length field).
	MaxURILen = 255
	// NotListed is the Distribution Firmware Image Index of an image that
	// is not in the Firmware Images List.
	NotListed = 0xFFFF
	// maxParams is the longest parameter field of a 2-octet opcode.
	maxParams = access.MaxMessageSize - 2
	// MaxReceiversPerAdd is the most entries one Receivers Add carries.
	MaxReceiversPerAdd = maxParams / receiverEntryLen
	// MaxReceiversPerList is the most entries one Receivers List carries.
	MaxReceiversPerList = (maxParams - 4) / nodeEntryLen
)

// URI scheme codes of Supported URI Scheme Names (Bluetooth Assigned
// Numbers, URI Scheme Name String Mapping).
const (
	SchemeHTTP  byte = 0x16
	SchemeHTTPS byte = 0x17
)

// Status is a Firmware Distribution status code (MshDFU Table FS-7 in
// shared/spec/dfu.md); 0x0E–0xFF are not defined.
type Status uint8

// Status codes, in spec order.
const (
	StatusSuccess                 Status = 0x00
	StatusInsufficientResources   Status = 0x01
	StatusWrongPhase              Status = 0x02
	StatusInternalError           Status = 0x03
	StatusFirmwareNotFound        Status = 0x04
	StatusInvalidAppKeyIndex      Status = 0x05
	StatusReceiversListEmpty      Status = 0x06
	StatusBusyWithDistribution    Status = 0x07
	StatusBusyWithUpload          Status = 0x08
	StatusURINotSupported         Status = 0x09
	StatusURIMalformed            Status = 0x0A
	StatusURIUnreachable          Status = 0x0B
	StatusNewFirmwareNotAvailable Status = 0x0C
	StatusSuspendFailed           Status = 0x0D
)

var statusNames = [...]string{
	"Success", "Insufficient Resources", "Wrong Phase", "Internal Error",
	"Firmware Not Found", "Invalid AppKey Index", "Receivers List Empty",
	"Busy With Distribution", "Busy With Upload", "URI Not Supported",
	"URI Malformed", "URI Unreachable", "New Firmware Not Available",
	"Suspend Failed",
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

// Phase is the Distribution Phase of a Firmware Distribution Server
// (MshDFU Table FS-5a). Transitions (server_distribute.go):
//
//	Idle ──Start──▶ Transfer Active ──BLOB, verify──▶ Transfer Success (Verify Only) ──Apply──▶ Applying Update
//	                  │  ▲                  └──(Verify And Apply)──────────────────────────▶ Applying Update
//	   Suspend / all  │  │ Start, same parameters                       Applying Update ──confirm──▶ Completed | Failed
//	   targets silent ▼  │
//	            Transfer Suspended
//	Transfer Active, Suspended, Success, Applying ──Cancel──▶ Canceling Update ──▶ Idle
//	Completed, Failed ──Cancel──▶ Idle;  no receiver left ──▶ Failed
type Phase uint8

// Distribution Phase values.
const (
	PhaseIdle              Phase = 0x00
	PhaseTransferActive    Phase = 0x01
	PhaseTransferSuccess   Phase = 0x02
	PhaseApplyingUpdate    Phase = 0x03
	PhaseCompleted         Phase = 0x04
	PhaseFailed            Phase = 0x05
	PhaseCancelingUpdate   Phase = 0x06
	PhaseTransferSuspended Phase = 0x07
)

var phaseNames = [...]string{
	"Idle", "Transfer Active", "Transfer Success", "Applying Update",
	"Completed", "Failed", "Canceling Update", "Transfer Suspended",
}

// String returns the spec name of p.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(0x%02x)", uint8(p))
}

// Valid reports whether p is a defined Distribution Phase.
func (p Phase) Valid() bool { return int(p) < len(phaseNames) }

// UploadPhase is the Upload Phase of a Firmware Distribution Server
// (MshDFU Table FS-5b):
//
//	Idle ──Upload Start / OOB check found firmware──▶ Transfer Active ──▶ Transfer Success | Transfer Error
//	any ──Upload Cancel──▶ Idle
type UploadPhase uint8

// Upload Phase values.
const (
	UploadIdle            UploadPhase = 0x00
	UploadTransferActive  UploadPhase = 0x01
	UploadTransferError   UploadPhase = 0x02
	UploadTransferSuccess UploadPhase = 0x03
)

var uploadPhaseNames = [...]string{"Idle", "Transfer Active", "Transfer Error", "Transfer Success"}

// String returns the spec name of p.
func (p UploadPhase) String() string {
	if int(p) < len(uploadPhaseNames) {
		return uploadPhaseNames[p]
	}
	return fmt.Sprintf("UploadPhase(0x%02x)", uint8(p))
}

// Valid reports whether p is a defined Upload Phase.
func (p UploadPhase) Valid() bool { return int(p) < len(uploadPhaseNames) }

// Policy is the 1-bit Update Policy of Distribution Start and Status.
type Policy uint8

// Update Policy values.
const (
	PolicyVerifyOnly     Policy = 0
	PolicyVerifyAndApply Policy = 1
)

// String returns the spec name of p.
func (p Policy) String() string {
	switch p {
	case PolicyVerifyOnly:
		return "Verify Only"
	case PolicyVerifyAndApply:
		return "Verify And Apply"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// validTTL reports whether ttl is allowed in a TTL field: 0x00–0x7F or
// 0xFF (use the Default TTL); 0x80–0xFE are prohibited.
func validTTL(ttl uint8) bool { return ttl <= access.MaxTTL || ttl == access.DefaultTTL }

func checkFWID(name string, fwid []byte) error {
	if len(fwid) < MinFirmwareIDLen {
		return lenErr(name, len(fwid), "a Firmware ID of 2..108")
	}
	if len(fwid) > MaxFirmwareIDLen {
		return tooLongErr(name, "Firmware ID", len(fwid), MaxFirmwareIDLen)
	}
	return nil
}

// NewMessage returns a zero message of the Firmware Distribution message
// with opcode op, or nil if op is not a Firmware Distribution opcode.
func NewMessage(op access.Opcode) access.Message {
	switch op {
	case OpReceiversAdd:
		return new(ReceiversAdd)
	case OpReceiversDeleteAll:
		return new(ReceiversDeleteAll)
	case OpReceiversStatus:
		return new(ReceiversStatus)
	case OpReceiversGet:
		return new(ReceiversGet)
	case OpReceiversList:
		return new(ReceiversList)
	case OpCapabilitiesGet:
		return new(CapabilitiesGet)
	case OpCapabilitiesStatus:
		return new(CapabilitiesStatus)
	case OpGet:
		return new(Get)
	case OpStart:
		return new(Start)
	case OpSuspend:
		return new(Suspend)
	case OpCancel:
		return new(Cancel)
	case OpApply:
		return new(Apply)
	case OpStatus:
		return new(DistributionStatus)
	case OpUploadGet:
		return new(UploadGet)
	case OpUploadStart:
		return new(UploadStart)
	case OpUploadOOBStart:
		return new(UploadOOBStart)
	case OpUploadCancel:
		return new(UploadCancel)
	case OpUploadStatus:
		return new(UploadStatus)
	case OpFirmwareGet:
		return new(FirmwareGet)
	case OpFirmwareGetByIndex:
		return new(FirmwareGetByIndex)
	case OpFirmwareDelete:
		return new(FirmwareDelete)
	case OpFirmwareDeleteAll:
		return new(FirmwareDeleteAll)
	case OpFirmwareStatus:
		return new(FirmwareStatus)
	}
	return nil
}

// Opcodes lists every Firmware Distribution opcode.
var Opcodes = []access.Opcode{
	OpReceiversAdd, OpReceiversDeleteAll, OpReceiversStatus, OpReceiversGet, OpReceiversList,
	OpCapabilitiesGet, OpCapabilitiesStatus, OpGet, OpStart, OpSuspend, OpCancel, OpApply, OpStatus,
	OpUploadGet, OpUploadStart, OpUploadOOBStart, OpUploadCancel, OpUploadStatus,
	OpFirmwareGet, OpFirmwareGetByIndex, OpFirmwareDelete, OpFirmwareDeleteAll, OpFirmwareStatus,
}

var opNames = map[access.Opcode]string{
	OpReceiversAdd: "Receivers Add", OpReceiversDeleteAll: "Receivers Delete All",
	OpReceiversStatus: "Receivers Status", OpReceiversGet: "Receivers Get", OpReceiversList: "Receivers List",
	OpCapabilitiesGet: "Capabilities Get", OpCapabilitiesStatus: "Capabilities Status",
	OpGet: "Distribution Get", OpStart: "Distribution Start", OpSuspend: "Distribution Suspend",
	OpCancel: "Distribution Cancel", OpApply: "Distribution Apply", OpStatus: "Distribution Status",
	OpUploadGet: "Upload Get", OpUploadStart: "Upload Start", OpUploadOOBStart: "Upload OOB Start",
	OpUploadCancel: "Upload Cancel", OpUploadStatus: "Upload Status",
	OpFirmwareGet: "Firmware Get", OpFirmwareGetByIndex: "Firmware Get By Index",
	OpFirmwareDelete: "Firmware Delete", OpFirmwareDeleteAll: "Firmware Delete All",
	OpFirmwareStatus: "Firmware Status",
}

func opName(op access.Opcode) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return op.String()
}

func emptyUnmarshal(name string, p []byte) error {
	if len(p) != 0 {
		return lenErr(name, len(p), "0")
	}
	return nil
}

// The parameterless requests.

// ReceiversDeleteAll is Firmware Distribution Receivers Delete All (opcode
// 0x8312): no parameters. It is answered by ReceiversStatus.
type ReceiversDeleteAll struct{}

// CapabilitiesGet is Firmware Distribution Capabilities Get (opcode
// 0x8316): no parameters. It is answered by CapabilitiesStatus.
type CapabilitiesGet struct{}

// Get is Firmware Distribution Get (opcode 0x8318): no parameters. It is
// answered by DistributionStatus.
type Get struct{}

// Suspend is Firmware Distribution Suspend (opcode 0x831A): no
// parameters. It is answered by DistributionStatus.
type Suspend struct{}

// Cancel is Firmware Distribution Cancel (opcode 0x831B): no parameters.
// It is answered by DistributionStatus.
type Cancel struct{}

// Apply is Firmware Distribution Apply (opcode 0x831C): no parameters. It
// is answered by DistributionStatus.
type Apply struct{}

// UploadGet is Firmware Distribution Upload Get (opcode 0x831E): no
// parameters. It is answered by UploadStatus.
type UploadGet struct{}

// UploadCancel is Firmware Distribution Upload Cancel (opcode 0x8321): no
// parameters. It is answered by UploadStatus.
type UploadCancel struct{}

// FirmwareDeleteAll is Firmware Distribution Firmware Delete All (opcode
// 0x8326): no parameters. It is answered by FirmwareStatus.
type FirmwareDeleteAll struct{}

// Opcode returns OpReceiversDeleteAll.
func (*ReceiversDeleteAll) Opcode() access.Opcode { return OpReceiversDeleteAll }

// Opcode returns OpCapabilitiesGet.
func (*CapabilitiesGet) Opcode() access.Opcode { return OpCapabilitiesGet }

// Opcode returns OpGet.
func (*Get) Opcode() access.Opcode { return OpGet }

// Opcode returns OpSuspend.
func (*Suspend) Opcode() access.Opcode { return OpSuspend }

// Opcode returns OpCancel.
func (*Cancel) Opcode() access.Opcode { return OpCancel }

// Opcode returns OpApply.
func (*Apply) Opcode() access.Opcode { return OpApply }

// Opcode returns OpUploadGet.
func (*UploadGet) Opcode() access.Opcode { return OpUploadGet }

// Opcode returns OpUploadCancel.
func (*UploadCancel) Opcode() access.Opcode { return OpUploadCancel }

// Opcode returns OpFirmwareDeleteAll.
func (*FirmwareDeleteAll) Opcode() access.Opcode { return OpFirmwareDeleteAll }

// AppendBinary appends nothing.
func (*ReceiversDeleteAll) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*CapabilitiesGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*Get) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*Suspend) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*Cancel) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*Apply) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*UploadGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*UploadCancel) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// AppendBinary appends nothing.
func (*FirmwareDeleteAll) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Unmarshal accepts only empty parameters.
func (*ReceiversDeleteAll) Unmarshal(p []byte) error {
	return emptyUnmarshal("receivers delete all", p)
}

// Unmarshal accepts only empty parameters.
func (*CapabilitiesGet) Unmarshal(p []byte) error { return emptyUnmarshal("capabilities get", p) }

// Unmarshal accepts only empty parameters.
func (*Get) Unmarshal(p []byte) error { return emptyUnmarshal("distribution get", p) }

// Unmarshal accepts only empty parameters.
func (*Suspend) Unmarshal(p []byte) error { return emptyUnmarshal("distribution suspend", p) }

// Unmarshal accepts only empty parameters.
func (*Cancel) Unmarshal(p []byte) error { return emptyUnmarshal("distribution cancel", p) }

// Unmarshal accepts only empty parameters.
func (*Apply) Unmarshal(p []byte) error { return emptyUnmarshal("distribution apply", p) }

// Unmarshal accepts only empty parameters.
func (*UploadGet) Unmarshal(p []byte) error { return emptyUnmarshal("upload get", p) }

// Unmarshal accepts only empty parameters.
func (*UploadCancel) Unmarshal(p []byte) error { return emptyUnmarshal("upload cancel", p) }

// Unmarshal accepts only empty parameters.
func (*FirmwareDeleteAll) Unmarshal(p []byte) error {
	return emptyUnmarshal("firmware delete all", p)
}

// Marshal returns the (empty) parameters.
func (m *ReceiversDeleteAll) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *CapabilitiesGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *Get) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *Suspend) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *Cancel) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *Apply) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *UploadGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *UploadCancel) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the (empty) parameters.
func (m *FirmwareDeleteAll) Marshal() ([]byte, error) { return m.AppendBinary(nil) }
