package dfu

import (
	"bytes"
	"encoding/binary"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// UpdateGet is Firmware Update Get (opcode 0x830C): no parameters. It is
// answered by UpdateStatus.
type UpdateGet struct{}

// Opcode returns OpUpdateGet.
func (*UpdateGet) Opcode() access.Opcode { return OpUpdateGet }

// AppendBinary appends nothing.
func (*UpdateGet) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *UpdateGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*UpdateGet) Unmarshal(p []byte) error { return emptyUnmarshal("update get", p) }

// UpdateCancel is Firmware Update Cancel (opcode 0x830E): no parameters.
// It is answered by UpdateStatus.
type UpdateCancel struct{}

// Opcode returns OpUpdateCancel.
func (*UpdateCancel) Opcode() access.Opcode { return OpUpdateCancel }

// AppendBinary appends nothing.
func (*UpdateCancel) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *UpdateCancel) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*UpdateCancel) Unmarshal(p []byte) error { return emptyUnmarshal("update cancel", p) }

// UpdateApply is Firmware Update Apply (opcode 0x830F): no parameters. It
// is answered by UpdateStatus.
type UpdateApply struct{}

// Opcode returns OpUpdateApply.
func (*UpdateApply) Opcode() access.Opcode { return OpUpdateApply }

// AppendBinary appends nothing.
func (*UpdateApply) AppendBinary(b []byte) ([]byte, error) { return b, nil }

// Marshal returns the (empty) parameters.
func (m *UpdateApply) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal accepts only empty parameters.
func (*UpdateApply) Unmarshal(p []byte) error { return emptyUnmarshal("update apply", p) }

// UpdateStart is Firmware Update Start (opcode 0x830D), 12–267 octets,
// little-endian:
//
//	0   1      Update TTL (0x00–0x7F, or 0xFF: Default TTL)
//	1   2      Update Timeout Base
//	3   8      Update BLOB ID
//	11  1      Update Firmware Image Index
//	12  0–255  Incoming Firmware Metadata (optional)
//
// The BLOB Transfer Server times out after 10 s × (Timeout Base + 1)
// without a BLOB message.
type UpdateStart struct {
	TTL         uint8
	TimeoutBase uint16
	BLOBID      uint64
	ImageIndex  uint8
	Metadata    []byte
}

const updateStartMin = 12

// Opcode returns OpUpdateStart.
func (*UpdateStart) Opcode() access.Opcode { return OpUpdateStart }

// AppendBinary appends the parameters; a prohibited TTL or metadata
// longer than 255 octets is refused.
func (m *UpdateStart) AppendBinary(b []byte) ([]byte, error) {
	if !validTTL(m.TTL) {
		return b, prohibitedErr("update start", "TTL", uint64(m.TTL))
	}
	if len(m.Metadata) > MaxMetadataLen {
		return b, tooLongErr("update start", "metadata", len(m.Metadata), MaxMetadataLen)
	}
	b = append(b, m.TTL)
	b = binary.LittleEndian.AppendUint16(b, m.TimeoutBase)
	b = binary.LittleEndian.AppendUint64(b, m.BLOBID)
	b = append(b, m.ImageIndex)
	return append(b, m.Metadata...), nil
}

// Marshal returns the parameters.
func (m *UpdateStart) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 12–267 octets; Metadata is a copy, nil when empty.
func (m *UpdateStart) Unmarshal(p []byte) error {
	if len(p) < updateStartMin || len(p) > updateStartMin+MaxMetadataLen {
		return lenErr("update start", len(p), "12 to 267")
	}
	if !validTTL(p[0]) {
		return prohibitedErr("update start", "TTL", uint64(p[0]))
	}
	out := UpdateStart{
		TTL:         p[0],
		TimeoutBase: binary.LittleEndian.Uint16(p[1:]),
		BLOBID:      binary.LittleEndian.Uint64(p[3:]),
		ImageIndex:  p[11],
	}
	if len(p) > updateStartMin {
		out.Metadata = bytes.Clone(p[updateStartMin:])
	}
	*m = out
	return nil
}

