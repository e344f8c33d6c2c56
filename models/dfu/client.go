package dfu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/internal/request"
	"github.com/meshdfu/meshdfu/internal/rtt"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Client defaults.
const (
	// DefaultTimeout is how long one request waits for its status in all
	// (Zephyr bt_mesh_dfu_cli_timeout_get: 10 s).
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a request is sent again within the
	// timeout when no status came.
	DefaultRetries = 3
	// DefaultMaxInFlight is how many targets a procedure talks to at once.
	// One, as Zephyr's broadcast helper sends unicasts one after the
	// other: with several segmented requests (Start with metadata) in
	// flight at once, the transport's SAR transfers were seen to fail in
	// the simulator (see docs/dfu.md).
	DefaultMaxInFlight = 1
	// DefaultPollInterval is the time between Firmware Update Get rounds
	// while targets verify.
	DefaultPollInterval = 2 * time.Second
	// DefaultVerifyTimeout bounds the wait for every target to leave
	// Verifying Update.
	DefaultVerifyTimeout = 2 * time.Minute
)

// ClientConfig configures a Client. Clock is required.
type ClientConfig struct {
	Layer  *access.Layer // nil: set later with SetLayer
	Clock  mesh.Clock
	Logger *slog.Logger // nil: discard

	AppKeyIndex uint16        // the AppKey the targets' servers are bound to
	TTL         uint8         // 0: access.DefaultTTL
	Timeout     time.Duration // 0: DefaultTimeout; total wait per request
	Retries     int           // 0: DefaultRetries; negative: send once
	MaxInFlight int           // 0: DefaultMaxInFlight

	// BLOB is the BLOB Transfer Client that Update drives; it must be on
	// the same node (normally the same element, the Firmware Update
	// Client extends it). Only Update needs it.
	BLOB *blob.Client
	// PollInterval and VerifyTimeout pace Update's verification step; 0:
	// DefaultPollInterval, DefaultVerifyTimeout.
	PollInterval  time.Duration
	VerifyTimeout time.Duration

	// PDUInterval, RelayTransmissions and RelayLoad describe the relays
	// for requests to targets behind them, as blob.Strategy's fields of
	// the same names do (0: the defaults of internal/rtt: 25 ms, 3
	// transmissions, half the relays' capacity). Pass the BLOB client's
	// strategy values.
	PDUInterval        time.Duration
	RelayTransmissions int
	RelayLoad          float64
	// ScopeTTL sends a request's first copy with just the TTL that reaches
	// a target whose hop count is known: 0 to a neighbour (not relayed;
	// it answers with TTL 0 too), else one more than its hops. Resends
	// use TTL. Leave it off for Low Power targets: a Friend queues only
	// messages that arrive with TTL ≥ 2. See docs/dfd.md, "Requests over
	// relays".
	ScopeTTL bool
}

// Target is one receiver of an update: the unicast address of its
// Firmware Update Server and the index of the image to update.
type Target struct {
	Address    mesh.Address
	ImageIndex uint8
}

// Client is the Firmware Update Client model (SIG model 0x1403). Each
// procedure sends one request to every target in a list (at most
// MaxInFlight at a time), resends it Retries times within Timeout until
// the target's status arrives, and reports each target through a callback,
// then calls done. Errors are *StatusError for a status other than
// Success, ErrTimeout, or a send failure.
//
// Update runs the whole Firmware Update procedure with the BLOB client.
// Call every method on the node's executor.
type Client struct {
	cfg   ClientConfig
	log   *slog.Logger
	model *access.Model
	reqs  *request.Engine
	upd   *updateRun

	relays  rtt.Relays
	peers   map[mesh.Address]*peer
	hopsMax int
	air     rtt.Air
	stats   ClientStats // the group counters; the engine counts the rest

	group  mesh.Address // SetGroup
	label  *[16]byte
	groups []*groupQuery
}

// ClientStats counts the Client's sends.
type ClientStats struct {
	Sends             int // requests handed to the access layer, resends included
	Resends           int // of which resends
	TransportFailures int // segmented sends the transport gave up on
	GroupSends        int // requests sent to the group
	GroupAnswers      int // statuses that answered a group request
}

