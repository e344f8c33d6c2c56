package dfd

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// distRun is one pass of the Distribute Firmware procedure: the steps
// "start", "transfer", "verify", "apply", "confirm", "cancel" in that
// order (MshDFU §7.1.2 via the Firmware Update and BLOB Transfer Clients).
// A pass ends when its gen is superseded (suspend, cancel, restart).
type distRun struct {
	gen     uint64
	step    string
	payload []byte
	timer   mesh.Timer

	// The transfer's progress watch (watchTransfer).
	confirmed  map[mesh.Address]uint64 // confirmedMeasure of each receiver
	progressAt time.Time               // when a receiver last confirmed more
	stalled    error                   // why the transfer was stopped

	// Receivers whose BLOB server gave up waiting for Transfer Start,
	// to be started again once (startAgain).
	again        []mesh.Address
	startedAgain bool
	// Transfers after the second (moreTransfers), and each receiver's
	// blocks when the transfer began: one lost to silence that gained
	// blocks in it gets another.
	extraRounds   int
	blocksAtStart map[mesh.Address]int

	// Receivers the BLOB client lost to silence in their last
	// transfer, with that reason: their answers may be what was lost
	// (a target holding the whole image verifies it), so the verify step
	// decides (stepVerify).
	lostSilent map[mesh.Address]error

	// Receivers whose Update Apply went unanswered: the confirm step
	// decides (stepApply).
	applySilent map[mesh.Address]error
}

func (s *Server) setPhase(p Phase) {
	if p == s.phase {
		return
	}
	old := s.phase
	s.phase = p
	s.log.Info("dfd: server: distribution phase", slog.String("from", old.String()), slog.String("phase", p.String()))
	s.save()
	if s.cfg.OnPhase != nil {
		s.cfg.OnPhase(old, p)
	}
}

// status is the Distribution Status of the current state.
func (s *Server) status(st Status) *DistributionStatus {
	m := &DistributionStatus{Status: st, Phase: s.phase}
	if s.phase != PhaseIdle && s.dist != nil {
		d := s.dist.Start
		m.Details = true
		m.Multicast, m.AppKeyIndex, m.TTL, m.TimeoutBase = d.Multicast, d.AppKeyIndex, d.TTL, d.TimeoutBase
		m.TransferMode, m.Policy, m.ImageIndex = d.TransferMode, d.Policy, d.ImageIndex
	}
	return m
}

// start answers Distribution Start (docs/dfd.md; Zephyr
// bt_mesh_dfd_srv_start): validation first, then the phase matrix.
func (s *Server) start(m *Start) *DistributionStatus {
	switch {
	case len(s.receivers) == 0:
		return s.status(StatusReceiversListEmpty)
	case m.AppKeyIndex != s.cfg.AppKeyIndex:
		return s.status(StatusInvalidAppKeyIndex)
	}
	list := s.cfg.Store.List()
	if int(m.ImageIndex) >= len(list) || list[m.ImageIndex].Corrupt {
		return s.status(StatusFirmwareNotFound)
	}
	same := s.dist != nil && s.dist.Start == toStartRecord(m) && bytes.Equal(s.dist.FirmwareID, list[m.ImageIndex].FirmwareID)
	switch s.phase {
	case PhaseTransferActive, PhaseTransferSuccess, PhaseApplyingUpdate, PhaseCompleted:
		if same {
			return s.status(StatusSuccess)
		}
		if s.phase != PhaseCompleted {
			return s.status(StatusBusyWithDistribution)
		}
	case PhaseTransferSuspended:
		if !same {
			return s.status(StatusBusyWithDistribution)
		}
		s.resumeDistribution()
		return s.status(StatusSuccess)
	case PhaseCancelingUpdate:
		return s.status(StatusBusyWithDistribution)
	}
	// Idle, Failed, or Completed with new parameters: a new distribution.
	in := list[m.ImageIndex]
	_, image, err := s.cfg.Store.Get(in.Name)
	var payload []byte
	if err == nil {
		payload, err = s.cfg.Payload(in, image)
	}
	if err == nil && len(payload) == 0 {
		err = errors.New("empty payload")
	}
	if err == nil && m.Label == nil && m.Multicast.IsVirtual() {
		err = errors.New("virtual address without its Label UUID")
	}
	if err != nil {
		s.log.Error("dfd: server: start", slog.Any("err", err))
		return s.status(StatusInternalError)
	}
	s.dist = &distRecord{Start: toStartRecord(m), BLOBID: s.rng.Uint64(), Slot: in.Name, FirmwareID: in.FirmwareID, Metadata: in.Metadata}
	for _, r := range s.receivers {
		r.Receiver = Receiver{Address: r.Address, ImageIndex: r.ImageIndex, Phase: dfu.PhaseUnknown}
		r.err = nil
	}
	s.phase = PhaseIdle
	s.setPhase(PhaseTransferActive)
	s.begin(payload, "start")
	return s.status(StatusSuccess)
}

