// Package request sends a client model's acknowledged requests: each
// request goes to one server, waits for its status, and is sent again
// within its timeout until the status comes or the resends run out. The
// Firmware Update Client (models/dfu) and the Firmware Distribution
// Client (models/dfd) share it.
//
// A request's states:
//
//	booked ─air free→ sent ─status→ done
//	sent (segmented) ─transport acked→ awaiting status ─timer→ resend or fail
//	sent (segmented) ─transport failed→ resend or fail
//	sent ─timer, still in the transport→ (waits for the transport's report)
//
// A segmented request is never sent again while the transport still
// carries its previous copy (access.Layer.Send's done): over relays its
// segments sit in the relays' queues, and another copy only lengthens
// them. The model decides the timing (the waits, the air booked before a
// send, the TTL) through Config's funcs; see docs/dfd.md, "Requests over
// relays".
//
// Engine keeps its timers on the injected mesh.Clock; call it on the
// node's executor.
package request

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Request is one request to one server. The model fills the exported
// fields before Start; the engine keeps Sends and SentAt.
type Request struct {
	Dst   mesh.Address
	Msg   access.Message
	Want  access.Opcode               // the status's opcode
	Match func(access.Message) bool   // nil: any status of opcode Want
	Cb    func(access.Message, error) // runs once, when the request ends
	Left  int                         // resends left
	Every time.Duration               // the one-hop wait per send

	ReqPDUs, AnsPDUs int  // PDUs of the request and of its status
	Segmented        bool // the request is a segmented message

	Sends  int       // sends so far
	SentAt time.Time // the last send

	sendGen  uint64 // tells the transport's reports of earlier sends apart
	inFlight bool   // a segmented send the transport has not reported yet
	expired  bool   // the wait ended while in flight
	cause    error  // the transport's last failure, for the timeout error

	timer mesh.Timer
	gen   uint64
	done  bool
}

// Config configures an Engine. Every field is required but Logger.
type Config struct {
	Clock  mesh.Clock
	Logger *slog.Logger // nil: discard
	// Name prefixes errors and log messages: "dfu" or "dfd".
	Name string
	// OpName names an opcode in errors and log messages.
	OpName func(access.Opcode) string
	// ErrTimeout is the error a request without a status ends with.
	ErrTimeout error
	// Send hands r's current copy to the access layer; done is the
	// transport's report on it.
	Send func(r *Request, done func(error)) error
	// Wait is how long send number r.Sends waits for the status.
	Wait func(r *Request) time.Duration
	// AnswerWait is the wait for the status once the transport reported
	// a segmented r after its wait ran out.
	AnswerWait func(r *Request) time.Duration
	// ReserveAir books the air of one exchange of r and returns how long
	// the send must wait for it.
	ReserveAir func(r *Request) time.Duration
}

// Stats counts an Engine's sends.
type Stats struct {
	Sends             int // requests handed to the access layer, resends included
	Resends           int // of which resends
	TransportFailures int // segmented sends the transport gave up on
}

// Engine runs a client's pending requests.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	pending []*Request
	stats   Stats
}

// New returns an Engine.
func New(cfg Config) *Engine {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, log: log}
}

// Pending returns the number of requests waiting for a status.
func (e *Engine) Pending() int { return len(e.pending) }

// Stats returns the Engine's counters.
func (e *Engine) Stats() Stats { return e.stats }

// Busy returns the pending request to dst awaiting a status of opcode
// want, or nil.
func (e *Engine) Busy(dst mesh.Address, want access.Opcode) *Request {
	for _, p := range e.pending {
		if p.Dst == dst && p.Want == want {
			return p
		}
	}
	return nil
}

// Find returns the first pending request that status m of opcode op from
// src answers, or nil.
func (e *Engine) Find(src mesh.Address, op access.Opcode, m access.Message) *Request {
	for _, r := range e.pending {
		if r.Dst == src && r.Want == op && (r.Match == nil || r.Match(m)) {
			return r
		}
	}
	return nil
}

// RoundTrip returns how long ago r was sent, when it was sent just once
// (Karn's rule: the answer to a resent request may belong to either
// copy).
func (e *Engine) RoundTrip(r *Request) (time.Duration, bool) {
	if r.Sends != 1 || r.SentAt.IsZero() {
		return 0, false
	}
	return e.cfg.Clock.Now().Sub(r.SentAt), true
}

