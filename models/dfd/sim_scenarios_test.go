package dfd_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// TestSim_SmallInBand: upload then distribute to a few single-hop targets.
func TestSim_SmallInBand(t *testing.T) {
	w := newWorld(t, scenario{seed: 1, targets: 4})
	im := makeImage(t, 1, newFWID, w.priv, 2000)
	w.upload(im)
	targets := w.targetIndexes()
	w.addReceivers(targets, 0)
	if st := w.start(pushStart(0, simGroup)); st.Status != dfd.StatusSuccess || st.Phase != dfd.PhaseTransferActive {
		t.Fatalf("start: %+v", st)
	}
	p := w.wait(time.Hour)
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v; receivers %+v", p.Status.Phase, w.srv.Receivers())
	}
	w.expectApplied(targets, newFWID)
	t.Logf("virtual %v", w.f.Elapsed())
}

// grid3Hops is 52 nodes (4 × 13, 8-neighbourhood of radius 2.3 m) with
// the distributor (node 1) in the middle, every target at most 3 hops
// away, and the initiator (node 0) next to it.
func grid3Hops(loss float64) (*topology.Topology, int) {
	tp := topology.Grid(4, 13, 2.3, sim.Independent(loss))
	swapNodes(tp, 0, 18)
	swapNodes(tp, 1, 19)
	return tp, 1
}

// swapNodes exchanges the places of nodes a and b in tp.
func swapNodes(tp *topology.Topology, a, b int) {
	perm := func(i int) int {
		switch i {
		case a:
			return b
		case b:
			return a
		}
		return i
	}
	for i := range tp.Nodes {
		tp.Nodes[i].ID = perm(tp.Nodes[i].ID)
	}
	tp.Nodes[a], tp.Nodes[b] = tp.Nodes[b], tp.Nodes[a]
	for i := range tp.Links {
		tp.Links[i].From, tp.Links[i].To = perm(tp.Links[i].From), perm(tp.Links[i].To)
	}
}

