package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// The two roles before the targets: fleet node 0 (address 0x0001) is the
// Initiator, a Firmware Distribution Client; node 1 is the Distributor, a
// Firmware Distribution Server with its own Firmware Update and BLOB
// Transfer Clients. Targets are nodes 2 and up.
const (
	initiatorIdx   = 0
	distributorIdx = 1
	firstTarget    = 2
)

// Image is what the Initiator uploads: the bare firmware with its
// Firmware ID and metadata, the image file the targets receive (what the
// Distributor builds from the stored image: dfd.ImageFilePayload), and the
// BLOB ID of the upload.
type Image struct {
	FirmwareID []byte
	Metadata   []byte
	Firmware   []byte
	File       []byte
	BLOBID     uint64
}

// restartDelay is how long a restarted distributor stays off before it
// boots and carries on from its stores.
const restartDelay = 2 * time.Second

// The distributor's Firmware Update Client waits requestTimeout per
// request in all and sends it requestRetries+1 times: the interval between
// copies stays above the SAR budget of a segmented Start several hops
// away, so copies do not pile up behind each other on the relays (see
// sim/fleet's package doc).
const (
	requestTimeout = 20 * time.Second
	requestRetries = 2
)

// The Initiator's side of the procedure.
const (
	// receiversPerAdd is how many entries one Receivers Add carries: 16
	// entries are 50 octets, 5 segments.
	receiversPerAdd = 16
	// maxResumes bounds how often the Initiator starts a distribution
	// again that the distributor suspended (every target went silent).
	maxResumes = 3
	// uploadURI is the update server the fake OOB stands for.
	uploadURI = "https://fw.example.com/meshdfu"
)

// watchClock runs after once each timer callback of the clock it wraps:
// the scenario follows the distributor's procedure steps as they happen.
type watchClock struct {
	mesh.Clock
	after func()
}

func (c watchClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.Clock.AfterFunc(d, func() {
		f()
		c.after()
	})
}

// watchModels makes every handler of ms run after once it returned.
func watchModels(ms []*access.Model, after func()) {
	for _, m := range ms {
		for i := range m.Ops {
			h := m.Ops[i].Handler
			m.Ops[i].Handler = func(ctx *access.Context, p []byte) {
				h(ctx, p)
				after()
			}
		}
	}
}

// multiHop reports whether targets lie beyond the distributor's range.
func (w *world) multiHop() bool { return w.maxHops > 1 }

// distributionTTL is the TTL of the distribution over relays: the
// farthest target plus one hop.
func (w *world) distributionTTL() uint8 { return uint8(min(w.maxHops+1, int(access.MaxTTL))) }

// Over relays the Initiator, next to the distributor, sends with
// initiatorTTL (relayed once at most) and polls every initiatorPoll: the
// distributor's answers cross every relay.
const (
	initiatorTTL  = 2
	initiatorPoll = 20 * time.Second
)

// initiatorPersist is how long the Initiator keeps asking a distributor
// that does not answer (dfd.ClientConfig.Persist). A distributor that
// sends a block to a group over relays keeps its radio busy, and a
// half-duplex radio that transmits hears nothing: in a building at 10 %
// bursty loss it missed every Distribution Get for more than the 2
// minutes of dfd.DefaultPersist (seed 1).
const initiatorPersist = 10 * time.Minute

// The distributor sends Firmware Update Start to one target at a time
// (dfd.DefaultUpdateMaxInFlight): about startPerTarget each in one hop,
// startPerTargetRelayed over relays, plus the timeout for every silent
// target.
const (
	startPerTarget        = time.Second
	startPerTargetRelayed = 5 * time.Second
	startMargin           = time.Minute
)

