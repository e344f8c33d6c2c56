package dfd

import (
	"bytes"
	"encoding/binary"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

const (
	receiverEntryLen = 3
	nodeEntryLen     = 5
	capabilitiesLen  = 17
)

// ReceiverEntry is one entry of Receivers Add: a target's unicast address
// (the element of its Firmware Update Server) and the index of the image
// to update in its Firmware Information List.
type ReceiverEntry struct {
	Address    mesh.Address
	ImageIndex uint8
}

// ReceiversAdd is Firmware Distribution Receivers Add (opcode 0x8311),
// 3·n octets, 1 ≤ n ≤ MaxReceiversPerAdd:
//
//	0  2  Address (little-endian)           ┐ n times
//	2  1  Update Firmware Image Index       ┘
//
// The decoder takes any address; the server skips the ones that are not
// unicast (Zephyr). It is answered by ReceiversStatus.
type ReceiversAdd struct {
	Entries []ReceiverEntry
}

// Opcode returns OpReceiversAdd.
func (*ReceiversAdd) Opcode() access.Opcode { return OpReceiversAdd }

// AppendBinary appends the entries; it fails for none or too many.
func (m *ReceiversAdd) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Entries) == 0 || len(m.Entries) > MaxReceiversPerAdd {
		return b, lenErr("receivers add", len(m.Entries)*receiverEntryLen, "3·n, 1 ≤ n ≤ 126")
	}
	for _, e := range m.Entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e.Address))
		b = append(b, e.ImageIndex)
	}
	return b, nil
}

// Marshal returns the parameters.
func (m *ReceiversAdd) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 3·n octets, n ≥ 1.
func (m *ReceiversAdd) Unmarshal(p []byte) error {
	if len(p) == 0 || len(p)%receiverEntryLen != 0 || len(p) > maxParams {
		return lenErr("receivers add", len(p), "3·n, n ≥ 1")
	}
	m.Entries = m.Entries[:0]
	for i := 0; i < len(p); i += receiverEntryLen {
		m.Entries = append(m.Entries, ReceiverEntry{mesh.Address(binary.LittleEndian.Uint16(p[i:])), p[i+2]})
	}
	return nil
}

// ReceiversStatus is Firmware Distribution Receivers Status (opcode
// 0x8313), exactly 3 octets:
//
//	0  1  Status
//	1  2  Receivers List Count
type ReceiversStatus struct {
	Status Status
	Count  uint16
}

// Opcode returns OpReceiversStatus.
func (*ReceiversStatus) Opcode() access.Opcode { return OpReceiversStatus }

// AppendBinary appends the 3 parameter octets.
func (m *ReceiversStatus) AppendBinary(b []byte) ([]byte, error) {
	if !m.Status.Valid() {
		return b, prohibitedErr("receivers status", "status", uint64(m.Status))
	}
	b = append(b, byte(m.Status))
	return binary.LittleEndian.AppendUint16(b, m.Count), nil
}