// UpdateStatus is Firmware Update Status (opcode 0x8310), 1 or 14 octets:
//
//	0   bits 0–2  Status
//	    bits 3–4  RFU (zero)
//	    bits 5–7  Update Phase (0x0–0x6; 0x7 undefined)
//	— optional block, all or nothing (Details) —
//	1   1         Update TTL
//	2   bits 0–4  Additional Information (0x04–0x1F RFU)
//	    bits 5–7  RFU (zero)
//	3   2         Update Timeout Base
//	5   8         BLOB ID
//	13  1         Update Firmware Image Index
//
// A server sends the optional block whenever its phase is not Idle
// (Zephyr dfu_srv.c; docs/dfu.md).
type UpdateStatus struct {
	Status Status
	Phase  Phase

	Details        bool // the optional block is present
	TTL            uint8
	AdditionalInfo AdditionalInfo
	TimeoutBase    uint16
	BLOBID         uint64
	ImageIndex     uint8
}

const updateStatusFull = 14

// Opcode returns OpUpdateStatus.
func (*UpdateStatus) Opcode() access.Opcode { return OpUpdateStatus }

// AppendBinary appends 1 octet, or 14 when Details is set.
func (m *UpdateStatus) AppendBinary(b []byte) ([]byte, error) {
	const name = "update status"
	if !m.Status.Valid() {
		return b, prohibitedErr(name, "status", uint64(m.Status))
	}
	if !m.Phase.IsUpdatePhase() {
		return b, prohibitedErr(name, "update phase", uint64(m.Phase))
	}
	if !m.Details {
		return append(b, byte(m.Status)|byte(m.Phase)<<5), nil
	}
	if !validTTL(m.TTL) {
		return b, prohibitedErr(name, "TTL", uint64(m.TTL))
	}
	if !m.AdditionalInfo.Valid() {
		return b, rfuErr(name, "additional information", uint64(m.AdditionalInfo))
	}
	b = append(b, byte(m.Status)|byte(m.Phase)<<5, m.TTL, byte(m.AdditionalInfo))
	b = binary.LittleEndian.AppendUint16(b, m.TimeoutBase)
	b = binary.LittleEndian.AppendUint64(b, m.BLOBID)
	return append(b, m.ImageIndex), nil
}

// Marshal returns the parameters.
func (m *UpdateStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 1 or 14 octets.
func (m *UpdateStatus) Unmarshal(p []byte) error {
	const name = "update status"
	if len(p) != 1 && len(p) != updateStatusFull {
		return lenErr(name, len(p), "1 or 14")
	}
	if p[0]&0x18 != 0 {
		return rfuErr(name, "RFU bits", uint64(p[0]&0x18))
	}
	out := UpdateStatus{Status: Status(p[0] & 0x07), Phase: Phase(p[0] >> 5)}
	if !out.Phase.IsUpdatePhase() {
		return prohibitedErr(name, "update phase", uint64(out.Phase))
	}
	if len(p) == updateStatusFull {
		if !validTTL(p[1]) {
			return prohibitedErr(name, "TTL", uint64(p[1]))
		}
		if p[2]&0xe0 != 0 {
			return rfuErr(name, "RFU bits", uint64(p[2]&0xe0))
		}
		info := AdditionalInfo(p[2])
		if !info.Valid() {
			return rfuErr(name, "additional information", uint64(info))
		}
		out.Details = true
		out.TTL = p[1]
		out.AdditionalInfo = info
		out.TimeoutBase = binary.LittleEndian.Uint16(p[3:])
		out.BLOBID = binary.LittleEndian.Uint64(p[5:])
		out.ImageIndex = p[13]
	}
	*m = out
	return nil
}