// distributionTimeoutBase is the Initiator's Distribution Timeout Base:
// the first target started waits for the BLOB Transfer Start while the
// distributor starts all the others, and its BLOB Transfer Server gives up
// after 10·(Timeout Base+1) s (blob.md §10), so the window must cover the
// Start step of the whole fleet. Over relays a Start exchange is sent
// again as often as loss spoils it on the way there or back, so the
// Initiator allows 1/(1 − loss)² of the time per target (the building at
// 50 % loss: 3–5 minutes for the Start step, and the targets started
// first had given up after 2). A larger base also slows the BLOB
// client's reaction to silent targets, so it is no larger than that.
func (w *world) distributionTimeoutBase() uint16 {
	per := startPerTarget
	if w.multiHop() {
		ok := (1 - w.cfg.Loss) * (1 - w.cfg.Loss)
		per = time.Duration(float64(startPerTargetRelayed) / ok)
	}
	window := time.Duration(len(w.tg))*per + startMargin
	for _, t := range w.tg {
		if t.lpn {
			window += startPerLPN
		}
	}
	tb := int((window+10*time.Second-1)/(10*time.Second)) - 1
	return uint16(min(max(tb, timeoutBase), 0xFFFF))
}

// newInitiator builds the Initiator's Firmware Distribution Client (with
// the BLOB Transfer Client of in-band uploads).
func (w *world) newInitiator() []*access.Model {
	cfg := dfd.ClientConfig{
		Clock: lazyClock{w, initiatorIdx}, Logger: w.logger(initiatorIdx),
		BLOB: blob.ClientConfig{Strategy: w.strat, TimeoutBase: timeoutBase,
			TxBacklog: func() int { return w.f.Bearer(initiatorIdx).Metrics().QueueLen },
			SAR:       w.sarControl(initiatorIdx)},
	}
	cfg.Persist = initiatorPersist
	if w.multiHop() {
		cfg.TTL, cfg.BLOB.TTL, cfg.PollInterval = initiatorTTL, initiatorTTL, initiatorPoll
	}
	var err error
	w.cli, err = dfd.NewClient(cfg)
	if err != nil {
		panic(fmt.Sprintf("scenario: initiator: %v", err)) // static configuration
	}
	return w.cli.Models()
}

// newDistributor builds the Distribution Server from its stores: the
// firmware store and the state store outlive the node, so a distributor
// rebuilt after a restart carries on with the distribution it persisted.
func (w *world) newDistributor() []*access.Model {
	cfg := dfd.ServerConfig{
		Clock:  watchClock{lazyClock{w, distributorIdx}, w.observeStep},
		Logger: w.logger(distributorIdx),
		Rand:   rand.New(rand.NewPCG(w.cfg.Seed, 0x64697374)), // "dist"
		Store:  w.store, State: w.dstate,
		Update: dfu.ClientConfig{Timeout: requestTimeout, Retries: requestRetries},
		BLOBClient: blob.ClientConfig{Strategy: w.strat, TimeoutBase: w.distTB,
			TxBacklog: func() int { return w.f.Bearer(distributorIdx).Metrics().QueueLen },
			SAR:       w.sarControl(distributorIdx)},
		MaxImageSize: uint32(max(dfd.DefaultMaxImageSize, len(w.img.Firmware))),
		OnReceiver:   w.onReceiver,
		// A distributor sized for the fleet (the default list holds 256).
		MaxReceivers: max(dfd.DefaultMaxReceivers, len(w.tg)),
	}
	if w.hasLPNs() {
		cfg.Update.Timeout, cfg.Update.Retries = lpnUpdateTimeout, lpnUpdateRetries
	}
	if w.cfg.Upload == "oob" {
		cfg.OOB = w.oob
	}
	s, err := dfd.NewServer(cfg)
	if err != nil {
		panic(fmt.Sprintf("scenario: distributor: %v", err)) // static configuration
	}
	w.srv = s
	w.sawTransfer = false
	ms := s.Models()
	watchModels(ms, w.observeStep)
	return ms
}

// upload gets the image onto the distributor: in-band through the
// Initiator's BLOB Transfer Client, or out of band (the distributor
// fetches it from the fake update server); done runs on the Initiator.
func (w *world) upload(done func(error)) {
	dst := w.f.Address(distributorIdx)
	img := w.img
	var err error
	if w.cfg.Upload == "oob" {
		err = w.cli.UploadOOB(dst, uploadURI, oldFWID, func(fwid []byte, err error) {
			if err == nil && !bytes.Equal(fwid, img.FirmwareID) {
				err = fmt.Errorf("scenario: OOB upload stored firmware %x, want %x", fwid, img.FirmwareID)
			}
			done(err)
		})
	} else {
		err = w.cli.Upload(dfd.Upload{Server: dst, FirmwareID: img.FirmwareID, Metadata: img.Metadata,
			Image: bytes.NewReader(img.Firmware), Size: uint32(len(img.Firmware)), BLOBID: img.BLOBID,
			TimeoutBase: timeoutBase, OnEnd: done})
	}
	if err != nil {
		done(err)
	}
}

