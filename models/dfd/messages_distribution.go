package dfd

import (
	"encoding/binary"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Start is Firmware Distribution Start (opcode 0x8319), 10 or 24 octets,
// little-endian:
//
//	0  2       Distribution AppKey Index (12 bits; bits 12–15 RFU)
//	2  1       Distribution TTL (0x00–0x7F, or 0xFF: Default TTL)
//	3  2       Distribution Timeout Base
//	5  bits 0–1  Distribution Transfer Mode (Push 1, Pull 2; 0 lets the server choose)
//	   bit  2    Update Policy
//	   bits 3–7  RFU
//	6  2       Distribution Firmware Image Index
//	8  2 | 16  Distribution Multicast Address: Unassigned, a group or
//	           virtual address, or a 16-octet Label UUID
//
// With a Label, Multicast holds its virtual address. It is answered by
// DistributionStatus.
type Start struct {
	AppKeyIndex  uint16
	TTL          uint8
	TimeoutBase  uint16
	TransferMode blob.TransferMode
	Policy       Policy
	ImageIndex   uint16
	Multicast    mesh.Address
	Label        *[16]byte
}

// Opcode returns OpStart.
func (*Start) Opcode() access.Opcode { return OpStart }

func (m *Start) validate() error {
	const name = "distribution start"
	switch {
	case m.AppKeyIndex > 0xFFF:
		return rfuErr(name, "AppKey Index", uint64(m.AppKeyIndex))
	case !validTTL(m.TTL):
		return prohibitedErr(name, "TTL", uint64(m.TTL))
	case m.TransferMode > blob.ModePull:
		return prohibitedErr(name, "transfer mode", uint64(m.TransferMode))
	case m.Policy > PolicyVerifyAndApply:
		return prohibitedErr(name, "update policy", uint64(m.Policy))
	case m.Label == nil && m.Multicast.IsUnicast():
		return prohibitedErr(name, "multicast address", uint64(m.Multicast))
	}
	return nil
}

// AppendBinary appends 10 octets, or 24 with a Label.
func (m *Start) AppendBinary(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, err
	}
	b = binary.LittleEndian.AppendUint16(b, m.AppKeyIndex)
	b = append(b, m.TTL)
	b = binary.LittleEndian.AppendUint16(b, m.TimeoutBase)
	b = append(b, byte(m.TransferMode)|byte(m.Policy)<<2)
	b = binary.LittleEndian.AppendUint16(b, m.ImageIndex)
	if m.Label != nil {
		return append(b, m.Label[:]...), nil
	}
	return binary.LittleEndian.AppendUint16(b, uint16(m.Multicast)), nil
}

// Marshal returns the parameters.
func (m *Start) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 10 or 24 octets; it rejects RFU bits, a
// prohibited TTL or transfer mode and a unicast multicast address.
func (m *Start) Unmarshal(p []byte) error {
	const name = "distribution start"
	if len(p) != 10 && len(p) != 24 {
		return lenErr(name, len(p), "10 or 24")
	}
	var s Start
	s.AppKeyIndex = binary.LittleEndian.Uint16(p)
	s.TTL = p[2]
	s.TimeoutBase = binary.LittleEndian.Uint16(p[3:])
	if p[5]>>3 != 0 {
		return rfuErr(name, "mode octet", uint64(p[5]))
	}
	s.TransferMode, s.Policy = blob.TransferMode(p[5]&3), Policy(p[5]>>2&1)
	s.ImageIndex = binary.LittleEndian.Uint16(p[6:])
	if len(p) == 24 {
		var l [16]byte
		copy(l[:], p[8:])
		s.Label = &l
		s.Multicast = mesh.Address(crypto.VirtualAddress(l))
	} else {
		s.Multicast = mesh.Address(binary.LittleEndian.Uint16(p[8:]))
	}
	if err := s.validate(); err != nil {
		return err
	}
	*m = s
	return nil
}

// DistributionStatus is Firmware Distribution Status (opcode 0x831D), 2
// or 12 octets:
//
//	0  1         Status
//	1  1         Distribution Phase
//	— optional block, all or nothing (Details; sent when the phase is not Idle) —
//	2  2         Distribution Multicast Address (the virtual address for a Label)
//	4  2         Distribution AppKey Index
//	6  1         Distribution TTL
//	7  2         Distribution Timeout Base
//	9  bits 0–1  Distribution Transfer Mode
//	   bit  2    Update Policy
//	   bits 3–7  RFU
//	10 2         Distribution Firmware Image Index
type DistributionStatus struct {
	Status Status
	Phase  Phase

	Details      bool
	Multicast    mesh.Address
	AppKeyIndex  uint16
	TTL          uint8
	TimeoutBase  uint16
	TransferMode blob.TransferMode
	Policy       Policy
	ImageIndex   uint16
}

// Opcode returns OpStatus.
func (*DistributionStatus) Opcode() access.Opcode { return OpStatus }

// AppendBinary appends 2 octets, or 12 with Details.
func (m *DistributionStatus) AppendBinary(b []byte) ([]byte, error) {
	const name = "distribution status"
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
	switch {
	case m.AppKeyIndex > 0xFFF:
		return b, rfuErr(name, "AppKey Index", uint64(m.AppKeyIndex))
	case m.TransferMode > blob.ModePull:
		return b, prohibitedErr(name, "transfer mode", uint64(m.TransferMode))
	case m.Policy > PolicyVerifyAndApply:
		return b, prohibitedErr(name, "update policy", uint64(m.Policy))
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(m.Multicast))
	b = binary.LittleEndian.AppendUint16(b, m.AppKeyIndex)
	b = append(b, m.TTL)
	b = binary.LittleEndian.AppendUint16(b, m.TimeoutBase)
	b = append(b, byte(m.TransferMode)|byte(m.Policy)<<2)
	return binary.LittleEndian.AppendUint16(b, m.ImageIndex), nil
}

// Marshal returns the parameters.
func (m *DistributionStatus) Marshal() ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes exactly 2 or 12 octets.
func (m *DistributionStatus) Unmarshal(p []byte) error {
	const name = "distribution status"
	if len(p) != 2 && len(p) != 12 {
		return lenErr(name, len(p), "2 or 12")
	}
	switch {
	case !Status(p[0]).Valid():
		return rfuErr(name, "status", uint64(p[0]))
	case !Phase(p[1]).Valid():
		return prohibitedErr(name, "phase", uint64(p[1]))
	}
	s := DistributionStatus{Status: Status(p[0]), Phase: Phase(p[1])}
	if len(p) == 12 {
		s.Details = true
		s.Multicast = mesh.Address(binary.LittleEndian.Uint16(p[2:]))
		s.AppKeyIndex = binary.LittleEndian.Uint16(p[4:])
		s.TTL = p[6]
		s.TimeoutBase = binary.LittleEndian.Uint16(p[7:])
		switch {
		case s.AppKeyIndex > 0xFFF:
			return rfuErr(name, "AppKey Index", uint64(s.AppKeyIndex))
		case p[9]>>3 != 0:
			return rfuErr(name, "mode octet", uint64(p[9]))
		case p[9]&3 == 3:
			return prohibitedErr(name, "transfer mode", 3)
		}
		s.TransferMode, s.Policy = blob.TransferMode(p[9]&3), Policy(p[9]>>2&1)
		s.ImageIndex = binary.LittleEndian.Uint16(p[10:])
	}
	*m = s
	return nil
}
