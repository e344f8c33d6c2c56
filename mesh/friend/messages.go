package friend

import (
	"encoding/binary"
	"fmt"

	"github.com/meshdfu/meshdfu/internal/wire"
	"github.com/meshdfu/meshdfu/mesh"
)

// Friendship transport control opcodes (Mesh Protocol v1.1 §3.6.5,
// Table 3.28). Every one travels as an Unsegmented Control message.
const (
	OpPoll           uint8 = 0x01 // Friend Poll, LPN → Friend
	OpUpdate         uint8 = 0x02 // Friend Update, Friend → LPN
	OpRequest        uint8 = 0x03 // Friend Request, LPN → all-friends
	OpOffer          uint8 = 0x04 // Friend Offer, Friend → LPN
	OpClear          uint8 = 0x05 // Friend Clear
	OpClearConfirm   uint8 = 0x06 // Friend Clear Confirm
	OpSubListAdd     uint8 = 0x07 // Friend Subscription List Add, LPN → Friend
	OpSubListRemove  uint8 = 0x08 // Friend Subscription List Remove, LPN → Friend
	OpSubListConfirm uint8 = 0x09 // Friend Subscription List Confirm, Friend → LPN
)

// MaxSubListAddresses is the most addresses one Subscription List Add or
// Remove carries: 11 octets of unsegmented control parameters hold the
// TransactionNumber and five 16-bit addresses.
const MaxSubListAddresses = 5

// Message is one friendship transport control message: its parameters,
// after the opcode octet of the lower transport PDU.
type Message interface {
	// Opcode returns the transport control opcode.
	Opcode() uint8
	// AppendBinary appends the encoded parameters to b.
	AppendBinary(b []byte) ([]byte, error)
	// Unmarshal decodes the parameters p strictly; it does not retain p.
	Unmarshal(p []byte) error
}

var (
	_ Message = (*Poll)(nil)
	_ Message = (*Update)(nil)
	_ Message = (*Request)(nil)
	_ Message = (*Offer)(nil)
	_ Message = (*Clear)(nil)
	_ Message = (*ClearConfirm)(nil)
	_ Message = (*SubListAdd)(nil)
	_ Message = (*SubListRemove)(nil)
	_ Message = (*SubListConfirm)(nil)
)

// New returns an empty message of the friendship opcode op, or nil.
func New(op uint8) Message {
	switch op {
	case OpPoll:
		return &Poll{}
	case OpUpdate:
		return &Update{}
	case OpRequest:
		return &Request{}
	case OpOffer:
		return &Offer{}
	case OpClear:
		return &Clear{}
	case OpClearConfirm:
		return &ClearConfirm{}
	case OpSubListAdd:
		return &SubListAdd{}
	case OpSubListRemove:
		return &SubListRemove{}
	case OpSubListConfirm:
		return &SubListConfirm{}
	}
	return nil
}

// Decode decodes the parameters of the friendship control message op.
func Decode(op uint8, params []byte) (Message, error) {
	m := New(op)
	if m == nil {
		return nil, fmt.Errorf("%w: 0x%02x", ErrOpcode, op)
	}
	if err := m.Unmarshal(params); err != nil {
		return nil, err
	}
	return m, nil
}

// Marshal returns the lower transport PDU of m: the SEG=0‖opcode octet and
// the parameters.
func Marshal(m Message) ([]byte, error) {
	return m.AppendBinary([]byte{m.Opcode()})
}

func exact(name string, p []byte, n int) error {
	if len(p) != n {
		return fmt.Errorf("%w: %s has %d octets, want %d", ErrLength, name, len(p), n)
	}
	return nil
}

// Poll is Friend Poll (opcode 0x01), exactly 1 octet:
//
//	Padding = 0b0000000 (7) | FSN (1)
type Poll struct {
	FSN uint8 // Friend Sequence Number, 0 or 1
}

// Opcode returns OpPoll.
func (*Poll) Opcode() uint8 { return OpPoll }

