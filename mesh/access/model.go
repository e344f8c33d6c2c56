package access

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

// ModelID identifies a model: a 16-bit SIG model ID, or a vendor model as
// Company ID << 16 | vendor model ID (Mesh Protocol v1.1 §4.2.2.1). Vendor
// models of Company ID 0x0000 cannot be told from SIG models in this form;
// decoders of messages that carry a 4-octet model ID reject them.
type ModelID uint32

// SIGModel returns the ModelID of SIG model id.
func SIGModel(id uint16) ModelID { return ModelID(id) }

// VendorModel returns the ModelID of vendor model id of company cid.
func VendorModel(cid, id uint16) ModelID { return ModelID(uint32(cid)<<16 | uint32(id)) }

// IsVendor reports whether m is a vendor model.
func (m ModelID) IsVendor() bool { return m > 0xffff }

// CompanyID returns the Company ID of a vendor model, 0 for a SIG model.
func (m ModelID) CompanyID() uint16 { return uint16(m >> 16) }

// Number returns the 16-bit model number: the SIG model ID, or the vendor's
// model ID.
func (m ModelID) Number() uint16 { return uint16(m) }

// Size returns the octets of m in a message: 2 for SIG, 4 for vendor.
func (m ModelID) Size() int {
	if m.IsVendor() {
		return 4
	}
	return 2
}

// String prints "0x1000" for a SIG model and "0x0136:0x0001" for a vendor.
func (m ModelID) String() string {
	if m.IsVendor() {
		return fmt.Sprintf("0x%04x:0x%04x", m.CompanyID(), m.Number())
	}
	return fmt.Sprintf("0x%04x", uint16(m))
}

// AppendModelID appends m as it appears in Foundation messages: a SIG model
// ID as 2 octets little-endian, a vendor model as Company ID (2, LE) then
// model ID (2, LE).
func AppendModelID(b []byte, m ModelID) []byte {
	if m.IsVendor() {
		b = binary.LittleEndian.AppendUint16(b, m.CompanyID())
	}
	return binary.LittleEndian.AppendUint16(b, m.Number())
}

// DecodeModelID decodes a 2-octet (SIG) or 4-octet (vendor) model ID. A
// vendor form with Company ID 0x0000 is rejected with ErrRFU (see ModelID).
func DecodeModelID(p []byte) (ModelID, error) {
	switch len(p) {
	case 2:
		return ModelID(binary.LittleEndian.Uint16(p)), nil
	case 4:
		cid := binary.LittleEndian.Uint16(p)
		if cid == 0 {
			return 0, fmt.Errorf("%w: vendor model of Company ID 0x0000 is not representable", ErrRFU)
		}
		return VendorModel(cid, binary.LittleEndian.Uint16(p[2:])), nil
	}
	return 0, fmt.Errorf("%w: model ID of %d octets, want 2 or 4", ErrLength, len(p))
}

// Handler handles one access message for a model. params are the
// parameters after the opcode and ctx the message context; neither may be
// retained or modified after the handler returns.
type Handler func(ctx *Context, params []byte)

// LenRule is an optional rule on the parameter length of an opcode, checked
// before the handler runs (as Zephyr's BT_MESH_LEN_EXACT / _MIN). The zero
// LenRule accepts any length.
type LenRule struct {
	min, max int
	set      bool
}

// LenExact requires exactly n octets of parameters.
func LenExact(n int) LenRule { return LenRule{min: n, max: n, set: true} }

// LenMin requires at least n octets of parameters.
func LenMin(n int) LenRule { return LenRule{min: n, max: MaxMessageSize, set: true} }

// LenRange requires between lo and hi octets of parameters, inclusive.
func LenRange(lo, hi int) LenRule { return LenRule{min: lo, max: hi, set: true} }

// OK reports whether n octets of parameters satisfy r.
func (r LenRule) OK(n int) bool { return !r.set || (n >= r.min && n <= r.max) }

// Op binds an opcode of a model to its handler.
type Op struct {
	Opcode  Opcode
	Len     LenRule // zero: any length
	Handler Handler
}

// Subscription is one entry of a model's Subscription List: a group address,
// or a virtual address with its Label UUID.
type Subscription struct {
	Address mesh.Address
	Label   *[16]byte // non-nil exactly when Address is virtual
}

// Defaults for model state capacity.
const (
	DefaultMaxBindings      = 8
	DefaultMaxSubscriptions = 16
)

