package blob_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

// lpnWorld is a BLOB transfer from node 0 to targets of which some are Low
// Power nodes (BLOB servers with ServerConfig.LPN), with Friends among
// the others.
type lpnWorld struct {
	t       *testing.T
	f       *fleet.Fleet
	client  *blob.Client
	servers []*blob.Server
	stores  []*blob.MemoryStorage
	lpn     []bool
	data    []byte
	res     *blob.Result
	modes   map[mesh.Address]blob.TransferMode
}

type lpnClock struct {
	w *lpnWorld
	i int
}

func (c lpnClock) Now() time.Time { return c.w.f.Clock(c.i).Now() }
func (c lpnClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.w.f.Clock(c.i).AfterFunc(d, f)
}

// runLPNTransfer: nodes 1…n, the last lpns of them Low Power nodes,
// nodes 1 and 2 Friends; a transfer in mode to the group, to every node
// (only the Low Power ones with onlyLPNs).
func runLPNTransfer(t *testing.T, seed uint64, n, lpns, size int, loss float64, mode blob.TransferMode, onlyLPNs bool) *lpnWorld {
	t.Helper()
	w := &lpnWorld{t: t, servers: make([]*blob.Server, n+1), stores: make([]*blob.MemoryStorage, n+1),
		lpn: make([]bool, n+1), modes: map[mesh.Address]blob.TransferMode{}}
	friends := make([]bool, n+1)
	friends[1], friends[2] = true, true
	for i := n - lpns + 1; i <= n; i++ {
		w.lpn[i] = true
	}
	strat := blob.StrategyMeshdfu
	ntx := strat.NetworkTransmit
	var err error
	w.client, err = blob.NewClient(blob.ClientConfig{Clock: lpnClock{w, 0}, Strategy: strat, TimeoutBase: 2, Logger: simLogger,
		TxBacklog: func() int { return w.f.Bearer(0).Metrics().QueueLen }})
	if err != nil {
		t.Fatal(err)
	}
	withGroup, noGroup := fleet.PreconfigureApp(0, simGroup), fleet.PreconfigureApp(0)
	cfg := fleet.Config{
		Seed: seed, Nodes: n + 1, Relays: fleet.RelaysNone, Logger: simLogger,
		NetworkTransmit: &ntx, SARTx: strat.SAR, SARRx: strat.TargetSARRx,
		// A Low Power node does not subscribe to the transfer's group:
		// its Friend would store every chunk pushed to it.
		Preconfigure: func(db *cdb.Database, i int, nd *cdb.Node) error {
			if w.lpn[i] {
				return noGroup(db, i, nd)
			}
			return withGroup(db, i, nd)
		},
		NodeOptions: fleet.LowPowerOptions(w.lpn, friends, friend.LPNParams{PollTimeout: 10 * time.Second},
			friend.FriendParams{SARRx: strat.TargetSARRx}),
		Models: func(i int) []node.Element {
			if i == 0 {
				return []node.Element{{Models: []*access.Model{w.client.Model()}}}
			}
			w.stores[i] = &blob.MemoryStorage{}
			sc := blob.ServerConfig{
				Clock: lpnClock{w, i}, Storage: w.stores[i], Rand: rand.New(rand.NewPCG(seed, uint64(i))),
				MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: 1 << 20,
				OnStart: func(x blob.ServerTransfer) error { w.modes[w.f.Address(i)] = x.Mode; return nil },
			}
			if w.lpn[i] {
				sc.LPN = fleet.LowPowerHook{Node: func() *node.Node { return w.f.Node(i) }}
			}
			s, err := blob.NewServer(sc)
			if err != nil {
				t.Fatal(err)
			}
			w.servers[i] = s
			return []node.Element{{Models: []*access.Model{s.Model()}}}
		},
	}
	if loss > 0 {
		l := sim.Independent(loss)
		cfg.Loss = &l
	}
	if w.f, err = fleet.New(cfg); err != nil {
		t.Fatal(err)
	}
	w.client.SetLayer(w.f.Node(0).Access())
	for i := 1; i <= n; i++ {
		w.servers[i].SetLayer(w.f.Node(i).Access())
	}
	established := func() bool {
		for i := 1; i <= n; i++ {
			if w.lpn[i] && !w.f.Node(i).LPN().Established() {
				return false
			}
		}
		return true
	}
	if !w.f.RunUntil(established, time.Minute) {
		t.Fatalf("seed %d: an LPN has no Friend", seed)
	}
	for i := 1; i <= n; i++ {
		if err := w.servers[i].Prepare(simID, access.DefaultTTL, 2); err != nil {
			t.Fatal(err)
		}
	}
	w.data = make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 5))
	for i := range w.data {
		w.data[i] = byte(r.Uint32())
	}
	x := blob.Transfer{ID: simID, Size: uint32(size), Data: bytes.NewReader(w.data), Mode: mode, Group: simGroup,
		Callbacks: blob.Callbacks{OnEnd: func(res blob.Result) { w.res = &res }}}
	for i := 1; i <= n; i++ {
		if w.lpn[i] || !onlyLPNs {
			x.Targets = append(x.Targets, w.f.Address(i))
		}
	}
	w.f.Post(0, func() {
		if err := w.client.Start(x); err != nil {
			t.Error(err)
		}
	})
	if !w.f.RunUntil(func() bool { return w.res != nil }, 2*time.Hour) {
		t.Fatalf("seed %d: no end after %v; client %v; progress %+v", seed, w.f.Elapsed(), w.client.State(), w.client.Progress())
	}
	return w
}

