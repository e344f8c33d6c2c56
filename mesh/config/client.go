package config

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Client defaults.
const (
	// DefaultTimeout is how long a request waits for its status in all:
	// the acknowledged-message timeout should be at least 30 s (Mesh
	// Protocol v1.1 §3.7.3.3).
	DefaultTimeout = 30 * time.Second
	// DefaultRetries is how many times a request is sent again within the
	// timeout when no status came.
	DefaultRetries = 2
)

// ClientConfig configures a Client. Layer and Clock are required.
type ClientConfig struct {
	Layer  *access.Layer
	Clock  mesh.Clock
	Logger *slog.Logger // nil: discard

	NetKeyIndex uint16        // subnet the requests go on
	TTL         uint8         // 0: access.DefaultTTL (the node's Default TTL)
	Timeout     time.Duration // 0: DefaultTimeout; total wait per request
	Retries     int           // 0: DefaultRetries; negative: send once
}

// Client is the Configuration Client model (SIG model 0x0001). Add
// Client.Model() to an element of the configuring node. Each request goes
// to a node's primary address, secured with that node's device key; the
// transport picks the key from Context.DevKey and the destination.
//
// A request is sent, then sent again Retries times, evenly spread over
// Timeout, until a matching status arrives from the destination; then the
// callback runs once with the status, and with a *StatusError if the status
// is not Success, or with ErrTimeout.
type Client struct {
	cfg     ClientConfig
	log     *slog.Logger
	model   *access.Model
	pending []*request
}

type request struct {
	dst      mesh.Address
	msg      access.Message
	want     access.Opcode
	match    func(access.Message) bool
	cb       func(access.Message, error)
	left     int // sends still to do after the current one
	interval time.Duration
	timer    mesh.Timer
	done     bool
}

// statusFor gives the status opcode that answers each request, and what in
// the status must equal the request.
var statusFor = map[access.Opcode]access.Opcode{
	OpCompositionDataGet: OpCompositionDataStatus,
	OpAppKeyAdd:          OpAppKeyStatus, OpAppKeyUpdate: OpAppKeyStatus, OpAppKeyDelete: OpAppKeyStatus,
	OpAppKeyGet: OpAppKeyList,
	OpNetKeyAdd: OpNetKeyStatus, OpNetKeyUpdate: OpNetKeyStatus, OpNetKeyDelete: OpNetKeyStatus,
	OpNetKeyGet:    OpNetKeyList,
	OpModelAppBind: OpModelAppStatus, OpModelAppUnbind: OpModelAppStatus,
	OpSIGModelAppGet: OpSIGModelAppList, OpVendorModelAppGet: OpVendorModelAppList,
	OpModelSubscriptionAdd: OpModelSubscriptionStatus, OpModelSubscriptionDelete: OpModelSubscriptionStatus,
	OpModelSubscriptionOverwrite: OpModelSubscriptionStatus, OpModelSubscriptionDeleteAll: OpModelSubscriptionStatus,
	OpModelSubscriptionVirtualAddressAdd:       OpModelSubscriptionStatus,
	OpModelSubscriptionVirtualAddressDelete:    OpModelSubscriptionStatus,
	OpModelSubscriptionVirtualAddressOverwrite: OpModelSubscriptionStatus,
	OpSIGModelSubscriptionGet:                  OpSIGModelSubscriptionList,
	OpVendorModelSubscriptionGet:               OpVendorModelSubscriptionList,
	OpModelPublicationGet:                      OpModelPublicationStatus,
	OpModelPublicationSet:                      OpModelPublicationStatus,
	OpModelPublicationVirtualAddressSet:        OpModelPublicationStatus,
	OpDefaultTTLGet:                            OpDefaultTTLStatus, OpDefaultTTLSet: OpDefaultTTLStatus,
	OpNetworkTransmitGet: OpNetworkTransmitStatus, OpNetworkTransmitSet: OpNetworkTransmitStatus,
	OpRelayGet: OpRelayStatus, OpRelaySet: OpRelayStatus,
	OpBeaconGet: OpBeaconStatus, OpBeaconSet: OpBeaconStatus,
	OpNodeReset: OpNodeResetStatus,
}

// ErrNotRequest reports a message the Client cannot send as a request.
var ErrNotRequest = errors.New("config: not a Configuration request")

