package dfd_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// Distributions to targets of which some are Low Power nodes
// (docs/friend-lpn.md): each LPN has a Friend among the relays, its BLOB
// Transfer Server sizes Pull mode to the Friend Queue, and the
// distributor's one BLOB transfer serves it in Pull beside the Push
// targets.

// lpnLayout is a hall and rooms: the initiator (node 0), the distributor
// (node 1) and push targets hear each other in the hall; the first
// friends push targets are relays and Friends, and each has a room of
// Low Power targets (nodes 2+push…) that hear only that Friend and each
// other, so they are two hops from the distributor. LPN k lives in room
// k mod friends.
type lpnLayout struct {
	push, lpns, friends int
	loss                float64
}

func (l lpnLayout) build() (tp *topology.Topology, lpn, relay []bool) {
	hall := 2 + l.push
	n := hall + l.lpns
	loss := sim.Independent(l.loss)
	tp = &topology.Topology{Name: fmt.Sprintf("hall-%d-rooms-%d", hall, l.friends)}
	for i := range n {
		tp.Nodes = append(tp.Nodes, topology.Node{ID: i, X: float64(i)})
	}
	link := func(a, b int) {
		tp.Links = append(tp.Links, topology.Link{From: a, To: b, Loss: loss}, topology.Link{From: b, To: a, Loss: loss})
	}
	room := func(i int) int { return (i - hall) % l.friends }
	lpn, relay = make([]bool, n), make([]bool, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			switch {
			case j < hall: // both in the hall
				link(i, j)
			case i >= hall && room(i) == room(j): // the same room
				link(i, j)
			case i < hall && j >= hall && i == 2+room(j): // a room's Friend
				link(i, j)
			}
		}
	}
	for i := hall; i < n; i++ {
		lpn[i] = true
	}
	for k := range l.friends {
		relay[2+k] = true
	}
	return tp, lpn, relay
}

// lpnWorld is a world (sim_test.go) whose targets include Low Power nodes.
type lpnWorld struct {
	*world
	lpn, friend []bool
	// modes is the Transfer Mode each target's BLOB Transfer Server
	// accepted in its Transfer Start; completed, the mode of its transfer
	// when the BLOB was complete.
	modes, completed map[int]blob.TransferMode
}

// lpnPollTimeout is the LPNs' PollTimeout; lpnAttempts their Poll
// attempts before a friendship counts as lost. A Friend in the hall is a
// relay: while it forwards a burst (a pass of chunks pushed to the group,
// a round of Block Status answers) its advertiser queue holds dozens of
// PDUs, and its answer to a Poll waits behind them, past the LPN's 255 ms
// receive window. With the default 6 attempts (2.7 s) an LPN gives up
// during such a burst, and the Friend goes on queueing for the abandoned
// friendship until its PollTimeout: chunks resent meanwhile overflow it.
// Ten attempts (4.6 s) ride the bursts out; the idle poll interval is then
// 10 s − 10 × 455 ms = 5.45 s.
const (
	lpnPollTimeout = 10 * time.Second
	lpnAttempts    = 10
)