// suspend answers Distribution Suspend.
func (s *Server) suspend() *DistributionStatus {
	switch s.phase {
	case PhaseTransferSuspended:
		return s.status(StatusSuccess)
	case PhaseTransferActive:
	default:
		return s.status(StatusWrongPhase)
	}
	if s.run == nil || s.run.step != "transfer" || s.bcli.State() == blob.ClientIdle {
		return s.status(StatusSuspendFailed) // only the BLOB transfer can be suspended
	}
	if err := s.bcli.Suspend(); err != nil {
		return s.status(StatusSuspendFailed)
	}
	s.setPhase(PhaseTransferSuspended)
	return s.status(StatusSuccess)
}

// resumeDistribution continues a suspended distribution: the BLOB client
// resumes, or (after a restart) the procedure runs again from Start.
func (s *Server) resumeDistribution() {
	s.setPhase(PhaseTransferActive)
	if s.run != nil && s.run.step == "transfer" && s.bcli.State() == blob.ClientSuspended {
		if err := s.bcli.Resume(); err == nil {
			return
		}
	}
	s.rerun("start")
}

// cancel answers Distribution Cancel; from Applying Update it sends
// Canceling Update and, when the procedure ends, nothing more (the client
// polls), as the answer is always the current phase.
func (s *Server) cancel(ctx *access.Context) *DistributionStatus {
	switch s.phase {
	case PhaseIdle, PhaseCancelingUpdate:
		return s.status(StatusSuccess)
	case PhaseCompleted, PhaseFailed:
		s.halt()
		s.setPhase(PhaseIdle)
		return s.status(StatusSuccess)
	}
	s.cancelDistribution()
	return s.status(StatusSuccess)
}

// apply answers Distribution Apply.
func (s *Server) apply() *DistributionStatus {
	switch s.phase {
	case PhaseApplyingUpdate, PhaseCompleted:
		return s.status(StatusSuccess)
	case PhaseTransferSuccess:
		s.setPhase(PhaseApplyingUpdate)
		s.rerun("apply")
		return s.status(StatusSuccess)
	}
	return s.status(StatusWrongPhase)
}

// continueRestored picks a restored distribution up where it stopped.
func (s *Server) continueRestored() {
	switch s.phase {
	case PhaseTransferActive:
		s.rerun("start")
	case PhaseApplyingUpdate:
		s.rerun("apply")
	case PhaseCancelingUpdate:
		s.cancelDistribution()
	}
}

// rerun starts a new pass from step, rebuilding the payload from the
// store.
func (s *Server) rerun(step string) {
	d := s.dist
	in, image, err := s.cfg.Store.Get(d.Slot)
	var payload []byte
	if err == nil {
		payload, err = s.cfg.Payload(in, image)
	}
	if err != nil {
		s.log.Error("dfd: server: image for the distribution", slog.String("slot", d.Slot), slog.Any("err", err))
		s.halt()
		s.setPhase(PhaseFailed)
		return
	}
	s.begin(payload, step)
}

// halt stops the running pass: timers, pending requests, the BLOB client.
func (s *Server) halt() {
	s.gen++
	if s.run != nil && s.run.timer != nil {
		s.run.timer.Stop()
	}
	s.run = nil
	s.ucli.Abort()
	if st := s.bcli.State(); st != blob.ClientIdle && st != blob.ClientCancelling {
		_ = s.bcli.Cancel()
	}
}

func (s *Server) begin(payload []byte, step string) {
	s.halt()
	s.run = &distRun{gen: s.gen, payload: payload}
	// The Firmware Update requests go to the distribution's group too
	// (dfu.Client.SetGroup: only while the targets are on one hop).
	s.ucli.SetGroup(s.dist.Start.Multicast, s.dist.Start.Label)
	switch step {
	case "start":
		s.stepStart()
	case "apply":
		s.stepApply()
	}
}

// setStep records that pass r begins step and reports it (OnStep).
func (s *Server) setStep(r *distRun, step string) {
	r.step = step
	s.log.Info("dfd: server: distribution step", slog.String("step", step), slog.Int("receivers", len(s.active())))
	if s.cfg.OnStep != nil {
		s.cfg.OnStep(step)
	}
}

func (s *Server) alive(r *distRun) bool { return s.run == r && r.gen == s.gen }

// clientTimeout is the Firmware Update Client's timeout of the
// distribution, T_client = 10 s·(Timeout Base + 2) + 100 ms·TTL
// (spec/dfu.md, Timeouts): a receiver that answers none of a step's
// requests within it is lost, not one whose few copies of a request met a
// burst of loss.
func (s *Server) clientTimeout() time.Duration {
	d := s.dist.Start
	return 10*time.Second*time.Duration(int(d.TimeoutBase)+2) + 100*time.Millisecond*time.Duration(d.TTL)
}