// NewClient returns a Client; add its Model to an element of the
// initiator or distributor node.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: ClientConfig needs a Clock", ErrConfig)
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
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	c := &Client{cfg: cfg, log: cfg.Logger,
		relays: rtt.Relays{Transmissions: cfg.RelayTransmissions, PDUInterval: cfg.PDUInterval, Load: cfg.RelayLoad}}
	c.reqs = request.New(request.Config{Clock: cfg.Clock, Logger: cfg.Logger, Name: "dfu", OpName: opName, ErrTimeout: ErrTimeout,
		Send: c.send, Wait: c.wait, AnswerWait: c.answerWait, ReserveAir: c.reserveAir})
	c.model = &access.Model{ID: ClientModelID, NoSubscriptions: true, NoPublication: true}
	for _, op := range []access.Opcode{OpInformationStatus, OpMetadataStatus, OpUpdateStatus} {
		c.model.Ops = append(c.model.Ops, access.Op{Opcode: op, Len: access.LenMin(1), Handler: c.receive(op)})
	}
	return c, nil
}

// Model returns the Client's model instance.
func (c *Client) Model() *access.Model { return c.model }

// SetLayer gives the Client the access layer its model was added to.
func (c *Client) SetLayer(l *access.Layer) { c.cfg.Layer = l }

// Pending returns the number of requests waiting for a status.
func (c *Client) Pending() int { return c.reqs.Pending() }

// Stats returns the Client's counters.
func (c *Client) Stats() ClientStats {
	st := c.stats
	e := c.reqs.Stats()
	st.Sends, st.Resends, st.TransportFailures = e.Sends, e.Resends, e.TransportFailures
	return st
}

// ---- one request ----

// Request sends request msg to dst and runs cb once with the matching
// status (the status message, and a *StatusError when it is not Success),
// or with ErrTimeout. A second request of the same kind to dst while one
// is pending fails with ErrBusy.
//
// The request is sent again, at most Retries times, when no status came
// in its wait, but never while a segmented copy is still in the
// transport (see client_rtt.go). Over relays a send may first wait for
// the air the client booked for earlier exchanges.
func (c *Client) Request(dst mesh.Address, msg access.Message, cb func(access.Message, error)) error {
	return c.request(dst, msg, c.cfg.Retries, cb)
}

// request is Request with retries resends at most.
func (c *Client) request(dst mesh.Address, msg access.Message, retries int, cb func(access.Message, error)) error {
	var want access.Opcode
	match := func(access.Message) bool { return true }
	switch m := msg.(type) {
	case *InformationGet:
		want = OpInformationStatus
		first := m.FirstIndex
		match = func(r access.Message) bool { return r.(*InformationStatus).FirstIndex == first }
	case *MetadataCheck:
		want = OpMetadataStatus
		idx := m.ImageIndex
		match = func(r access.Message) bool { return r.(*MetadataStatus).ImageIndex == idx }
	case *UpdateGet, *UpdateStart, *UpdateCancel, *UpdateApply:
		want = OpUpdateStatus
	default:
		return fmt.Errorf("%w: %T is not a Firmware Update request", ErrConfig, msg)
	}
	if !dst.IsUnicast() {
		return fmt.Errorf("%w: target %s is not unicast", ErrConfig, dst)
	}
	if c.cfg.Layer == nil {
		return fmt.Errorf("%w: client has no access layer (SetLayer)", ErrConfig)
	}
	if p := c.reqs.Busy(dst, want); p != nil {
		return fmt.Errorf("%w: %s to %s pending", ErrBusy, opName(p.Msg.Opcode()), dst)
	}
	n := messageSize(msg)
	return c.reqs.Start(&request.Request{
		Dst: dst, Msg: msg, Want: want, Match: match, Cb: cb,
		Left: retries, Every: c.cfg.Timeout / time.Duration(c.cfg.Retries+1),
		ReqPDUs: rtt.MessagePDUs(n), AnsPDUs: answerPDUs(want), Segmented: rtt.Segmented(n),
	})
}