// TestSim_50Targets3Hops: in-band upload, then distribution to 50 targets
// over 3 hops at 10 % loss; all apply and are confirmed (issue 6).
// The clients scope their TTL (MESHDFU_FULLTTL=1: they do not).
// MESHDFU_SEED=n replays another seed, MESHDFU_TRACE=1 logs the relay
// queues and who sends every 30 s of virtual time, MESHDFU_LOG=1 prints
// the distributor's log.
func TestSim_50Targets3Hops(t *testing.T) {
	tp, d := grid3Hops(0.1)
	if e := tp.Eccentricity(d); e != 3 {
		t.Fatalf("eccentricity %d", e)
	}
	seed := uint64(3)
	if v := os.Getenv("MESHDFU_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	w := newWorld(t, scenario{seed: seed, topo: tp, dist: d, loss: 0.1, scopeTTL: os.Getenv("MESHDFU_FULLTTL") == ""})
	if v := os.Getenv("MESHDFU_INFLIGHT"); v != "" {
		w.sc.inFlight, _ = strconv.Atoi(v)
		w.restartDistributor() // rebuild its clients with it
	}
	if os.Getenv("MESHDFU_TRACE") != "" {
		w.trace(30 * time.Second)
	}
	im := makeImage(t, 3, newFWID, w.priv, 2000)
	start := time.Now()
	w.upload(im)
	targets := w.targetIndexes()
	if len(targets) != 50 {
		t.Fatalf("%d targets", len(targets))
	}
	w.addReceivers(targets, 0)
	// TTL 4 reaches the farthest target (3 hops) with a margin of one,
	// so PDUs stop at the network's edge instead of bouncing between
	// relays until TTL 7 runs out. Timeout Base 30 (the targets' BLOB
	// servers wait 310 s for Transfer Start): Firmware Update Start to 50
	// targets over relays takes about 2 minutes at the air the
	// distributor books, longer than Timeout Base 10 (110 s) allows.
	st := pushStart(0, simGroup)
	st.TTL = 4
	st.TimeoutBase = 30
	w.start(st)
	p := w.wait(2 * time.Hour)
	t.Logf("50 targets, 3 hops, 10%% loss: wall %v, %s\n  update client %+v", time.Since(start), w.summary(), w.srv.UpdateClient().Stats())
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	w.expectApplied(targets, newFWID)
}

// TestSim_UploadFrom2Hops: the initiator is two hops from the distributor
// (a 2 × 9 grid, the distributor in the middle column, the initiator in a
// corner): the in-band upload and the distribution's polling cross the
// relays with the clients' defaults, at 10 % loss.
func TestSim_UploadFrom2Hops(t *testing.T) {
	tp := topology.Grid(2, 9, 2.3, sim.Independent(0.1))
	swapNodes(tp, 1, 4)
	if h := tp.Hops(1)[0]; h != 2 {
		t.Fatalf("initiator %d hops from the distributor", h)
	}
	w := newWorld(t, scenario{seed: 17, topo: tp, dist: 1, loss: 0.1, scopeTTL: true})
	im := makeImage(t, 17, newFWID, w.priv, 4000)
	w.upload(im)
	up := w.f.Elapsed()
	if h := w.cli.Hops(w.f.Address(w.d)); h != 2 {
		t.Errorf("client sees the distributor %d hops away", h)
	}
	targets := w.targetIndexes()
	w.addReceivers(targets, 0)
	st := pushStart(0, simGroup)
	st.TTL = 4
	w.start(st)
	p := w.wait(time.Hour)
	t.Logf("upload of %d octets from 2 hops: %v virtual; then %s", len(im.data), up.Round(time.Millisecond), w.summary())
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	w.expectApplied(targets, newFWID)
	if q := relayQueueMax(w.f.Metrics()); q > 100 {
		t.Errorf("relay queue reached %d PDUs", q)
	}
}

// TestSim_FailingTargets: one target never answers and one fails
// verification; the others apply, and each failure keeps its reason.
func TestSim_FailingTargets(t *testing.T) {
	w := newWorld(t, scenario{seed: 5, targets: 6, silent: []int{3}, tamper: []int{5}})
	im := makeImage(t, 5, newFWID, w.priv, 2000)
	w.upload(im)
	targets := w.targetIndexes()
	w.addReceivers(targets, 0)
	w.start(pushStart(0, simGroup))
	p := w.wait(time.Hour)
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	var ok []int
	for _, r := range w.srv.Receivers() {
		switch i := w.f.Index(r.Address); i {
		case 3:
			if !r.Failed || !strings.Contains(r.Reason, "no response") {
				t.Errorf("silent target: %+v", r)
			}
		case 5:
			if !r.Failed || r.Phase != dfu.PhaseVerificationFailed || !strings.Contains(r.Reason, "verification failed") {
				t.Errorf("tampered target: %+v", r)
			}
		default:
			ok = append(ok, i)
		}
	}
	w.expectApplied(ok, newFWID)
	for _, e := range p.Receivers {
		if i := w.f.Index(e.Address); i == 5 && e.Phase != dfu.PhaseVerificationFailed {
			t.Errorf("receivers list entry %+v", e)
		}
	}
}

// TestSim_ApplyAnswersLost: a target that applies the image but whose
// answers to Update Apply are all lost (it answers, then reboots into the
// new firmware) ends Apply Success, since the Confirm step finds the new
// Firmware ID; a target that never hears Apply ends Apply Failed, since it
// still runs the old one.
func TestSim_ApplyAnswersLost(t *testing.T) {
	w := newWorld(t, scenario{seed: 6, targets: 5, applyLost: []int{3}, applyDeaf: []int{4}})
	im := makeImage(t, 6, newFWID, w.priv, 2000)
	w.upload(im)
	targets := w.targetIndexes()
	w.addReceivers(targets, 0)
	w.start(pushStart(0, simGroup))
	p := w.wait(time.Hour)
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	var ok []int
	for _, r := range w.srv.Receivers() {
		switch i := w.f.Index(r.Address); i {
		case 4:
			if !r.Failed || r.Phase != dfu.PhaseApplyFailed || !strings.Contains(r.Reason, "does not run the new firmware") {
				t.Errorf("target that missed Apply: %+v", r)
			}
			if !bytes.Equal(w.images[i][0].FirmwareID, oldFWID) {
				t.Errorf("target that missed Apply runs %x", w.images[i][0].FirmwareID)
			}
		default:
			ok = append(ok, i)
		}
	}
	if !contains(ok, 3) {
		t.Fatal("target 3 is not a receiver")
	}
	w.expectApplied(ok, newFWID)
}

// TestSim_Restart: the distributor's process state is dropped and rebuilt
// from its stores at half of the BLOB transfer; the distribution
// completes, finished receivers are left alone, and the air time stays
// under 1.5 times that of an uninterrupted run.
func TestSim_Restart(t *testing.T) {
	run := func(restart bool) (time.Duration, *world) {
		w := newWorld(t, scenario{seed: 7, targets: 8})
		im := makeImage(t, 7, newFWID, w.priv, 12000)
		w.upload(im)
		before := w.f.Metrics().Medium.AirTime
		w.addReceivers(w.targetIndexes(), 0)
		w.start(pushStart(0, simGroup))
		if restart {
			half := func() bool {
				rs := w.srv.Receivers()
				return rs[0].Blocks > 0 && rs[0].BlocksDone*2 >= rs[0].Blocks
			}
			if !w.f.RunUntil(half, time.Hour) {
				t.Fatal("transfer never reached half")
			}
			w.restartDistributor()
			if !w.srv.Stats().Restored || w.srv.Phase() != dfd.PhaseTransferActive {
				t.Fatalf("restored %+v phase %v", w.srv.Stats(), w.srv.Phase())
			}
		}
		p := w.wait(time.Hour)
		if p.Status.Phase != dfd.PhaseCompleted {
			t.Fatalf("restart %v: phase %v, %+v", restart, p.Status.Phase, w.srv.Receivers())
		}
		w.expectApplied(w.targetIndexes(), newFWID)
		return w.f.Metrics().Medium.AirTime - before, w
	}
	plain, _ := run(false)
	again, w := run(true)
	t.Logf("air time: uninterrupted %v, with a restart %v (%.2f×), %d builds", plain, again, float64(again)/float64(plain), w.builds)
	if float64(again) >= 1.5*float64(plain) {
		t.Fatalf("air time with a restart %v ≥ 1.5 × %v", again, plain)
	}
}

// fakeOOB serves one image after a virtual delay, on the distributor's
// clock (the simulator's stand-in for fw/https).
type fakeOOB struct {
	w       *world
	im      image
	current []byte
	delay   time.Duration
}

func (o *fakeOOB) Check(uri string, cur []byte, done func(https.CheckResult, error)) func() {
	t := o.w.f.Clock(o.w.d).AfterFunc(o.delay, func() {
		if !bytes.Equal(cur, o.current) {
			done(https.CheckResult{}, https.ErrNewFirmwareNotAvailable)
			return
		}
		done(https.CheckResult{FirmwareID: o.im.fwid, DFUChainSize: 1, Size: int64(len(o.im.data))}, nil)
	})
	return func() { t.Stop() }
}

func (o *fakeOOB) Retrieve(uri string, cur []byte, want https.CheckResult, maxSize int64,
	open func(https.Firmware) (io.Writer, error), done func(https.Firmware, error)) func() {
	t := o.w.f.Clock(o.w.d).AfterFunc(o.delay, func() {
		f := https.Firmware{FirmwareID: o.im.fwid, Metadata: o.im.meta, Size: int64(len(o.im.data))}
		wr, err := open(f)
		if err == nil {
			_, err = wr.Write(o.im.data)
		}
		done(f, err)
	})
	return func() { t.Stop() }
}

// TestSim_OOBThenDistribution: an OOB upload (fake OOB, 2 s of virtual
// time per step), a refused check, then the distribution.
func TestSim_OOBThenDistribution(t *testing.T) {
	var w *world
	var o *fakeOOB
	sc := scenario{seed: 9, targets: 3, oobFunc: func(w *world) dfd.OOB { return o }}
	w = newWorld(t, sc)
	o = &fakeOOB{w: w, im: makeImage(t, 9, newFWID, w.priv, 2000), current: oldFWID, delay: 2 * time.Second}
	w.srv = nil
	w.restartDistributor() // rebuild with the OOB
	var got []byte
	var gerr error
	ended := false
	w.do(func() {
		_ = w.cli.UploadOOB(w.f.Address(w.d), "https://fw.example.com/dfu", newFWID2, func(f []byte, err error) { got, gerr, ended = f, err, true })
	}, func() bool { return ended }, time.Hour)
	var se *dfd.StatusError
	if !errors.As(gerr, &se) || se.Status != dfd.StatusNewFirmwareNotAvailable {
		t.Fatalf("unknown firmware: %v", gerr)
	}
	ended = false
	w.do(func() {
		_ = w.cli.UploadOOB(w.f.Address(w.d), "https://fw.example.com/dfu", oldFWID, func(f []byte, err error) { got, gerr, ended = f, err, true })
	}, func() bool { return ended }, time.Hour)
	if gerr != nil || !bytes.Equal(got, newFWID) {
		t.Fatalf("OOB upload: %x, %v", got, gerr)
	}
	w.addReceivers(w.targetIndexes(), 0)
	w.start(pushStart(0, mesh.AddrUnassigned))
	if p := w.wait(time.Hour); p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	w.expectApplied(w.targetIndexes(), newFWID)
}

// TestSim_SelfUpdate: the distributor is one of its own receivers (its
// Firmware Update Server on element 1).
func TestSim_SelfUpdate(t *testing.T) {
	w := newWorld(t, scenario{seed: 11, targets: 2, self: true})
	im := makeImage(t, 11, newFWID, w.priv, 2000)
	w.upload(im)
	idx := w.targetIndexes() // includes the distributor
	var entries []int
	for _, i := range idx {
		if i != w.d {
			entries = append(entries, i)
		}
	}
	w.addReceivers(entries, 0)
	self := w.f.Node(w.d).Access().Elements()[1].Address()
	w.request(func(done func()) error {
		return w.cli.ReceiversAdd(w.f.Address(w.d), []dfd.ReceiverEntry{{Address: self}}, func(*dfd.ReceiversStatus, error) { done() })
	})
	w.start(pushStart(0, simGroup))
	if p := w.wait(time.Hour); p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v %+v", p.Status.Phase, w.srv.Receivers())
	}
	w.expectApplied(idx, newFWID)
}