// persist runs one request of a step (send) to targets in rounds until
// each has an outcome: a target whose request went unanswered
// (dfu.ErrTimeout), or whose outcome again accepts when set, is asked
// again, a poll interval later, until budget has passed since its first
// such outcome and it had minSilentRounds of them, and before until
// (zero: no limit); after that the outcome is final. each gets every
// final outcome; done runs once, when every target has one.
func persist[T any](s *Server, r *distRun, targets []mesh.Address, budget time.Duration, until time.Time, again func(mesh.Address, error) bool,
	send func([]mesh.Address, func(mesh.Address, T, error), func()), each func(mesh.Address, T, error), done func()) {
	first := map[mesh.Address]time.Time{}
	rounds := map[mesh.Address]int{}
	var round func([]mesh.Address)
	round = func(ts []mesh.Address) {
		var silent []mesh.Address
		send(ts, func(a mesh.Address, m T, err error) {
			if !s.alive(r) {
				return
			}
			if again == nil && errors.Is(err, dfu.ErrTimeout) || again != nil && again(a, err) {
				now := s.clk.Now()
				if _, ok := first[a]; !ok {
					first[a] = now
				}
				rounds[a]++
				if (now.Sub(first[a]) < budget || rounds[a] < minSilentRounds) && (until.IsZero() || now.Before(until)) {
					silent = append(silent, a)
					return
				}
			}
			each(a, m, err)
		}, func() {
			if !s.alive(r) {
				return
			}
			if len(silent) == 0 {
				done()
				return
			}
			s.log.Debug("dfd: server: asking silent receivers again", slog.String("step", r.step), slog.Int("receivers", len(silent)))
			r.timer = s.clk.AfterFunc(s.ucli.PollInterval(s.cfg.PollInterval), func() {
				r.timer = nil
				if s.alive(r) {
					round(silent)
				}
			})
		})
	}
	round(targets)
}

// minSilentRounds is the fewest rounds of requests a silent receiver gets
// before it is given up, however long they took. Over relays one
// request with its resends can take a minute, so the client timeout
// alone gave a target two chances; and a loss burst on a target's own
// link ends only as the target transmits, i.e. answers requests it hears
// (fault matrix, building at 30 % bursty loss: healthy targets silent
// through the verify and confirm steps).
const minSilentRounds = 3

// confirmFactor is how many client timeouts the confirm step asks a
// silent target, or one still running the old firmware: over relays at
// 30 % bursty loss a target that had applied stayed silent through one
// (fault matrix, building, upload-cut/oob).
const confirmFactor = 3

// ---- receivers' bookkeeping ----

func (s *Server) isLocal(a mesh.Address) bool { return s.layer != nil && s.layer.Element(a) != nil }

func (s *Server) active() []*receiver {
	var out []*receiver
	for _, r := range s.receivers {
		if !r.Failed {
			out = append(out, r)
		}
	}
	return out
}

// silentAfterApply reports whether receiver a did not answer (err) while
// it is expected to answer after Apply: one that unprovisions itself
// falls silent (MshDFU §7.1.2.6), and its silence is the answer.
func (s *Server) silentAfterApply(a mesh.Address, err error) bool {
	rv := s.receiver(a)
	return errors.Is(err, dfu.ErrTimeout) && (rv == nil || rv.AdditionalInfo != dfu.InfoUnprovision)
}

// errOldFirmware is the confirm step's outcome for a receiver that still
// runs the old firmware.
var errOldFirmware = errors.New("dfd: still runs the old firmware")

func addrsOf(ts []dfu.Target) []mesh.Address {
	out := make([]mesh.Address, len(ts))
	for i, t := range ts {
		out[i] = t.Address
	}
	return out
}

func addrs(rs []*receiver) []mesh.Address {
	out := make([]mesh.Address, len(rs))
	for i, r := range rs {
		out[i] = r.Address
	}
	return out
}

func (s *Server) changed(r *receiver) {
	s.save()
	if s.cfg.OnReceiver != nil {
		s.cfg.OnReceiver(r.Receiver)
	}
}

func (s *Server) setReceiver(a mesh.Address, p dfu.Phase, st dfu.Status) {
	r := s.receiver(a)
	if r == nil || r.Failed {
		return
	}
	if r.Phase != p || r.UpdateStatus != st {
		r.Phase, r.UpdateStatus = p, st
		if p >= dfu.PhaseVerifyingUpdate && p != dfu.PhaseUnknown {
			r.Progress = 100
		}
		s.changed(r)
	}
}

// fail drops receiver a from the distribution with its reason; the others
// carry on.
func (s *Server) fail(a mesh.Address, p dfu.Phase, st dfu.Status, err error) {
	r := s.receiver(a)
	if r == nil || r.Failed {
		return
	}
	r.Phase, r.UpdateStatus, r.Failed, r.err = p, st, true, err
	step := "distribution"
	if s.run != nil {
		step = s.run.step
	}
	r.Reason = fmt.Sprintf("%s: %v", step, err)
	s.log.Warn("dfd: server: receiver failed", slog.Any("target", a), slog.String("reason", r.Reason))
	s.changed(r)
}

// failFromErr records a Firmware Update Client error.
func (s *Server) failFromErr(a mesh.Address, p dfu.Phase, err error) {
	var se *dfu.StatusError
	if errors.As(err, &se) {
		s.fail(a, se.Phase, se.Status, err)
		return
	}
	s.fail(a, p, dfu.StatusSuccess, err)
}

// refreshProgress copies the BLOB client's per-target progress.
func (s *Server) refreshProgress() {
	if s.run == nil || s.run.step != "transfer" {
		return
	}
	for _, p := range s.bcli.Progress() {
		if r := s.receiver(p.Target); r != nil && !r.Failed {
			s.takeProgress(r, p)
		}
	}
}

