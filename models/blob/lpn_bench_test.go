package blob_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

var lpnBenchFlag = flag.Bool("lpn.bench", false, "run the Pull BLOB to Low Power nodes benchmark (TestLPNBench)")

// lpnProfile is how the BLOB Transfer Servers on the Low Power nodes and
// the client are tuned.
type lpnProfile struct {
	name   string
	strat  blob.Strategy
	server func(c *blob.ServerConfig)
}

var lpnProfiles = []lpnProfile{
	// meshdfu: the server sizes Pull mode to the Friend Queue with the
	// package defaults (docs/friend-lpn.md, "Pull BLOB sizing").
	{name: "meshdfu", strat: blob.StrategyMeshdfu, server: func(*blob.ServerConfig) {}},
	// Zephyr defaults: 4 chunks per report at most, or as many as the
	// whole queue holds; the 10 s report timer paces every report; no
	// polls beyond the LPN's own schedule.
	{name: "zephyr", strat: blob.StrategyZephyr, server: func(c *blob.ServerConfig) {
		c.PullRequestCount, c.ReportInterval, c.PullWaitForTimer = 4, 10*time.Second, true
		c.LPNQueueReserve, c.LPNPollInterval, c.LPNIdlePollInterval = -1, -1, -1
	}},
}

// lpnBenchRow is one measured transfer.
type lpnBenchRow struct {
	profile              string
	loss                 float64
	attempts             int
	completed, lpns      int
	err                  error
	duration             time.Duration
	radioMean, radioMax  time.Duration
	chunk                uint16
	overflows, queueHigh uint64
	lost                 uint64 // friendships lost
}

// lpnBenchLimit bounds a benchmark transfer in virtual time;
// lpnBenchTimeoutBase is the client's and servers' Timeout Base (a
// distribution's usual 10: 120 s of server inactivity).
const (
	lpnBenchLimit       = 8 * time.Hour
	lpnBenchTimeoutBase = 10
)

// runLPNBench transfers size octets from node 0 to the Low Power nodes
// 3…2+lpns (single hop), their Friends nodes 1 and 2 (four LPNs each at
// most), the whole transfer in Pull mode. attempts is the LPNs' Poll
// attempts before a friendship counts as lost (0: the default 6).
func runLPNBench(t *testing.T, p lpnProfile, seed uint64, lpns, size int, loss float64, attempts int) lpnBenchRow {
	t.Helper()
	n := 2 + lpns
	w := &lpnWorld{t: t, servers: make([]*blob.Server, n+1), stores: make([]*blob.MemoryStorage, n+1),
		lpn: make([]bool, n+1), modes: map[mesh.Address]blob.TransferMode{}}
	friends := make([]bool, n+1)
	friends[1], friends[2] = true, true
	for i := 3; i <= n; i++ {
		w.lpn[i] = true
	}
	ntx := p.strat.NetworkTransmit
	var err error
	w.client, err = blob.NewClient(blob.ClientConfig{Clock: lpnClock{w, 0}, Strategy: p.strat, TimeoutBase: lpnBenchTimeoutBase, Logger: simLogger,
		TxBacklog: func() int { return w.f.Bearer(0).Metrics().QueueLen }})
	if err != nil {
		t.Fatal(err)
	}
	var chunk uint16
	cfg := fleet.Config{
		Seed: seed, Nodes: n + 1, Relays: fleet.RelaysNone, Logger: simLogger,
		NetworkTransmit: &ntx, SARTx: p.strat.SAR, SARRx: p.strat.TargetSARRx,
		// No group subscription on a Low Power node (its Friend would
		// store every chunk pushed to the group).
		Preconfigure: fleet.PreconfigureApp(0),
		NodeOptions: fleet.LowPowerOptions(w.lpn, friends, friend.LPNParams{PollTimeout: 10 * time.Second, Attempts: attempts},
			friend.FriendParams{SARRx: p.strat.TargetSARRx}),
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
				p.server(&sc)
			}
			s, err := blob.NewServer(sc)
			if err != nil {
				t.Fatal(err)
			}
			// The Chunk Size of the transfer, from the first Block Start.
			ops := s.Model().Ops
			for k := range ops {
				if ops[k].Opcode == blob.OpBlockStart {
					h := ops[k].Handler
					ops[k].Handler = func(ctx *access.Context, b []byte) {
						var m blob.BlockStart
						if chunk == 0 && m.Unmarshal(b) == nil {
							chunk = m.ChunkSize
						}
						h(ctx, b)
					}
				}
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
		for i := 3; i <= n; i++ {
			if !w.f.Node(i).LPN().Established() {
				return false
			}
		}
		return true
	}
	if !w.f.RunUntil(established, 2*time.Minute) {
		t.Fatalf("%s seed %d: an LPN has no Friend", p.name, seed)
	}
	// Radio-on time of the transfer alone: the figures at its start.
	before := map[int]time.Duration{}
	m0 := w.f.Metrics()
	for i := 3; i <= n; i++ {
		before[i] = m0.Nodes[i].LPN.RadioOn
	}
	for i := 3; i <= n; i++ {
		if err := w.servers[i].Prepare(simID, access.DefaultTTL, lpnBenchTimeoutBase); err != nil {
			t.Fatal(err)
		}
	}
	w.data = make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 5))
	for i := range w.data {
		w.data[i] = byte(r.Uint32())
	}
	x := blob.Transfer{ID: simID, Size: uint32(size), Data: bytes.NewReader(w.data), Mode: blob.ModePull,
		Callbacks: blob.Callbacks{OnEnd: func(res blob.Result) { w.res = &res }}}
	for i := 3; i <= n; i++ {
		x.Targets = append(x.Targets, w.f.Address(i))
	}
	w.f.Post(0, func() {
		if err := w.client.Start(x); err != nil {
			t.Error(err)
		}
	})
	t0 := w.f.Elapsed()
	if !w.f.RunUntil(func() bool { return w.res != nil }, lpnBenchLimit) {
		w.res = &blob.Result{Err: fmt.Errorf("no end after %v", lpnBenchLimit), Duration: w.f.Elapsed() - t0}
		t.Logf("%s seed %d: no end after %v; progress %+v", p.name, seed, lpnBenchLimit, w.client.Progress())
	}
	m := w.f.Metrics()
	row := lpnBenchRow{profile: p.name, loss: loss, attempts: max(attempts, friend.DefaultAttempts), lpns: lpns, err: w.res.Err, duration: w.res.Duration, chunk: chunk,
		overflows: m.FriendQueueOverflows, queueHigh: m.Totals.Friend.QueueHigh, lost: m.Totals.LPN.Lost}
	for i := 3; i <= n; i++ {
		on := m.Nodes[i].LPN.RadioOn - before[i]
		row.radioMean += on / time.Duration(lpns)
		row.radioMax = max(row.radioMax, on)
		if bytes.Equal(w.stores[i].Data(simID), w.data) && w.servers[i].Phase() == blob.PhaseComplete {
			row.completed++
		}
		if mode := w.modes[w.f.Address(i)]; mode != blob.ModePull {
			t.Logf("%s: LPN %d in %v", p.name, i, mode)
		}
	}
	return row
}