func newLPNWorld(t testing.TB, seed uint64, l lpnLayout) *lpnWorld {
	t.Helper()
	tp, lpn, relay := l.build()
	w := &world{t: t, sc: scenario{seed: seed, topo: tp}, d: 1, store: fw.NewMemStore(0), state: &blob.MemoryStateStore{},
		tsrv: map[int]*dfu.Server{}, tstore: map[int]*blob.MemoryStorage{}, tbst: map[int]*blob.MemoryStateStore{},
		tdst: map[int]*blob.MemoryStateStore{}, images: map[int][]dfu.FirmwareInformation{}}
	lw := &lpnWorld{world: w, lpn: lpn, friend: relay, modes: map[int]blob.TransferMode{}, completed: map[int]blob.TransferMode{}}
	pub, priv, err := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	w.pub, w.priv = pub, priv
	for i := 2; i < tp.Len(); i++ {
		w.tstore[i], w.tbst[i], w.tdst[i] = &blob.MemoryStorage{}, &blob.MemoryStateStore{}, &blob.MemoryStateStore{}
		w.images[i] = []dfu.FirmwareInformation{{FirmwareID: oldFWID}}
	}
	w.cli, err = dfd.NewClient(dfd.ClientConfig{Clock: lazyClock{w, 0}, PollInterval: 5 * time.Second,
		BLOB: blob.ClientConfig{TimeoutBase: 1}})
	if err != nil {
		t.Fatal(err)
	}
	strat := blob.StrategyMeshdfu
	ntx := strat.NetworkTransmit
	// The Friends relay each PDU once, as the distributor sends it: the
	// hall's traffic (every chunk pushed to the group) crosses them too,
	// and a relay slower than its source only grows its queue.
	rtx := ntx
	withGroup, noGroup := fleet.PreconfigureApp(0, simGroup), fleet.PreconfigureApp(0)
	cfg := fleet.Config{
		Seed: seed, Topology: tp, RelaySet: relay,
		NetworkTransmit: &ntx, RelayRetransmit: &rtx, SARTx: strat.SAR, SARRx: strat.TargetSARRx,
		// Three hops at most (LPN, its Friend, the other relay): PDUs
		// stop at the network's edge.
		DefaultTTL: 3,
		// A Low Power target does not subscribe to the distribution's
		// group: its Friend would store every chunk pushed to it.
		Preconfigure: func(db *cdb.Database, i int, nd *cdb.Node) error {
			if lpn[i] {
				return noGroup(db, i, nd)
			}
			return withGroup(db, i, nd)
		},
		NodeOptions: fleet.LowPowerOptions(lpn, relay, friend.LPNParams{PollTimeout: lpnPollTimeout, Attempts: lpnAttempts},
			friend.FriendParams{SARRx: strat.TargetSARRx}),
		Models: func(i int) []node.Element {
			switch i {
			case 0:
				return []node.Element{{Models: w.cli.Models()}}
			case w.d:
				return []node.Element{{Models: lw.newServer().Models()}}
			}
			return []node.Element{{Models: lw.newTarget(i).Models()}}
		},
	}
	if w.f, err = fleet.New(cfg); err != nil {
		t.Fatal(err)
	}
	w.cli.SetLayer(w.f.Node(0).Access())
	w.setLayers()
	if !w.f.RunUntil(lw.established, 2*time.Minute) {
		t.Fatalf("seed %d: an LPN has no Friend after %v", seed, w.f.Elapsed())
	}
	return lw
}

// established reports whether every LPN has a Friend.
func (lw *lpnWorld) established() bool {
	for i, l := range lw.lpn {
		if l && (lw.f.Node(i).LPN() == nil || !lw.f.Node(i).LPN().Established()) {
			return false
		}
	}
	return true
}

// lpnUpdateTimeout and lpnUpdateRetries make the distributor's Firmware
// Update Client send a request again only after lpnUpdateTimeout /
// (lpnUpdateRetries+1) = 12 s, longer than an LPN takes to poll it out of
// its Friend's queue (a 5.45 s poll interval, then about 110 ms per
// queued PDU): each resend of a 12-segment Firmware Update Start is a
// new message that the Friend queues whole, and one that comes while the
// previous copy is still queued evicts it.
const (
	lpnUpdateTimeout = time.Minute
	lpnUpdateRetries = 4
)