// distribute is the Initiator's part after the upload: Receivers Add in
// pages, Distribution Start, then polling until the distribution ends
// (starting it again when the distributor suspended it).
func (w *world) distribute(end func(error)) {
	dst := w.f.Address(distributorIdx)
	entries := make([]dfd.ReceiverEntry, len(w.tg))
	for k, t := range w.tg {
		entries[k] = dfd.ReceiverEntry{Address: t.addr}
	}
	mode := blob.ModeNone // the distributor chooses
	switch w.cfg.Mode {
	case "push":
		mode = blob.ModePush
	case "pull":
		mode = blob.ModePull
	}
	// TTL: the distributor's Default TTL (over relays, distributionTTL).
	start := dfd.Start{TTL: access.DefaultTTL, TimeoutBase: w.distTB, TransferMode: mode,
		Policy: dfd.PolicyVerifyAndApply, Multicast: w.group}
	if w.cfg.Unicast {
		start.Multicast = mesh.AddrUnassigned
	}
	resumes := 0
	wait := func() {
		err := w.cli.Wait(dst, func(p dfd.Progress) {
			if p.Status.Phase == dfd.PhaseTransferSuspended && resumes < maxResumes {
				resumes++
				_ = w.cli.Start(dst, start, func(*dfd.DistributionStatus, error) {})
			}
		}, func(_ dfd.Progress, err error) { end(err) })
		if err != nil {
			end(err)
		}
	}
	var add func(from int)
	add = func(from int) {
		if from >= len(entries) {
			err := w.askAgain(func(cb func(error)) error {
				return w.cli.Start(dst, start, func(_ *dfd.DistributionStatus, err error) { cb(err) })
			}, func(err error) {
				if err != nil {
					end(fmt.Errorf("distribution start: %w", err))
					return
				}
				wait()
			})
			if err != nil {
				end(err)
			}
			return
		}
		to := min(from+receiversPerAdd, len(entries))
		err := w.askAgain(func(cb func(error)) error {
			return w.cli.ReceiversAdd(dst, entries[from:to], func(_ *dfd.ReceiversStatus, err error) { cb(err) })
		}, func(err error) {
			if err != nil {
				end(fmt.Errorf("receivers add: %w", err))
				return
			}
			add(to)
		})
		if err != nil {
			end(err)
		}
	}
	add(0)
}

// askAgain runs the Initiator's request ask until the distributor
// answers: a request that timed out goes again while the distributor has
// been silent for less than initiatorPersist (Receivers Add and
// Distribution Start are idempotent: the same entries, the same
// parameters). done gets the outcome.
func (w *world) askAgain(ask func(cb func(error)) error, done func(error)) error {
	deadline := w.f.Elapsed() + initiatorPersist
	var try func() error
	try = func() error {
		return ask(func(err error) {
			if errors.Is(err, dfd.ErrTimeout) && w.f.Elapsed() < deadline {
				lazyClock{w, initiatorIdx}.AfterFunc(askAgainDelay, func() {
					if err := try(); err != nil {
						done(err)
					}
				})
				return
			}
			done(err)
		})
	}
	return try()
}

// askAgainDelay is the pause before the Initiator asks a silent
// distributor again.
const askAgainDelay = 5 * time.Second

// maybeRestart restarts the distributor when a restart is due and no
// target holds an open block. blob.Client cannot rejoin a block its lost
// instance had opened: the restarted client picks its own chunk size, and
// a target waiting for chunks of that block answers a Block Start with
// another chunk size Wrong Phase (spec/blob.md §11.2, as Zephyr does), which
// drops it from the transfer. Between blocks every Block Start is
// accepted, so the restart waits for the next block boundary.
func (w *world) maybeRestart() {
	if w.restartDue == 0 || !w.f.IsOn(distributorIdx) {
		return
	}
	for _, t := range w.tg {
		if w.f.IsOn(t.idx) && t.srv.BLOB().Phase() == blob.PhaseWaitingForChunk {
			return
		}
	}
	w.restartDue--
	w.restartDistributor()
}