// NewClient returns a Client; add its Model to an element.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Layer == nil || cfg.Clock == nil {
		return nil, errors.New("config: ClientConfig needs Layer and Clock")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL == 0 {
		cfg.TTL = access.DefaultTTL
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	c.model = &access.Model{ID: ClientModelID, DevKey: true, NoSubscriptions: true, NoPublication: true}
	seen := map[access.Opcode]bool{}
	for _, op := range statusFor {
		if !seen[op] {
			seen[op] = true
			c.model.Ops = append(c.model.Ops, access.Op{Opcode: op, Handler: c.receive(op)})
		}
	}
	slices.SortFunc(c.model.Ops, func(a, b access.Op) int { return int(a.Opcode) - int(b.Opcode) })
	return c, nil
}

// Model returns the Client's model instance.
func (c *Client) Model() *access.Model { return c.model }

// Pending returns the number of requests waiting for a status.
func (c *Client) Pending() int { return len(c.pending) }

// Request sends Configuration request msg to the node at dst and runs cb
// once with the matching status message (see Client for errors). The
// request is encoded at each send, so msg must not change until cb runs.
func (c *Client) Request(dst mesh.Address, msg access.Message, cb func(access.Message, error)) error {
	want, ok := statusFor[msg.Opcode()]
	if !ok {
		return ErrNotRequest
	}
	r := &request{
		dst: dst, msg: msg, want: want, match: matcher(msg), cb: cb,
		left: c.cfg.Retries, interval: c.cfg.Timeout / time.Duration(c.cfg.Retries+1),
	}
	if err := c.send(r); err != nil {
		return err
	}
	c.pending = append(c.pending, r)
	return nil
}

func (c *Client) send(r *request) error {
	ctx := &access.Context{Dst: r.dst, DevKey: true, NetKeyIndex: c.cfg.NetKeyIndex, TTL: c.cfg.TTL}
	if err := c.cfg.Layer.Send(c.model, ctx, r.msg, nil); err != nil {
		return err
	}
	r.timer = c.cfg.Clock.AfterFunc(r.interval, func() { c.onTimer(r) })
	return nil
}

func (c *Client) onTimer(r *request) {
	if r.done {
		return
	}
	if r.left > 0 {
		r.left--
		c.log.Debug("config: resending", "dst", r.dst, "opcode", r.msg.Opcode())
		if err := c.send(r); err != nil {
			c.finish(r, nil, err)
		}
		return
	}
	c.finish(r, nil, ErrTimeout)
}

func (c *Client) finish(r *request, resp access.Message, err error) {
	r.done = true
	if r.timer != nil {
		r.timer.Stop()
	}
	c.pending = slices.DeleteFunc(c.pending, func(p *request) bool { return p == r })
	if r.cb != nil {
		r.cb(resp, err)
	}
}

// Cancel drops every request to dst; their callbacks run with ErrCanceled.
func (c *Client) Cancel(dst mesh.Address) {
	for _, r := range slices.Clone(c.pending) {
		if r.dst == dst {
			c.finish(r, nil, ErrCanceled)
		}
	}
}

func (c *Client) receive(op access.Opcode) access.Handler {
	return func(ctx *access.Context, params []byte) {
		resp := NewMessage(op)
		if err := resp.Unmarshal(params); err != nil {
			c.log.Debug("config: bad status", "src", ctx.Src, "opcode", op, "err", err)
			return
		}
		for _, r := range c.pending {
			if r.dst == ctx.Src && r.want == op && r.match(resp) {
				var err error
				if st, ok := statusOf(resp); ok && st != StatusSuccess {
					err = &StatusError{Op: r.msg.Opcode(), Target: r.dst, Status: st}
				}
				c.finish(r, resp, err)
				return
			}
		}
		c.log.Debug("config: unsolicited status", "src", ctx.Src, "opcode", op)
	}
}

// statusOf returns the Status field of a status message.
func statusOf(m access.Message) (Status, bool) {
	switch m := m.(type) {
	case *AppKeyStatus:
		return m.Status, true
	case *AppKeyList:
		return m.Status, true
	case *NetKeyStatus:
		return m.Status, true
	case *ModelAppStatus:
		return m.Status, true
	case *SIGModelAppList:
		return m.Status, true
	case *VendorModelAppList:
		return m.Status, true
	case *ModelSubscriptionStatus:
		return m.Status, true
	case *SIGModelSubscriptionList:
		return m.Status, true
	case *VendorModelSubscriptionList:
		return m.Status, true
	case *ModelPublicationStatus:
		return m.Status, true
	}
	return 0, false
}

// target is the element and model a model-level message is about.
type target struct {
	elem  mesh.Address
	model access.ModelID
}

