package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Config configures a Layer. Clock, Rand, Primary and Send are required.
type Config struct {
	Clock  mesh.Clock
	Rand   *rand.Rand
	Logger *slog.Logger // nil: discard

	// Primary returns the node's primary unicast address (it changes when
	// the node is provisioned or reset).
	Primary func() mesh.Address
	// DefaultTTL returns the node's Default TTL state; nil: DefaultTTLValue.
	DefaultTTL func() uint8
	// Send hands an access payload (opcode and parameters) to the upper
	// transport layer with its context. ctx.TTL is already resolved and
	// ctx.Src set. Send copies what it keeps; done, if not nil, reports the
	// end of the transmission (or its failure) later. An error return means
	// nothing was sent and done will not run.
	Send func(ctx *Context, payload []byte, done func(error)) error
	// FixedGroup reports whether the feature of a fixed group address
	// (all-proxies, all-friends, all-relays, all-directed-forwarding-nodes)
	// is enabled, so that messages to it reach the primary element.
	// all-nodes always does. nil: only all-nodes.
	FixedGroup func(mesh.Address) bool
	// BoundNetKey returns the NetKey Index an AppKey is bound to, for
	// publication. nil: 0 (the primary subnet).
	BoundNetKey func(appKeyIndex uint16) uint16
	// Composition is the header of Composition Data page 0.
	Composition CompositionHeader
}

// DefaultTTLValue is the Default TTL used when Config.DefaultTTL is nil.
const DefaultTTLValue uint8 = 7

// Random delays before a response (Mesh Protocol v1.1 §3.7.4.1).
const (
	ReplyDelayMin        = 20 * time.Millisecond
	ReplyDelayMaxUnicast = 50 * time.Millisecond
	ReplyDelayMaxGroup   = 500 * time.Millisecond
)

// Stats counts what Receive did with incoming messages.
type Stats struct {
	Received      uint64 // payloads given to Receive
	Delivered     uint64 // handler calls
	BadOpcode     uint64 // opcode could not be decoded
	UnknownOpcode uint64 // no addressed model has the opcode
	WrongKey      uint64 // model has the opcode but is not bound to the key
	BadLength     uint64 // parameters broke the opcode's LenRule
}

// Layer is a node's access layer: its elements and models.
type Layer struct {
	cfg      Config
	log      *slog.Logger
	elements []*Element
	stats    Stats
}

// New returns a Layer with no elements.
func New(cfg Config) (*Layer, error) {
	if cfg.Clock == nil || cfg.Rand == nil || cfg.Primary == nil || cfg.Send == nil {
		return nil, errors.New("access: Config needs Clock, Rand, Primary and Send")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Layer{cfg: cfg, log: cfg.Logger}, nil
}

// AddElement appends an element holding models. The first element added is
// the primary element. It fails if two models share an ID or a model is
// already on an element.
func (l *Layer) AddElement(loc uint16, models ...*Model) (*Element, error) {
	for i, m := range models {
		if m.elem != nil {
			return nil, fmt.Errorf("%w: model %s already on element %d", ErrDuplicate, m.ID, m.elem.index)
		}
		for _, o := range models[:i] {
			if o.ID == m.ID {
				return nil, fmt.Errorf("%w: model %s twice in one element", ErrDuplicate, m.ID)
			}
		}
	}
	e := &Element{Loc: loc, Models: models, index: len(l.elements), layer: l}
	for _, m := range models {
		m.elem = e
	}
	l.elements = append(l.elements, e)
	return e, nil
}

// Elements returns the elements in index order. The slice must not be
// modified.
func (l *Layer) Elements() []*Element { return l.elements }

// Element returns the element with unicast address addr, or nil.
func (l *Layer) Element(addr mesh.Address) *Element {
	i := int(addr) - int(l.cfg.Primary())
	if !addr.IsUnicast() || i < 0 || i >= len(l.elements) {
		return nil
	}
	return l.elements[i]
}

// Model returns the model id on the element at addr, or nil.
func (l *Layer) Model(addr mesh.Address, id ModelID) *Model {
	if e := l.Element(addr); e != nil {
		return e.Model(id)
	}
	return nil
}

// Stats returns the receive counters.
func (l *Layer) Stats() Stats { return l.stats }

// DefaultTTL returns the node's Default TTL state.
func (l *Layer) DefaultTTL() uint8 {
	if l.cfg.DefaultTTL == nil {
		return DefaultTTLValue
	}
	return l.cfg.DefaultTTL()
}

// Receive dispatches an access payload to every model instance it is for
// (Mesh Protocol v1.1 §3.7.3.1). A message is for a model when the opcode
// is one of its Ops; DST is its element's unicast address, a group or
// virtual address (with the same Label UUID) on its Subscription List, or
// a fixed group address (all-nodes, or one whose feature is enabled)
// delivered to the primary element only; and the message was secured with
// the device key for a DevKey model, or with an AppKey bound to the model.
// Anything else is dropped silently and counted. payload is not retained.
func (l *Layer) Receive(ctx *Context, payload []byte) {
	l.stats.Received++
	op, params, err := DecodeOpcode(payload)
	if err != nil {
		l.stats.BadOpcode++
		l.debug("drop: bad opcode", ctx, slog.Any("err", err))
		return
	}
	primary := l.cfg.Primary()
	dst := ctx.Dst
	fixed := dst.IsFixedGroup() && (dst == mesh.AddrAllNodes || (l.cfg.FixedGroup != nil && l.cfg.FixedGroup(dst)))
	known := false
	for i, e := range l.elements {
		direct := dst.IsUnicast() && dst == primary+mesh.Address(i)
		for _, m := range e.Models {
			o := m.op(op)
			if o == nil {
				continue
			}
			if !direct && !(fixed && i == 0) && !((dst.IsGroup() || dst.IsVirtual()) && m.IsSubscribed(dst, ctx.Label)) {
				continue
			}
			known = true
			if ctx.DevKey != m.DevKey || (!ctx.DevKey && !m.IsBound(ctx.AppKeyIndex)) {
				l.stats.WrongKey++
				l.debug("drop: key not bound", ctx, slog.Any("opcode", op), slog.Any("model", m.ID))
				continue
			}
			if !o.Len.OK(len(params)) {
				l.stats.BadLength++
				l.debug("drop: bad length", ctx, slog.Any("opcode", op), slog.Int("len", len(params)))
				continue
			}
			c := *ctx
			l.stats.Delivered++
			o.Handler(&c, params)
		}
	}
	if !known {
		l.stats.UnknownOpcode++
		l.debug("drop: no model for opcode", ctx, slog.Any("opcode", op))
	}
}

func (l *Layer) debug(msg string, ctx *Context, attrs ...slog.Attr) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs = append(attrs, slog.Any("src", ctx.Src), slog.Any("dst", ctx.Dst))
	l.log.LogAttrs(context.Background(), slog.LevelDebug, "access: "+msg, attrs...)
}