// Model is one model instance on an element: its opcodes and handlers and
// its configuration state (AppKey bindings, Subscription List and Model
// Publication, Mesh Protocol v1.1 §4.2.3–§4.2.5).
//
// Fill the exported fields, add the model to an element with
// Layer.AddElement, then change its state only through its methods.
type Model struct {
	ID ModelID
	// Ops are the messages the model receives. Append to it or replace
	// it, or change a Handler, at any time; an Op's Opcode does not change
	// in place.
	Ops []Op

	// DevKey marks a model secured with device keys (Configuration Server
	// and Client): it receives only DevKey messages and cannot be bound to
	// AppKeys.
	DevKey bool
	// NoSubscriptions marks a model that does not support subscription.
	NoSubscriptions bool
	// NoPublication marks a model that does not support publication.
	NoPublication bool
	// MaxBindings and MaxSubscriptions bound the model's lists; zero takes
	// DefaultMaxBindings / DefaultMaxSubscriptions.
	MaxBindings, MaxSubscriptions int
	// PeriodicPublish, when set, runs every Publish Period while periodic
	// publication is configured; the model then calls Layer.Publish. A
	// model without it does not support periodic publishing.
	PeriodicPublish func()

	elem     *Element
	bindings []uint16
	subs     []Subscription
	pub      Publication

	periodTimer mesh.Timer
	periodGen   uint64
	retxTimer   mesh.Timer
	retxGen     uint64

	// opcodes mirrors the Opcode of each of Ops (built again when Ops
	// grows or is replaced), so a lookup reads a few contiguous cache
	// lines instead of every Op: with a thousand simulated nodes each
	// lookup is a cold read.
	opcodes []Opcode
	opsBase *Op
}

// Element returns the element the model was added to, or nil.
func (m *Model) Element() *Element { return m.elem }

// Address returns the unicast address of the model's element, or
// unassigned if the model was not added.
func (m *Model) Address() mesh.Address {
	if m.elem == nil {
		return mesh.AddrUnassigned
	}
	return m.elem.Address()
}

func (m *Model) op(o Opcode) *Op {
	if len(m.opcodes) != len(m.Ops) || (len(m.Ops) > 0 && m.opsBase != &m.Ops[0]) {
		m.opcodes = m.opcodes[:0]
		for i := range m.Ops {
			m.opcodes = append(m.opcodes, m.Ops[i].Opcode)
		}
		m.opsBase = nil
		if len(m.Ops) > 0 {
			m.opsBase = &m.Ops[0]
		}
	}
	for i, c := range m.opcodes {
		if c == o {
			return &m.Ops[i]
		}
	}
	return nil
}

// HasOpcode reports whether o is one of the model's opcodes.
func (m *Model) HasOpcode(o Opcode) bool { return m.op(o) != nil }

// Bindings returns a copy of the AppKey Indexes bound to the model.
func (m *Model) Bindings() []uint16 { return slices.Clone(m.bindings) }

// IsBound reports whether AppKey Index idx is bound to the model.
func (m *Model) IsBound(idx uint16) bool { return slices.Contains(m.bindings, idx) }

// Bind binds AppKey Index idx. Binding an index already bound succeeds. It
// fails with ErrNotBound for a DevKey model and ErrFull when the list is
// full.
func (m *Model) Bind(idx uint16) error {
	if m.DevKey {
		return fmt.Errorf("%w: model %s uses device keys", ErrNotBound, m.ID)
	}
	if idx > 0xfff {
		return fmt.Errorf("%w: AppKey Index 0x%x", ErrProhibited, idx)
	}
	if m.IsBound(idx) {
		return nil
	}
	limit := m.MaxBindings
	if limit == 0 {
		limit = DefaultMaxBindings
	}
	if len(m.bindings) >= limit {
		return fmt.Errorf("%w: model %s has %d bindings", ErrFull, m.ID, limit)
	}
	m.bindings = append(m.bindings, idx)
	return nil
}

// Unbind removes AppKey Index idx from the bindings and reports whether it
// was bound. A publication that used idx is cleared (as Zephyr does, since
// the model could no longer publish with it).
func (m *Model) Unbind(idx uint16) bool {
	i := slices.Index(m.bindings, idx)
	if i < 0 {
		return false
	}
	m.bindings = slices.Delete(m.bindings, i, i+1)
	if m.pub.Address != mesh.AddrUnassigned && m.pub.AppKeyIndex == idx {
		_ = m.SetPublication(Publication{})
	}
	return true
}

// Subscriptions returns a copy of the Subscription List.
func (m *Model) Subscriptions() []Subscription {
	out := make([]Subscription, len(m.subs))
	for i, s := range m.subs {
		out[i] = s
		if s.Label != nil {
			l := *s.Label
			out[i].Label = &l
		}
	}
	return out
}

// IsSubscribed reports whether the Subscription List holds addr (with label,
// for a virtual address; a nil label matches a virtual address by hash).
func (m *Model) IsSubscribed(addr mesh.Address, label *[16]byte) bool {
	return m.findSub(addr, label) >= 0
}