func targetOf(m access.Message) (target, bool) {
	switch m := m.(type) {
	case *ModelAppBind:
		return target{m.ElementAddress, m.Model}, true
	case *ModelAppUnbind:
		return target{m.ElementAddress, m.Model}, true
	case *ModelAppStatus:
		return target{m.ElementAddress, m.Model}, true
	case *SIGModelAppGet:
		return target{m.ElementAddress, m.Model}, true
	case *VendorModelAppGet:
		return target{m.ElementAddress, m.Model}, true
	case *SIGModelAppList:
		return target{m.ElementAddress, m.Model}, true
	case *VendorModelAppList:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionAdd:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionDelete:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionOverwrite:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionDeleteAll:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionVirtualAddressAdd:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionVirtualAddressDelete:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionVirtualAddressOverwrite:
		return target{m.ElementAddress, m.Model}, true
	case *ModelSubscriptionStatus:
		return target{m.ElementAddress, m.Model}, true
	case *SIGModelSubscriptionGet:
		return target{m.ElementAddress, m.Model}, true
	case *VendorModelSubscriptionGet:
		return target{m.ElementAddress, m.Model}, true
	case *SIGModelSubscriptionList:
		return target{m.ElementAddress, m.Model}, true
	case *VendorModelSubscriptionList:
		return target{m.ElementAddress, m.Model}, true
	case *ModelPublicationGet:
		return target{m.ElementAddress, m.Model}, true
	case *ModelPublicationSet:
		return target{m.ElementAddress, m.Model}, true
	case *ModelPublicationVirtualAddressSet:
		return target{m.ElementAddress, m.Model}, true
	case *ModelPublicationStatus:
		return target{m.ElementAddress, m.Model}, true
	}
	return target{}, false
}

// keyIndexesOf returns the (NetKey, AppKey) indexes a key message is about.
func keyIndexesOf(m access.Message) (net, app uint16, ok bool) {
	switch m := m.(type) {
	case *AppKeyAdd:
		return m.NetKeyIndex, m.AppKeyIndex, true
	case *AppKeyUpdate:
		return m.NetKeyIndex, m.AppKeyIndex, true
	case *AppKeyDelete:
		return m.NetKeyIndex, m.AppKeyIndex, true
	case *AppKeyStatus:
		return m.NetKeyIndex, m.AppKeyIndex, true
	case *AppKeyGet:
		return m.NetKeyIndex, 0, true
	case *AppKeyList:
		return m.NetKeyIndex, 0, true
	case *NetKeyAdd:
		return m.NetKeyIndex, 0, true
	case *NetKeyUpdate:
		return m.NetKeyIndex, 0, true
	case *NetKeyDelete:
		return m.NetKeyIndex, 0, true
	case *NetKeyStatus:
		return m.NetKeyIndex, 0, true
	}
	return 0, 0, false
}

// matcher returns what a status must share with request req: the element
// and model for model messages, the key indexes for key messages, nothing
// more for node-wide states.
func matcher(req access.Message) func(access.Message) bool {
	if t, ok := targetOf(req); ok {
		return func(resp access.Message) bool { u, ok := targetOf(resp); return ok && u == t }
	}
	if n, a, ok := keyIndexesOf(req); ok {
		return func(resp access.Message) bool {
			rn, ra, ok := keyIndexesOf(resp)
			return ok && rn == n && ra == a
		}
	}
	return func(access.Message) bool { return true }
}

// typed adapts a callback on one status type to Request's callback.
func typed[T access.Message](cb func(T, error)) func(access.Message, error) {
	return func(m access.Message, err error) {
		if cb == nil {
			return
		}
		t, _ := m.(T)
		cb(t, err)
	}
}

// GetComposition asks for Composition Data page (0 is the only page most
// nodes have). Decode page 0 with CompositionDataStatus.Composition.
func (c *Client) GetComposition(dst mesh.Address, page uint8, cb func(*CompositionDataStatus, error)) error {
	return c.Request(dst, &CompositionDataGet{Page: page}, typed(cb))
}

// AddNetKey adds NetKey key at index idx on the node.
func (c *Client) AddNetKey(dst mesh.Address, idx uint16, key [16]byte, cb func(*NetKeyStatus, error)) error {
	return c.Request(dst, &NetKeyAdd{NetKeyIndex: idx, NetKey: key}, typed(cb))
}

// AddAppKey adds AppKey key at index appIdx, bound to NetKey netIdx.
func (c *Client) AddAppKey(dst mesh.Address, netIdx, appIdx uint16, key [16]byte, cb func(*AppKeyStatus, error)) error {
	return c.Request(dst, &AppKeyAdd{NetKeyIndex: netIdx, AppKeyIndex: appIdx, AppKey: key}, typed(cb))
}