// newServer is world.newServer with the Firmware Update Client's timing
// for Low Power targets.
func (lw *lpnWorld) newServer() *dfd.Server {
	w := lw.world
	w.builds++
	s, err := dfd.NewServer(dfd.ServerConfig{
		Clock: lazyClock{w, w.d}, Store: w.store, State: w.state,
		Rand:       rand.New(rand.NewPCG(w.sc.seed, 77)),
		Update:     dfu.ClientConfig{Timeout: lpnUpdateTimeout, Retries: lpnUpdateRetries, MaxInFlight: 1},
		BLOBClient: blob.ClientConfig{TimeoutBase: 10, TxBacklog: func() int { return w.f.Bearer(w.d).Metrics().QueueLen }},
		OnStep: func(step string) {
			m := w.f.Metrics()
			w.steps = append(w.steps, stepMark{step, w.f.Elapsed(), m.Medium.AirTime, relayQueueMax(m)})
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.srv = s
	return s
}

// newTarget is world.newTarget with the node's Low Power feature handed
// to the BLOB Transfer Server of an LPN, and the Transfer Mode recorded.
func (lw *lpnWorld) newTarget(i int) *dfu.Server {
	w := lw.world
	store := w.tstore[i]
	fwh := &dfu.Firmware{PublicKey: w.pub, Data: store.Data}
	cfg := dfu.ServerConfig{
		Clock: lazyClock{w, i}, Images: w.images[i], State: w.tdst[i],
		BLOB: blob.ServerConfig{Storage: store, State: w.tbst[i], Rand: rand.New(rand.NewPCG(w.sc.seed, uint64(i))),
			MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: 1 << 16,
			OnStart: func(x blob.ServerTransfer) error { lw.modes[i] = x.Mode; return nil },
			OnComplete: func(uint64) {
				if x, ok := w.tsrv[i].BLOB().Transfer(); ok {
					lw.completed[i] = x.Mode
				}
			},
		},
		OnApplied: func(_ uint8, _ dfu.AdditionalInfo, images []dfu.FirmwareInformation) {
			w.images[i] = images
			w.f.Clock(i).AfterFunc(20*time.Millisecond, func() { w.rebootTarget(i) })
		},
	}
	if lw.lpn[i] {
		cfg.BLOB.LPN = fleet.LowPowerHook{Node: func() *node.Node { return w.f.Node(i) }}
	}
	fwh.Install(&cfg)
	s, err := dfu.NewServer(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.tsrv[i] = s
	return s
}

// distribute uploads an image of size octets and distributes it to every
// target; it checks that all applied it and were confirmed, each LPN in
// Pull and the others in Push, with no Friend Queue overflow.
func (lw *lpnWorld) distribute(size int) fleet.Metrics {
	w, t := lw.world, lw.t
	t.Helper()
	im := makeImage(t, w.sc.seed, newFWID, w.priv, size)
	w.upload(im)
	targets := w.targetIndexes()
	w.addReceivers(targets, 0)
	if st := w.start(pushStart(0, simGroup)); st.Status != dfd.StatusSuccess {
		t.Fatalf("start: %+v", st)
	}
	p := w.wait(2 * time.Hour)
	m := w.f.Metrics()
	t.Logf("%s\n  LPN radio on (total) %v, friend queue high %d", w.summary(), m.Totals.LPN.RadioOn, m.Totals.Friend.QueueHigh)
	if p.Status.Phase != dfd.PhaseCompleted {
		t.Fatalf("phase %v", p.Status.Phase)
	}
	w.expectApplied(targets, newFWID)
	lpns := 0
	for _, i := range targets {
		want := blob.ModePush
		if lw.lpn[i] {
			want = blob.ModePull
			lpns++
		}
		if lw.modes[i] != want || lw.completed[i] != want {
			t.Errorf("target %d (LPN %v): Transfer Start in %v, complete in %v; want %v", i, lw.lpn[i], lw.modes[i], lw.completed[i], want)
		}
	}
	if m.LPNs != lpns {
		t.Errorf("metrics count %d LPNs, want %d", m.LPNs, lpns)
	}
	if m.FriendQueueOverflows != 0 {
		t.Errorf("%d Friend Queue overflows", m.FriendQueueOverflows)
	}
	for _, i := range targets {
		if n := m.Nodes[i]; n.LowPower != lw.lpn[i] {
			t.Errorf("target %d: LowPower %v, want %v", i, n.LowPower, lw.lpn[i])
		} else if n.LowPower {
			t.Logf("LPN %d: radio on %v (%d polls, %d resends, %d transmissions), friendships %d, lost %d, friend %v", i,
				n.LPN.RadioOn.Round(time.Millisecond), n.LPN.Polls, n.LPN.Resends, n.LPN.Transmissions,
				n.LPN.Established, n.LPN.Lost, n.LPN.Friend)
		}
	}
	return m
}

// TestSim_LPNTargets: a distribution to 6 targets of which 3 are Low
// Power nodes behind one Friend.
func TestSim_LPNTargets(t *testing.T) {
	lw := newLPNWorld(t, 21, lpnLayout{push: 3, lpns: 3, friends: 1})
	lw.distribute(2000)
}

// TestSim_20Targets8LPNs: a distribution to 20 targets of which 8 are Low
// Power nodes, four behind each of two Friends (relays), two hops from
// the distributor: all apply and are confirmed, each LPN in Pull and the
// others in Push, and no Friend Queue overflows.
func TestSim_20Targets8LPNs(t *testing.T) {
	seed := uint64(23)
	if v := os.Getenv("MESHDFU_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	start := time.Now()
	lw := newLPNWorld(t, seed, lpnLayout{push: 12, lpns: 8, friends: 2})
	lw.distribute(2000)
	t.Logf("wall %v", time.Since(start))
}
