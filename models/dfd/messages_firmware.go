package dfd

import (
	"bytes"
	"encoding/binary"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// FirmwareGet is Firmware Distribution Firmware Get (opcode 0x8323),
// 2–108 octets: the Firmware ID to look up. It is answered by
// FirmwareStatus.
type FirmwareGet struct {
	FirmwareID []byte
}

// FirmwareDelete is Firmware Distribution Firmware Delete (opcode 0x8325),
// 2–108 octets: the Firmware ID of the image to delete. It is answered by
// FirmwareStatus.
type FirmwareDelete struct {
	FirmwareID []byte
}

// Opcode returns OpFirmwareGet.
func (*FirmwareGet) Opcode() access.Opcode { return OpFirmwareGet }

// Opcode returns OpFirmwareDelete.
func (*FirmwareDelete) Opcode() access.Opcode { return OpFirmwareDelete }

// AppendBinary appends the Firmware ID.
func (m *FirmwareGet) AppendBinary(b []byte) ([]byte, error) {
	return appendFWID("firmware get", b, m.FirmwareID)
}

// AppendBinary appends the Firmware ID.
func (m *FirmwareDelete) AppendBinary(b []byte) ([]byte, error) {
	return appendFWID("firmware delete", b, m.FirmwareID)
}

// Marshal returns the parameters.
func (m *FirmwareGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Marshal returns the parameters.
func (m *FirmwareDelete) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 2–108 octets into a copy.
func (m *FirmwareGet) Unmarshal(p []byte) error {
	if err := checkFWID("firmware get", p); err != nil {
		return err
	}
	m.FirmwareID = bytes.Clone(p)
	return nil
}

// Unmarshal decodes 2–108 octets into a copy.
func (m *FirmwareDelete) Unmarshal(p []byte) error {
	if err := checkFWID("firmware delete", p); err != nil {
		return err
	}
	m.FirmwareID = bytes.Clone(p)
	return nil
}

func appendFWID(name string, b, fwid []byte) ([]byte, error) {
	if err := checkFWID(name, fwid); err != nil {
		return b, err
	}
	return append(b, fwid...), nil
}

// FirmwareGetByIndex is Firmware Distribution Firmware Get By Index
// (opcode 0x8324), exactly 2 octets: the Distribution Firmware Image
// Index (little-endian). It is answered by FirmwareStatus.
type FirmwareGetByIndex struct {
	Index uint16
}

// Opcode returns OpFirmwareGetByIndex.
func (*FirmwareGetByIndex) Opcode() access.Opcode { return OpFirmwareGetByIndex }

// AppendBinary appends the 2 parameter octets.
func (m *FirmwareGetByIndex) AppendBinary(b []byte) ([]byte, error) {
	return binary.LittleEndian.AppendUint16(b, m.Index), nil
}

// Marshal returns the parameters.
func (m *FirmwareGetByIndex) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 2 octets.
func (m *FirmwareGetByIndex) Unmarshal(p []byte) error {
	if len(p) != 2 {
		return lenErr("firmware get by index", len(p), "2")
	}
	m.Index = binary.LittleEndian.Uint16(p)
	return nil
}

// FirmwareStatus is Firmware Distribution Firmware Status (opcode 0x8327),
// 5 or 7–113 octets, little-endian:
//
//	0  1       Status
//	1  2       Entry Count (images in the Firmware Images List)
//	3  2       Distribution Firmware Image Index (NotListed: 0xFFFF)
//	5  2–108   Firmware ID (optional)
type FirmwareStatus struct {
	Status     Status
	EntryCount uint16
	Index      uint16
	FirmwareID []byte // nil: absent
}

// Opcode returns OpFirmwareStatus.
func (*FirmwareStatus) Opcode() access.Opcode { return OpFirmwareStatus }

// AppendBinary appends the parameters.
func (m *FirmwareStatus) AppendBinary(b []byte) ([]byte, error) {
	const name = "firmware status"
	if !m.Status.Valid() {
		return b, prohibitedErr(name, "status", uint64(m.Status))
	}
	if len(m.FirmwareID) > 0 {
		if err := checkFWID(name, m.FirmwareID); err != nil {
			return b, err
		}
	}
	b = append(b, byte(m.Status))
	b = binary.LittleEndian.AppendUint16(b, m.EntryCount)
	b = binary.LittleEndian.AppendUint16(b, m.Index)
	return append(b, m.FirmwareID...), nil
}

// Marshal returns the parameters.
func (m *FirmwareStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 5 or 7–113 octets.
func (m *FirmwareStatus) Unmarshal(p []byte) error {
	const name = "firmware status"
	if len(p) < 5 {
		return lenErr(name, len(p), "5 or 7..113")
	}
	if !Status(p[0]).Valid() {
		return rfuErr(name, "status", uint64(p[0]))
	}
	var fwid []byte
	if len(p) > 5 {
		if err := checkFWID(name, p[5:]); err != nil {
			return err
		}
		fwid = bytes.Clone(p[5:])
	}
	m.Status, m.EntryCount, m.Index, m.FirmwareID = Status(p[0]), binary.LittleEndian.Uint16(p[1:]), binary.LittleEndian.Uint16(p[3:]), fwid
	return nil
}

var (
	_ access.Message = (*ReceiversAdd)(nil)
	_ access.Message = (*ReceiversDeleteAll)(nil)
	_ access.Message = (*ReceiversStatus)(nil)
	_ access.Message = (*ReceiversGet)(nil)
	_ access.Message = (*ReceiversList)(nil)
	_ access.Message = (*CapabilitiesGet)(nil)
	_ access.Message = (*CapabilitiesStatus)(nil)
	_ access.Message = (*Get)(nil)
	_ access.Message = (*Start)(nil)
	_ access.Message = (*Suspend)(nil)
	_ access.Message = (*Cancel)(nil)
	_ access.Message = (*Apply)(nil)
	_ access.Message = (*DistributionStatus)(nil)
	_ access.Message = (*UploadGet)(nil)
	_ access.Message = (*UploadStart)(nil)
	_ access.Message = (*UploadOOBStart)(nil)
	_ access.Message = (*UploadCancel)(nil)
	_ access.Message = (*UploadStatus)(nil)
	_ access.Message = (*FirmwareGet)(nil)
	_ access.Message = (*FirmwareGetByIndex)(nil)
	_ access.Message = (*FirmwareDelete)(nil)
	_ access.Message = (*FirmwareDeleteAll)(nil)
	_ access.Message = (*FirmwareStatus)(nil)
)