func (m *Model) findSub(addr mesh.Address, label *[16]byte) int {
	for i, s := range m.subs {
		if s.Address != addr {
			continue
		}
		if label == nil || s.Label == nil || *s.Label == *label {
			return i
		}
	}
	return -1
}

// Subscribe adds a group address, or (with a non-nil label) a Label UUID
// whose virtual address is computed here; addr is ignored then. Adding an
// entry already present succeeds. It fails with ErrProhibited for an
// address that is not a group (or is all-nodes), and with ErrFull when the
// list is full or the model does not support subscription.
func (m *Model) Subscribe(addr mesh.Address, label *[16]byte) error {
	if label != nil {
		addr = mesh.Address(crypto.VirtualAddress(*label))
	} else if !addr.IsGroup() || addr == mesh.AddrAllNodes {
		return fmt.Errorf("%w: cannot subscribe to %s", ErrProhibited, addr)
	}
	if m.IsSubscribed(addr, label) {
		return nil
	}
	limit := m.MaxSubscriptions
	if limit == 0 {
		limit = DefaultMaxSubscriptions
	}
	if m.NoSubscriptions || len(m.subs) >= limit {
		return fmt.Errorf("%w: subscription list of model %s", ErrFull, m.ID)
	}
	s := Subscription{Address: addr}
	if label != nil {
		l := *label
		s.Label = &l
	}
	m.subs = append(m.subs, s)
	return nil
}

// Unsubscribe removes a group address or Label UUID (label non-nil) and
// reports whether it was present.
func (m *Model) Unsubscribe(addr mesh.Address, label *[16]byte) bool {
	if label != nil {
		addr = mesh.Address(crypto.VirtualAddress(*label))
	}
	i := m.findSub(addr, label)
	if i < 0 {
		return false
	}
	m.subs = slices.Delete(m.subs, i, i+1)
	return true
}

// ClearSubscriptions empties the Subscription List.
func (m *Model) ClearSubscriptions() { m.subs = m.subs[:0] }

// PublishPeriod is the Publish Period octet (Mesh Protocol v1.1 §4.2.3.6):
// bits 0–5 number of steps, bits 6–7 step resolution (100 ms, 1 s, 10 s,
// 10 min). Zero steps disables periodic publishing.
type PublishPeriod uint8

// NewPublishPeriod packs steps (0–63) and a resolution code (0–3).
func NewPublishPeriod(steps, resolution uint8) PublishPeriod {
	return PublishPeriod(steps&0x3f | resolution<<6)
}

// Steps returns the number of steps.
func (p PublishPeriod) Steps() uint8 { return uint8(p) & 0x3f }

// Resolution returns the duration of one step.
func (p PublishPeriod) Resolution() time.Duration {
	return [4]time.Duration{100 * time.Millisecond, time.Second, 10 * time.Second, 10 * time.Minute}[p>>6]
}

// Duration returns the period, 0 when periodic publishing is off.
func (p PublishPeriod) Duration() time.Duration { return time.Duration(p.Steps()) * p.Resolution() }

// PublishRetransmit is the Publish Retransmit Count and Interval Steps
// (Mesh Protocol v1.1 §4.2.3.7–8): Count retransmissions (3 bits) spaced
// (IntervalSteps+1)·50 ms (5 bits). On the wire: count in bits 0–2, steps in
// bits 3–7.
type PublishRetransmit struct {
	Count         uint8
	IntervalSteps uint8
}

// Interval returns the time between retransmissions.
func (r PublishRetransmit) Interval() time.Duration {
	return time.Duration(int(r.IntervalSteps&0x1f)+1) * 50 * time.Millisecond
}

// Byte packs r into its wire octet.
func (r PublishRetransmit) Byte() byte { return r.Count&0x07 | r.IntervalSteps<<3 }

// PublishRetransmitFromByte unpacks the wire octet.
func PublishRetransmitFromByte(b byte) PublishRetransmit {
	return PublishRetransmit{Count: b & 0x07, IntervalSteps: b >> 3}
}

// Publication is a model's Model Publication state (Mesh Protocol v1.1
// §4.2.3). An unassigned Address disables publication.
type Publication struct {
	Address        mesh.Address // unicast, group, or virtual (then Label is set)
	Label          *[16]byte
	AppKeyIndex    uint16
	CredentialFlag bool  // publish with friendship credentials
	TTL            uint8 // 0x00–0x7F, or DefaultTTL
	Period         PublishPeriod
	Retransmit     PublishRetransmit
}

// Publication returns a copy of the model's publication state.
func (m *Model) Publication() Publication {
	p := m.pub
	if p.Label != nil {
		l := *p.Label
		p.Label = &l
	}
	return p
}