func (s *Server) takeProgress(r *receiver, p blob.TargetProgress) {
	if p.Blocks == 0 {
		return
	}
	r.Blocks, r.BlocksDone = p.Blocks, p.BlocksDone
	pct := 100 * p.BlocksDone / p.Blocks
	if p.Chunks > 0 && p.BlocksDone < p.Blocks {
		pct += 100 * p.ChunksDone / (p.Chunks * p.Blocks)
	}
	r.Progress = uint8(min(pct, 100))
}

// ---- the procedure ----

func (s *Server) startParams() dfu.StartParams {
	d := s.dist
	return dfu.StartParams{TTL: d.Start.TTL, TimeoutBase: d.Start.TimeoutBase, BLOBID: d.BLOBID, Metadata: d.Metadata}
}

// stepStart sends Firmware Update Start to the receivers that have not
// received the image yet (all of them on a fresh distribution; after a
// restart or resume the targets answer Success for the same parameters
// and go on where they were).
func (s *Server) stepStart() {
	r := s.run
	s.setStep(r, "start")
	var targets []dfu.Target
	for _, rv := range s.active() {
		switch rv.Phase {
		case dfu.PhaseUnknown, dfu.PhaseIdle, dfu.PhaseTransferError, dfu.PhaseTransferActive:
			targets = append(targets, dfu.Target{Address: rv.Address, ImageIndex: rv.ImageIndex})
		}
	}
	if len(targets) == 0 {
		s.stepTransfer()
		return
	}
	began := s.clk.Now()
	byAddr := make(map[mesh.Address]dfu.Target, len(targets))
	for _, t := range targets {
		byAddr[t.Address] = t
	}
	start := func(as []mesh.Address, cb func(mesh.Address, *dfu.UpdateStatus, error), done func()) {
		ts := make([]dfu.Target, len(as))
		for i, a := range as {
			ts[i] = byAddr[a]
		}
		s.ucli.Start(ts, s.startParams(), cb, done)
	}
	// Silent targets are asked again within half the BLOB servers'
	// timeout from the step's start: the first ones started wait no
	// longer than the timeout for Transfer Start.
	half := 5 * time.Second * time.Duration(int(s.dist.Start.TimeoutBase)+1)
	persist(s, r, addrsOf(targets), half, began.Add(half), nil, start, func(a mesh.Address, st *dfu.UpdateStatus, err error) {
		switch {
		case errors.Is(err, dfu.ErrTimeout) && !r.startedAgain:
			// Silent within the window: asked again after the transfer
			// of the others (startAgain), in a window of its own.
			r.again = append(r.again, a)
		case err != nil:
			s.failFromErr(a, dfu.PhaseUnknown, err)
		case st.Details && st.BLOBID != s.dist.BLOBID:
			s.fail(a, st.Phase, dfu.StatusBLOBTransferBusy, fmt.Errorf("%w: %016x", dfu.ErrBLOBID, st.BLOBID))
		case st.Phase == dfu.PhaseTransferActive || st.Phase == dfu.PhaseVerifyingUpdate || st.Phase == dfu.PhaseVerificationSucceeded:
			if rv := s.receiver(a); rv != nil {
				rv.AdditionalInfo = st.AdditionalInfo
			}
			s.setReceiver(a, st.Phase, st.Status)
		default:
			s.fail(a, st.Phase, st.Status, fmt.Errorf("%w: %s after Start", dfu.ErrUnexpectedPhase, st.Phase))
		}
	}, func() {
		if !s.alive(r) {
			return
		}
		// The first targets' BLOB servers wait 10·(Timeout Base + 1) s for
		// Transfer Start (blob.Server); a longer Start step loses them.
		if took, limit := s.clk.Now().Sub(began), 10*time.Second*time.Duration(int(s.dist.Start.TimeoutBase)+1); took > limit {
			s.log.Warn("dfd: server: Firmware Update Start took longer than the targets wait for the transfer; choose a larger Timeout Base",
				slog.Duration("took", took), slog.Duration("timeout", limit), slog.Int("timeout_base", int(s.dist.Start.TimeoutBase)))
		}
		s.stepTransfer()
	})
}

