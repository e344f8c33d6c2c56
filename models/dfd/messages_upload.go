package dfd

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"

	"github.com/meshdfu/meshdfu/internal/wire"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// UploadStart is Firmware Distribution Upload Start (opcode 0x831F),
// 18–379 octets, little-endian:
//
//	0   1  Upload TTL
//	1   2  Upload Timeout Base
//	3   8  Upload BLOB ID
//	11  4  Upload Firmware Size
//	15  1  Upload Firmware Metadata Length M (0–255, always present)
//	16  M  Upload Firmware Metadata
//	16+M   Upload Firmware ID (2–108, to the end)
//
// It is answered by UploadStatus.
type UploadStart struct {
	TTL         uint8
	TimeoutBase uint16
	BLOBID      uint64
	Size        uint32
	Metadata    []byte
	FirmwareID  []byte
}

// Opcode returns OpUploadStart.
func (*UploadStart) Opcode() access.Opcode { return OpUploadStart }

// AppendBinary appends the parameters.
func (m *UploadStart) AppendBinary(b []byte) ([]byte, error) {
	const name = "upload start"
	if !validTTL(m.TTL) {
		return b, prohibitedErr(name, "TTL", uint64(m.TTL))
	}
	if len(m.Metadata) > MaxMetadataLen {
		return b, tooLongErr(name, "metadata", len(m.Metadata), MaxMetadataLen)
	}
	if err := checkFWID(name, m.FirmwareID); err != nil {
		return b, err
	}
	if 16+len(m.Metadata)+len(m.FirmwareID) > maxParams {
		return b, tooLongErr(name, "message", 16+len(m.Metadata)+len(m.FirmwareID), maxParams)
	}
	b = append(b, m.TTL)
	b = binary.LittleEndian.AppendUint16(b, m.TimeoutBase)
	b = binary.LittleEndian.AppendUint64(b, m.BLOBID)
	b = binary.LittleEndian.AppendUint32(b, m.Size)
	b = append(b, byte(len(m.Metadata)))
	b = append(b, m.Metadata...)
	return append(b, m.FirmwareID...), nil
}

// Marshal returns the parameters.
func (m *UploadStart) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes the parameters; Metadata (nil when empty) and
// FirmwareID are copies.
func (m *UploadStart) Unmarshal(p []byte) error {
	const name = "upload start"
	if len(p) > maxParams {
		return tooLongErr(name, "message", len(p), maxParams)
	}
	r := wire.NewReader(p)
	var s UploadStart
	s.TTL = r.U8()
	s.TimeoutBase = r.U16LE()
	lo, hi := r.U32LE(), r.U32LE()
	s.BLOBID = uint64(hi)<<32 | uint64(lo)
	s.Size = r.U32LE()
	meta := r.Bytes(int(r.U8()))
	if r.Err() != nil {
		return lenErr(name, len(p), "16 + metadata + Firmware ID")
	}
	fwid := r.Rest()
	if !validTTL(s.TTL) {
		return prohibitedErr(name, "TTL", uint64(s.TTL))
	}
	if err := checkFWID(name, fwid); err != nil {
		return err
	}
	if len(meta) > 0 {
		s.Metadata = bytes.Clone(meta)
	}
	s.FirmwareID = bytes.Clone(fwid)
	*m = s
	return nil
}

// UploadOOBStart is Firmware Distribution Upload OOB Start (opcode
// 0x8320), 4–364 octets:
//
//	0    1  Upload URI Length U (1–255)
//	1    U  Upload URI (UTF-8)
//	1+U     Upload Firmware ID: the current Firmware ID of the targets (2–108, to the end)
//
// It is answered by UploadStatus once the Check Firmware OOB procedure
// ran.
type UploadOOBStart struct {
	URI        string
	FirmwareID []byte
}

// Opcode returns OpUploadOOBStart.
func (*UploadOOBStart) Opcode() access.Opcode { return OpUploadOOBStart }