// TestSim_SuspendResumeCancel: Suspend during the transfer, Start again
// resumes it, and a second distribution is cancelled.
func TestSim_SuspendResumeCancel(t *testing.T) {
	w := newWorld(t, scenario{seed: 13, targets: 3})
	im := makeImage(t, 13, newFWID, w.priv, 12000)
	w.upload(im)
	w.addReceivers(w.targetIndexes(), 0)
	st := pushStart(0, simGroup)
	w.start(st)
	if !w.f.RunUntil(func() bool { return w.srv.BLOBClient().State() == blob.ClientBlock }, time.Hour) {
		t.Fatal("no transfer")
	}
	var got *dfd.DistributionStatus
	w.request(func(done func()) error {
		return w.cli.Suspend(w.f.Address(w.d), func(s *dfd.DistributionStatus, err error) { got = s; done() })
	})
	if got.Phase != dfd.PhaseTransferSuspended || w.srv.Phase() != dfd.PhaseTransferSuspended {
		t.Fatalf("suspend: %+v", got)
	}
	w.f.RunFor(5 * time.Second)
	if got = w.start(st); got.Status != dfd.StatusSuccess || got.Phase != dfd.PhaseTransferActive {
		t.Fatalf("resume: %+v", got)
	}
	if p := w.wait(time.Hour); p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	w.expectApplied(w.targetIndexes(), newFWID)

	// A second image, its distribution cancelled mid-transfer.
	im2 := makeImage(t, 14, newFWID2, w.priv, 12000)
	w.upload(im2)
	w.request(func(done func()) error {
		return w.cli.Cancel(w.f.Address(w.d), func(*dfd.DistributionStatus, error) { done() }) // Completed → Idle
	})
	st.ImageIndex = 1
	w.start(st)
	w.f.RunUntil(func() bool { return w.srv.BLOBClient().State() == blob.ClientBlock }, time.Hour)
	w.request(func(done func()) error {
		return w.cli.Cancel(w.f.Address(w.d), func(s *dfd.DistributionStatus, err error) { got = s; done() })
	})
	if got.Phase != dfd.PhaseCancelingUpdate && got.Phase != dfd.PhaseIdle {
		t.Fatalf("cancel: %+v", got)
	}
	w.f.RunUntil(func() bool { return w.srv.Phase() == dfd.PhaseIdle }, time.Hour)
	if w.srv.Phase() != dfd.PhaseIdle {
		t.Fatalf("after cancel: %v", w.srv.Phase())
	}
	for _, i := range w.targetIndexes() {
		if p := w.tsrv[i].Phase(); p != dfu.PhaseIdle {
			t.Errorf("target %d in %v after cancel", i, p)
		}
	}
}