// restartDistributor powers the distributor off at once and on again
// restartDelay later: the new instance comes back from its stores and
// resumes the distribution where the targets stand.
func (w *world) restartDistributor() {
	w.f.PowerOff(distributorIdx)
	w.restarts++
	w.setStep("restart")
	w.ctl.AfterFunc(restartDelay, func() {
		if err := w.f.PowerOn(distributorIdx); err != nil {
			w.err = err
			return
		}
		w.srv.SetLayer(w.f.Node(distributorIdx).Access())
		w.observeStep()
	})
}

// observeStep follows the distributor's procedure: it runs after each of
// its message handlers and timers, and names the step from its state
// (dfd keeps the step to itself).
func (w *world) observeStep() {
	if w.srv == nil || !w.f.IsOn(distributorIdx) {
		return
	}
	s := w.srv
	step := ""
	switch s.Phase() {
	case dfd.PhaseTransferActive, dfd.PhaseTransferSuspended:
		switch {
		case s.BLOBClient().State() != blob.ClientIdle:
			step, w.sawTransfer = "transfer", true
		case w.sawTransfer || (w.restarts > 0 && w.pastTransfer()):
			step = "verify"
		default:
			step = "start"
		}
	case dfd.PhaseTransferSuccess:
		step = "verify"
	case dfd.PhaseApplyingUpdate:
		step = "confirm"
		for _, t := range w.tg {
			if !t.final && t.phase == dfu.PhaseVerificationSucceeded {
				step = "apply"
				break
			}
		}
	case dfd.PhaseCompleted, dfd.PhaseFailed:
		step = "done"
	}
	if step != "" {
		w.setStep(step)
	}
}

// pastTransfer reports whether every target still in the distribution
// holds the image (after a restart, the distributor may have no transfer
// left to run).
func (w *world) pastTransfer() bool {
	some := false
	for _, t := range w.tg {
		if t.final {
			continue
		}
		switch t.phase {
		case dfu.PhaseUnknown, dfu.PhaseIdle, dfu.PhaseTransferActive, dfu.PhaseTransferError:
			return false
		}
		some = true
	}
	return some
}

// onReceiver records what the distributor learnt about a target.
func (w *world) onReceiver(r dfd.Receiver) {
	t := w.byAddr[r.Address]
	if t == nil || t.final {
		return
	}
	t.phase, t.status = r.Phase, r.UpdateStatus
	switch {
	case r.Failed:
		t.final, t.err = true, errors.New(r.Reason)
		if t.phase == dfu.PhaseUnknown || t.phase == dfu.PhaseIdle || t.phase == dfu.PhaseTransferActive {
			// The distributor lost it before it could tell more.
			t.phase = dfu.PhaseTransferError
		}
	case r.Phase == dfu.PhaseApplySuccess:
		t.final = true
	}
	if t.final {
		t.doneAt = w.f.Elapsed()
	}
}

// distProgress is the distributor's BLOB transfer view of each target (what
// the targets confirmed), nil outside the transfer.
func (w *world) distProgress() []blob.TargetProgress {
	if w.srv == nil || !w.f.IsOn(distributorIdx) || w.srv.BLOBClient().State() == blob.ClientIdle {
		return nil
	}
	return w.srv.BLOBClient().Progress()
}

// sarControl lets node i's BLOB client repeat chunk segments under one
// SeqAuth (the meshdfu profile's repair scheme); the Zephyr-defaults
// profile keeps its own behaviour and gets none.
//
// Measured limit: with 1000 targets on one hop the repair plan's longer
// Block Status answers cannot be collected before the targets give up
// (998 of 1000 lost at Block Get, where whole-chunk repeats applied 994),
// so fleets above sarRepeatMaxTargets keep the whole-chunk scheme until
// the BLOB client's status collection scales.
func (w *world) sarControl(i int) blob.SARControl {
	if os.Getenv("MESHDFU_NO_SAR_REPEAT") != "" || len(w.tg) > sarRepeatMaxTargets {
		return nil
	}
	return lazySAR{w, i}
}

// sarRepeatMaxTargets is the largest fleet that uses the SAR repeat
// scheme; see sarControl.
const sarRepeatMaxTargets = 256