// AppendBinary appends the parameters.
func (m *UploadOOBStart) AppendBinary(b []byte) ([]byte, error) {
	const name = "upload oob start"
	if len(m.URI) == 0 || len(m.URI) > MaxURILen {
		return b, lenErr(name, len(m.URI), "a URI of 1..255")
	}
	if !utf8.ValidString(m.URI) {
		return b, prohibitedErr(name, "URI encoding", 0)
	}
	if err := checkFWID(name, m.FirmwareID); err != nil {
		return b, err
	}
	b = append(b, byte(len(m.URI)))
	b = append(b, m.URI...)
	return append(b, m.FirmwareID...), nil
}

// Marshal returns the parameters.
func (m *UploadOOBStart) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes the parameters; it rejects an empty or non-UTF-8 URI.
func (m *UploadOOBStart) Unmarshal(p []byte) error {
	const name = "upload oob start"
	if len(p) == 0 {
		return lenErr(name, 0, "≥ 4")
	}
	n := int(p[0])
	if n == 0 {
		return lenErr(name, 0, "a URI of 1..255")
	}
	if len(p) < 1+n {
		return lenErr(name, len(p), "1 + URI + Firmware ID")
	}
	uri, fwid := p[1:1+n], p[1+n:]
	if !utf8.Valid(uri) {
		return prohibitedErr(name, "URI encoding", 0)
	}
	if err := checkFWID(name, fwid); err != nil {
		return err
	}
	m.URI, m.FirmwareID = string(uri), bytes.Clone(fwid)
	return nil
}

// UploadStatus is Firmware Distribution Upload Status (opcode 0x8322), 2
// or 5–111 octets:
//
//	0  1         Status
//	1  1         Upload Phase
//	— optional block (Details; sent when the phase is not Idle) —
//	2  bits 0–6  Upload Progress, percent (0–100)
//	   bit  7    Upload Type: 0 in-band, 1 out-of-band
//	3  2–108     Upload Firmware ID
//
// For an OOB upload meshdfu puts the new Firmware ID once the check found
// it (docs/dfd.md).
type UploadStatus struct {
	Status     Status
	Phase      UploadPhase
	Details    bool
	Progress   uint8
	OOB        bool
	FirmwareID []byte
}

// Opcode returns OpUploadStatus.
func (*UploadStatus) Opcode() access.Opcode { return OpUploadStatus }

// AppendBinary appends 2 octets, or the optional block with Details.
func (m *UploadStatus) AppendBinary(b []byte) ([]byte, error) {
	const name = "upload status"
	switch {
	case !m.Status.Valid():
		return b, prohibitedErr(name, "status", uint64(m.Status))
	case !m.Phase.Valid():
		return b, prohibitedErr(name, "phase", uint64(m.Phase))
	}
	b = append(b, byte(m.Status), byte(m.Phase))
	if !m.Details {
		return b, nil
	}
	if m.Progress > 100 {
		return b, prohibitedErr(name, "progress", uint64(m.Progress))
	}
	if err := checkFWID(name, m.FirmwareID); err != nil {
		return b, err
	}
	t := m.Progress
	if m.OOB {
		t |= 0x80
	}
	return append(append(b, t), m.FirmwareID...), nil
}

// Marshal returns the parameters.
func (m *UploadStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 2 or 5–111 octets.
func (m *UploadStatus) Unmarshal(p []byte) error {
	const name = "upload status"
	if len(p) != 2 && (len(p) < 5 || len(p) > 3+MaxFirmwareIDLen) {
		return lenErr(name, len(p), "2 or 5..111")
	}
	switch {
	case !Status(p[0]).Valid():
		return rfuErr(name, "status", uint64(p[0]))
	case !UploadPhase(p[1]).Valid():
		return prohibitedErr(name, "phase", uint64(p[1]))
	}
	s := UploadStatus{Status: Status(p[0]), Phase: UploadPhase(p[1])}
	if len(p) > 2 {
		if p[2]&0x7F > 100 {
			return prohibitedErr(name, "progress", uint64(p[2]&0x7F))
		}
		s.Details, s.Progress, s.OOB = true, p[2]&0x7F, p[2]&0x80 != 0
		s.FirmwareID = bytes.Clone(p[3:])
	}
	*m = s
	return nil
}