// AppendBinary appends the parameters to b.
func (m *Poll) AppendBinary(b []byte) ([]byte, error) {
	if m.FSN > 1 {
		return b, fmt.Errorf("%w: FSN %d", ErrProhibited, m.FSN)
	}
	return append(b, m.FSN), nil
}

// Unmarshal decodes p; padding bits set are prohibited.
func (m *Poll) Unmarshal(p []byte) error {
	if err := exact("Friend Poll", p, 1); err != nil {
		return err
	}
	if p[0]&0xFE != 0 {
		return fmt.Errorf("%w: Friend Poll padding 0x%02x", ErrProhibited, p[0]&0xFE)
	}
	m.FSN = p[0]
	return nil
}

// Update is Friend Update (opcode 0x02), exactly 6 octets, big-endian:
//
//	Flags (1): bit 0 Key Refresh, bit 1 IV Update, bits 2–7 RFU
//	IV Index (4)
//	MD (1): 0 queue empty, 1 more data, 2–255 prohibited
type Update struct {
	KeyRefresh bool   // Key Refresh Phase 2 in progress
	IVUpdate   bool   // IV Update in progress
	IVIndex    uint32 // the current IV Index known by the Friend
	MD         bool   // the Friend Queue is not empty
}

// Opcode returns OpUpdate.
func (*Update) Opcode() uint8 { return OpUpdate }

// Flags returns the Flags octet.
func (m *Update) Flags() uint8 {
	var f uint8
	if m.KeyRefresh {
		f |= 1
	}
	if m.IVUpdate {
		f |= 2
	}
	return f
}

// AppendBinary appends the parameters to b.
func (m *Update) AppendBinary(b []byte) ([]byte, error) {
	md := uint8(0)
	if m.MD {
		md = 1
	}
	b = append(b, m.Flags())
	b = binary.BigEndian.AppendUint32(b, m.IVIndex)
	return append(b, md), nil
}

// Unmarshal decodes p; RFU flags and MD above 1 are prohibited.
func (m *Update) Unmarshal(p []byte) error {
	if err := exact("Friend Update", p, 6); err != nil {
		return err
	}
	if p[0]&0xFC != 0 {
		return fmt.Errorf("%w: Friend Update RFU flags 0x%02x", ErrProhibited, p[0])
	}
	if p[5] > 1 {
		return fmt.Errorf("%w: Friend Update MD %d", ErrProhibited, p[5])
	}
	*m = Update{KeyRefresh: p[0]&1 != 0, IVUpdate: p[0]&2 != 0, IVIndex: binary.BigEndian.Uint32(p[1:5]), MD: p[5] == 1}
	return nil
}

// Factor is a 2-bit RSSIFactor or ReceiveWindowFactor of a Friend Request:
// 0 → 1, 1 → 1.5, 2 → 2, 3 → 2.5.
type Factor uint8

// Tenths returns the factor times 10 (10, 15, 20 or 25).
func (f Factor) Tenths() int { return 10 + 5*int(f&3) }

// String prints the factor as a decimal.
func (f Factor) String() string {
	t := f.Tenths()
	if t%10 == 0 {
		return fmt.Sprintf("%d", t/10)
	}
	return fmt.Sprintf("%d.%d", t/10, t%10)
}

// Limits of Friend Request fields (Mesh Protocol v1.1 §3.6.5.3).
const (
	MinReceiveDelay = 0x0A     // ms
	MinPollTimeout  = 0x00000A // 100 ms units: 1 s
	MaxPollTimeout  = 0x34BBFF // 100 ms units: 95 h 59 min 59.9 s
)

// Request is Friend Request (opcode 0x03), exactly 10 octets, big-endian:
//
//	Criteria (1): RFU (1) | RSSIFactor (2) | ReceiveWindowFactor (2) | MinQueueSizeLog (3)
//	ReceiveDelay (1): 0x0A–0xFF ms
//	PollTimeout (3): 0x00000A–0x34BBFF, 100 ms units
//	PreviousAddress (2): the previous Friend's unicast address, or 0x0000
//	NumElements (1): 0x01–0xFF
//	LPNCounter (2)
type Request struct {
	RSSIFactor          Factor
	ReceiveWindowFactor Factor
	MinQueueSizeLog     uint8 // 1–7: at least 2^n queue entries
	ReceiveDelay        uint8 // ms
	PollTimeout         uint32
	PreviousAddress     mesh.Address
	NumElements         uint8
	LPNCounter          uint16
}