// Marshal returns the parameters.
func (m *ReceiversStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 3 octets.
func (m *ReceiversStatus) Unmarshal(p []byte) error {
	if len(p) != 3 {
		return lenErr("receivers status", len(p), "3")
	}
	if !Status(p[0]).Valid() {
		return rfuErr("receivers status", "status", uint64(p[0]))
	}
	m.Status, m.Count = Status(p[0]), binary.LittleEndian.Uint16(p[1:])
	return nil
}

// ReceiversGet is Firmware Distribution Receivers Get (opcode 0x8314),
// exactly 4 octets:
//
//	0  2  First Index
//	2  2  Entries Limit (> 0)
//
// It is answered by ReceiversList. Entries Limit 0 is prohibited (Zephyr
// drops the message).
type ReceiversGet struct {
	FirstIndex   uint16
	EntriesLimit uint16
}

// Opcode returns OpReceiversGet.
func (*ReceiversGet) Opcode() access.Opcode { return OpReceiversGet }

// AppendBinary appends the 4 parameter octets.
func (m *ReceiversGet) AppendBinary(b []byte) ([]byte, error) {
	if m.EntriesLimit == 0 {
		return b, prohibitedErr("receivers get", "entries limit", 0)
	}
	b = binary.LittleEndian.AppendUint16(b, m.FirstIndex)
	return binary.LittleEndian.AppendUint16(b, m.EntriesLimit), nil
}

// Marshal returns the parameters.
func (m *ReceiversGet) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 4 octets.
func (m *ReceiversGet) Unmarshal(p []byte) error {
	if len(p) != 4 {
		return lenErr("receivers get", len(p), "4")
	}
	first, limit := binary.LittleEndian.Uint16(p), binary.LittleEndian.Uint16(p[2:])
	if limit == 0 {
		return prohibitedErr("receivers get", "entries limit", 0)
	}
	m.FirstIndex, m.EntriesLimit = first, limit
	return nil
}

// NodeEntry is one Updating Node Entry of a Receivers List (MshDFU Table
// 5.20), 5 octets: a little-endian 32-bit word and one octet.
//
//	bits 0–14   Address (unicast, so bit 15 is always 0)
//	bits 15–18  Retrieved Update Phase (0x0–0xA)
//	bits 19–21  Update Status
//	bits 22–25  Transfer Status (a BLOB Transfer status, 0x0–0xA)
//	bits 26–31  Transfer Progress, in units of 2 % (0–50)
//	octet 4     Update Firmware Image Index
type NodeEntry struct {
	Address        mesh.Address
	Phase          dfu.Phase
	UpdateStatus   dfu.Status
	TransferStatus blob.Status
	// Progress is the transfer progress in percent (0–100); it travels in
	// units of 2 %, so an odd value is rounded down.
	Progress   uint8
	ImageIndex uint8
}

func (e *NodeEntry) validate(name string) error {
	switch {
	case !e.Address.IsUnicast():
		return prohibitedErr(name, "receiver address", uint64(e.Address))
	case !e.Phase.Valid():
		return prohibitedErr(name, "retrieved update phase", uint64(e.Phase))
	case !e.UpdateStatus.Valid():
		return prohibitedErr(name, "update status", uint64(e.UpdateStatus))
	case !e.TransferStatus.Valid():
		return prohibitedErr(name, "transfer status", uint64(e.TransferStatus))
	case e.Progress > 100:
		return prohibitedErr(name, "transfer progress", uint64(e.Progress))
	}
	return nil
}

// ReceiversList is Firmware Distribution Receivers List (opcode 0x8315),
// 4 + 5·n octets:
//
//	0  2    Receivers List Count (entries on the server)
//	2  2    First Index (echo of the Get)
//	4  5·n  Updating Node Entries (NodeEntry), n ≤ MaxReceiversPerList
type ReceiversList struct {
	Count      uint16
	FirstIndex uint16
	Entries    []NodeEntry
}

// Opcode returns OpReceiversList.
func (*ReceiversList) Opcode() access.Opcode { return OpReceiversList }

// AppendBinary appends the parameters; it fails when an entry is out of
// range or there are more than MaxReceiversPerList.
func (m *ReceiversList) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Entries) > MaxReceiversPerList {
		return b, tooLongErr("receivers list", "list", 4+nodeEntryLen*len(m.Entries), maxParams)
	}
	b = binary.LittleEndian.AppendUint16(b, m.Count)
	b = binary.LittleEndian.AppendUint16(b, m.FirstIndex)
	for i := range m.Entries {
		e := &m.Entries[i]
		if err := e.validate("receivers list"); err != nil {
			return b, err
		}
		w := uint32(e.Address)&0x7FFF | uint32(e.Phase)<<15 | uint32(e.UpdateStatus)<<19 |
			uint32(e.TransferStatus)<<22 | uint32(e.Progress/2)<<26
		b = binary.LittleEndian.AppendUint32(b, w)
		b = append(b, e.ImageIndex)
	}
	return b, nil
}

