package config

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// PublishParams are the publication fields shared by Model Publication Set,
// Virtual Address Set and Status (Mesh Protocol v1.1 §4.3.2.15–17):
//
//	AppKeyIndex (12 bits) | CredentialFlag (1 bit) | RFU (3 bits)   2 octets LE
//	PublishTTL (1) | PublishPeriod (1) | RetransmitCount (3 bits) | RetransmitIntervalSteps (5 bits)
type PublishParams struct {
	AppKeyIndex    uint16
	CredentialFlag bool
	TTL            uint8 // 0x00–0x7F or 0xFF (use Default TTL); 0x80–0xFE prohibited
	Period         access.PublishPeriod
	Retransmit     access.PublishRetransmit
}

func (p *PublishParams) append(b []byte) ([]byte, error) {
	if p.TTL > access.MaxTTL && p.TTL != access.DefaultTTL {
		return b, fmt.Errorf("%w: Publish TTL 0x%02x", access.ErrProhibited, p.TTL)
	}
	if p.AppKeyIndex > 0xfff {
		return b, fmt.Errorf("%w: Publish AppKey Index 0x%x", access.ErrProhibited, p.AppKeyIndex)
	}
	v := p.AppKeyIndex
	if p.CredentialFlag {
		v |= 1 << 12
	}
	b = binary.LittleEndian.AppendUint16(b, v)
	return append(b, p.TTL, byte(p.Period), p.Retransmit.Byte()), nil
}

// unmarshal decodes exactly 5 octets.
func (p *PublishParams) unmarshal(q []byte) error {
	v := binary.LittleEndian.Uint16(q)
	if v&0xe000 != 0 {
		return fmt.Errorf("%w: publish AppKey Index field 0x%04x", access.ErrRFU, v)
	}
	if q[2] > access.MaxTTL && q[2] != access.DefaultTTL {
		return fmt.Errorf("%w: Publish TTL 0x%02x", access.ErrProhibited, q[2])
	}
	*p = PublishParams{
		AppKeyIndex:    v & 0xfff,
		CredentialFlag: v&(1<<12) != 0,
		TTL:            q[2],
		Period:         access.PublishPeriod(q[3]),
		Retransmit:     access.PublishRetransmitFromByte(q[4]),
	}
	return nil
}

// ModelPublicationGet is Config Model Publication Get (0x80 0x18).
//
//	ElementAddress (2) | ModelIdentifier (2 or 4)
type ModelPublicationGet struct {
	ElementAddress mesh.Address
	Model          access.ModelID
}

// Opcode returns OpModelPublicationGet.
func (*ModelPublicationGet) Opcode() access.Opcode { return OpModelPublicationGet }

// AppendBinary appends the parameters to b.
func (m *ModelPublicationGet) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	return access.AppendModelID(b, m.Model), err
}

// Unmarshal decodes 4 or 6 octets.
func (m *ModelPublicationGet) Unmarshal(p []byte) error {
	head, id, err := modelTail("Model Publication Get", p, 2)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	m.ElementAddress, m.Model = e, id
	return nil
}

// ModelPublicationSet is Config Model Publication Set (0x03).
//
//	ElementAddress (2) | PublishAddress (2) | PublishParams (5) | ModelIdentifier (2 or 4)
type ModelPublicationSet struct {
	ElementAddress mesh.Address
	PublishAddress mesh.Address
	PublishParams
	Model access.ModelID
}

// Opcode returns OpModelPublicationSet.
func (*ModelPublicationSet) Opcode() access.Opcode { return OpModelPublicationSet }

// AppendBinary appends the parameters to b.
func (m *ModelPublicationSet) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	if err != nil {
		return b, err
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(m.PublishAddress))
	if b, err = m.PublishParams.append(b); err != nil {
		return b, err
	}
	return access.AppendModelID(b, m.Model), nil
}

// Unmarshal decodes 11 or 13 octets.
func (m *ModelPublicationSet) Unmarshal(p []byte) error {
	head, id, err := modelTail("Model Publication Set", p, 9)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	var pp PublishParams
	if err := pp.unmarshal(head[4:]); err != nil {
		return err
	}
	*m = ModelPublicationSet{e, mesh.Address(binary.LittleEndian.Uint16(head[2:])), pp, id}
	return nil
}

// ModelPublicationVirtualAddressSet is Config Model Publication Virtual
// Address Set (0x80 0x1A).
//
//	ElementAddress (2) | PublishAddress Label UUID (16) | PublishParams (5) | ModelIdentifier (2 or 4)
type ModelPublicationVirtualAddressSet struct {
	ElementAddress mesh.Address
	Label          [16]byte
	PublishParams
	Model access.ModelID
}

// Opcode returns OpModelPublicationVirtualAddressSet.
func (*ModelPublicationVirtualAddressSet) Opcode() access.Opcode {
	return OpModelPublicationVirtualAddressSet
}

// AppendBinary appends the parameters to b.
func (m *ModelPublicationVirtualAddressSet) AppendBinary(b []byte) ([]byte, error) {
	b, err := appendElement(b, m.ElementAddress)
	if err != nil {
		return b, err
	}
	b = append(b, m.Label[:]...)
	if b, err = m.PublishParams.append(b); err != nil {
		return b, err
	}
	return access.AppendModelID(b, m.Model), nil
}

// Unmarshal decodes 25 or 27 octets.
func (m *ModelPublicationVirtualAddressSet) Unmarshal(p []byte) error {
	head, id, err := modelTail("Model Publication Virtual Address Set", p, 23)
	if err != nil {
		return err
	}
	e, err := element(binary.LittleEndian.Uint16(head))
	if err != nil {
		return err
	}
	var pp PublishParams
	if err := pp.unmarshal(head[18:]); err != nil {
		return err
	}
	m.ElementAddress, m.PublishParams, m.Model = e, pp, id
	copy(m.Label[:], head[2:18])
	return nil
}

// ModelPublicationStatus is Config Model Publication Status (0x80 0x19).
//
//	Status (1) | ElementAddress (2) | PublishAddress (2) | PublishParams (5) | ModelIdentifier (2 or 4)
//
// A non-Success status carries zeros in PublishAddress and PublishParams.
type ModelPublicationStatus struct {
	Status         Status
	ElementAddress mesh.Address
	PublishAddress mesh.Address
	PublishParams
	Model access.ModelID
}

// Opcode returns OpModelPublicationStatus.
func (*ModelPublicationStatus) Opcode() access.Opcode { return OpModelPublicationStatus }

// AppendBinary appends the parameters to b.
func (m *ModelPublicationStatus) AppendBinary(b []byte) ([]byte, error) {
	s := ModelPublicationSet{m.ElementAddress, m.PublishAddress, m.PublishParams, m.Model}
	return s.AppendBinary(append(b, byte(m.Status)))
}

// Unmarshal decodes 12 or 14 octets.
func (m *ModelPublicationStatus) Unmarshal(p []byte) error {
	if len(p) < 1 {
		return lenErr("Model Publication Status", 0, "12 or 14")
	}
	var s ModelPublicationSet
	if err := s.Unmarshal(p[1:]); err != nil {
		return fmt.Errorf("config: Model Publication Status: %w", err)
	}
	*m = ModelPublicationStatus{Status(p[0]), s.ElementAddress, s.PublishAddress, s.PublishParams, s.Model}
	return nil
}
