package transport

import (
	"fmt"
)

// Sizes of the lower transport (Mesh Protocol v1.1 §3.5.2).
const (
	// MaxUnsegAccessUpper is the largest Upper Transport Access PDU an
	// Unsegmented Access message carries (access payload + 32-bit TransMIC).
	MaxUnsegAccessUpper = 15
	// MinUnsegAccessUpper is the smallest: one access octet + TransMIC.
	MinUnsegAccessUpper = 5
	// AccessSegmentSize is the payload of every Segmented Access PDU but the
	// last.
	AccessSegmentSize = 12
	// ControlSegmentSize is the payload of every Segmented Control PDU but
	// the last.
	ControlSegmentSize = 8
	// MaxUnsegControlParams is the largest parameters field of an
	// Unsegmented Control message.
	MaxUnsegControlParams = 11
	// MaxSegments is the most segments one message may have (SegN ≤ 31).
	MaxSegments = 32
	// MaxSegN is the largest SegN and SegO.
	MaxSegN = MaxSegments - 1
	// SegmentAckLen is the size of a Segment Acknowledgment PDU.
	SegmentAckLen = 7
	// MaxControlParams is the largest Upper Transport Control PDU.
	MaxControlParams = MaxSegments * ControlSegmentSize
	// OpSegmentAck is the transport control opcode of Segment
	// Acknowledgment; it belongs to the lower transport.
	OpSegmentAck = 0x00
	// SeqZeroMask keeps the 13 bits of SeqZero.
	SeqZeroMask = 0x1FFF

	segHeaderLen = 4
	aidMask      = 0x3F
	segBit       = 0x80
	akfBit       = 0x40
)

// PDU is one decoded lower transport PDU.
type PDU interface {
	// AppendBinary appends the encoded PDU to b.
	AppendBinary(b []byte) ([]byte, error)
	// Unmarshal decodes p into the PDU; it does not retain p.
	Unmarshal(p []byte) error
	// Segmented reports whether the PDU is one segment of a message.
	Segmented() bool
}

var (
	_ PDU = (*UnsegAccess)(nil)
	_ PDU = (*SegAccess)(nil)
	_ PDU = (*UnsegControl)(nil)
	_ PDU = (*SegmentAck)(nil)
	_ PDU = (*SegControl)(nil)
)

// Decode decodes a lower transport PDU. ctl is the CTL bit of the network
// PDU that carried it; the SEG bit and, for control PDUs, the opcode select
// the type. The returned PDU does not retain pdu.
func Decode(ctl bool, pdu []byte) (PDU, error) {
	if len(pdu) == 0 {
		return nil, fmt.Errorf("%w: empty lower transport PDU", ErrLength)
	}
	seg := pdu[0]&segBit != 0
	var m PDU
	switch {
	case !ctl && !seg:
		m = new(UnsegAccess)
	case !ctl && seg:
		m = new(SegAccess)
	case ctl && !seg && pdu[0]&0x7F == OpSegmentAck:
		m = new(SegmentAck)
	case ctl && !seg:
		m = new(UnsegControl)
	default:
		m = new(SegControl)
	}
	if err := m.Unmarshal(pdu); err != nil {
		return nil, err
	}
	return m, nil
}

// UnsegAccess is an Unsegmented Access message:
//
//	SEG=0 (1) | AKF (1) | AID (6) | Upper Transport Access PDU (5–15 octets)
//
// AKF is set for AppKey messages (AID = k4(AppKey)), clear for DevKey ones
// (AID = 0). The TransMIC is always 32 bits.
type UnsegAccess struct {
	AKF      bool
	AID      uint8
	UpperPDU []byte
}

// Segmented reports false.
func (*UnsegAccess) Segmented() bool { return false }

// AppendBinary appends the PDU to b.
func (m *UnsegAccess) AppendBinary(b []byte) ([]byte, error) {
	if m.AID > aidMask {
		return b, fmt.Errorf("%w: AID 0x%02x has more than 6 bits", ErrField, m.AID)
	}
	if n := len(m.UpperPDU); n < MinUnsegAccessUpper || n > MaxUnsegAccessUpper {
		return b, fmt.Errorf("%w: unsegmented access upper PDU has %d octets, want 5–15", ErrLength, n)
	}
	b = append(b, akfAID(m.AKF, m.AID))
	return append(b, m.UpperPDU...), nil
}

// Unmarshal decodes p; it does not retain p.
func (m *UnsegAccess) Unmarshal(p []byte) error {
	if len(p) < 1+MinUnsegAccessUpper || len(p) > 1+MaxUnsegAccessUpper {
		return fmt.Errorf("%w: unsegmented access PDU has %d octets, want 6–16", ErrLength, len(p))
	}
	if p[0]&segBit != 0 {
		return fmt.Errorf("%w: SEG set in an unsegmented access PDU", ErrField)
	}
	m.AKF, m.AID = p[0]&akfBit != 0, p[0]&aidMask
	m.UpperPDU = append(m.UpperPDU[:0], p[1:]...)
	return nil
}