// TestMixed_PushAndLPNs: one transfer to push targets and Low Power
// nodes: each LPN gets Pull in its Transfer Start, the others Push; all
// receive the BLOB, and no Friend Queue overflows.
func TestMixed_PushAndLPNs(t *testing.T) {
	t.Parallel()
	for _, mode := range []blob.TransferMode{blob.ModePush, blob.ModeNone} {
		w := runLPNTransfer(t, 41, 8, 3, 3000, 0, mode, false)
		if w.res.Err != nil || len(w.res.Completed) != 8 || len(w.res.Lost) != 0 {
			t.Fatalf("%v: result %v, completed %d, lost %v", mode, w.res.Err, len(w.res.Completed), w.res.Lost)
		}
		for i := 1; i <= 8; i++ {
			want := blob.ModePush
			if w.lpn[i] {
				want = blob.ModePull
			}
			if got := w.modes[w.f.Address(i)]; got != want {
				t.Errorf("%v: target %d (LPN %v) mode %v, want %v", mode, i, w.lpn[i], got, want)
			}
			if !bytes.Equal(w.stores[i].Data(simID), w.data) || w.servers[i].Phase() != blob.PhaseComplete {
				t.Errorf("%v: target %d: data differs or phase %v", mode, i, w.servers[i].Phase())
			}
		}
		m := w.f.Metrics()
		if m.FriendQueueOverflows != 0 || m.LPNs != 3 {
			t.Errorf("%v: %d friend queue overflows, %d LPNs", mode, m.FriendQueueOverflows, m.LPNs)
		}
		if len(w.client.Progress()) != 0 && len(w.client.Progress()) != 8 {
			t.Errorf("progress lists %d targets", len(w.client.Progress()))
		}
		t.Logf("%v: %v virtual, LPN radio on %v, friend queue high %d", mode, w.res.Duration, m.Totals.LPN.RadioOn, m.Totals.Friend.QueueHigh)
	}
}

// TestMixed_OnlyLPNs: every target is a Low Power node: no split, the
// whole transfer runs in Pull mode.
func TestMixed_OnlyLPNs(t *testing.T) {
	t.Parallel()
	w := runLPNTransfer(t, 42, 4, 2, 2000, 0, blob.ModePush, true)
	if w.res.Err != nil || len(w.res.Completed) != 2 {
		t.Fatalf("result %v, completed %d, lost %v", w.res.Err, len(w.res.Completed), w.res.Lost)
	}
	if m := w.f.Metrics(); m.FriendQueueOverflows != 0 {
		t.Errorf("%d overflows", m.FriendQueueOverflows)
	}
}
