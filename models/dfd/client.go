package dfd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/internal/request"
	"github.com/meshdfu/meshdfu/internal/rtt"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Client defaults.
const (
	// DefaultTimeout is how long one request waits for its status in all.
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a request is sent again within the
	// timeout when no status came.
	DefaultRetries = 3
	// DefaultOOBTimeout is the wait for the answer to Upload OOB Start,
	// which comes after the distributor's HTTPS check.
	DefaultOOBTimeout = 60 * time.Second
	// ReceiversPage is how many entries Wait asks for per Receivers Get:
	// 16 entries are 84 octets, 8 segments, which get through a busy
	// distributor's radio where a full page (74 entries, 32 segments)
	// does not.
	ReceiversPage = 16
	// ReceiversEvery is how many Wait rounds pass between two reads of
	// the Receivers List while the distribution runs.
	ReceiversEvery = 4
	// DefaultPersist is how long the procedures (Upload, UploadOOB, Wait)
	// keep asking a distributor that does not answer before they give up:
	// the client timeout of a transfer with the default Timeout Base,
	// 10 s·(10 + 2) (spec/dfu.md, Timeouts). A request's few copies meet
	// loss bursts; a distributor silent this long is gone.
	DefaultPersist = 2 * time.Minute
	// DefaultClientPollInterval paces Upload Get and Distribution Get
	// polling.
	DefaultClientPollInterval = 5 * time.Second
)

// ClientConfig configures a Client. Clock is required.
type ClientConfig struct {
	Layer  *access.Layer // nil: set later with SetLayer
	Clock  mesh.Clock
	Logger *slog.Logger // nil: discard

	AppKeyIndex uint16        // the AppKey the distributor's server is bound to
	TTL         uint8         // 0: access.DefaultTTL
	Timeout     time.Duration // 0: DefaultTimeout; total wait per request
	Retries     int           // 0: DefaultRetries; negative: send once
	// OOBTimeout is the wait for the answer of Upload OOB Start; 0:
	// DefaultOOBTimeout.
	OOBTimeout time.Duration
	// PollInterval paces Upload Get and Distribution Get polling; 0:
	// DefaultClientPollInterval.
	PollInterval time.Duration
	// Persist is how long Upload, UploadOOB and Wait keep asking a
	// distributor that does not answer; 0: DefaultPersist. An in-band
	// upload persists at least its client timeout, 10 s·(Timeout Base
	// + 2) + 100 ms·TTL.
	Persist time.Duration
	// BLOB configures the Client's own BLOB Transfer Client for in-band
	// uploads (Clock, Logger, AppKeyIndex filled in).
	BLOB blob.ClientConfig
	// ScopeTTL sends a request's first copy with just the TTL that reaches
	// the distributor once its hop count is known: 0 to a neighbour (not
	// relayed; it answers with TTL 0 too), else one more than its hops.
	// Resends use TTL. Leave it off for Low Power targets: a Friend
	// queues only messages that arrive with TTL ≥ 2. See docs/dfd.md,
	// "Requests over relays".
	ScopeTTL bool
}

// Client is the Firmware Distribution Client model (SIG model 0x1405) of
// an Initiator, with the BLOB Transfer Client it extends for in-band
// uploads. Each request method sends one message to a Distribution
// Server, resends it within the timeout until the status arrives, and
// calls cb once with the status (and a *StatusError when it is not
// Success) or ErrTimeout. Upload, UploadOOB and Wait are procedures built
// on them.
//
// Call every method on the node's executor.
type Client struct {
	cfg   ClientConfig
	log   *slog.Logger
	model *access.Model
	bcli  *blob.Client
	reqs  *request.Engine

	relays  rtt.Relays
	servers map[mesh.Address]*server
	air     rtt.Air
}