// stepTransfer runs the BLOB transfer to the receivers in Transfer Active
// (not the distributor itself: its own server skipped the transfer).
func (s *Server) stepTransfer() {
	r := s.run
	s.setStep(r, "transfer")
	var targets []mesh.Address
	for _, rv := range s.active() {
		if rv.Phase == dfu.PhaseTransferActive && !s.isLocal(rv.Address) {
			targets = append(targets, rv.Address)
		}
	}
	if len(s.active()) == 0 {
		s.finish()
		return
	}
	if len(targets) == 0 {
		if len(r.again) > 0 && !r.startedAgain {
			s.startAgain(r)
			return
		}
		s.stepVerify()
		return
	}
	r.blocksAtStart = map[mesh.Address]int{}
	for _, a := range targets {
		if rv := s.receiver(a); rv != nil {
			r.blocksAtStart[a] = rv.BlocksDone
		}
	}
	strat := s.base
	if s.dist.BlockSizeLog != 0 {
		strat.BlockSizeLog = s.dist.BlockSizeLog // the blocks the targets already hold
	}
	if err := s.bcli.SetStrategy(strat); err != nil {
		s.log.Warn("dfd: server: strategy", slog.Any("err", err))
	}
	// The targets' BLOB servers wait with the Start's Timeout Base; the
	// client must too (it waits for them to suspend before a block
	// starts again with another chunk size).
	if err := s.bcli.SetTimeoutBase(s.dist.Start.TimeoutBase); err != nil {
		s.log.Warn("dfd: server: timeout base", slog.Any("err", err))
	}
	d := s.dist.Start
	x := blob.Transfer{
		ID: s.dist.BLOBID, Size: uint32(len(r.payload)), Data: bytes.NewReader(r.payload), Mode: d.TransferMode,
		Targets: targets, Group: d.Multicast, Label: d.Label,
		Callbacks: blob.Callbacks{
			OnCapabilities: func(_ blob.Limits, log uint8, _ blob.TransferMode) {
				if s.alive(r) && s.dist.BlockSizeLog != log {
					s.dist.BlockSizeLog = log
					s.save()
				}
			},
			OnProgress: func(p blob.TargetProgress) {
				if rv := s.receiver(p.Target); s.alive(r) && rv != nil && !rv.Failed {
					s.takeProgress(rv, p)
					if n := confirmedMeasure(p); n > r.confirmed[p.Target] {
						r.confirmed[p.Target], r.progressAt = n, s.clk.Now()
					}
				}
			},
			OnBlockDone: func(int) {
				if s.alive(r) {
					s.refreshProgress()
					s.save()
				}
			},
			OnTargetLost: func(le *blob.LostError) {
				if !s.alive(r) {
					return
				}
				if !r.startedAgain && (le.Timeout || le.Status == blob.StatusWrongPhase) || le.Timeout && s.moreTransfers(r, le.Target) {
					// Its BLOB server gave up waiting for Transfer Start
					// (a long Start step under loss), still waits for
					// chunks of a block it opened with another chunk size
					// (a restarted distributor), or it fell silent for
					// longer than the BLOB client waits (a loss burst).
					// By the time the others are done its server has
					// suspended and its Firmware Update Server is in
					// Transfer Error, and Firmware Update Start with the
					// same parameters resumes it (MshDFU §6.1.3): one more
					// chance, once.
					r.again = append(r.again, le.Target)
					s.setReceiver(le.Target, dfu.PhaseTransferError, dfu.StatusSuccess)
					return
				}
				if le.Timeout {
					if r.lostSilent == nil {
						r.lostSilent = map[mesh.Address]error{}
					}
					r.lostSilent[le.Target] = fmt.Errorf("%w: %w", dfu.ErrTransfer, le)
					return
				}
				if rv := s.receiver(le.Target); rv != nil {
					rv.TransferStatus = le.Status
				}
				s.fail(le.Target, dfu.PhaseTransferError, dfu.StatusSuccess, fmt.Errorf("%w: %w", dfu.ErrTransfer, le))
			},
			OnSuspended: func() {
				if s.alive(r) && s.phase == PhaseTransferActive {
					s.setPhase(PhaseTransferSuspended) // every target went silent
				}
			},
			OnEnd: func(res blob.Result) {
				if !s.alive(r) {
					return
				}
				if r.stalled != nil {
					// Receivers lost before the stall (their BLOB server
					// gave up waiting for Transfer Start) keep their
					// second transfer: the stall was the others'.
					for _, a := range targets {
						if !slices.Contains(res.Completed, a) && !slices.Contains(r.again, a) && r.lostSilent[a] == nil {
							s.fail(a, dfu.PhaseTransferError, dfu.StatusSuccess, r.stalled)
						}
					}
					if len(r.again) > 0 {
						r.stalled = nil
						s.startAgain(r)
						return
					}
					s.stepVerify()
					return
				}
				if res.Err != nil {
					for _, a := range targets {
						if !slices.Contains(r.again, a) && r.lostSilent[a] == nil {
							s.fail(a, dfu.PhaseTransferError, dfu.StatusSuccess, fmt.Errorf("%w: %w", dfu.ErrTransfer, res.Err))
						}
					}
				}
				if len(r.again) > 0 {
					s.startAgain(r)
					return
				}
				s.stepVerify()
			},
		},
	}
	if err := s.bcli.Start(x); err != nil {
		for _, a := range targets {
			s.fail(a, dfu.PhaseUnknown, dfu.StatusBLOBTransferBusy, fmt.Errorf("%w: %w", dfu.ErrTransfer, err))
		}
		s.stepVerify()
		return
	}
	s.watchTransfer(r)
}

// startAgain runs the Start and transfer steps once more for the
// receivers whose BLOB server had given up waiting for Transfer Start;
// the others are asked too and answer with the phase they reached.
func (s *Server) startAgain(r *distRun) {
	s.log.Info("dfd: server: starting receivers again", slog.Int("receivers", len(r.again)))
	if r.startedAgain {
		r.extraRounds++
	}
	r.startedAgain, r.again = true, nil
	s.stepStart()
}

