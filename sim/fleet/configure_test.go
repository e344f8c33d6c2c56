package fleet_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// lossySAR is the SAR Transmitter the lossy scenarios use: 8 transmissions
// of each unacknowledged segment instead of 3, all allowed without progress.
// At 20 % loss per link over several hops the spec default (3) gives up on
// a noticeable share of two-segment messages.
func lossySAR() transport.SARTransmitter {
	s := transport.DefaultSARTransmitter
	s.UnicastRetransmissionsCount = 7
	s.UnicastRetransmissionsWithoutProgressCount = 7
	return s
}

// A Configuration Client on node 0 configures 50 nodes of a random
// two-floor building, with a dominating set of relays, at least 3 hops
// deep, at 20 % loss on every link: AppKey Add, Model App Bind,
// Subscription Add and Publication Set all succeed for every node, and
// every node's model state says so afterwards.
func TestConfigure_50NodesBuilding(t *testing.T) {
	for _, seed := range []uint64{3, 4, 5, 6} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { configure50(t, seed) })
	}
}

func configure50(t *testing.T, seed uint64) {
	replay(t, seed)
	tp := topology.RandomBuilding(topology.Building{Nodes: 50, Width: 60, Height: 30, Floors: 2, Range: 14,
		Loss: sim.Independent(0.2)}, seed)
	if !tp.Connected() {
		t.Fatal("building not connected; pick another seed")
	}
	if e := tp.Eccentricity(0); e < 3 {
		t.Fatalf("node 0 reaches everyone in %d hops, want ≥ 3", e)
	}
	rec := newRecorder(tp.Len(), false)
	f, err := fleet.New(fleet.Config{
		Seed: seed, Topology: tp, Relays: fleet.RelaysDominating, Models: rec.Models,
		SARTx: lossySAR(),
		// Each request is sent up to 5 times, 3 s apart; a Plan step that
		// still times out is requested again (Plan.Attempts).
		ConfigClient: config.ClientConfig{Timeout: 30 * time.Second, Retries: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := access.Publication{Address: f.Address(0), AppKeyIndex: 0, TTL: 7,
		Retransmit: access.PublishRetransmit{Count: 1, IntervalSteps: 1}}
	targets := make([]int, 0, f.Len()-1)
	for i := 1; i < f.Len(); i++ {
		targets = append(targets, i)
	}
	var results []fleet.Result
	err = f.Configure(targets, fleet.Plan{
		Models: []access.ModelID{testModel}, Subscribe: []mesh.Address{group}, Publication: &pub,
		Parallel: 4, Attempts: 4,
	}, func(r []fleet.Result) { results = r })
	if err != nil {
		t.Fatal(err)
	}
	if !f.RunUntil(func() bool { return results != nil }, 30*time.Minute) {
		t.Fatalf("configuration not finished after %v", f.Elapsed())
	}
	requests := 0
	for _, r := range results {
		if r.Err != nil || r.Steps != 4 {
			t.Errorf("node %d (%v): %d steps, %v", r.Node, r.Address, r.Steps, r.Err)
		}
		requests += r.Requests
	}
	for i := 1; i < f.Len(); i++ {
		n := f.Node(i)
		st := n.State()
		if !slices.ContainsFunc(st.AppKeys, func(k node.AppKeyState) bool { return k.Index == 0 }) {
			t.Errorf("node %d has no AppKey 0", i)
		}
		m := n.Access().Model(f.Address(i), testModel)
		if !m.IsBound(0) || !m.IsSubscribed(group, nil) || m.Publication().Address != f.Address(0) || m.Publication().TTL != 7 {
			t.Errorf("node %d model: bound %v subscribed %v publication %+v", i, m.IsBound(0), m.IsSubscribed(group, nil), m.Publication())
		}
	}
	mt := f.Metrics()
	if mt.Medium.Lost.Link == 0 || mt.Totals.Network.Relayed == 0 {
		t.Fatalf("no link loss (%d) or no relaying (%d)", mt.Medium.Lost.Link, mt.Totals.Network.Relayed)
	}
	t.Logf("50 nodes configured in %v virtual, %d step requests for %d steps, eccentricity %d, %d relays, %d transmissions, delivery ratio %.2f, SAR timeouts %d",
		f.Elapsed(), requests, 4*len(targets), tp.Eccentricity(0), count(f.Relays()), mt.Medium.Transmissions, mt.DeliveryRatio(), mt.Totals.Transport.TxTimeouts)
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}