// initiator.
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
	if cfg.OOBTimeout == 0 {
		cfg.OOBTimeout = DefaultOOBTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultClientPollInterval
	}
	if cfg.Persist == 0 {
		cfg.Persist = DefaultPersist
	}
	bc := cfg.BLOB
	bc.Clock, bc.Logger, bc.AppKeyIndex, bc.Layer = cfg.Clock, cfg.Logger, cfg.AppKeyIndex, cfg.Layer
	b, err := blob.NewClient(bc)
	if err != nil {
		return nil, fmt.Errorf("dfd: client: %w", err)
	}
	st := b.Strategy()
	c := &Client{cfg: cfg, log: cfg.Logger, bcli: b,
		relays: rtt.Relays{Transmissions: st.RelayTransmissions, PDUInterval: st.PDUInterval, Load: st.RelayLoad}}
	c.reqs = request.New(request.Config{Clock: cfg.Clock, Logger: cfg.Logger, Name: "dfd", OpName: opName, ErrTimeout: ErrTimeout,
		Send: c.send, Wait: c.wait, AnswerWait: c.answerWait, ReserveAir: c.reserveAir})
	c.model = &access.Model{ID: ClientModelID, NoSubscriptions: true, NoPublication: true}
	for _, op := range []access.Opcode{OpReceiversStatus, OpReceiversList, OpCapabilitiesStatus, OpStatus, OpUploadStatus, OpFirmwareStatus} {
		c.model.Ops = append(c.model.Ops, access.Op{Opcode: op, Handler: c.receive(op)})
	}
	return c, nil
}

// Model returns the Firmware Distribution Client model.
func (c *Client) Model() *access.Model { return c.model }

// Models returns the Firmware Distribution Client and the BLOB Transfer
// Client it extends, to add to one element.
func (c *Client) Models() []*access.Model { return []*access.Model{c.model, c.bcli.Model()} }

// BLOB returns the Client's BLOB Transfer Client.
func (c *Client) BLOB() *blob.Client { return c.bcli }

// SetLayer gives the Client the access layer its models were added to.
func (c *Client) SetLayer(l *access.Layer) {
	c.cfg.Layer = l
	c.bcli.SetLayer(l)
}

// Pending returns the number of requests waiting for a status.
func (c *Client) Pending() int { return c.reqs.Pending() }

func answerOf(op access.Opcode) access.Opcode {
	switch op {
	case OpReceiversAdd, OpReceiversDeleteAll:
		return OpReceiversStatus
	case OpReceiversGet:
		return OpReceiversList
	case OpCapabilitiesGet:
		return OpCapabilitiesStatus
	case OpGet, OpStart, OpSuspend, OpCancel, OpApply:
		return OpStatus
	case OpUploadGet, OpUploadStart, OpUploadOOBStart, OpUploadCancel:
		return OpUploadStatus
	case OpFirmwareGet, OpFirmwareGetByIndex, OpFirmwareDelete, OpFirmwareDeleteAll:
		return OpFirmwareStatus
	}
	return 0
}

// Request sends request msg to the server at dst and runs cb once with its
// status, or with ErrTimeout. One request per status kind may be pending
// per server (ErrBusy otherwise). The request is sent again, at most
// Retries times, when no status came in its wait, but never while a
// segmented copy is still in the transport (client_rtt.go).
func (c *Client) Request(dst mesh.Address, msg access.Message, cb func(access.Message, error)) error {
	want := answerOf(msg.Opcode())
	switch {
	case want == 0:
		return fmt.Errorf("%w: %T is not a Firmware Distribution request", ErrConfig, msg)
	case !dst.IsUnicast():
		return fmt.Errorf("%w: server %s is not unicast", ErrConfig, dst)
	case c.cfg.Layer == nil:
		return fmt.Errorf("%w: client has no access layer (SetLayer)", ErrConfig)
	}
	if p := c.reqs.Busy(dst, want); p != nil {
		return fmt.Errorf("%w: %s to %s pending", ErrBusy, opName(p.Msg.Opcode()), dst)
	}
	total := c.cfg.Timeout
	if msg.Opcode() == OpUploadOOBStart {
		total = c.cfg.OOBTimeout
	}
	var match func(access.Message) bool
	if g, ok := msg.(*ReceiversGet); ok {
		first := g.FirstIndex
		match = func(m access.Message) bool { return m.(*ReceiversList).FirstIndex == first }
	}
	n := messageSize(msg)
	return c.reqs.Start(&request.Request{Dst: dst, Msg: msg, Want: want, Match: match, Cb: cb,
		Left: c.cfg.Retries, Every: total / time.Duration(c.cfg.Retries+1),
		ReqPDUs: rtt.MessagePDUs(n), AnsPDUs: answerPDUs(msg), Segmented: rtt.Segmented(n)})
}

// send hands r's current copy to the access layer.
func (c *Client) send(r *request.Request, done func(error)) error {
	ctx := &access.Context{Dst: r.Dst, AppKeyIndex: c.cfg.AppKeyIndex, TTL: c.ttlTo(r)}
	return c.cfg.Layer.Send(c.model, ctx, r.Msg, done)
}

