package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// LinkType is LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR.
const LinkType = 256

// AdvAccessAddress is the access address of the advertising channels.
const AdvAccessAddress = 0x8E89BED6

// PDUTypeAdvNonconnInd is the ADV_NONCONN_IND advertising PDU type.
const PDUTypeAdvNonconnInd = 0x2

// Pseudo-header flags (LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR).
const (
	FlagDewhitened     = 0x0001
	FlagSignalValid    = 0x0002
	FlagNoiseValid     = 0x0004
	FlagRefAAValid     = 0x0010
	FlagAAOffenseValid = 0x0020
	FlagCRCChecked     = 0x0400
	FlagCRCValid       = 0x0800
)

// phdrLen is the size of the pseudo-header; llOverhead is AA + header + CRC.
const (
	phdrLen    = 10
	llOverhead = 4 + 2 + 3
	maxAdvData = 31 // legacy advertising
	advALen    = 6
)

// UnheardSignal is the signal power written for an advertising event that
// no node received, so a display filter (btle_rf.signal_dbm == -127) finds
// them; heard events carry HeardSignal.
const (
	UnheardSignal int8 = -127
	HeardSignal   int8 = -60
)

// Sentinel errors.
var (
	// ErrTooLong reports AdvData that does not fit a legacy advertising PDU.
	ErrTooLong = errors.New("pcap: AD structure longer than 31 octets")
	// ErrMalformed reports an LE packet ParseLL cannot decode.
	ErrMalformed = errors.New("pcap: malformed LE advertising packet")
	// ErrCRC reports a packet whose CRC does not match.
	ErrCRC = errors.New("pcap: CRC mismatch")
)

// Packet is one advertising event to record.
type Packet struct {
	Time    time.Time
	Channel int         // advertising channel index 37, 38 or 39 (0 means 37)
	AdvA    [6]byte     // advertiser address as shown (most significant octet first)
	Kind    mesh.ADType // AD type of the payload
	Payload []byte      // the mesh PDU, without AD length and type
	Unheard bool        // no receiver got it: signal written as UnheardSignal
}

// AdvAddress returns the static random device address meshdfu gives node
// id: C0:4D:44 (the two top bits set as for a static address, then "MD"),
// followed by the 24-bit ID.
func AdvAddress(id int) [6]byte {
	return [6]byte{0xC0, 0x4D, 0x44, byte(id >> 16), byte(id >> 8), byte(id)}
}

// Writer writes a pcap file.
type Writer struct {
	w   io.Writer
	buf []byte
	n   int
}

// NewWriter writes the pcap file header to w and returns a Writer. Records
// carry microsecond timestamps.
func NewWriter(w io.Writer) (*Writer, error) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(h[20:], LinkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: header: %w", err)
	}
	return &Writer{w: w}, nil
}

// Count returns the number of records written.
func (w *Writer) Count() int { return w.n }

// WritePacket appends one record.
func (w *Writer) WritePacket(p Packet) error {
	rec, err := AppendRecord(w.buf[:0], p)
	if err != nil {
		return err
	}
	w.buf = rec
	if _, err := w.w.Write(rec); err != nil {
		return fmt.Errorf("pcap: record %d: %w", w.n, err)
	}
	w.n++
	return nil
}

// AppendRecord appends the pcap record (record header, pseudo-header, LE
// packet) for p to b.
func AppendRecord(b []byte, p Packet) ([]byte, error) {
	if len(p.Payload)+2 > maxAdvData {
		return b, fmt.Errorf("%w: %d octets", ErrTooLong, len(p.Payload)+2)
	}
	ll := llOverhead + advALen + 2 + len(p.Payload)
	incl := phdrLen + ll
	us := p.Time.UnixMicro()
	b = binary.LittleEndian.AppendUint32(b, uint32(us/1e6))
	b = binary.LittleEndian.AppendUint32(b, uint32(us%1e6))
	b = binary.LittleEndian.AppendUint32(b, uint32(incl))
	b = binary.LittleEndian.AppendUint32(b, uint32(incl))

	// Pseudo-header: RF channel, signal, noise, AA offenses, reference AA,
	// flags. The CRC flags stay clear so that Wireshark checks the CRC
	// itself (with them set it would trust them).
	b = append(b, rfChannel(p.Channel))
	sig := HeardSignal
	if p.Unheard {
		sig = UnheardSignal
	}
	b = append(b, byte(sig), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, AdvAccessAddress)
	b = binary.LittleEndian.AppendUint16(b, FlagDewhitened|FlagSignalValid|FlagRefAAValid)

	return AppendLL(b, p.AdvA, p.Kind, p.Payload)
}