// confirmedMeasure grows with every chunk or block a receiver confirms:
// the octets of its whole blocks, then the per mille of the current
// block's chunks (block sizes and chunk counts differ between blocks).
func confirmedMeasure(p blob.TargetProgress) uint64 {
	m := p.OctetsDone * 1001
	if p.Chunks > 0 && p.ChunksDone < p.Chunks {
		m += uint64(1000 * p.ChunksDone / p.Chunks)
	}
	return m
}

// moreTransfers reports whether receiver a, which the BLOB client lost to
// silence in a transfer after its second, gets one more: while each
// transfer gains it blocks, up to maxExtraTransfers (over relays at 30 %
// bursty loss a target's link stays in a loss burst for minutes, and a
// receiver that holds more each time is not lost: fault matrix,
// building).
func (s *Server) moreTransfers(r *distRun, a mesh.Address) bool {
	rv := s.receiver(a)
	base, ok := r.blocksAtStart[a]
	return r.startedAgain && r.extraRounds < maxExtraTransfers && rv != nil && ok && rv.BlocksDone > base
}

// maxExtraTransfers bounds the transfers after the second (moreTransfers).
const maxExtraTransfers = 2

// stallFactor is how many client timeouts a transfer may run without a
// receiver confirming a new chunk or block before the distributor stops
// it (watchTransfer).
const stallFactor = 5

// watchTransfer bounds the transfer step: the BLOB client loses a target
// that stops answering, but a target that answers while loss keeps every
// repair from landing would keep the transfer going for ever. When no
// receiver confirmed anything new for stallFactor client timeouts, the
// transfer is cancelled: the receivers that hold the whole image go on
// to verification, the others fail with the reason.
func (s *Server) watchTransfer(r *distRun) {
	r.confirmed, r.progressAt = map[mesh.Address]uint64{}, s.clk.Now()
	limit := stallFactor * s.clientTimeout()
	var check func()
	check = func() {
		if !s.alive(r) || r.step != "transfer" || s.bcli.State() == blob.ClientIdle {
			return
		}
		if idle := s.clk.Now().Sub(r.progressAt); idle < limit || s.phase == PhaseTransferSuspended {
			s.clk.AfterFunc(max(limit-idle, time.Second), check)
			return
		}
		r.stalled = fmt.Errorf("%w: no receiver confirmed a new chunk for %v", dfu.ErrTransfer, limit)
		s.log.Warn("dfd: server: transfer stalled", slog.Duration("for", limit))
		if err := s.bcli.Cancel(); err != nil {
			s.log.Warn("dfd: server: cancel a stalled transfer", slog.Any("err", err))
		}
	}
	s.clk.AfterFunc(limit, check)
}

// stepVerify polls Firmware Update Get until no receiver is still
// receiving or verifying.
func (s *Server) stepVerify() {
	r := s.run
	s.setStep(r, "verify")
	// A receiver that does not answer is asked again in the next rounds
	// until the client timeout has passed since its first unanswered Get
	// and it had minSilentRounds of them. Receivers that reported
	// Verification Succeeded are not asked again, so the rounds to the
	// others are short.
	deadline := s.clk.Now().Add(s.cfg.VerifyTimeout)
	silent := map[mesh.Address]error{}
	since := map[mesh.Address]time.Time{}
	unanswered := map[mesh.Address]int{}
	var round func()
	round = func() {
		r.timer = nil
		var ask []*receiver
		for _, rv := range s.active() {
			if rv.Phase != dfu.PhaseVerificationSucceeded && rv.Phase != dfu.PhaseApplyingUpdate {
				ask = append(ask, rv)
			}
		}
		s.ucli.Get(addrs(ask), func(a mesh.Address, st *dfu.UpdateStatus, err error) {
			if !s.alive(r) {
				return
			}
			delete(silent, a)
			if err == nil {
				delete(since, a)
				delete(unanswered, a)
			} else if _, ok := since[a]; !ok {
				since[a] = s.clk.Now()
			}
			if errors.Is(err, dfu.ErrTimeout) {
				unanswered[a]++
			}
			lost := r.lostSilent[a] // the transfer lost it to silence: the first reason
			switch {
			case errors.Is(err, dfu.ErrTimeout) && (s.clk.Now().Sub(since[a]) < s.clientTimeout() || unanswered[a] < minSilentRounds):
				silent[a] = err
			case lost != nil && (err != nil || st.Phase == dfu.PhaseTransferActive || st.Phase == dfu.PhaseTransferError):
				s.fail(a, dfu.PhaseTransferError, dfu.StatusSuccess, lost)
			case err != nil:
				s.failFromErr(a, dfu.PhaseUnknown, err)
			case st.Details && st.BLOBID != s.dist.BLOBID:
				s.fail(a, st.Phase, dfu.StatusBLOBTransferBusy, fmt.Errorf("%w: %016x", dfu.ErrBLOBID, st.BLOBID))
			case st.Phase == dfu.PhaseVerificationFailed:
				s.fail(a, st.Phase, st.Status, dfu.ErrVerificationFailed)
			case st.Phase == dfu.PhaseTransferError:
				s.fail(a, st.Phase, st.Status, fmt.Errorf("%w: target in Transfer Error", dfu.ErrTransfer))
			case st.Phase == dfu.PhaseVerifyingUpdate || st.Phase == dfu.PhaseVerificationSucceeded || st.Phase == dfu.PhaseTransferActive:
				s.setReceiver(a, st.Phase, st.Status)
			case st.Phase == dfu.PhaseApplyingUpdate:
				s.setReceiver(a, st.Phase, st.Status) // applied before a restart
			default:
				s.fail(a, st.Phase, st.Status, fmt.Errorf("%w: %s while verifying", dfu.ErrUnexpectedPhase, st.Phase))
			}
		}, func() {
			if !s.alive(r) {
				return
			}
			waiting := false
			for _, rv := range s.active() {
				if rv.Phase != dfu.PhaseVerificationSucceeded && rv.Phase != dfu.PhaseApplyingUpdate {
					waiting = true
				}
			}
			if len(silent) > 0 || (waiting && s.clk.Now().Before(deadline)) {
				r.timer = s.clk.AfterFunc(s.ucli.PollInterval(s.cfg.PollInterval), round)
				return
			}
			for _, rv := range s.active() {
				if err, ok := silent[rv.Address]; ok {
					if lost := r.lostSilent[rv.Address]; lost != nil {
						err = lost
					}
					s.failFromErr(rv.Address, rv.Phase, err)
					continue
				}
				if rv.Phase != dfu.PhaseVerificationSucceeded && rv.Phase != dfu.PhaseApplyingUpdate {
					s.fail(rv.Address, rv.Phase, rv.UpdateStatus, fmt.Errorf("%w: still %s", dfu.ErrTimeout, rv.Phase))
				}
			}
			switch {
			case len(s.active()) == 0:
				s.finish()
			case s.dist.Start.Policy == PolicyVerifyOnly:
				s.run = nil
				s.setPhase(PhaseTransferSuccess)
			default:
				s.setPhase(PhaseApplyingUpdate)
				s.stepApply()
			}
		})
	}
	round()
}