// SegAccess is one segment of a Segmented Access message, big-endian:
//
//	SEG=1 (1) | AKF (1) | AID (6)
//	SZMIC (1) | SeqZero (13) | SegO (5) | SegN (5)
//	Segment m (1–12 octets)
type SegAccess struct {
	AKF     bool
	AID     uint8
	SZMIC   bool
	SeqZero uint16
	SegO    uint8
	SegN    uint8
	Segment []byte
}

// Segmented reports true.
func (*SegAccess) Segmented() bool { return true }

// AppendBinary appends the PDU to b.
func (m *SegAccess) AppendBinary(b []byte) ([]byte, error) {
	if m.AID > aidMask {
		return b, fmt.Errorf("%w: AID 0x%02x has more than 6 bits", ErrField, m.AID)
	}
	if err := checkSegHeader(m.SeqZero, m.SegO, m.SegN); err != nil {
		return b, err
	}
	if n := len(m.Segment); n < 1 || n > AccessSegmentSize {
		return b, fmt.Errorf("%w: access segment has %d octets, want 1–12", ErrLength, n)
	}
	b = append(b, segBit|akfAID(m.AKF, m.AID))
	b = appendSegHeader(b, m.SZMIC, m.SeqZero, m.SegO, m.SegN)
	return append(b, m.Segment...), nil
}

// Unmarshal decodes p; it does not retain p.
func (m *SegAccess) Unmarshal(p []byte) error {
	if len(p) < segHeaderLen+1 || len(p) > segHeaderLen+AccessSegmentSize {
		return fmt.Errorf("%w: segmented access PDU has %d octets, want 5–16", ErrLength, len(p))
	}
	if p[0]&segBit == 0 {
		return fmt.Errorf("%w: SEG clear in a segmented access PDU", ErrField)
	}
	m.AKF, m.AID = p[0]&akfBit != 0, p[0]&aidMask
	m.SZMIC, m.SeqZero, m.SegO, m.SegN = parseSegHeader(p[1:4])
	if m.SegO > m.SegN {
		return fmt.Errorf("%w: SegO %d above SegN %d", ErrField, m.SegO, m.SegN)
	}
	m.Segment = append(m.Segment[:0], p[segHeaderLen:]...)
	return nil
}

// UnsegControl is an Unsegmented Control message:
//
//	SEG=0 (1) | Opcode (7, 0x01–0x7F) | Parameters (0–11 octets)
//
// Opcode 0x00 is the Segment Acknowledgment, which has its own type.
type UnsegControl struct {
	Opcode uint8
	Params []byte
}

// Segmented reports false.
func (*UnsegControl) Segmented() bool { return false }

// AppendBinary appends the PDU to b.
func (m *UnsegControl) AppendBinary(b []byte) ([]byte, error) {
	if m.Opcode == OpSegmentAck || m.Opcode > 0x7F {
		return b, fmt.Errorf("%w: control opcode 0x%02x, want 0x01–0x7f", ErrField, m.Opcode)
	}
	if len(m.Params) > MaxUnsegControlParams {
		return b, fmt.Errorf("%w: unsegmented control parameters have %d octets, want ≤ 11", ErrLength, len(m.Params))
	}
	b = append(b, m.Opcode)
	return append(b, m.Params...), nil
}

// Unmarshal decodes p; it does not retain p.
func (m *UnsegControl) Unmarshal(p []byte) error {
	if len(p) < 1 || len(p) > 1+MaxUnsegControlParams {
		return fmt.Errorf("%w: unsegmented control PDU has %d octets, want 1–12", ErrLength, len(p))
	}
	if p[0]&segBit != 0 {
		return fmt.Errorf("%w: SEG set in an unsegmented control PDU", ErrField)
	}
	if p[0] == OpSegmentAck {
		return fmt.Errorf("%w: opcode 0x00 is a Segment Acknowledgment", ErrField)
	}
	m.Opcode = p[0]
	m.Params = append(m.Params[:0], p[1:]...)
	return nil
}

// SegmentAck is the Segment Acknowledgment control message, exactly 7
// octets, big-endian:
//
//	SEG=0 (1) | Opcode=0x00 (7)
//	OBO (1) | SeqZero (13) | RFU=0 (2)
//	AckedSegments (32): bit n acknowledges segment n
//
// AckedSegments 0 tells the sender the message was rejected.
type SegmentAck struct {
	OBO           bool
	SeqZero       uint16
	AckedSegments uint32
}

// Segmented reports false.
func (*SegmentAck) Segmented() bool { return false }

// AppendBinary appends the PDU to b.
func (m *SegmentAck) AppendBinary(b []byte) ([]byte, error) {
	if m.SeqZero > SeqZeroMask {
		return b, fmt.Errorf("%w: SeqZero 0x%x has more than 13 bits", ErrField, m.SeqZero)
	}
	v := m.SeqZero << 2
	if m.OBO {
		v |= 0x8000
	}
	b = append(b, OpSegmentAck, byte(v>>8), byte(v))
	a := m.AckedSegments
	return append(b, byte(a>>24), byte(a>>16), byte(a>>8), byte(a)), nil
}