// Abort drops every pending request; their callbacks run with ErrCanceled.
func (c *Client) Abort() { c.reqs.Abort(ErrCanceled) }

func statusOf(m access.Message) Status {
	switch m := m.(type) {
	case *ReceiversStatus:
		return m.Status
	case *DistributionStatus:
		return m.Status
	case *UploadStatus:
		return m.Status
	case *FirmwareStatus:
		return m.Status
	}
	return StatusSuccess
}

func (c *Client) receive(op access.Opcode) access.Handler {
	return func(ctx *access.Context, p []byte) {
		m := NewMessage(op)
		if err := m.Unmarshal(p); err != nil {
			c.log.Debug("dfd: client: drop", slog.Any("src", ctx.Src), slog.String("opcode", opName(op)), slog.Any("err", err))
			return
		}
		r := c.reqs.Find(ctx.Src, op, m)
		if r == nil {
			return
		}
		c.learnHops(ctx.Src, ctx.RecvTTL)
		if d, ok := c.reqs.RoundTrip(r); ok {
			c.server(r.Dst).rtt.Sample(d)
		}
		var err error
		if st := statusOf(m); st != StatusSuccess {
			err = &StatusError{Op: r.Msg.Opcode(), Server: ctx.Src, Status: st}
		}
		c.reqs.Finish(r, m, err)
	}
}

func typed[T access.Message](cb func(T, error)) func(access.Message, error) {
	return func(m access.Message, err error) {
		var t T
		if m != nil {
			t = m.(T)
		}
		cb(t, err)
	}
}

// ReceiversAdd sends Receivers Add.
func (c *Client) ReceiversAdd(dst mesh.Address, entries []ReceiverEntry, cb func(*ReceiversStatus, error)) error {
	return c.Request(dst, &ReceiversAdd{Entries: entries}, typed(cb))
}

// ReceiversDeleteAll sends Receivers Delete All.
func (c *Client) ReceiversDeleteAll(dst mesh.Address, cb func(*ReceiversStatus, error)) error {
	return c.Request(dst, &ReceiversDeleteAll{}, typed(cb))
}

// ReceiversGet sends Receivers Get.
func (c *Client) ReceiversGet(dst mesh.Address, first, limit uint16, cb func(*ReceiversList, error)) error {
	return c.Request(dst, &ReceiversGet{FirstIndex: first, EntriesLimit: limit}, typed(cb))
}

// Capabilities sends Capabilities Get.
func (c *Client) Capabilities(dst mesh.Address, cb func(*CapabilitiesStatus, error)) error {
	return c.Request(dst, &CapabilitiesGet{}, typed(cb))
}

// Get sends Distribution Get.
func (c *Client) Get(dst mesh.Address, cb func(*DistributionStatus, error)) error {
	return c.Request(dst, &Get{}, typed(cb))
}

// Start sends Distribution Start.
func (c *Client) Start(dst mesh.Address, m Start, cb func(*DistributionStatus, error)) error {
	return c.Request(dst, &m, typed(cb))
}

// Suspend sends Distribution Suspend.
func (c *Client) Suspend(dst mesh.Address, cb func(*DistributionStatus, error)) error {
	return c.Request(dst, &Suspend{}, typed(cb))
}

// Cancel sends Distribution Cancel.
func (c *Client) Cancel(dst mesh.Address, cb func(*DistributionStatus, error)) error {
	return c.Request(dst, &Cancel{}, typed(cb))
}

// Apply sends Distribution Apply.
func (c *Client) Apply(dst mesh.Address, cb func(*DistributionStatus, error)) error {
	return c.Request(dst, &Apply{}, typed(cb))
}

// UploadGet sends Upload Get.
func (c *Client) UploadGet(dst mesh.Address, cb func(*UploadStatus, error)) error {
	return c.Request(dst, &UploadGet{}, typed(cb))
}

// UploadStart sends Upload Start (the BLOB transfer is the caller's; see
// Upload for the whole procedure).
func (c *Client) UploadStart(dst mesh.Address, m UploadStart, cb func(*UploadStatus, error)) error {
	return c.Request(dst, &m, typed(cb))
}

// UploadOOBStart sends Upload OOB Start; the answer comes after the
// distributor's check (OOBTimeout).
func (c *Client) UploadOOBStart(dst mesh.Address, uri string, currentFWID []byte, cb func(*UploadStatus, error)) error {
	return c.Request(dst, &UploadOOBStart{URI: uri, FirmwareID: currentFWID}, typed(cb))
}