// Start sends r, or books the air for it and sends it once the air is
// free. A send error is returned and r is dropped.
func (e *Engine) Start(r *Request) error {
	if d := e.cfg.ReserveAir(r); d > 0 {
		e.pending = append(e.pending, r)
		e.arm(r, d, e.transmit)
		return nil
	}
	if err := e.send(r); err != nil {
		return err
	}
	e.pending = append(e.pending, r)
	return nil
}

// Finish ends r once: it leaves the pending requests and its callback
// runs with m and err.
func (e *Engine) Finish(r *Request, m access.Message, err error) {
	if r.done {
		return
	}
	r.done = true
	if r.timer != nil {
		r.timer.Stop()
	}
	e.pending = slices.DeleteFunc(e.pending, func(p *Request) bool { return p == r })
	if r.Cb != nil {
		r.Cb(m, err)
	}
}

// Abort ends every pending request with err.
func (e *Engine) Abort(err error) {
	for _, r := range slices.Clone(e.pending) {
		e.Finish(r, nil, err)
	}
}

// arm runs f(r) after d unless r ends or is armed again first.
func (e *Engine) arm(r *Request, d time.Duration, f func(*Request)) {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.gen++
	gen := r.gen
	r.timer = e.cfg.Clock.AfterFunc(d, func() {
		if gen == r.gen && !r.done {
			f(r)
		}
	})
}

// transmit sends r now; a send error ends it.
func (e *Engine) transmit(r *Request) {
	if err := e.send(r); err != nil {
		e.Finish(r, nil, err)
	}
}

// send hands r to the access layer and waits for its status. A segmented
// request stays in flight until the transport reports it acknowledged or
// failed (onSent).
func (e *Engine) send(r *Request) error {
	r.Sends++
	r.sendGen++
	gen := r.sendGen
	r.inFlight, r.expired = r.Segmented, false
	r.SentAt = e.cfg.Clock.Now()
	e.stats.Sends++
	if r.Sends > 1 {
		e.stats.Resends++
	}
	if err := e.cfg.Send(r, func(err error) { e.onSent(r, gen, err) }); err != nil {
		r.inFlight = false
		return fmt.Errorf("%s: %s to %s: %w", e.cfg.Name, e.cfg.OpName(r.Msg.Opcode()), r.Dst, err)
	}
	e.arm(r, e.cfg.Wait(r), e.onTimer)
	return nil
}

// onSent is the transport's report on send gen of r. For a segmented
// request: nil once the server acknowledged every segment, so only the
// status is awaited now; an error when the transport gave up, which does
// not prove the server missed the request (a Friend may still hold the
// segments for a Low Power server, and acknowledgments may be the ones
// lost), so the status is still awaited before the request goes again.
func (e *Engine) onSent(r *Request, gen uint64, err error) {
	if r.done || gen != r.sendGen || !r.inFlight {
		return
	}
	r.inFlight = false
	if err != nil {
		e.stats.TransportFailures++
		e.log.Debug(e.cfg.Name+": client: transport gave up on a request",
			slog.Any("dst", r.Dst), slog.String("opcode", e.cfg.OpName(r.Msg.Opcode())), slog.Any("err", err))
		r.cause = err
	}
	if r.expired {
		e.arm(r, e.cfg.AnswerWait(r), e.onTimer)
	}
}

// onTimer ends a wait for r's status: a segmented copy still in the
// transport is waited for; otherwise r is sent again or fails.
func (e *Engine) onTimer(r *Request) {
	if r.inFlight {
		r.expired = true // the transport's report decides
		return
	}
	e.retry(r)
}

// retry sends r again once the air is booked, or fails it when no resend
// is left.
func (e *Engine) retry(r *Request) {
	if r.Left <= 0 {
		op := e.cfg.OpName(r.Msg.Opcode())
		err := fmt.Errorf("%w: %s to %s", e.cfg.ErrTimeout, op, r.Dst)
		if r.cause != nil {
			err = fmt.Errorf("%w: %s to %s (%w)", e.cfg.ErrTimeout, op, r.Dst, r.cause)
		}
		e.Finish(r, nil, err)
		return
	}
	r.Left--
	e.log.Debug(e.cfg.Name+": client: resending",
		slog.Any("dst", r.Dst), slog.String("opcode", e.cfg.OpName(r.Msg.Opcode())), slog.Int("sends", r.Sends))
	if d := e.cfg.ReserveAir(r); d > 0 {
		e.arm(r, d, e.transmit)
		return
	}
	e.transmit(r)
}