// Opcode returns OpRequest.
func (*Request) Opcode() uint8 { return OpRequest }

func (m *Request) check() error {
	switch {
	case m.RSSIFactor > 3 || m.ReceiveWindowFactor > 3:
		return fmt.Errorf("%w: Friend Request factor above 3", ErrProhibited)
	case m.MinQueueSizeLog == 0 || m.MinQueueSizeLog > 7:
		return fmt.Errorf("%w: Friend Request MinQueueSizeLog %d", ErrProhibited, m.MinQueueSizeLog)
	case m.ReceiveDelay < MinReceiveDelay:
		return fmt.Errorf("%w: Friend Request ReceiveDelay %d ms", ErrProhibited, m.ReceiveDelay)
	case m.PollTimeout < MinPollTimeout || m.PollTimeout > MaxPollTimeout:
		return fmt.Errorf("%w: Friend Request PollTimeout 0x%06x", ErrProhibited, m.PollTimeout)
	case m.PreviousAddress != mesh.AddrUnassigned && !m.PreviousAddress.IsUnicast():
		return fmt.Errorf("%w: Friend Request PreviousAddress %v", ErrProhibited, m.PreviousAddress)
	case m.NumElements == 0:
		return fmt.Errorf("%w: Friend Request NumElements 0", ErrProhibited)
	}
	return nil
}

// Criteria returns the packed Criteria octet.
func (m *Request) Criteria() uint8 {
	return uint8(m.RSSIFactor&3)<<5 | uint8(m.ReceiveWindowFactor&3)<<3 | m.MinQueueSizeLog&7
}

// MinQueueSize returns 2^MinQueueSizeLog.
func (m *Request) MinQueueSize() int { return 1 << (m.MinQueueSizeLog & 7) }

// AppendBinary appends the parameters to b.
func (m *Request) AppendBinary(b []byte) ([]byte, error) {
	if err := m.check(); err != nil {
		return b, err
	}
	b = append(b, m.Criteria(), m.ReceiveDelay, byte(m.PollTimeout>>16), byte(m.PollTimeout>>8), byte(m.PollTimeout))
	b = binary.BigEndian.AppendUint16(b, uint16(m.PreviousAddress))
	b = append(b, m.NumElements)
	return binary.BigEndian.AppendUint16(b, m.LPNCounter), nil
}

// Unmarshal decodes p; prohibited values are rejected.
func (m *Request) Unmarshal(p []byte) error {
	if err := exact("Friend Request", p, 10); err != nil {
		return err
	}
	r := wire.NewReader(p)
	c := r.U8()
	if c&0x80 != 0 {
		return fmt.Errorf("%w: Friend Request criteria RFU bit", ErrProhibited)
	}
	v := Request{
		RSSIFactor:          Factor(c >> 5 & 3),
		ReceiveWindowFactor: Factor(c >> 3 & 3),
		MinQueueSizeLog:     c & 7,
		ReceiveDelay:        r.U8(),
		PollTimeout:         r.U24BE(),
		PreviousAddress:     mesh.Address(r.U16BE()),
		NumElements:         r.U8(),
		LPNCounter:          r.U16BE(),
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: Friend Request: %v", ErrLength, err)
	}
	if err := v.check(); err != nil {
		return err
	}
	*m = v
	return nil
}

// RSSIUnavailable is the Friend Offer RSSI value meaning "not measured".
const RSSIUnavailable = 127

// Offer is Friend Offer (opcode 0x04), exactly 6 octets, big-endian:
//
//	ReceiveWindow (1): 0x01–0xFF ms
//	QueueSize (1) | SubscriptionListSize (1) | RSSI (1, signed dBm; 127 unavailable)
//	FriendCounter (2)
type Offer struct {
	ReceiveWindow        uint8 // ms
	QueueSize            uint8
	SubscriptionListSize uint8
	RSSI                 int8
	FriendCounter        uint16
}