// send hands r's current copy to the access layer.
func (c *Client) send(r *request.Request, done func(error)) error {
	ctx := &access.Context{Dst: r.Dst, AppKeyIndex: c.cfg.AppKeyIndex, TTL: c.ttlTo(r)}
	return c.cfg.Layer.Send(c.model, ctx, r.Msg, done)
}

func (c *Client) receive(op access.Opcode) access.Handler {
	return func(ctx *access.Context, params []byte) {
		resp := NewMessage(op)
		if err := resp.Unmarshal(params); err != nil {
			c.log.Debug("dfu: client: bad status", "src", ctx.Src, "opcode", op, "err", err)
			return
		}
		if r := c.reqs.Find(ctx.Src, op, resp); r != nil {
			c.learnHops(ctx.Src, ctx.RecvTTL)
			if d, ok := c.reqs.RoundTrip(r); ok {
				c.peer(r.Dst).rtt.Sample(d) // Karn: sent once
			}
			c.reqs.Finish(r, resp, statusErr(r.Msg.Opcode(), r.Dst, resp))
			return
		}
		if c.groupAnswer(ctx.Src, op, resp) {
			c.learnHops(ctx.Src, ctx.RecvTTL)
			return
		}
		c.log.Debug("dfu: client: unexpected status", "src", ctx.Src, "opcode", op)
	}
}

// statusErr is the error of status resp from target dst to a request of
// opcode op: a *StatusError when it is not Success, else nil.
func statusErr(op access.Opcode, dst mesh.Address, resp access.Message) error {
	switch m := resp.(type) {
	case *MetadataStatus:
		if m.Status != StatusSuccess {
			return &StatusError{Op: op, Target: dst, Status: m.Status}
		}
	case *UpdateStatus:
		if m.Status != StatusSuccess {
			return &StatusError{Op: op, Target: dst, Status: m.Status, Phase: m.Phase}
		}
	}
	return nil
}

// ---- one request to many targets ----

// fanout runs one(a, next) for every address, at most MaxInFlight at a
// time; each must call next exactly once. all runs after the last.
func (c *Client) fanout(addrs []mesh.Address, one func(a mesh.Address, next func()), all func()) {
	c.fanoutN(c.cfg.MaxInFlight, addrs, one, all)
}

// fanoutN is fanout with at most width at a time.
func (c *Client) fanoutN(width int, addrs []mesh.Address, one func(a mesh.Address, next func()), all func()) {
	queue := slices.Clone(addrs)
	running := 0
	var pump func()
	pump = func() {
		for running < width && len(queue) > 0 {
			a := queue[0]
			queue = queue[1:]
			running++
			called := false
			one(a, func() {
				if called {
					return
				}
				called = true
				running--
				pump()
			})
		}
		if running == 0 && len(queue) == 0 && all != nil {
			f := all
			all = nil
			f()
		}
	}
	pump()
}

// each sends the request made by mk to every target, reporting each.
// When mk makes the same request for every target and they may be asked
// through the group (canGroup), the request goes once to the group and
// then by unicast to the silent targets (client_group.go).
func (c *Client) each(addrs []mesh.Address, mk func(mesh.Address) access.Message, cb func(mesh.Address, access.Message, error), done func()) {
	if c.canGroup(len(addrs)) {
		if msg, ok := sameRequest(addrs, mk); ok {
			c.viaGroup(addrs, msg, OpUpdateStatus, func(access.Message) bool { return true }, cb,
				func(silent []mesh.Address, done func()) {
					if start, ok := msg.(*UpdateStart); ok {
						c.fanoutN(c.inFlight(&UpdateGet{}), silent, func(a mesh.Address, next func()) {
							c.startFollowUp(a, start, cb, next)
						}, done)
						return
					}
					c.unicastEach(silent, mk, cb, done)
				}, done)
			return
		}
	}
	c.unicastEach(addrs, mk, cb, done)
}

