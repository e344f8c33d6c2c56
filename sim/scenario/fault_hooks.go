package scenario

import (
	"errors"
	"fmt"
	"time"

	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// The faults that act inside a target's models (phase-targeted reboots,
// storage that refuses, power cuts in a write) and on the upload.

// errStorageFull is what a target's storage says when the image does not
// fit (FaultTargetStorageFull).
var errStorageFull = errors.New("scenario: no space left for the BLOB")

// fullStorage refuses every BLOB: the flash partition is taken.
type fullStorage struct{ refused func() }

func (s fullStorage) Open(id uint64, size uint32, resume bool) (blob.Writer, error) {
	s.refused()
	return nil, fmt.Errorf("%w (%d octets)", errStorageFull, size)
}

// cut is the power switch of a target under FaultPowerCut: once armed,
// the next chunk written is torn and the power goes, so nothing written
// after it (data, transfer state) lands before the reboot.
type cut struct {
	armed bool
	dead  bool // the power is gone; the reboot is on its way
	done  bool // the cut happened (once per target)
}

// cutStorage is a target's storage under FaultPowerCut.
type cutStorage struct {
	inner *blob.MemoryStorage
	c     *cut
	tear  func(off int64) // cuts the power, after the torn write
}

func (s *cutStorage) Open(id uint64, size uint32, resume bool) (blob.Writer, error) {
	w, err := s.inner.Open(id, size, resume)
	if err != nil {
		return nil, err
	}
	return &cutWriter{Writer: w, s: s}, nil
}

type cutWriter struct {
	blob.Writer
	s *cutStorage
}

func (w *cutWriter) WriteAt(p []byte, off int64) (int, error) {
	c := w.s.c
	switch {
	case c.dead:
		return len(p), nil // the write never reaches flash
	case c.armed && len(p) > 1:
		c.armed, c.dead, c.done = false, true, true
		half := len(p) / 2
		torn := make([]byte, len(p))
		copy(torn, p[:half])
		for i := half; i < len(torn); i++ {
			torn[i] = 0xFF // erased, never programmed
		}
		if _, err := w.Writer.WriteAt(torn, off); err != nil {
			return 0, err
		}
		w.s.tear(off)
		return len(p), nil
	}
	return w.Writer.WriteAt(p, off)
}

// cutState drops the state saves made after the power went.
type cutState struct {
	inner *blob.MemoryStateStore
	c     *cut
}

func (s *cutState) LoadState() ([]byte, error) { return s.inner.LoadState() }

func (s *cutState) SaveState(b []byte) error {
	if s.c.dead {
		return nil
	}
	return s.inner.SaveState(b)
}

// powerDown silences target t at once (its radio goes off, so nothing
// it does after the cut leaves it) and reboots it once the handler under
// way returned.
func (w *world) powerDown(t *target) {
	w.f.Bearer(t.idx).SetRadio(false)
	w.ctl.AfterFunc(0, func() {
		if t.cut != nil {
			t.cut.dead = false
		}
		w.rebootTarget(t)
	})
}

// armTarget installs the faults of t into the configuration of its next
// server instance.
func (w *world) armTarget(t *target, cfg *dfu.ServerConfig) {
	switch t.fault {
	case FaultTargetStorageFull:
		cfg.BLOB.Storage = fullStorage{refused: func() { w.strike(FaultTargetStorageFull.String() + " " + t.addr.String()) }}
	case FaultPowerCut:
		if t.cut == nil {
			t.cut = &cut{}
		}
		cfg.BLOB.Storage = &cutStorage{inner: t.store, c: t.cut, tear: func(off int64) {
			w.strike(fmt.Sprintf("%s %s at octet %d", FaultPowerCut, t.addr, off))
			w.powerDown(t)
		}}
		cfg.BLOB.State = &cutState{inner: t.bstate, c: t.cut}
	case FaultTargetRebootVerify:
		// Half way through the Verifying Update phase.
		cfg.OnPhase = func(_, p dfu.Phase) {
			if p == dfu.PhaseVerifyingUpdate && !t.struck {
				t.struck = true
				w.ctl.AfterFunc(dfu.DefaultVerifyDelay/2, func() {
					w.strike(FaultTargetRebootVerify.String() + " " + t.addr.String())
					w.rebootTarget(t)
				})
			}
		}
	case FaultTargetRebootApply:
		apply := cfg.Apply
		cfg.Apply = func(index uint8, metadata []byte, blobID uint64) ([]byte, error) {
			if !t.struck {
				// The power goes inside the hook: the new firmware is
				// never installed.
				t.struck = true
				w.strike(FaultTargetRebootApply.String() + " " + t.addr.String())
				w.powerDown(t)
				return nil, errors.New("scenario: power cut while applying")
			}
			return apply(index, metadata, blobID)
		}
	}
}

// armPowerCuts arms the power cut of every target chosen for it.
func (w *world) armPowerCuts() {
	for _, t := range w.tg {
		if t.fault == FaultPowerCut && t.cut != nil && !t.cut.done {
			t.cut.armed = true
		}
	}
}

// uploadShare is the share of the image the distributor's upload server
// holds.
func (w *world) uploadShare() float64 {
	if w.srv == nil || !w.f.IsOn(distributorIdx) {
		return 0
	}
	done, total := w.srv.UploadServer().Progress()
	if total == 0 {
		return 0
	}
	return float64(done) / float64(total)
}

// fireUploadFaults interrupts an in-band upload once the distributor holds
// At of it: the Initiator goes down, and once back (restartDelay later)
// starts the upload again from the beginning of its procedure.
func (w *world) fireUploadFaults() {
	if w.step != "upload" || w.cfg.Upload == "oob" || len(w.pending) == 0 {
		return
	}
	keep := w.pending[:0]
	for _, f := range w.pending {
		if f.Kind != FaultUploadInterrupt || w.uploadShare() < f.At {
			keep = append(keep, f)
			continue
		}
		w.interruptUpload()
	}
	w.pending = keep
}

func (w *world) interruptUpload() {
	w.f.PowerOff(initiatorIdx)
	w.uploadInterrupts++
	w.strike(fmt.Sprintf("%s at %.0f%% of the upload", FaultUploadInterrupt, 100*w.uploadShare()))
	w.ctl.AfterFunc(restartDelay, func() {
		if err := w.f.PowerOn(initiatorIdx); err != nil {
			w.err = err
			return
		}
		w.cli.SetLayer(w.f.Node(initiatorIdx).Access())
		w.f.Post(initiatorIdx, func() { w.upload(w.uploadDone) })
	})
}

// uploadRetryDelay is how long the Initiator waits before it asks again
// for an upload that failed under FaultUploadInterrupt.
const uploadRetryDelay = 5 * time.Second

// planned reports whether the scenario plans a fault of kind k.
func (w *world) planned(k FaultKind) bool {
	for _, f := range w.cfg.Faults {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// expectedAfterApplyCut is the final phase a target whose power went
// inside the Apply hook is expected to end in: it comes back Idle with its
// old firmware, which the distributor reports.
var expectedAfterApplyCut = dfu.PhaseApplyFailed

// strike records that a planned fault happened.
func (w *world) strike(what string) { w.struck = append(w.struck, what) }