// UploadCancel sends Upload Cancel.
func (c *Client) UploadCancel(dst mesh.Address, cb func(*UploadStatus, error)) error {
	return c.Request(dst, &UploadCancel{}, typed(cb))
}

// FirmwareGet sends Firmware Get.
func (c *Client) FirmwareGet(dst mesh.Address, fwid []byte, cb func(*FirmwareStatus, error)) error {
	return c.Request(dst, &FirmwareGet{FirmwareID: fwid}, typed(cb))
}

// FirmwareGetByIndex sends Firmware Get By Index.
func (c *Client) FirmwareGetByIndex(dst mesh.Address, index uint16, cb func(*FirmwareStatus, error)) error {
	return c.Request(dst, &FirmwareGetByIndex{Index: index}, typed(cb))
}

// FirmwareDelete sends Firmware Delete.
func (c *Client) FirmwareDelete(dst mesh.Address, fwid []byte, cb func(*FirmwareStatus, error)) error {
	return c.Request(dst, &FirmwareDelete{FirmwareID: fwid}, typed(cb))
}

// FirmwareDeleteAll sends Firmware Delete All.
func (c *Client) FirmwareDeleteAll(dst mesh.Address, cb func(*FirmwareStatus, error)) error {
	return c.Request(dst, &FirmwareDeleteAll{}, typed(cb))
}

// ---- procedures ----

// persistently runs request ask (one of the request methods, bound to
// its arguments) until it gets an answer: a request that timed out
// (ErrTimeout) goes again, a poll interval later, while the first send is
// younger than budget. Answers and other errors go to cb, an error of a
// later send too; the first send's error is returned.
func persistently[T any](c *Client, dst mesh.Address, budget time.Duration, ask func(cb func(T, error)) error, cb func(T, error)) error {
	deadline := c.cfg.Clock.Now().Add(budget)
	var try func() error
	try = func() error {
		return ask(func(m T, err error) {
			if errors.Is(err, ErrTimeout) && c.cfg.Clock.Now().Before(deadline) {
				c.log.Debug("dfd: client: distributor silent, asking again", slog.Any("dst", dst), slog.Any("err", err))
				c.cfg.Clock.AfterFunc(c.pollInterval(dst), func() {
					if err := try(); err != nil {
						var zero T
						cb(zero, err)
					}
				})
				return
			}
			cb(m, err)
		})
	}
	return try()
}

// uploadBudget is how long an in-band upload keeps asking a silent
// distributor: its client timeout, 10 s·(Timeout Base + 2) + 100 ms·TTL
// (spec/dfu.md, Timeouts), and Persist at least.
func (c *Client) uploadBudget(tb uint16, ttl uint8) time.Duration {
	return max(c.cfg.Persist, 10*time.Second*time.Duration(int(tb)+2)+100*time.Millisecond*time.Duration(ttl))
}

// Upload describes an in-band upload (Store Firmware, MshDFU via docs/dfd.md).
type Upload struct {
	Server      mesh.Address
	FirmwareID  []byte
	Metadata    []byte
	Image       io.ReaderAt
	Size        uint32
	BLOBID      uint64 // choose at random
	TTL         uint8  // Upload TTL; 0: access.DefaultTTL
	TimeoutBase uint16
	// OnProgress reports the upload progress in percent, from the BLOB
	// transfer.
	OnProgress func(percent int)
	// OnEnd reports the outcome: nil once the server reports Transfer
	// Success.
	OnEnd func(err error)
}

// Upload runs the in-band upload: Upload Start, the BLOB transfer to the
// server's BLOB Transfer Server, then Upload Get until Transfer Success or
// Transfer Error.
func (c *Client) Upload(u Upload) error {
	if u.Image == nil || u.Size == 0 {
		return fmt.Errorf("%w: upload without an image", ErrConfig)
	}
	if u.TTL == 0 {
		u.TTL = access.DefaultTTL
	}
	end := func(err error) {
		if u.OnEnd != nil {
			u.OnEnd(err)
		}
	}
	m := UploadStart{TTL: u.TTL, TimeoutBase: u.TimeoutBase, BLOBID: u.BLOBID, Size: u.Size, Metadata: u.Metadata, FirmwareID: u.FirmwareID}
	budget := c.uploadBudget(u.TimeoutBase, u.TTL)
	// Resends of the same Upload Start are answered Success by a server
	// that took it (§6.2).
	return persistently(c, u.Server, budget, func(cb func(*UploadStatus, error)) error {
		return c.UploadStart(u.Server, m, cb)
	}, func(st *UploadStatus, err error) {
		switch {
		case err != nil:
			end(fmt.Errorf("dfd: upload start: %w", err))
		case st.Phase == UploadTransferSuccess:
			end(nil) // already stored
		case st.Phase != UploadTransferActive:
			end(fmt.Errorf("%w: Upload Start answered %s", ErrUploadFailed, st.Phase))
		default:
			c.uploadBLOB(u, budget, end)
		}
	})
}

