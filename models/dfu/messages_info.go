package dfu

import (
	"bytes"
	"unicode/utf8"

	"github.com/meshdfu/meshdfu/internal/wire"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// InformationGet is Firmware Update Information Get (opcode 0x8308),
// exactly 2 octets:
//
//	0  1  First Index    first Firmware Information List entry to return
//	1  1  Entries Limit  most entries to return (0: only the count)
type InformationGet struct {
	FirstIndex   uint8
	EntriesLimit uint8
}

// Opcode returns OpInformationGet.
func (*InformationGet) Opcode() access.Opcode { return OpInformationGet }

// AppendBinary appends the 2 parameter octets.
func (m *InformationGet) AppendBinary(b []byte) ([]byte, error) {
	return append(b, m.FirstIndex, m.EntriesLimit), nil
}

// Marshal returns the parameters.
func (m *InformationGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 2 octets.
func (m *InformationGet) Unmarshal(p []byte) error {
	if len(p) != 2 {
		return lenErr("information get", len(p), "2")
	}
	m.FirstIndex, m.EntriesLimit = p[0], p[1]
	return nil
}

// FirmwareInformation is one entry of a Firmware Information List: an
// independently updatable image of the node.
//
//	0    1  Current Firmware ID Length L (2–108)
//	1    L  Current Firmware ID: Company ID (2, little-endian), Version Information
//	1+L  1  Update URI Length U (0: no URI)
//	2+L  U  Update URI, UTF-8, no terminator
type FirmwareInformation struct {
	FirmwareID []byte
	UpdateURI  string
}

// Len returns the encoded length of the entry.
func (e *FirmwareInformation) Len() int { return 2 + len(e.FirmwareID) + len(e.UpdateURI) }

func (e *FirmwareInformation) check(name string) error {
	if n := len(e.FirmwareID); n < MinFirmwareIDLen || n > MaxFirmwareIDLen {
		return prohibitedErr(name, "Firmware ID length", uint64(n))
	}
	if len(e.UpdateURI) > MaxURILen {
		return tooLongErr(name, "Update URI", len(e.UpdateURI), MaxURILen)
	}
	if !utf8.ValidString(e.UpdateURI) {
		return prohibitedErr(name, "Update URI that is not UTF-8, length", uint64(len(e.UpdateURI)))
	}
	return nil
}

func (e *FirmwareInformation) appendTo(b []byte) []byte {
	b = append(b, byte(len(e.FirmwareID)))
	b = append(b, e.FirmwareID...)
	b = append(b, byte(len(e.UpdateURI)))
	return append(b, e.UpdateURI...)
}

// Equal reports whether e and o hold the same Firmware ID and URI.
func (e *FirmwareInformation) Equal(o *FirmwareInformation) bool {
	return bytes.Equal(e.FirmwareID, o.FirmwareID) && e.UpdateURI == o.UpdateURI
}

// InformationStatus is Firmware Update Information Status (opcode 0x8309),
// at least 2 octets:
//
//	0  1  Firmware Information List Count (entries on the server)
//	1  1  First Index (echo of the Get)
//	2  …  Firmware Information List: entries First Index, First Index+1, …
//
// The decoder rejects a malformed or truncated entry, trailing octets, and
// a list that runs past the count. An empty list is valid with any First
// Index (a Get past the end).
type InformationStatus struct {
	ListCount  uint8
	FirstIndex uint8
	Entries    []FirmwareInformation
}

// Opcode returns OpInformationStatus.
func (*InformationStatus) Opcode() access.Opcode { return OpInformationStatus }

// AppendBinary appends the parameters; it fails when an entry is out of
// range or the message would not fit an access payload.
func (m *InformationStatus) AppendBinary(b []byte) ([]byte, error) {
	n := 2
	for i := range m.Entries {
		if err := m.Entries[i].check("information status"); err != nil {
			return b, err
		}
		n += m.Entries[i].Len()
	}
	if n > maxParams {
		return b, tooLongErr("information status", "parameters", n, maxParams)
	}
	if len(m.Entries) > 0 && int(m.FirstIndex)+len(m.Entries) > int(m.ListCount) {
		return b, prohibitedErr("information status", "entries past List Count", uint64(int(m.FirstIndex)+len(m.Entries)))
	}
	b = append(b, m.ListCount, m.FirstIndex)
	for i := range m.Entries {
		b = m.Entries[i].appendTo(b)
	}
	return b, nil
}

// Marshal returns the parameters.
func (m *InformationStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes p; entries get their own copies of the octets.
func (m *InformationStatus) Unmarshal(p []byte) error {
	const name = "information status"
	if len(p) < 2 || len(p) > maxParams {
		return lenErr(name, len(p), "2 to 378")
	}
	r := wire.NewReader(p)
	out := InformationStatus{ListCount: r.U8(), FirstIndex: r.U8()}
	for r.Len() > 0 {
		var e FirmwareInformation
		e.FirmwareID = bytes.Clone(r.Bytes(int(r.U8())))
		e.UpdateURI = string(r.Bytes(int(r.U8())))
		if r.Err() != nil {
			return lenErr(name, len(p), "whole entries")
		}
		if err := e.check(name); err != nil {
			return err
		}
		out.Entries = append(out.Entries, e)
	}
	if len(out.Entries) > 0 && int(out.FirstIndex)+len(out.Entries) > int(out.ListCount) {
		return prohibitedErr(name, "entries past List Count", uint64(int(out.FirstIndex)+len(out.Entries)))
	}
	*m = out
	return nil
}

// MetadataCheck is Firmware Update Firmware Metadata Check (opcode
// 0x830A), 1–256 octets:
//
//	0  1      Update Firmware Image Index
//	1  0–255  Incoming Firmware Metadata (optional)
type MetadataCheck struct {
	ImageIndex uint8
	Metadata   []byte
}

// Opcode returns OpMetadataCheck.
func (*MetadataCheck) Opcode() access.Opcode { return OpMetadataCheck }

// AppendBinary appends the parameters; metadata longer than 255 octets
// is refused.
func (m *MetadataCheck) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Metadata) > MaxMetadataLen {
		return b, tooLongErr("metadata check", "metadata", len(m.Metadata), MaxMetadataLen)
	}
	b = append(b, m.ImageIndex)
	return append(b, m.Metadata...), nil
}

// Marshal returns the parameters.
func (m *MetadataCheck) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 1–256 octets; Metadata is a copy, nil when empty.
func (m *MetadataCheck) Unmarshal(p []byte) error {
	if len(p) < 1 || len(p) > 1+MaxMetadataLen {
		return lenErr("metadata check", len(p), "1 to 256")
	}
	m.ImageIndex = p[0]
	m.Metadata = nil
	if len(p) > 1 {
		m.Metadata = bytes.Clone(p[1:])
	}
	return nil
}

// MetadataStatus is Firmware Update Firmware Metadata Status (opcode
// 0x830B), exactly 2 octets:
//
//	0  bits 0–2  Status
//	   bits 3–7  Additional Information (0x04–0x1F RFU)
//	1            Update Firmware Image Index (echo)
type MetadataStatus struct {
	Status         Status
	AdditionalInfo AdditionalInfo
	ImageIndex     uint8
}

// Opcode returns OpMetadataStatus.
func (*MetadataStatus) Opcode() access.Opcode { return OpMetadataStatus }

// AppendBinary appends the 2 parameter octets.
func (m *MetadataStatus) AppendBinary(b []byte) ([]byte, error) {
	if !m.Status.Valid() {
		return b, prohibitedErr("metadata status", "status", uint64(m.Status))
	}
	if !m.AdditionalInfo.Valid() {
		return b, rfuErr("metadata status", "additional information", uint64(m.AdditionalInfo))
	}
	return append(b, byte(m.Status)|byte(m.AdditionalInfo)<<3, m.ImageIndex), nil
}

// Marshal returns the parameters.
func (m *MetadataStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 2 octets.
func (m *MetadataStatus) Unmarshal(p []byte) error {
	if len(p) != 2 {
		return lenErr("metadata status", len(p), "2")
	}
	info := AdditionalInfo(p[0] >> 3)
	if !info.Valid() {
		return rfuErr("metadata status", "additional information", uint64(info))
	}
	*m = MetadataStatus{Status: Status(p[0] & 0x07), AdditionalInfo: info, ImageIndex: p[1]}
	return nil
}