// Bind binds AppKey appIdx to model on the element at elem.
func (c *Client) Bind(dst, elem mesh.Address, appIdx uint16, model access.ModelID, cb func(*ModelAppStatus, error)) error {
	return c.Request(dst, &ModelAppBind{ElementAddress: elem, AppKeyIndex: appIdx, Model: model}, typed(cb))
}

// Unbind removes the binding of AppKey appIdx from model.
func (c *Client) Unbind(dst, elem mesh.Address, appIdx uint16, model access.ModelID, cb func(*ModelAppStatus, error)) error {
	return c.Request(dst, &ModelAppUnbind{ElementAddress: elem, AppKeyIndex: appIdx, Model: model}, typed(cb))
}

// SubscriptionOp selects what Subscribe does with the Subscription List.
type SubscriptionOp uint8

// Subscription operations.
const (
	SubscriptionAdd SubscriptionOp = iota
	SubscriptionOverwrite
	SubscriptionDelete
)

// Subscribe adds, overwrites (clear then add) or deletes group address
// group in model's Subscription List; with a non-nil label it uses the
// Virtual Address form with that Label UUID and ignores group.
func (c *Client) Subscribe(dst, elem mesh.Address, model access.ModelID, op SubscriptionOp, group mesh.Address, label *[16]byte, cb func(*ModelSubscriptionStatus, error)) error {
	var msg access.Message
	if label != nil {
		v := modelSubVirtual{ElementAddress: elem, Label: *label, Model: model}
		switch op {
		case SubscriptionAdd:
			msg = (*ModelSubscriptionVirtualAddressAdd)(&v)
		case SubscriptionOverwrite:
			msg = (*ModelSubscriptionVirtualAddressOverwrite)(&v)
		default:
			msg = (*ModelSubscriptionVirtualAddressDelete)(&v)
		}
	} else {
		s := modelSub{ElementAddress: elem, Address: group, Model: model}
		switch op {
		case SubscriptionAdd:
			msg = (*ModelSubscriptionAdd)(&s)
		case SubscriptionOverwrite:
			msg = (*ModelSubscriptionOverwrite)(&s)
		default:
			msg = (*ModelSubscriptionDelete)(&s)
		}
	}
	return c.Request(dst, msg, typed(cb))
}

// SetPublication sets model's publication: to p.Address when p.Label is
// nil (unassigned disables publication), else to the Label UUID's virtual
// address.
func (c *Client) SetPublication(dst, elem mesh.Address, model access.ModelID, p access.Publication, cb func(*ModelPublicationStatus, error)) error {
	params := PublishParams{p.AppKeyIndex, p.CredentialFlag, p.TTL, p.Period, p.Retransmit}
	if p.Label != nil {
		return c.Request(dst, &ModelPublicationVirtualAddressSet{elem, *p.Label, params, model}, typed(cb))
	}
	return c.Request(dst, &ModelPublicationSet{elem, p.Address, params, model}, typed(cb))
}

// SetDefaultTTL sets the node's Default TTL (0x00 or 0x02–0x7F).
func (c *Client) SetDefaultTTL(dst mesh.Address, ttl uint8, cb func(*DefaultTTLStatus, error)) error {
	return c.Request(dst, &DefaultTTLSet{TTL: ttl}, typed(cb))
}

// SetNetworkTransmit sets the node's Network Transmit state.
func (c *Client) SetNetworkTransmit(dst mesh.Address, tx mesh.Transmit, cb func(*NetworkTransmitStatus, error)) error {
	return c.Request(dst, &NetworkTransmitSet{Transmit: tx}, typed(cb))
}

// SetRelay sets the node's Relay and Relay Retransmit states. The status
// reports FeatureNotSupported when the node has no relay.
func (c *Client) SetRelay(dst mesh.Address, on bool, rt mesh.Transmit, cb func(*RelayStatus, error)) error {
	st := FeatureDisabled
	if on {
		st = FeatureEnabled
	}
	return c.Request(dst, &RelaySet{Relay: st, Retransmit: rt}, typed(cb))
}

// SetBeacon sets the node's Secure Network Beacon state.
func (c *Client) SetBeacon(dst mesh.Address, on bool, cb func(*BeaconStatus, error)) error {
	return c.Request(dst, &BeaconSet{Beacon: on}, typed(cb))
}

// Reset tells the node to reset itself (remove it from the network).
func (c *Client) Reset(dst mesh.Address, cb func(error)) error {
	return c.Request(dst, &NodeReset{}, func(_ access.Message, err error) {
		if cb != nil {
			cb(err)
		}
	})
}