// uploadBLOB runs the BLOB transfer of an in-band upload. When the
// distributor falls silent the BLOB client suspends; the upload resumes
// it a poll interval later while the distributor was last heard less than
// budget ago, and cancels it after that.
func (c *Client) uploadBLOB(u Upload, budget time.Duration, end func(error)) {
	heard := c.cfg.Clock.Now()
	var silent error
	x := blob.Transfer{ID: u.BLOBID, Size: u.Size, Data: u.Image, Mode: blob.ModePush, Targets: []mesh.Address{u.Server},
		Callbacks: blob.Callbacks{
			OnProgress: func(p blob.TargetProgress) {
				heard = c.cfg.Clock.Now()
				if u.OnProgress != nil && p.Blocks > 0 {
					u.OnProgress(100 * p.BlocksDone / p.Blocks)
				}
			},
			OnSuspended: func() {
				if c.cfg.Clock.Now().Sub(heard) >= budget {
					silent = fmt.Errorf("%w: %s silent for %v", ErrTimeout, u.Server, budget)
					_ = c.bcli.Cancel()
					return
				}
				c.log.Debug("dfd: client: upload suspended, resuming", slog.Any("dst", u.Server))
				c.cfg.Clock.AfterFunc(c.pollInterval(u.Server), func() { _ = c.bcli.Resume() })
			},
			OnEnd: func(res blob.Result) {
				if silent != nil {
					end(fmt.Errorf("%w: %w", ErrUploadFailed, silent))
					return
				}
				if res.Err != nil {
					if len(res.Lost) > 0 {
						end(fmt.Errorf("%w: %w: %w", ErrUploadFailed, res.Err, res.Lost[0]))
						return
					}
					end(fmt.Errorf("%w: %w", ErrUploadFailed, res.Err))
					return
				}
				c.pollUpload(u.Server, budget, end)
			},
		}}
	if err := c.bcli.Start(x); err != nil {
		end(fmt.Errorf("%w: %w", ErrUploadFailed, err))
	}
}

// pollUpload asks Upload Get until the upload ends; a distributor that
// does not answer is asked again for budget.
func (c *Client) pollUpload(dst mesh.Address, budget time.Duration, end func(error)) {
	var poll func()
	poll = func() {
		err := persistently(c, dst, budget, func(cb func(*UploadStatus, error)) error { return c.UploadGet(dst, cb) }, func(st *UploadStatus, err error) {
			switch {
			case err != nil:
				end(fmt.Errorf("dfd: upload get: %w", err))
			case st.Phase == UploadTransferSuccess:
				end(nil)
			case st.Phase == UploadTransferActive:
				c.cfg.Clock.AfterFunc(c.pollInterval(dst), poll)
			default:
				end(fmt.Errorf("%w: upload phase %s", ErrUploadFailed, st.Phase))
			}
		})
		if err != nil {
			end(err)
		}
	}
	poll()
}

// UploadOOB runs an OOB upload: Upload OOB Start (answered after the
// server's check), then Upload Get until the retrieval ends. end gets the
// new Firmware ID the server reported, or the error (a *StatusError with
// New Firmware Not Available, URI Unreachable, ...).
func (c *Client) UploadOOB(dst mesh.Address, uri string, currentFWID []byte, end func(newFWID []byte, err error)) error {
	return c.UploadOOBStart(dst, uri, currentFWID, func(st *UploadStatus, err error) {
		switch {
		case err != nil:
			end(nil, fmt.Errorf("dfd: upload OOB start: %w", err))
		case st.Phase == UploadTransferSuccess:
			end(bytes.Clone(st.FirmwareID), nil)
		case st.Phase != UploadTransferActive:
			end(nil, fmt.Errorf("%w: Upload OOB Start answered %s", ErrUploadFailed, st.Phase))
		default:
			fwid := bytes.Clone(st.FirmwareID)
			c.pollUpload(dst, c.cfg.Persist, func(err error) { end(fwid, err) })
		}
	})
}