// AppendLL appends the LE advertising packet (access address, header, AdvA,
// one AD structure, CRC) to b.
//
//	AA (4, LE) | type 0x2, TxAdd=1 (1) | length (1) | AdvA (6, LE) | len | AD type | payload | CRC (3)
func AppendLL(b []byte, advA [6]byte, kind mesh.ADType, payload []byte) ([]byte, error) {
	if len(payload)+2 > maxAdvData {
		return b, fmt.Errorf("%w: %d octets", ErrTooLong, len(payload)+2)
	}
	b = binary.LittleEndian.AppendUint32(b, AdvAccessAddress)
	pduStart := len(b)
	b = append(b, PDUTypeAdvNonconnInd|0x40, byte(advALen+2+len(payload)))
	for i := 5; i >= 0; i-- {
		b = append(b, advA[i])
	}
	b = append(b, byte(len(payload)+1), byte(kind))
	b = append(b, payload...)
	crc := CRC24(b[pduStart:], 0x555555)
	return appendCRC(b, crc), nil
}

// appendCRC appends the 24-bit CRC in the order it is on air: its most
// significant bit first, which in the octets of a capture (least
// significant bit first) means each octet bit-reversed.
func appendCRC(b []byte, crc uint32) []byte {
	return append(b,
		bits.Reverse8(byte(crc>>16)),
		bits.Reverse8(byte(crc>>8)),
		bits.Reverse8(byte(crc)))
}

// CRC24 computes the Link Layer CRC (Core v5.4 Vol 6 Part B §3.1.1) over
// the PDU octets p, each octet least significant bit first, with the shift
// register preset to init (0x555555 on the advertising channels).
func CRC24(p []byte, init uint32) uint32 {
	crc := init & 0xffffff
	for _, c := range p {
		for i := 0; i < 8; i++ {
			in := uint32(c>>i) & 1
			top := crc >> 23 & 1
			crc = crc << 1 & 0xffffff
			if in != top {
				crc ^= 0x00065B
			}
		}
	}
	return crc
}

// rfChannel maps an advertising channel index to the pseudo-header's RF
// channel number (2402 + 2·k MHz): 37 → 0, 38 → 12, 39 → 39.
func rfChannel(ch int) byte {
	switch ch {
	case 38:
		return 12
	case 39:
		return 39
	}
	return 0
}

// LL is a decoded advertising packet.
type LL struct {
	PDUType uint8
	TxAdd   bool
	AdvA    [6]byte // most significant octet first
	AD      []AD
}

// AD is one AD structure of AdvData; Data aliases the parsed buffer.
type AD struct {
	Type mesh.ADType
	Data []byte
}

// ParseLL decodes an LE advertising packet as AppendLL writes it (access
// address through CRC) and checks its CRC. AD entries alias p.
func ParseLL(p []byte) (LL, error) {
	var ll LL
	if len(p) < llOverhead+advALen {
		return ll, fmt.Errorf("%w: %d octets", ErrMalformed, len(p))
	}
	if aa := binary.LittleEndian.Uint32(p); aa != AdvAccessAddress {
		return ll, fmt.Errorf("%w: access address %#08x", ErrMalformed, aa)
	}
	hdr, n := p[4], int(p[5])
	if len(p) != 4+2+n+3 {
		return ll, fmt.Errorf("%w: length field %d, packet %d octets", ErrMalformed, n, len(p))
	}
	if n < advALen || n > advALen+maxAdvData {
		return ll, fmt.Errorf("%w: payload length %d", ErrMalformed, n)
	}
	pdu := p[4 : 6+n]
	want := appendCRC(nil, CRC24(pdu, 0x555555))
	if got := p[6+n:]; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		return ll, ErrCRC
	}
	ll.PDUType, ll.TxAdd = hdr&0x0f, hdr&0x40 != 0
	for i := 0; i < advALen; i++ {
		ll.AdvA[i] = p[6+advALen-1-i]
	}
	data := p[6+advALen : 6+n]
	for len(data) > 0 {
		l := int(data[0])
		if l == 0 { // early termination: the rest must be zero padding
			for _, c := range data {
				if c != 0 {
					return LL{}, fmt.Errorf("%w: data after zero-length AD structure", ErrMalformed)
				}
			}
			break
		}
		if l+1 > len(data) {
			return LL{}, fmt.Errorf("%w: AD structure of %d octets, %d left", ErrMalformed, l, len(data)-1)
		}
		ll.AD = append(ll.AD, AD{Type: mesh.ADType(data[1]), Data: data[2 : 1+l]})
		data = data[1+l:]
	}
	return ll, nil
}