// Marshal returns the parameters.
func (m *ReceiversList) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes 4 + 5·n octets; it rejects an address 0, phases and
// statuses that are not defined and a progress above 50 units.
func (m *ReceiversList) Unmarshal(p []byte) error {
	const name = "receivers list"
	if len(p) < 4 || (len(p)-4)%nodeEntryLen != 0 || len(p) > maxParams {
		return lenErr(name, len(p), "4 + 5·n")
	}
	count, first := binary.LittleEndian.Uint16(p), binary.LittleEndian.Uint16(p[2:])
	entries := m.Entries[:0]
	for i := 4; i < len(p); i += nodeEntryLen {
		w := binary.LittleEndian.Uint32(p[i:])
		if w>>26 > 50 {
			return prohibitedErr(name, "transfer progress", uint64(w>>26))
		}
		e := NodeEntry{
			Address: mesh.Address(w & 0x7FFF), Phase: dfu.Phase(w >> 15 & 0xF),
			UpdateStatus: dfu.Status(w >> 19 & 0x7), TransferStatus: blob.Status(w >> 22 & 0xF),
			Progress: uint8(w>>26) * 2, ImageIndex: p[i+4],
		}
		if err := e.validate(name); err != nil {
			return err
		}
		entries = append(entries, e)
	}
	m.Count, m.FirstIndex, m.Entries = count, first, entries
	return nil
}

// CapabilitiesStatus is Firmware Distribution Capabilities Status (opcode
// 0x8317), at least 17 octets, little-endian:
//
//	0   2  Max Distribution Receivers List Size
//	2   2  Max Firmware Images List Size
//	4   4  Max Firmware Image Size
//	8   4  Max Upload Space
//	12  4  Remaining Upload Space
//	16  1  Out-of-Band Retrieval Supported (0x00 or 0x01)
//	17  n  Supported URI Scheme Names (only when OOB is supported)
type CapabilitiesStatus struct {
	MaxReceivers         uint16
	MaxImages            uint16
	MaxImageSize         uint32
	MaxUploadSpace       uint32
	RemainingUploadSpace uint32
	OOBSupported         bool
	URISchemes           []byte
}

// Opcode returns OpCapabilitiesStatus.
func (*CapabilitiesStatus) Opcode() access.Opcode { return OpCapabilitiesStatus }

// AppendBinary appends the parameters.
func (m *CapabilitiesStatus) AppendBinary(b []byte) ([]byte, error) {
	if !m.OOBSupported && len(m.URISchemes) > 0 {
		return b, prohibitedErr("capabilities status", "URI schemes without OOB support", uint64(len(m.URISchemes)))
	}
	if capabilitiesLen+len(m.URISchemes) > maxParams {
		return b, tooLongErr("capabilities status", "URI scheme list", len(m.URISchemes), maxParams-capabilitiesLen)
	}
	b = binary.LittleEndian.AppendUint16(b, m.MaxReceivers)
	b = binary.LittleEndian.AppendUint16(b, m.MaxImages)
	b = binary.LittleEndian.AppendUint32(b, m.MaxImageSize)
	b = binary.LittleEndian.AppendUint32(b, m.MaxUploadSpace)
	b = binary.LittleEndian.AppendUint32(b, m.RemainingUploadSpace)
	if !m.OOBSupported {
		return append(b, 0), nil
	}
	return append(append(b, 1), m.URISchemes...), nil
}

// Marshal returns the parameters.
func (m *CapabilitiesStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes at least 17 octets; the OOB octet must be 0 or 1, and
// scheme names follow only a 1.
func (m *CapabilitiesStatus) Unmarshal(p []byte) error {
	const name = "capabilities status"
	if len(p) < capabilitiesLen || len(p) > maxParams {
		return lenErr(name, len(p), "17..378")
	}
	switch {
	case p[16] > 1:
		return prohibitedErr(name, "out-of-band retrieval supported", uint64(p[16]))
	case p[16] == 0 && len(p) > capabilitiesLen:
		return lenErr(name, len(p), "17 without OOB support")
	}
	m.MaxReceivers = binary.LittleEndian.Uint16(p)
	m.MaxImages = binary.LittleEndian.Uint16(p[2:])
	m.MaxImageSize = binary.LittleEndian.Uint32(p[4:])
	m.MaxUploadSpace = binary.LittleEndian.Uint32(p[8:])
	m.RemainingUploadSpace = binary.LittleEndian.Uint32(p[12:])
	m.OOBSupported = p[16] == 1
	m.URISchemes = nil
	if len(p) > capabilitiesLen {
		m.URISchemes = bytes.Clone(p[capabilitiesLen:])
	}
	return nil
}