// TestLPNBench: 64 KiB to 8 Low Power nodes in Pull mode, meshdfu's
// sizing against the Zephyr-defaults profile, same seed and network
// (docs/benchmarks.md, "Pull BLOB to Low Power Nodes"). It reports what
// it measured, overflows and failures included.
//
//	go test -run TestLPNBench -v ./models/blob/ -args -lpn.bench
func TestLPNBench(t *testing.T) {
	if !*lpnBenchFlag && os.Getenv("MESHDFU_BENCH") == "" {
		t.Skip("run with -args -lpn.bench or MESHDFU_BENCH=1")
	}
	const (
		seed = 64
		size = 64 << 10
		lpns = 8
	)
	var rows []lpnBenchRow
	for _, attempts := range []int{0, 10} {
		for _, loss := range []float64{0, 0.1} {
			for _, p := range lpnProfiles {
				start := time.Now()
				row := runLPNBench(t, p, seed, lpns, size, loss, attempts)
				t.Logf("%s, %.0f %% loss, %d attempts: wall %v", p.name, loss*100, row.attempts, time.Since(start).Round(time.Millisecond))
				rows = append(rows, row)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| profile | loss | LPN poll attempts | completed | time | chunk | LPN radio on, mean | max | friend queue overflows | queue high | friendships lost |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		res := fmt.Sprintf("%d/%d", r.completed, r.lpns)
		if r.err != nil {
			res += fmt.Sprintf(" (%v)", r.err)
		}
		fmt.Fprintf(&b, "| %s | %.0f %% | %d | %s | %v | %d | %v | %v | %d | %d | %d |\n", r.profile, r.loss*100, r.attempts, res,
			r.duration.Round(time.Second), r.chunk, r.radioMean.Round(100*time.Millisecond), r.radioMax.Round(100*time.Millisecond),
			r.overflows, r.queueHigh, r.lost)
	}
	t.Logf("64 KiB to %d LPNs (seed %d, single hop, 2 Friends, Friend Queue 16, LPN PollTimeout 10 s, Timeout Base %d):\n%s",
		lpns, seed, lpnBenchTimeoutBase, b.String())
	if i := slices.IndexFunc(rows, func(r lpnBenchRow) bool { return r.profile == "meshdfu" && r.loss == 0 && r.attempts == 10 }); i >= 0 {
		if r := rows[i]; r.completed != lpns || r.overflows != 0 {
			t.Errorf("meshdfu at 0 %% loss, 10 attempts: %d of %d complete, %d overflows", r.completed, lpns, r.overflows)
		}
	}
}
