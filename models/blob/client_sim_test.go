package blob_test

import (
	"bytes"
	"flag"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// Simulator scenarios: a BLOB Transfer Client on node 0 and BLOB Transfer
// Servers on the other nodes of a sim/fleet network, the same code that
// runs on a radio.

var benchFlag = flag.Bool("blob.bench", false, "run the BLOB goodput benchmark (TestBLOBBench)")

const (
	simGroup = mesh.Address(0xC0B1)
	simID    = uint64(0x0123456789abcdef)
)

type simScenario struct {
	seed     uint64
	targets  int
	loss     float64
	mode     blob.TransferMode
	strat    blob.Strategy
	size     int
	unicast  bool                 // address targets one by one (no group)
	topo     *topology.Topology   // nil: single hop
	relays   fleet.RelayPolicy    // with topo
	silent   []int                // target indexes (1…) with their radio off
	during   func(w *simWorld)    // runs once when the first block is under way
	duringAt func(*simWorld) bool // when to run during; nil: first block started
	limit    time.Duration
}

type simWorld struct {
	t       testing.TB
	sc      simScenario
	f       *fleet.Fleet
	client  *blob.Client
	servers []*blob.Server
	stores  []*blob.MemoryStorage
	states  []*blob.MemoryStateStore
	data    []byte
	res     *blob.Result
	lost    []*blob.LostError
}

// lazyClock is node i's clock once the fleet exists: models are built
// inside fleet.New, before its engine can be asked for clocks.
type lazyClock struct {
	w *simWorld
	i int
}

func (c lazyClock) Now() time.Time { return c.w.f.Clock(c.i).Now() }
func (c lazyClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.w.f.Clock(c.i).AfterFunc(d, f)
}

func (w *simWorld) server(i int) *blob.Server { return w.servers[i] }

func runSim(t testing.TB, sc simScenario) *simWorld {
	t.Helper()
	n := sc.targets + 1
	if sc.topo != nil {
		n = sc.topo.Len()
	}
	if sc.limit == 0 {
		sc.limit = 2 * time.Hour
	}
	w := &simWorld{t: t, sc: sc, servers: make([]*blob.Server, n), stores: make([]*blob.MemoryStorage, n), states: make([]*blob.MemoryStateStore, n)}
	for i := 1; i < n; i++ {
		w.stores[i] = &blob.MemoryStorage{}
		w.states[i] = &blob.MemoryStateStore{}
	}
	strat := sc.strat
	ntx := strat.NetworkTransmit
	client, err := blob.NewClient(blob.ClientConfig{Clock: lazyClock{w, 0}, Strategy: strat, TimeoutBase: 1, Logger: simLogger,
		TxBacklog: func() int { return w.f.Bearer(0).Metrics().QueueLen }})
	if err != nil {
		t.Fatal(err)
	}
	w.client = client
	cfg := fleet.Config{
		Seed: sc.seed, Nodes: n, Relays: fleet.RelaysNone,
		NetworkTransmit: &ntx, SARTx: strat.SAR, SARRx: strat.TargetSARRx,
		Preconfigure: fleet.PreconfigureApp(0, simGroup),
		Models: func(i int) []node.Element {
			if i == 0 {
				return []node.Element{{Models: []*access.Model{client.Model()}}}
			}
			s, err := blob.NewServer(blob.ServerConfig{
				Clock: lazyClock{w, i}, Storage: w.stores[i], State: w.states[i],
				Rand:            rand.New(rand.NewPCG(sc.seed, uint64(i))),
				MinBlockSizeLog: 6, MaxBlockSizeLog: 16, MaxTotalChunks: 2048, MaxBLOBSize: 1 << 20,
			})
			if err != nil {
				t.Fatal(err)
			}
			w.servers[i] = s
			return []node.Element{{Models: []*access.Model{s.Model()}}}
		},
	}
	if sc.topo != nil {
		cfg.Nodes, cfg.Topology, cfg.Relays = 0, sc.topo, sc.relays
	} else if sc.loss > 0 {
		l := sim.Independent(sc.loss)
		cfg.Loss = &l
	}
	w.f, err = fleet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetLayer(w.f.Node(0).Access())
	for i := 1; i < n; i++ {
		w.servers[i].SetLayer(w.f.Node(i).Access())
		if err := w.servers[i].Prepare(simID, access.DefaultTTL, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range sc.silent {
		w.f.PowerOff(i)
	}
	w.data = make([]byte, sc.size)
	r := rand.New(rand.NewPCG(sc.seed, 77))
	for i := range w.data {
		w.data[i] = byte(r.Uint32())
	}
	x := blob.Transfer{ID: simID, Size: uint32(sc.size), Data: bytes.NewReader(w.data), Mode: sc.mode, Group: simGroup}
	if sc.unicast {
		x.Group = mesh.AddrUnassigned
	}
	for i := 1; i < n; i++ {
		x.Targets = append(x.Targets, w.f.Address(i))
	}
	x.Callbacks.OnEnd = func(res blob.Result) { w.res = &res }
	x.Callbacks.OnTargetLost = func(e *blob.LostError) { w.lost = append(w.lost, e) }
	w.f.Post(0, func() {
		if err := client.Start(x); err != nil {
			t.Error(err)
		}
	})
	if sc.during != nil {
		at := sc.duringAt
		if at == nil {
			at = func(w *simWorld) bool { return w.client.State() == blob.ClientBlock }
		}
		w.f.RunUntil(func() bool { return at(w) || w.res != nil }, sc.limit)
		sc.during(w)
	}
	w.f.RunUntil(func() bool { return w.res != nil }, sc.limit)
	if w.res == nil {
		t.Fatalf("seed %d: no end after %v; client %v; progress %+v", sc.seed, w.f.Elapsed(), client.State(), client.Progress())
	}
	return w
}

// verify checks that every target not in lost holds the BLOB byte for byte.
func (w *simWorld) verify(lost ...int) {
	w.t.Helper()
	isLost := map[int]bool{}
	for _, i := range lost {
		isLost[i] = true
	}
	done := 0
	for i := 1; i < len(w.servers); i++ {
		if isLost[i] {
			continue
		}
		if got := w.stores[i].Data(simID); !bytes.Equal(got, w.data) {
			w.t.Fatalf("seed %d: target %d (%v): data differs (%d octets), phase %v", w.sc.seed, i, w.f.Address(i), len(got), w.servers[i].Phase())
		}
		if p := w.servers[i].Phase(); p != blob.PhaseComplete {
			w.t.Fatalf("seed %d: target %d phase %v", w.sc.seed, i, p)
		}
		done++
	}
	if w.res.Err != nil || len(w.res.Completed) != done {
		w.t.Fatalf("seed %d: result %v, completed %d of %d, lost %v", w.sc.seed, w.res.Err, len(w.res.Completed), done, w.res.Lost)
	}
}

func (w *simWorld) goodput() float64 {
	return float64(w.sc.size) / w.res.Duration.Seconds()
}

func TestSim_Transfers(t *testing.T) {
	cases := []struct {
		name    string
		targets int
		loss    float64
		mode    blob.TransferMode
		unicast bool
		size    int
	}{
		{"push 1 unicast", 1, 0, blob.ModePush, true, 8000},
		{"push 1 group", 1, 0, blob.ModePush, false, 8000},
		{"push 10", 10, 0, blob.ModePush, false, 8000},
		{"push 10 loss 10%", 10, 0.1, blob.ModePush, false, 4000},
		{"push 1 loss 30%", 1, 0.3, blob.ModePush, true, 3000},
		{"pull 1", 1, 0, blob.ModePull, true, 3000},
		{"pull 3 loss 10%", 3, 0.1, blob.ModePull, false, 2000},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := runSim(t, simScenario{seed: uint64(100 + i), targets: tc.targets, loss: tc.loss, mode: tc.mode,
				unicast: tc.unicast, size: tc.size, strat: blob.StrategyMeshdfu})
			w.verify()
			t.Logf("%s: %v virtual, %.0f B/s", tc.name, w.res.Duration, w.goodput())
		})
	}
}

var simLogger *slog.Logger