// Opcode returns OpOffer.
func (*Offer) Opcode() uint8 { return OpOffer }

// AppendBinary appends the parameters to b.
func (m *Offer) AppendBinary(b []byte) ([]byte, error) {
	if m.ReceiveWindow == 0 {
		return b, fmt.Errorf("%w: Friend Offer ReceiveWindow 0", ErrProhibited)
	}
	b = append(b, m.ReceiveWindow, m.QueueSize, m.SubscriptionListSize, byte(m.RSSI))
	return binary.BigEndian.AppendUint16(b, m.FriendCounter), nil
}

// Unmarshal decodes p; ReceiveWindow 0 is prohibited.
func (m *Offer) Unmarshal(p []byte) error {
	if err := exact("Friend Offer", p, 6); err != nil {
		return err
	}
	if p[0] == 0 {
		return fmt.Errorf("%w: Friend Offer ReceiveWindow 0", ErrProhibited)
	}
	*m = Offer{ReceiveWindow: p[0], QueueSize: p[1], SubscriptionListSize: p[2], RSSI: int8(p[3]),
		FriendCounter: binary.BigEndian.Uint16(p[4:6])}
	return nil
}

// clearParams is the body shared by Friend Clear and Friend Clear Confirm.
func appendClear(b []byte, name string, lpn mesh.Address, counter uint16) ([]byte, error) {
	if !lpn.IsUnicast() {
		return b, fmt.Errorf("%w: %s LPNAddress %v", ErrProhibited, name, lpn)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(lpn))
	return binary.BigEndian.AppendUint16(b, counter), nil
}

func parseClear(p []byte, name string) (mesh.Address, uint16, error) {
	if err := exact(name, p, 4); err != nil {
		return 0, 0, err
	}
	lpn := mesh.Address(binary.BigEndian.Uint16(p))
	if !lpn.IsUnicast() {
		return 0, 0, fmt.Errorf("%w: %s LPNAddress %v", ErrProhibited, name, lpn)
	}
	return lpn, binary.BigEndian.Uint16(p[2:]), nil
}

// Clear is Friend Clear (opcode 0x05), exactly 4 octets, big-endian:
//
//	LPNAddress (2, unicast) | LPNCounter (2)
type Clear struct {
	LPNAddress mesh.Address
	LPNCounter uint16
}

// Opcode returns OpClear.
func (*Clear) Opcode() uint8 { return OpClear }

// AppendBinary appends the parameters to b.
func (m *Clear) AppendBinary(b []byte) ([]byte, error) {
	return appendClear(b, "Friend Clear", m.LPNAddress, m.LPNCounter)
}

// Unmarshal decodes p; a LPNAddress that is not unicast is prohibited.
func (m *Clear) Unmarshal(p []byte) (err error) {
	m.LPNAddress, m.LPNCounter, err = parseClear(p, "Friend Clear")
	return err
}

// ClearConfirm is Friend Clear Confirm (opcode 0x06), exactly 4 octets,
// big-endian, the fields copied from the Friend Clear it answers:
//
//	LPNAddress (2, unicast) | LPNCounter (2)
type ClearConfirm struct {
	LPNAddress mesh.Address
	LPNCounter uint16
}

// Opcode returns OpClearConfirm.
func (*ClearConfirm) Opcode() uint8 { return OpClearConfirm }

// AppendBinary appends the parameters to b.
func (m *ClearConfirm) AppendBinary(b []byte) ([]byte, error) {
	return appendClear(b, "Friend Clear Confirm", m.LPNAddress, m.LPNCounter)
}

// Unmarshal decodes p; a LPNAddress that is not unicast is prohibited.
func (m *ClearConfirm) Unmarshal(p []byte) (err error) {
	m.LPNAddress, m.LPNCounter, err = parseClear(p, "Friend Clear Confirm")
	return err
}