// sameRequest returns the request mk makes for every address when it is
// one of Start, Get, Apply or Cancel and the same for all of them.
func sameRequest(addrs []mesh.Address, mk func(mesh.Address) access.Message) (access.Message, bool) {
	msg := mk(addrs[0])
	switch msg.(type) {
	case *UpdateStart, *UpdateGet, *UpdateApply, *UpdateCancel:
	default:
		return nil, false
	}
	first, err := msg.AppendBinary(nil)
	if err != nil {
		return nil, false
	}
	for _, a := range addrs[1:] {
		b, err := mk(a).AppendBinary(nil)
		if err != nil || !bytes.Equal(b, first) {
			return nil, false
		}
	}
	return msg, true
}

// unicastEach sends the request made by mk to every target by unicast.
func (c *Client) unicastEach(addrs []mesh.Address, mk func(mesh.Address) access.Message, cb func(mesh.Address, access.Message, error), done func()) {
	width := c.cfg.MaxInFlight
	if len(addrs) > 0 {
		width = c.inFlight(mk(addrs[0]))
	}
	c.fanoutN(width, addrs, func(a mesh.Address, next func()) {
		err := c.Request(a, mk(a), func(resp access.Message, err error) {
			if cb != nil {
				cb(a, resp, err)
			}
			next()
		})
		if err != nil {
			if cb != nil {
				cb(a, nil, err)
			}
			next()
		}
	}, done)
}

func addresses(targets []Target) []mesh.Address {
	out := make([]mesh.Address, len(targets))
	for i, t := range targets {
		out[i] = t.Address
	}
	return out
}

func updateCB(cb func(mesh.Address, *UpdateStatus, error)) func(mesh.Address, access.Message, error) {
	return func(a mesh.Address, m access.Message, err error) {
		if cb == nil {
			return
		}
		st, _ := m.(*UpdateStatus)
		cb(a, st, err)
	}
}

// Information reads the whole Firmware Information List of every target,
// paging with Information Get, and reports each list.
// The first page goes through the group when it may (client_group.go).
func (c *Client) Information(targets []mesh.Address, cb func(mesh.Address, []FirmwareInformation, error), done func()) {
	report := func(a mesh.Address) func([]FirmwareInformation, error) {
		return func(list []FirmwareInformation, err error) {
			if cb != nil {
				cb(a, list, err)
			}
		}
	}
	unicast := func(addrs []mesh.Address, done func()) {
		c.fanoutN(c.inFlight(&InformationGet{}), addrs, func(a mesh.Address, next func()) {
			c.information(a, nil, func(list []FirmwareInformation, err error) {
				report(a)(list, err)
				next()
			})
		}, done)
	}
	if !c.canGroup(len(targets)) {
		unicast(targets, done)
		return
	}
	// Targets whose list needs more pages go on by unicast.
	paging := 0
	var follow func()
	get := &InformationGet{FirstIndex: 0, EntriesLimit: 0xff}
	c.viaGroup(targets, get, OpInformationStatus, func(r access.Message) bool { return r.(*InformationStatus).FirstIndex == 0 },
		func(a mesh.Address, resp access.Message, err error) {
			if err != nil {
				report(a)(nil, err)
				return
			}
			paging++
			c.information(a, resp.(*InformationStatus), func(list []FirmwareInformation, err error) {
				report(a)(list, err)
				paging--
				if paging == 0 && follow != nil {
					f := follow
					follow = nil
					f()
				}
			})
		}, func(silent []mesh.Address, done func()) {
			unicast(silent, func() {
				if paging == 0 {
					if done != nil {
						done()
					}
					return
				}
				follow = done
				if follow == nil {
					follow = func() {}
				}
			})
		}, done)
}