// receiversReadPages is the longest Receivers List (in pages of
// ReceiversPage entries) that Wait reads every ReceiversEvery rounds.
const receiversReadPages = 8

// receiversEvery is how many Wait rounds pass between two reads of a
// Receivers List of n entries while the distribution runs:
// ReceiversEvery, and proportionally more for a list of more than
// receiversReadPages pages, so that reading it takes a bounded share of
// the distributor's air. With 1000 receivers a read is 63 pages of about
// nine segments each: read every 4 rounds, the Initiator's monitoring was
// about half of all PDUs of `meshdfu sim --nodes 1000`; it reads every 31.
func receiversEvery(n int) int {
	pages := (n + ReceiversPage - 1) / ReceiversPage
	if pages <= receiversReadPages {
		return ReceiversEvery
	}
	return ReceiversEvery * pages / receiversReadPages
}

// Progress is what Wait reports while a distribution runs.
type Progress struct {
	Status    *DistributionStatus
	Receivers []NodeEntry
}

// Wait polls Distribution Get every PollInterval until the distribution
// is no longer running (Transfer Success, Completed, Failed or Idle), and
// the Receivers List every ReceiversEvery rounds (more for a long list:
// receiversEvery) and at the end;
// onProgress gets every round, end the last one (err:
// ErrDistributionFailed for Failed, or a request error). A round without
// an answer is tried again until the distributor has not answered for
// Persist: its radio is busy with the distribution, and loss comes in
// bursts.
func (c *Client) Wait(dst mesh.Address, onProgress func(Progress), end func(Progress, error)) error {
	var round func()
	var last []NodeEntry
	n, lastRead := 0, 0
	heard := c.cfg.Clock.Now()
	retry := func(p Progress, err error) {
		if !errors.Is(err, ErrTimeout) || c.cfg.Clock.Now().Sub(heard) >= c.cfg.Persist {
			end(p, err)
			return
		}
		c.cfg.Clock.AfterFunc(c.pollInterval(dst), round)
	}
	round = func() {
		n++
		err := c.Get(dst, func(st *DistributionStatus, err error) {
			if err != nil {
				retry(Progress{Receivers: last}, err)
				return
			}
			heard = c.cfg.Clock.Now()
			running := false
			switch st.Phase {
			case PhaseTransferActive, PhaseApplyingUpdate, PhaseCancelingUpdate, PhaseTransferSuspended:
				running = true
			}
			if running && n-lastRead < receiversEvery(len(last)) {
				if onProgress != nil {
					onProgress(Progress{Status: st, Receivers: last})
				}
				c.cfg.Clock.AfterFunc(c.pollInterval(dst), round)
				return
			}
			lastRead = n
			c.allReceivers(dst, func(list []NodeEntry, err error) {
				if err == nil {
					last = list
				}
				p := Progress{Status: st, Receivers: last}
				if err != nil && !running {
					retry(p, err) // the final list is needed
					return
				}
				if onProgress != nil {
					onProgress(p)
				}
				switch {
				case running:
					c.cfg.Clock.AfterFunc(c.pollInterval(dst), round)
				case st.Phase == PhaseFailed:
					end(p, ErrDistributionFailed)
				default:
					end(p, nil)
				}
			})
		})
		switch {
		case errors.Is(err, ErrBusy):
			// The caller's own Distribution request (a Start that resumes,
			// say) awaits the same status: poll after it.
			c.cfg.Clock.AfterFunc(c.pollInterval(dst), round)
		case err != nil:
			end(Progress{Receivers: last}, err)
		}
	}
	round()
	return nil
}

// allReceivers pages through the whole Receivers List.
func (c *Client) allReceivers(dst mesh.Address, done func([]NodeEntry, error)) {
	var out []NodeEntry
	var page func(first uint16)
	page = func(first uint16) {
		err := c.ReceiversGet(dst, first, ReceiversPage, func(l *ReceiversList, err error) {
			if err != nil {
				done(out, err)
				return
			}
			out = append(out, l.Entries...)
			if len(l.Entries) == 0 || len(out) >= int(l.Count) {
				done(out, nil)
				return
			}
			page(first + uint16(len(l.Entries)))
		})
		if err != nil {
			done(out, err)
		}
	}
	page(0)
}
