package blob_test

import (
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// swapNodes exchanges the places of nodes a and b in tp (node IDs stay in
// order, links follow their nodes), so that a scenario can put the client,
// always node 0, anywhere.
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
	pa, pb := tp.Nodes[a], tp.Nodes[b]
	tp.Nodes[a].X, tp.Nodes[a].Y, tp.Nodes[a].Floor = pb.X, pb.Y, pb.Floor
	tp.Nodes[b].X, tp.Nodes[b].Y, tp.Nodes[b].Floor = pa.X, pa.Y, pa.Floor
	for i := range tp.Links {
		tp.Links[i].From, tp.Links[i].To = perm(tp.Links[i].From), perm(tp.Links[i].To)
	}
}

// grid3Hops is a 2 × 13 grid of nodes 1 m apart with a 2.3 m radio range
// and the client (node 0) in the middle of the first row: 25 targets, the
// farthest 3 hops away.
func grid3Hops(loss float64) *topology.Topology {
	tp := topology.Grid(2, 13, 2.3, sim.Independent(loss))
	swapNodes(tp, 0, 6)
	return tp
}

func TestSim_ThreeHops(t *testing.T) {
	tp := grid3Hops(0.1)
	if e := tp.Eccentricity(0); e != 3 {
		t.Fatalf("eccentricity %d", e)
	}
	start := time.Now()
	w := runSim(t, simScenario{seed: 260, topo: tp, relays: fleet.RelaysDominating, size: 4000, strat: blob.StrategyMeshdfu, tb: 9})
	w.verify()
	t.Logf("3 hops, 25 targets, 10%% loss: %v virtual, %.0f B/s, wall %v, %+v", w.res.Duration, w.goodput(), time.Since(start), w.res.Stats)
}