// information reads a's whole list; first, when not nil, is the status
// of its first page already received.
func (c *Client) information(a mesh.Address, first *InformationStatus, cb func([]FirmwareInformation, error)) {
	var list []FirmwareInformation
	var page func(first uint8)
	// more takes one page's status and asks the next, or ends.
	more := func(from uint8, st *InformationStatus) {
		list = append(list, st.Entries...)
		next := int(from) + len(st.Entries)
		if len(st.Entries) > 0 && next < int(st.ListCount) {
			page(uint8(next))
			return
		}
		cb(list, nil)
	}
	page = func(first uint8) {
		err := c.Request(a, &InformationGet{FirstIndex: first, EntriesLimit: 0xff}, func(resp access.Message, err error) {
			if err != nil {
				cb(list, err)
				return
			}
			more(first, resp.(*InformationStatus))
		})
		if err != nil {
			cb(list, err)
		}
	}
	if first != nil {
		more(0, first)
		return
	}
	page(0)
}

// MetadataCheck asks every target whether it accepts an image with
// metadata for its image index, and reports each Metadata Status.
func (c *Client) MetadataCheck(targets []Target, metadata []byte, cb func(mesh.Address, *MetadataStatus, error), done func()) {
	idx := indexOf(targets)
	c.each(addresses(targets), func(a mesh.Address) access.Message {
		return &MetadataCheck{ImageIndex: idx[a], Metadata: metadata}
	}, func(a mesh.Address, m access.Message, err error) {
		if cb != nil {
			st, _ := m.(*MetadataStatus)
			cb(a, st, err)
		}
	}, done)
}

func indexOf(targets []Target) map[mesh.Address]uint8 {
	m := make(map[mesh.Address]uint8, len(targets))
	for _, t := range targets {
		m[t.Address] = t.ImageIndex
	}
	return m
}

// StartParams are the Firmware Update Start fields shared by every target.
type StartParams struct {
	TTL         uint8 // Update TTL for the targets' BLOB servers
	TimeoutBase uint16
	BLOBID      uint64
	Metadata    []byte
}

// Start sends Firmware Update Start to every target with its image index.
func (c *Client) Start(targets []Target, p StartParams, cb func(mesh.Address, *UpdateStatus, error), done func()) {
	idx := indexOf(targets)
	addrs := addresses(targets)
	start := func() {
		c.each(addrs, func(a mesh.Address) access.Message {
			return &UpdateStart{TTL: p.TTL, TimeoutBase: p.TimeoutBase, BLOBID: p.BLOBID, ImageIndex: idx[a], Metadata: p.Metadata}
		}, updateCB(cb), done)
	}
	if !c.canGroup(len(addrs)) || c.hopsMax == 1 {
		start()
		return
	}
	// Where the targets are is not known yet: a Get round (through the
	// group, then by unicast) finds whether any is behind relays before
	// the dozen segments of Start go to the group (client_group.go).
	c.Get(addrs, nil, start)
}

// Get sends Firmware Update Get to every target.
func (c *Client) Get(targets []mesh.Address, cb func(mesh.Address, *UpdateStatus, error), done func()) {
	c.each(targets, func(mesh.Address) access.Message { return &UpdateGet{} }, updateCB(cb), done)
}

// Cancel sends Firmware Update Cancel to every target.
func (c *Client) Cancel(targets []mesh.Address, cb func(mesh.Address, *UpdateStatus, error), done func()) {
	c.each(targets, func(mesh.Address) access.Message { return &UpdateCancel{} }, updateCB(cb), done)
}

// Apply sends Firmware Update Apply to every target.
func (c *Client) Apply(targets []mesh.Address, cb func(mesh.Address, *UpdateStatus, error), done func()) {
	c.each(targets, func(mesh.Address) access.Message { return &UpdateApply{} }, updateCB(cb), done)
}

// Abort drops every pending request; their callbacks run with ErrCanceled.
func (c *Client) Abort() {
	for _, q := range slices.Clone(c.groups) {
		c.endGroup(q, true)
	}
	c.reqs.Abort(ErrCanceled)
}

// errorsIsTimeout reports whether err is a request timeout.
func errorsIsTimeout(err error) bool { return errors.Is(err, ErrTimeout) }

// sameID compares Firmware IDs.
func sameID(a, b []byte) bool { return bytes.Equal(a, b) }
