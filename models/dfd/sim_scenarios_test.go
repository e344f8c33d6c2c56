package dfd_test

import (
	"strings"
	"testing"
	"time"

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
	perm := func(i int) int {
		switch i {
		case 0:
			return 18
		case 18:
			return 0
		case 1:
			return 19
		case 19:
			return 1
		}
		return i
	}
	for i := range tp.Nodes {
		tp.Nodes[i].ID = perm(tp.Nodes[i].ID)
	}
	tp.Nodes[0], tp.Nodes[18] = tp.Nodes[18], tp.Nodes[0]
	tp.Nodes[1], tp.Nodes[19] = tp.Nodes[19], tp.Nodes[1]
	for i := range tp.Links {
		tp.Links[i].From, tp.Links[i].To = perm(tp.Links[i].From), perm(tp.Links[i].To)
	}
	return tp, 1
}

// TestSim_50Targets3Hops: in-band upload, then distribution to 50 targets
// over 3 hops at 10 % loss; all apply and are confirmed.
func TestSim_50Targets3Hops(t *testing.T) {
	if !longRun() {
		t.Skip("MESHDFU_LONG=1: 50 targets over 3 hops (known to fail: the BLOB client's Information Get gets no answer over 3 hops, docs/dfd.md)")
	}
	tp, d := grid3Hops(0.1)
	if e := tp.Eccentricity(d); e != 3 {
		t.Fatalf("eccentricity %d", e)
	}
	w := newWorld(t, scenario{seed: 3, topo: tp, dist: d, loss: 0.1})
	im := makeImage(t, 3, newFWID, w.priv, 2000)
	start := time.Now()
	w.upload(im)
	targets := w.targetIndexes()
	if len(targets) != 50 {
		t.Fatalf("%d targets", len(targets))
	}
	w.addReceivers(targets, 0)
	w.start(pushStart(0, simGroup))
	p := w.wait(2 * time.Hour)
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v; receivers %+v", p.Status.Phase, w.srv.Receivers())
	}
	w.expectApplied(targets, newFWID)
	t.Logf("50 targets, 3 hops, 10%% loss: virtual %v, wall %v", w.f.Elapsed(), time.Since(start))
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