func (l *Layer) resolveTTL(ttl uint8) uint8 {
	if ttl == DefaultTTL {
		return l.DefaultTTL()
	}
	return ttl
}

func checkKey(m *Model, ctx *Context) error {
	if m.elem == nil {
		return fmt.Errorf("%w: model %s", ErrNotAdded, m.ID)
	}
	if ctx.DevKey != m.DevKey {
		return fmt.Errorf("%w: model %s DevKey=%t, message DevKey=%t", ErrNotBound, m.ID, m.DevKey, ctx.DevKey)
	}
	if !ctx.DevKey && !m.IsBound(ctx.AppKeyIndex) {
		return fmt.Errorf("%w: model %s, AppKey Index 0x%03x", ErrNotBound, m.ID, ctx.AppKeyIndex)
	}
	return nil
}

// Send sends msg from model m now, with the keys, destination and TTL in
// ctx (Src is set to m's element). The model must be bound to the AppKey,
// or be a DevKey model for a DevKey send. done reports the end of the
// transmission, as Config.Send describes.
func (l *Layer) Send(m *Model, ctx *Context, msg Message, done func(error)) error {
	if err := checkKey(m, ctx); err != nil {
		return err
	}
	payload, err := Marshal(msg)
	if err != nil {
		return err
	}
	c := *ctx
	c.Src = m.Address()
	c.TTL = l.resolveTTL(c.TTL)
	return l.cfg.Send(&c, payload, done)
}

// Reply answers the request whose context is req with msg from model m
// (Mesh Protocol v1.1 §3.7.4.1): DST is the request's SRC; the same NetKey
// and AppKey or device key; TTL 0 when the request arrived with TTL 0, else
// the Default TTL. The response leaves after a random delay of 20–50 ms
// (unicast request) or 20–500 ms (group or virtual request). msg is encoded
// now; send errors reach done, if set.
func (l *Layer) Reply(m *Model, req *Context, msg Message, done func(error)) error {
	if m.elem == nil {
		return fmt.Errorf("%w: model %s", ErrNotAdded, m.ID)
	}
	payload, err := Marshal(msg)
	if err != nil {
		return err
	}
	c := Context{
		Src:         m.Address(),
		Dst:         req.Src,
		NetKeyIndex: req.NetKeyIndex,
		AppKeyIndex: req.AppKeyIndex,
		DevKey:      req.DevKey,
		TTL:         DefaultTTL,
	}
	if req.RecvTTL == 0 {
		c.TTL = 0
	}
	c.TTL = l.resolveTTL(c.TTL)
	maxDelay := ReplyDelayMaxUnicast
	if !req.Dst.IsUnicast() {
		maxDelay = ReplyDelayMaxGroup
	}
	delay := ReplyDelayMin + time.Duration(l.cfg.Rand.Int64N(int64(maxDelay-ReplyDelayMin)+1))
	l.cfg.Clock.AfterFunc(delay, func() {
		if err := l.cfg.Send(&c, payload, done); err != nil && done != nil {
			done(err)
		}
	})
	return nil
}