// stepApply sends Firmware Update Apply to the receivers that verified
// the image (and, after a restart, to those already applying).
func (s *Server) stepApply() {
	r := s.run
	r.applySilent = map[mesh.Address]error{}
	s.setStep(r, "apply")
	var targets []mesh.Address
	for _, rv := range s.active() {
		switch rv.Phase {
		case dfu.PhaseVerificationSucceeded, dfu.PhaseApplyingUpdate, dfu.PhaseIdle:
			targets = append(targets, rv.Address)
		}
	}
	if len(targets) == 0 {
		s.stepConfirm()
		return
	}
	persist(s, r, targets, s.clientTimeout(), time.Time{}, s.silentAfterApply, s.ucli.Apply, func(a mesh.Address, st *dfu.UpdateStatus, err error) {
		rv := s.receiver(a)
		var se *dfu.StatusError
		switch {
		case err == nil && st.Phase == dfu.PhaseApplyingUpdate:
			s.setReceiver(a, st.Phase, st.Status)
		case errors.As(err, &se) && se.Status == dfu.StatusWrongPhase && se.Phase == dfu.PhaseIdle:
			s.setReceiver(a, dfu.PhaseIdle, dfu.StatusSuccess) // applied already: a retried Apply
		case errors.Is(err, dfu.ErrTimeout) && rv != nil:
			// A target answers Apply and then installs and reboots, so
			// its answer may be lost for good while it runs the new
			// firmware (one that unprovisions may not answer at all).
			// The Confirm step decides (MshDFU §7.1.2.9): it asks for the
			// Firmware ID it runs, and fails it when that is not the new
			// one or it does not answer.
			// The Apply's silence goes into the reason if it does not.
			s.log.Info("dfd: server: no answer to Apply; the Confirm step decides", slog.String("target", a.String()))
			r.applySilent[a] = err
			s.setReceiver(a, dfu.PhaseApplyingUpdate, dfu.StatusSuccess)
		case err != nil:
			s.failFromErr(a, dfu.PhaseApplyFailed, err)
		default:
			s.fail(a, dfu.PhaseApplyFailed, st.Status, fmt.Errorf("%w: %s after Apply", dfu.ErrUnexpectedPhase, st.Phase))
		}
	}, func() {
		if s.alive(r) {
			s.stepConfirm()
		}
	})
}