// Unmarshal decodes p; it does not retain p.
func (m *SegmentAck) Unmarshal(p []byte) error {
	if len(p) != SegmentAckLen {
		return fmt.Errorf("%w: Segment Acknowledgment has %d octets, want 7", ErrLength, len(p))
	}
	if p[0] != OpSegmentAck {
		return fmt.Errorf("%w: octet 0x%02x is not a Segment Acknowledgment header", ErrField, p[0])
	}
	v := uint16(p[1])<<8 | uint16(p[2])
	if v&0x3 != 0 {
		return fmt.Errorf("%w: Segment Acknowledgment RFU bits set", ErrField)
	}
	m.OBO = v&0x8000 != 0
	m.SeqZero = v >> 2 & SeqZeroMask
	m.AckedSegments = uint32(p[3])<<24 | uint32(p[4])<<16 | uint32(p[5])<<8 | uint32(p[6])
	return nil
}

// SegControl is one segment of a Segmented Control message, big-endian:
//
//	SEG=1 (1) | Opcode (7, 0x01–0x7F)
//	RFU=0 (1) | SeqZero (13) | SegO (5) | SegN (5)
//	Segment m (1–8 octets)
type SegControl struct {
	Opcode  uint8
	SeqZero uint16
	SegO    uint8
	SegN    uint8
	Segment []byte
}

// Segmented reports true.
func (*SegControl) Segmented() bool { return true }

// AppendBinary appends the PDU to b.
func (m *SegControl) AppendBinary(b []byte) ([]byte, error) {
	if m.Opcode == OpSegmentAck || m.Opcode > 0x7F {
		return b, fmt.Errorf("%w: segmented control opcode 0x%02x, want 0x01–0x7f", ErrField, m.Opcode)
	}
	if err := checkSegHeader(m.SeqZero, m.SegO, m.SegN); err != nil {
		return b, err
	}
	if n := len(m.Segment); n < 1 || n > ControlSegmentSize {
		return b, fmt.Errorf("%w: control segment has %d octets, want 1–8", ErrLength, n)
	}
	b = append(b, segBit|m.Opcode)
	b = appendSegHeader(b, false, m.SeqZero, m.SegO, m.SegN)
	return append(b, m.Segment...), nil
}

// Unmarshal decodes p; it does not retain p.
func (m *SegControl) Unmarshal(p []byte) error {
	if len(p) < segHeaderLen+1 || len(p) > segHeaderLen+ControlSegmentSize {
		return fmt.Errorf("%w: segmented control PDU has %d octets, want 5–12", ErrLength, len(p))
	}
	if p[0]&segBit == 0 {
		return fmt.Errorf("%w: SEG clear in a segmented control PDU", ErrField)
	}
	if p[0]&0x7F == OpSegmentAck {
		return fmt.Errorf("%w: segmented control opcode 0x00", ErrField)
	}
	rfu, seqZero, segO, segN := parseSegHeader(p[1:4])
	if rfu {
		return fmt.Errorf("%w: segmented control RFU bit set", ErrField)
	}
	if segO > segN {
		return fmt.Errorf("%w: SegO %d above SegN %d", ErrField, segO, segN)
	}
	m.Opcode, m.SeqZero, m.SegO, m.SegN = p[0]&0x7F, seqZero, segO, segN
	m.Segment = append(m.Segment[:0], p[segHeaderLen:]...)
	return nil
}

func akfAID(akf bool, aid uint8) byte {
	b := aid & aidMask
	if akf {
		b |= akfBit
	}
	return b
}

func checkSegHeader(seqZero uint16, segO, segN uint8) error {
	if seqZero > SeqZeroMask {
		return fmt.Errorf("%w: SeqZero 0x%x has more than 13 bits", ErrField, seqZero)
	}
	if segN > MaxSegN || segO > segN {
		return fmt.Errorf("%w: SegO %d, SegN %d (want SegO ≤ SegN ≤ 31)", ErrField, segO, segN)
	}
	return nil
}

// appendSegHeader appends the 3 octets SZMIC|SeqZero|SegO|SegN.
func appendSegHeader(b []byte, szmic bool, seqZero uint16, segO, segN uint8) []byte {
	v := uint32(seqZero&SeqZeroMask)<<10 | uint32(segO&0x1F)<<5 | uint32(segN&0x1F)
	if szmic {
		v |= 1 << 23
	}
	return append(b, byte(v>>16), byte(v>>8), byte(v))
}

// parseSegHeader reads the 3 octets after octet 0 of a segment.
func parseSegHeader(h []byte) (top bool, seqZero uint16, segO, segN uint8) {
	v := uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
	return v&(1<<23) != 0, uint16(v>>10) & SeqZeroMask, uint8(v>>5) & 0x1F, uint8(v) & 0x1F
}
