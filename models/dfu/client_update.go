package dfu

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Update describes one Firmware Update procedure run by Client.Update
// (MshDFU §7.1.2, as a Standalone Updater or a Distributor runs it).
type Update struct {
	Targets []Target
	// FirmwareID is the new image's Firmware ID; the Confirm step looks
	// for it in each target's Firmware Information List.
	FirmwareID []byte
	// Metadata is sent in Firmware Update Start.
	Metadata []byte
	// BLOB is what the targets receive (for meshdfu targets: an
	// fw.ImageFile), Size octets, read by the BLOB client.
	BLOB io.ReaderAt
	Size uint32
	// BLOBID identifies the transfer; choose it at random.
	BLOBID uint64
	// TTL and TimeoutBase go to the targets in Start; use the values the
	// BLOB client was configured with.
	TTL         uint8
	TimeoutBase uint16
	// Mode and Group are handed to the BLOB client (blob.Transfer).
	// Group (a group address) also carries the Firmware Update requests
	// to the targets on one hop (Client.SetGroup).
	Mode  blob.TransferMode
	Group mesh.Address
	// VerifyOnly stops after verification (Update Policy Verify Only);
	// Apply and Confirm are then left to the caller.
	VerifyOnly bool

	// OnTarget reports a target's progress: every change of its
	// Retrieved Update Phase, and its failure.
	OnTarget func(r TargetResult)
	// OnStep reports the procedure step starting: "start", "transfer",
	// "verify", "apply", "confirm".
	OnStep func(step string)
	// OnEnd reports the outcome: err is nil when at least one target
	// applied the firmware (or verified it, with VerifyOnly).
	OnEnd func(results []TargetResult, err error)
}

// TargetResult is one target's state in an Update: the Retrieved Update
// Phase (Apply Success and Apply Failed after the Confirm step), the last
// status it answered, the Additional Information from Start, and why it
// failed.
type TargetResult struct {
	Target
	Phase          Phase
	Status         Status
	AdditionalInfo AdditionalInfo
	Err            error
}

type updateRun struct {
	u       Update
	results []TargetResult
	byAddr  map[mesh.Address]int
	step    string
	ended   bool
	timer   mesh.Timer
}

// Update runs the whole update on u.Targets: Start on every target, the
// BLOB transfer with the BLOB client, verification (Firmware Update Get
// polling), Apply, and the Confirm step (Information Get: the new Firmware
// ID runs, or — for Additional Information Unprovision — the target no
// longer answers). A target that fails leaves with its reason and the rest
// carry on. Results come through u's callbacks.
func (c *Client) Update(u Update) error {
	switch {
	case c.upd != nil && !c.upd.ended:
		return fmt.Errorf("%w: an update is running", ErrBusy)
	case len(u.Targets) == 0:
		return fmt.Errorf("%w: update without targets", ErrConfig)
	case c.cfg.BLOB == nil:
		return fmt.Errorf("%w: ClientConfig.BLOB is needed for Update", ErrConfig)
	case u.BLOB == nil || u.Size == 0:
		return fmt.Errorf("%w: update without a BLOB", ErrConfig)
	case len(u.FirmwareID) < MinFirmwareIDLen || len(u.FirmwareID) > MaxFirmwareIDLen:
		return fmt.Errorf("%w: Firmware ID of %d octets", ErrConfig, len(u.FirmwareID))
	case len(u.Metadata) > MaxMetadataLen:
		return fmt.Errorf("%w: metadata of %d octets", ErrConfig, len(u.Metadata))
	}
	r := &updateRun{u: u, byAddr: make(map[mesh.Address]int)}
	for i, t := range u.Targets {
		if !t.Address.IsUnicast() {
			return fmt.Errorf("%w: target %s is not unicast", ErrConfig, t.Address)
		}
		if _, dup := r.byAddr[t.Address]; dup {
			return fmt.Errorf("%w: target %s twice", ErrConfig, t.Address)
		}
		r.byAddr[t.Address] = i
		r.results = append(r.results, TargetResult{Target: t, Phase: PhaseUnknown})
	}
	c.upd = r
	c.SetGroup(u.Group, nil)
	c.updStart()
	return nil
}