// subList is the body of Subscription List Add and Remove:
//
//	TransactionNumber (1) | AddressList (2 × N, big-endian), 1 ≤ N ≤ 5
//
// Addresses are group addresses or virtual addresses (their 16-bit hash).
type subList struct {
	TransactionNumber uint8
	Addresses         []mesh.Address
}

func (m *subList) append(b []byte, name string) ([]byte, error) {
	if n := len(m.Addresses); n < 1 || n > MaxSubListAddresses {
		return b, fmt.Errorf("%w: %s with %d addresses, want 1–%d", ErrLength, name, n, MaxSubListAddresses)
	}
	b = append(b, m.TransactionNumber)
	for _, a := range m.Addresses {
		if !a.IsGroup() && !a.IsVirtual() {
			return b, fmt.Errorf("%w: %s address %v", ErrProhibited, name, a)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(a))
	}
	return b, nil
}

func (m *subList) unmarshal(p []byte, name string) error {
	if len(p) < 3 || len(p) > 1+2*MaxSubListAddresses || len(p)%2 != 1 {
		return fmt.Errorf("%w: %s has %d octets, want 1 + 2N with 1 ≤ N ≤ %d", ErrLength, name, len(p), MaxSubListAddresses)
	}
	addrs := make([]mesh.Address, 0, (len(p)-1)/2)
	for i := 1; i < len(p); i += 2 {
		a := mesh.Address(binary.BigEndian.Uint16(p[i:]))
		if !a.IsGroup() && !a.IsVirtual() {
			return fmt.Errorf("%w: %s address %v", ErrProhibited, name, a)
		}
		addrs = append(addrs, a)
	}
	m.TransactionNumber, m.Addresses = p[0], addrs
	return nil
}

// SubListAdd is Friend Subscription List Add (opcode 0x07), 3–11 octets,
// big-endian:
//
//	TransactionNumber (1) | AddressList (2 × N), 1 ≤ N ≤ 5 group or virtual addresses
type SubListAdd subList

// Opcode returns OpSubListAdd.
func (*SubListAdd) Opcode() uint8 { return OpSubListAdd }

// AppendBinary appends the parameters to b.
func (m *SubListAdd) AppendBinary(b []byte) ([]byte, error) {
	return (*subList)(m).append(b, "Friend Subscription List Add")
}

// Unmarshal decodes p; unicast or unassigned addresses are prohibited.
func (m *SubListAdd) Unmarshal(p []byte) error {
	return (*subList)(m).unmarshal(p, "Friend Subscription List Add")
}

// SubListRemove is Friend Subscription List Remove (opcode 0x08), 3–11
// octets, big-endian:
//
//	TransactionNumber (1) | AddressList (2 × N), 1 ≤ N ≤ 5 group or virtual addresses
type SubListRemove subList

// Opcode returns OpSubListRemove.
func (*SubListRemove) Opcode() uint8 { return OpSubListRemove }

// AppendBinary appends the parameters to b.
func (m *SubListRemove) AppendBinary(b []byte) ([]byte, error) {
	return (*subList)(m).append(b, "Friend Subscription List Remove")
}

// Unmarshal decodes p; unicast or unassigned addresses are prohibited.
func (m *SubListRemove) Unmarshal(p []byte) error {
	return (*subList)(m).unmarshal(p, "Friend Subscription List Remove")
}

// SubListConfirm is Friend Subscription List Confirm (opcode 0x09),
// exactly 1 octet:
//
//	TransactionNumber (1), echoed from the Add or Remove
type SubListConfirm struct {
	TransactionNumber uint8
}

// Opcode returns OpSubListConfirm.
func (*SubListConfirm) Opcode() uint8 { return OpSubListConfirm }

// AppendBinary appends the parameters to b.
func (m *SubListConfirm) AppendBinary(b []byte) ([]byte, error) {
	return append(b, m.TransactionNumber), nil
}

// Unmarshal decodes p.
func (m *SubListConfirm) Unmarshal(p []byte) error {
	if err := exact("Friend Subscription List Confirm", p, 1); err != nil {
		return err
	}
	m.TransactionNumber = p[0]
	return nil
}