// stepConfirm is Confirm Update On Target Nodes (MshDFU §7.1.2.9):
// Information Get; the new Firmware ID must run at the receiver's image
// index, and a receiver that unprovisions must stop answering.
func (s *Server) stepConfirm() {
	r := s.run
	s.setStep(r, "confirm")
	var targets []mesh.Address
	for _, rv := range s.active() {
		if rv.Phase != dfu.PhaseApplySuccess {
			targets = append(targets, rv.Address)
		}
	}
	// A target that still runs the old firmware may not have finished
	// applying (it answers Information Get until it reboots): asked again
	// like a silent one, for confirmFactor client timeouts.
	runsNew := func(rv *receiver, list []dfu.FirmwareInformation) bool {
		return int(rv.ImageIndex) < len(list) && bytes.Equal(list[rv.ImageIndex].FirmwareID, s.dist.FirmwareID)
	}
	// One whose Apply went unanswered and that still runs the old
	// firmware most likely never heard the Apply: it gets it once more.
	reapplied := map[mesh.Address]bool{}
	ask := func(as []mesh.Address, cb func(mesh.Address, []dfu.FirmwareInformation, error), done func()) {
		s.ucli.Information(as, func(a mesh.Address, list []dfu.FirmwareInformation, err error) {
			if rv := s.receiver(a); err == nil && rv != nil && rv.AdditionalInfo != dfu.InfoUnprovision && !runsNew(rv, list) {
				err = errOldFirmware
				if r.applySilent[a] != nil && !reapplied[a] && s.alive(r) {
					reapplied[a] = true
					s.log.Info("dfd: server: old firmware after an unanswered Apply: Apply again", slog.String("target", a.String()))
					s.ucli.Apply([]mesh.Address{a}, func(mesh.Address, *dfu.UpdateStatus, error) {}, func() {})
				}
			}
			cb(a, list, err)
		}, done)
	}
	again := func(a mesh.Address, err error) bool {
		return s.silentAfterApply(a, err) || errors.Is(err, errOldFirmware)
	}
	persist(s, r, targets, confirmFactor*s.clientTimeout(), time.Time{}, again, ask, func(a mesh.Address, list []dfu.FirmwareInformation, err error) {
		rv := s.receiver(a)
		if rv == nil {
			return
		}
		if rv.AdditionalInfo == dfu.InfoUnprovision {
			if errors.Is(err, dfu.ErrTimeout) {
				s.setReceiver(a, dfu.PhaseApplySuccess, dfu.StatusSuccess)
			} else {
				s.fail(a, dfu.PhaseApplyFailed, dfu.StatusSuccess, fmt.Errorf("%w: still answers, so still provisioned", dfu.ErrApplyFailed))
			}
			return
		}
		switch {
		case errors.Is(err, errOldFirmware) && r.applySilent[a] != nil:
			s.fail(a, dfu.PhaseApplyFailed, dfu.StatusSuccess, fmt.Errorf("%w: %w, and image %d does not run the new firmware", dfu.ErrApplyFailed, r.applySilent[a], rv.ImageIndex))
		case errors.Is(err, errOldFirmware):
			s.fail(a, dfu.PhaseApplyFailed, dfu.StatusSuccess, fmt.Errorf("%w: image %d does not run the new firmware", dfu.ErrApplyFailed, rv.ImageIndex))
		case err != nil && r.applySilent[a] != nil:
			s.fail(a, dfu.PhaseApplyFailed, dfu.StatusSuccess, fmt.Errorf("%w: %w, then %w", dfu.ErrApplyFailed, r.applySilent[a], err))
		case err != nil:
			s.fail(a, dfu.PhaseApplyFailed, dfu.StatusSuccess, fmt.Errorf("%w: %w", dfu.ErrApplyFailed, err))
		default:
			s.setReceiver(a, dfu.PhaseApplySuccess, dfu.StatusSuccess)
		}
	}, func() {
		if s.alive(r) {
			s.finish()
		}
	})
}

// finish ends the procedure: Completed when a receiver applied the image,
// Failed otherwise.
func (s *Server) finish() {
	s.run = nil
	for _, rv := range s.receivers {
		if !rv.Failed && rv.Phase == dfu.PhaseApplySuccess {
			s.setPhase(PhaseCompleted)
			return
		}
	}
	s.setPhase(PhaseFailed)
}

// cancelDistribution runs the Cancel Firmware Update procedure: the BLOB
// transfer stops and Firmware Update Cancel goes to every receiver; then
// the phase is Idle.
func (s *Server) cancelDistribution() {
	s.halt()
	s.setPhase(PhaseCancelingUpdate)
	r := &distRun{gen: s.gen}
	s.run = r
	s.setStep(r, "cancel")
	s.ucli.Cancel(addrs(s.receivers), func(a mesh.Address, st *dfu.UpdateStatus, err error) {
		if s.alive(r) && err == nil {
			if rv := s.receiver(a); rv != nil {
				rv.Phase, rv.UpdateStatus = dfu.PhaseTransferCanceled, st.Status
				s.changed(rv)
			}
		}
	}, func() {
		if s.alive(r) {
			s.run = nil
			s.setPhase(PhaseIdle)
		}
	})
}

// DistributionBLOB returns the BLOB of the current distribution when its
// BLOB ID is id, or nil. A self-update target on the distributor's node
// never receives the BLOB over the air (its server skips the transfer), so
// its dfu.Firmware.Data hook reads it here.
func (s *Server) DistributionBLOB(id uint64) []byte {
	if s.dist == nil || s.dist.BLOBID != id {
		return nil
	}
	in, image, err := s.cfg.Store.Get(s.dist.Slot)
	if err != nil {
		return nil
	}
	p, err := s.cfg.Payload(in, image)
	if err != nil {
		return nil
	}
	return p
}