// UpdateResults returns a snapshot of the running (or last) update's
// per-target results.
func (c *Client) UpdateResults() []TargetResult {
	if c.upd == nil {
		return nil
	}
	return append([]TargetResult(nil), c.upd.results...)
}

// CancelUpdate stops a running update: the BLOB transfer is cancelled and
// Firmware Update Cancel goes to every target still in it; OnEnd then
// runs with ErrCanceled.
func (c *Client) CancelUpdate() error {
	r := c.upd
	if r == nil || r.ended {
		return fmt.Errorf("%w: no update running", ErrConfig)
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	if c.cfg.BLOB.State() != blob.ClientIdle {
		_ = c.cfg.BLOB.Cancel()
	}
	c.Abort()
	active := c.active(r)
	r.ended = true // ignore the callbacks of the aborted steps
	c.Cancel(active, func(a mesh.Address, st *UpdateStatus, err error) {
		if err == nil {
			c.setTarget(r, a, PhaseTransferCanceled, st.Status, nil)
		}
	}, func() {
		if r.u.OnEnd != nil {
			r.u.OnEnd(append([]TargetResult(nil), r.results...), ErrCanceled)
		}
	})
	return nil
}

func (c *Client) active(r *updateRun) []mesh.Address {
	var out []mesh.Address
	for _, t := range r.results {
		if t.Err == nil {
			out = append(out, t.Address)
		}
	}
	return out
}

func (c *Client) setStep(r *updateRun, step string) {
	r.step = step
	c.log.Info("dfu: client: update step", slog.String("step", step), slog.Int("targets", len(c.active(r))))
	if r.u.OnStep != nil {
		r.u.OnStep(step)
	}
}

func (c *Client) setTarget(r *updateRun, a mesh.Address, p Phase, st Status, err error) {
	i, ok := r.byAddr[a]
	if !ok {
		return
	}
	t := &r.results[i]
	if t.Err != nil {
		return
	}
	changed := t.Phase != p || err != nil
	t.Phase, t.Status, t.Err = p, st, err
	if err != nil {
		c.log.Warn("dfu: client: target failed", slog.Any("target", a), slog.String("step", r.step), slog.Any("err", err))
	}
	if changed && r.u.OnTarget != nil {
		r.u.OnTarget(*t)
	}
}

func (c *Client) fail(r *updateRun, a mesh.Address, p Phase, st Status, err error) {
	c.setTarget(r, a, p, st, err)
}

// end finishes the update once; ok says whether a target made it.
func (c *Client) end(r *updateRun, want Phase) {
	if r.ended {
		return
	}
	r.ended = true
	var err error
	n := 0
	for _, t := range r.results {
		if t.Err == nil && t.Phase == want {
			n++
		}
	}
	if n == 0 {
		err = fmt.Errorf("dfu: update: no target reached %s", want)
	}
	c.log.Info("dfu: client: update ended", slog.Int("ok", n), slog.Int("targets", len(r.results)))
	if r.u.OnEnd != nil {
		r.u.OnEnd(append([]TargetResult(nil), r.results...), err)
	}
}

func (c *Client) alive(r *updateRun) bool { return c.upd == r && !r.ended }

// updStart: Firmware Update Start on every target (§7.1.2, step 1).
func (c *Client) updStart() {
	r := c.upd
	c.setStep(r, "start")
	p := StartParams{TTL: r.u.TTL, TimeoutBase: r.u.TimeoutBase, BLOBID: r.u.BLOBID, Metadata: r.u.Metadata}
	c.Start(r.u.Targets, p, func(a mesh.Address, st *UpdateStatus, err error) {
		if !c.alive(r) {
			return
		}
		switch {
		case err != nil:
			var se *StatusError
			if errors.As(err, &se) {
				c.fail(r, a, se.Phase, se.Status, err)
			} else {
				c.fail(r, a, PhaseUnknown, StatusSuccess, err)
			}
		case st.Details && st.BLOBID != r.u.BLOBID:
			c.fail(r, a, st.Phase, StatusBLOBTransferBusy, fmt.Errorf("%w: %016x", ErrBLOBID, st.BLOBID))
		case st.Phase == PhaseTransferActive || st.Phase == PhaseVerifyingUpdate || st.Phase == PhaseVerificationSucceeded:
			r.results[r.byAddr[a]].AdditionalInfo = st.AdditionalInfo
			c.setTarget(r, a, st.Phase, st.Status, nil)
		default:
			c.fail(r, a, st.Phase, st.Status, fmt.Errorf("%w: %s after Start", ErrUnexpectedPhase, st.Phase))
		}
	}, func() {
		if c.alive(r) {
			c.updTransfer()
		}
	})
}

// updTransfer: the BLOB transfer to the targets in Transfer Active
// (step 2). Targets that already hold the image skip it.
func (c *Client) updTransfer() {
	r := c.upd
	var addrs []mesh.Address
	for _, t := range r.results {
		if t.Err == nil && t.Phase == PhaseTransferActive {
			addrs = append(addrs, t.Address)
		}
	}
	if len(c.active(r)) == 0 {
		c.end(r, PhaseApplySuccess)
		return
	}
	if len(addrs) == 0 {
		c.updVerify()
		return
	}
	c.setStep(r, "transfer")
	err := c.cfg.BLOB.Start(blob.Transfer{
		ID: r.u.BLOBID, Size: r.u.Size, Data: r.u.BLOB, Mode: r.u.Mode,
		Targets: addrs, Group: r.u.Group,
		Callbacks: blob.Callbacks{
			OnTargetLost: func(le *blob.LostError) {
				if c.alive(r) {
					c.fail(r, le.Target, PhaseTransferError, StatusSuccess, fmt.Errorf("%w: %w", ErrTransfer, le))
				}
			},
			OnEnd: func(res blob.Result) {
				if !c.alive(r) {
					return
				}
				if res.Err != nil {
					for _, a := range addrs {
						c.fail(r, a, PhaseTransferError, StatusSuccess, fmt.Errorf("%w: %w", ErrTransfer, res.Err))
					}
				}
				c.updVerify()
			},
		},
	})
	if err != nil {
		for _, a := range addrs {
			c.fail(r, a, PhaseUnknown, StatusBLOBTransferBusy, fmt.Errorf("%w: %w", ErrTransfer, err))
		}
		c.updVerify()
	}
}

// updVerify polls Firmware Update Get until no target is in Verifying
// Update (step 3).
func (c *Client) updVerify() {
	r := c.upd
	c.setStep(r, "verify")
	deadline := c.cfg.Clock.Now().Add(c.cfg.VerifyTimeout)
	var round func()
	round = func() {
		r.timer = nil
		c.Get(c.active(r), func(a mesh.Address, st *UpdateStatus, err error) {
			if !c.alive(r) {
				return
			}
			switch {
			case err != nil:
				c.fail(r, a, PhaseUnknown, StatusSuccess, err)
			case st.Details && st.BLOBID != r.u.BLOBID:
				c.fail(r, a, st.Phase, StatusBLOBTransferBusy, fmt.Errorf("%w: %016x", ErrBLOBID, st.BLOBID))
			case st.Phase == PhaseVerificationFailed:
				c.fail(r, a, st.Phase, st.Status, ErrVerificationFailed)
			case st.Phase == PhaseTransferError:
				c.fail(r, a, st.Phase, st.Status, fmt.Errorf("%w: target in Transfer Error", ErrTransfer))
			case st.Phase == PhaseVerifyingUpdate || st.Phase == PhaseVerificationSucceeded || st.Phase == PhaseTransferActive:
				c.setTarget(r, a, st.Phase, st.Status, nil)
			default:
				c.fail(r, a, st.Phase, st.Status, fmt.Errorf("%w: %s while verifying", ErrUnexpectedPhase, st.Phase))
			}
		}, func() {
			if !c.alive(r) {
				return
			}
			waiting := false
			for _, t := range r.results {
				if t.Err == nil && t.Phase != PhaseVerificationSucceeded {
					waiting = true
				}
			}
			if !waiting {
				c.updApply()
				return
			}
			if !c.cfg.Clock.Now().Before(deadline) {
				for _, t := range r.results {
					if t.Err == nil && t.Phase != PhaseVerificationSucceeded {
						c.fail(r, t.Address, t.Phase, t.Status, fmt.Errorf("%w: still %s", ErrTimeout, t.Phase))
					}
				}
				c.updApply()
				return
			}
			r.timer = c.cfg.Clock.AfterFunc(c.PollInterval(c.cfg.PollInterval), round)
		})
	}
	round()
}

// updApply sends Firmware Update Apply (step 4).
func (c *Client) updApply() {
	r := c.upd
	if len(c.active(r)) == 0 {
		c.end(r, PhaseApplySuccess)
		return
	}
	if r.u.VerifyOnly {
		c.end(r, PhaseVerificationSucceeded)
		return
	}
	c.setStep(r, "apply")
	c.Apply(c.active(r), func(a mesh.Address, st *UpdateStatus, err error) {
		if !c.alive(r) {
			return
		}
		var se *StatusError
		switch {
		case err == nil && st.Phase == PhaseApplyingUpdate:
			c.setTarget(r, a, st.Phase, st.Status, nil)
		case errors.As(err, &se) && se.Status == StatusWrongPhase && se.Phase == PhaseIdle:
			// A retried Apply reached a target that already applied.
			c.setTarget(r, a, PhaseIdle, StatusSuccess, nil)
		case errorsIsTimeout(err):
			// It may have applied with its answer lost, since it reboots
			// after answering, or unprovisioned itself already
			// (§7.1.2.6): the Confirm step decides from the Firmware ID
			// it runs, or its silence when it unprovisions.
			c.setTarget(r, a, PhaseApplyingUpdate, StatusSuccess, nil)
		case err != nil:
			c.fail(r, a, PhaseApplyFailed, StatusSuccess, err)
		default:
			c.fail(r, a, PhaseApplyFailed, st.Status, fmt.Errorf("%w: %s after Apply", ErrUnexpectedPhase, st.Phase))
		}
	}, func() {
		if c.alive(r) {
			c.updConfirm()
		}
	})
}

// updConfirm is Confirm Update On Target Nodes (§7.1.2.9): the new
// Firmware ID must run at the target's image index; a target that
// unprovisions must stop answering.
func (c *Client) updConfirm() {
	r := c.upd
	c.setStep(r, "confirm")
	c.Information(c.active(r), func(a mesh.Address, list []FirmwareInformation, err error) {
		if !c.alive(r) {
			return
		}
		t := r.results[r.byAddr[a]]
		if t.AdditionalInfo == InfoUnprovision {
			if errorsIsTimeout(err) {
				c.setTarget(r, a, PhaseApplySuccess, StatusSuccess, nil)
			} else {
				c.fail(r, a, PhaseApplyFailed, StatusSuccess, fmt.Errorf("%w: still answers, so still provisioned", ErrApplyFailed))
			}
			return
		}
		switch {
		case err != nil:
			c.fail(r, a, PhaseApplyFailed, StatusSuccess, fmt.Errorf("%w: %w", ErrApplyFailed, err))
		case int(t.ImageIndex) < len(list) && sameID(list[t.ImageIndex].FirmwareID, r.u.FirmwareID):
			c.setTarget(r, a, PhaseApplySuccess, StatusSuccess, nil)
		default:
			running := []byte(nil)
			if int(t.ImageIndex) < len(list) {
				running = list[t.ImageIndex].FirmwareID
			}
			c.fail(r, a, PhaseApplyFailed, StatusSuccess, fmt.Errorf("%w: image %d runs %x", ErrApplyFailed, t.ImageIndex, running))
		}
	}, func() {
		c.end(r, PhaseApplySuccess)
	})
}