// TestSim_SilentReceiverComesBack: a target that goes silent during the
// verification step for less than the client timeout (10 s·(Timeout Base
// + 2) + 100 ms·TTL, 2 minutes here) is asked again until it answers and
// applies, where a few unanswered copies of Firmware Update Get used to
// drop it; one silent for good ends Transfer Error with its reason, and
// the distribution still ends.
func TestSim_SilentReceiverComesBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  time.Duration // 0: for good
	}{{"back after 90 s", 90 * time.Second}, {"gone for good", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, scenario{seed: 11, targets: 4})
			im := makeImage(t, 11, newFWID, w.priv, 2000)
			w.upload(im)
			w.addReceivers(w.targetIndexes(), 0)
			w.start(pushStart(0, simGroup))
			verifying := func() bool { return len(w.steps) > 0 && w.steps[len(w.steps)-1].step == "verify" }
			if !w.f.RunUntil(verifying, time.Hour) {
				t.Fatalf("no verify step; steps %+v", w.steps)
			}
			const silent = 3
			w.f.PowerOff(silent)
			if tc.off > 0 {
				w.f.RunFor(tc.off)
				if err := w.f.PowerOn(silent); err != nil {
					t.Fatal(err)
				}
				w.tsrv[silent].SetLayer(w.f.Node(silent).Access())
			}
			began := w.f.Elapsed()
			p := w.wait(time.Hour)
			if p.Status.Phase != dfd.PhaseCompleted {
				t.Fatalf("phase %v", p.Status.Phase)
			}
			var ok []int
			for _, r := range w.srv.Receivers() {
				i := w.f.Index(r.Address)
				if i != silent || tc.off > 0 {
					ok = append(ok, i)
					continue
				}
				if !r.Failed || !strings.Contains(r.Reason, "no response") {
					t.Errorf("target silent for good: %+v", r)
				}
			}
			w.expectApplied(ok, newFWID)
			if took := w.f.Elapsed() - began; tc.off == 0 && took > 10*time.Minute {
				t.Errorf("the distribution took %v more with a target gone for good", took)
			}
		})
	}
}
