package dfd_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// Simulator scenarios: an Initiator (Firmware Distribution Client, node
// 0) uploads an image to a distributor (Firmware Distribution Server) and
// has it update Firmware Update Servers on the other nodes of a sim/fleet
// network, with real fw images and signatures.

const simGroup = mesh.Address(0xC0DD)

var (
	oldFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x02, 0x00}
	newFWID = []byte{0x59, 0x00, 0x01, 0x00, 0x03, 0x00}
	// A second product's firmware, for multi-image lists.
	oldFWID2 = []byte{0x59, 0x00, 0x02, 0x00, 0x01, 0x00}
	newFWID2 = []byte{0x59, 0x00, 0x02, 0x00, 0x02, 0x00}
)

func longRun() bool { return os.Getenv("MESHDFU_LONG") != "" }

type image struct {
	fwid, meta, data []byte
}

func makeImage(t testing.TB, seed uint64, fwid []byte, priv ed25519.PrivateKey, size int) image {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 9))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	m, err := fw.NewMetadata("1.0.3", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(priv, fwid); err != nil {
		t.Fatal(err)
	}
	meta, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return image{fwid, meta, data}
}

type scenario struct {
	seed    uint64
	topo    *topology.Topology // nil: single hop of targets+2 nodes
	dist    int                // distributor index (default 1)
	targets int                // with topo nil
	loss    float64
	self    bool           // the distributor updates itself too (element 1)
	silent  []int          // targets powered off
	tamper  []int          // targets whose received image is corrupted
	current map[int][]byte // a target's current Firmware ID (default oldFWID)
	oob     dfd.OOB        // the distributor's OOB
	oobFunc func(w *world) dfd.OOB
	// initiatorTTL, with topo, is the TTL of the initiator's messages
	// (0: the default TTL).
	initiatorTTL uint8
	// scopeTTL sets ScopeTTL on the initiator's and the distributor's
	// clients: requests to a node whose hops are known carry just the TTL
	// that reaches it (TTL 0 to neighbours: never relayed). Not for Low
	// Power targets (a Friend queues only messages with TTL ≥ 2).
	scopeTTL bool
	// inFlight is the distributor's Update MaxInFlight (0: the default).
	inFlight int
	// applyLost are targets whose answers to Update Apply never reach
	// the distributor (they go to an address nobody has); applyDeaf are
	// targets that never hear Update Apply.
	applyLost, applyDeaf []int
}

type world struct {
	t      testing.TB
	sc     scenario
	f      *fleet.Fleet
	d      int
	cli    *dfd.Client
	srv    *dfd.Server
	store  *fw.MemStore
	state  *blob.MemoryStateStore
	tsrv   map[int]*dfu.Server
	tstore map[int]*blob.MemoryStorage
	tbst   map[int]*blob.MemoryStateStore
	tdst   map[int]*blob.MemoryStateStore
	images map[int][]dfu.FirmwareInformation
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	builds int
	steps  []stepMark
}

// stepMark is when a distribution step began, and the network's air time
// and relay queue high-water mark by then.
type stepMark struct {
	step     string
	at, air  time.Duration
	relayMax int
}

type lazyClock struct {
	w *world
	i int
}

func (c lazyClock) Now() time.Time { return c.w.f.Clock(c.i).Now() }
func (c lazyClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.w.f.Clock(c.i).AfterFunc(d, f)
}

func newWorld(t testing.TB, sc scenario) *world {
	t.Helper()
	if sc.dist == 0 {
		sc.dist = 1
	}
	w := &world{t: t, sc: sc, d: sc.dist, store: fw.NewMemStore(0), state: &blob.MemoryStateStore{},
		tsrv: map[int]*dfu.Server{}, tstore: map[int]*blob.MemoryStorage{}, tbst: map[int]*blob.MemoryStateStore{},
		tdst: map[int]*blob.MemoryStateStore{}, images: map[int][]dfu.FirmwareInformation{}}
	pub, priv, err := fw.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	w.pub, w.priv = pub, priv
	n := sc.targets + 2
	if sc.topo != nil {
		n = sc.topo.Len()
	}
	for i := 1; i < n; i++ {
		if i == w.d && !sc.self {
			continue
		}
		cur := oldFWID
		if c, ok := sc.current[i]; ok {
			cur = c
		}
		w.tstore[i], w.tbst[i], w.tdst[i] = &blob.MemoryStorage{}, &blob.MemoryStateStore{}, &blob.MemoryStateStore{}
		w.images[i] = []dfu.FirmwareInformation{{FirmwareID: cur}}
	}
	strat := blob.StrategyMeshdfu
	ntx := strat.NetworkTransmit
	ccfg := dfd.ClientConfig{Clock: lazyClock{w, 0}, PollInterval: 5 * time.Second,
		BLOB: blob.ClientConfig{TimeoutBase: 1}}
	if sc.topo != nil && sc.initiatorTTL != 0 {
		// The initiator talks to a distributor next to it: a TTL that
		// reaches it without flooding the whole network, and polls
		// spaced for the relays' capacity.
		ccfg.TTL, ccfg.BLOB.TTL, ccfg.PollInterval = sc.initiatorTTL, sc.initiatorTTL, 20*time.Second
		ccfg.Timeout, ccfg.Retries = time.Minute, 8
	}
	ccfg.ScopeTTL = sc.scopeTTL
	w.cli, err = dfd.NewClient(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fleet.Config{
		Seed: sc.seed, Nodes: n, Relays: fleet.RelaysNone,
		NetworkTransmit: &ntx, SARTx: strat.SAR, SARRx: strat.TargetSARRx,
		Preconfigure: fleet.PreconfigureApp(0, simGroup),
		Models: func(i int) []node.Element {
			switch {
			case i == 0:
				return []node.Element{{Models: w.cli.Models()}}
			case i == w.d:
				els := []node.Element{{Models: w.newServer().Models()}}
				if sc.self {
					els = append(els, node.Element{Models: w.newTarget(i).Models()})
				}
				return els
			}
			return []node.Element{{Models: w.newTarget(i).Models()}}
		},
	}
	if sc.topo != nil {
		cfg.Nodes, cfg.Topology, cfg.Relays = 0, sc.topo, fleet.RelaysDominating
		// Over relays a segment must not leave faster than a relay
		// forwards it (Relay Retransmit 3 × 25 ms), and the unicast
		// retransmission timer must cover the hops.
		cfg.SARTx = blob.StrategyMeshdfu.SARRelayed
		// Acknowledge segments as the Mesh Protocol defaults do (after
		// 2.5 segment intervals of 60 ms): every acknowledgment crosses
		// every relay too.
		cfg.SARRx = transport.DefaultSARReceiver
	}
	if sc.loss > 0 {
		l := sim.Independent(sc.loss)
		cfg.Loss = &l
	}
	if w.f, err = fleet.New(cfg); err != nil {
		t.Fatal(err)
	}
	w.cli.SetLayer(w.f.Node(0).Access())
	w.setLayers()
	for _, i := range sc.silent {
		w.f.PowerOff(i)
	}
	return w
}

func (w *world) setLayers() {
	for i, s := range w.tsrv {
		if w.f.IsOn(i) {
			s.SetLayer(w.f.Node(i).Access())
		}
	}
	w.srv.SetLayer(w.f.Node(w.d).Access())
}

// newServer builds the distributor from its durable state (at boot and
// after a restart).
func (w *world) newServer() *dfd.Server {
	w.builds++
	cfg := dfd.ServerConfig{
		Clock: lazyClock{w, w.d}, Store: w.store, State: w.state,
		Rand:       rand.New(rand.NewPCG(w.sc.seed, 77)),
		Update:     dfu.ClientConfig{Timeout: 20 * time.Second, Retries: 4, MaxInFlight: w.sc.inFlight, ScopeTTL: w.sc.scopeTTL},
		BLOBClient: blob.ClientConfig{TimeoutBase: 10, TxBacklog: func() int { return w.f.Bearer(w.d).Metrics().QueueLen }},
		OnStep: func(step string) {
			m := w.f.Metrics()
			w.steps = append(w.steps, stepMark{step, w.f.Elapsed(), m.Medium.AirTime, relayQueueMax(m)})
		},
	}
	if w.sc.oobFunc != nil {
		cfg.OOB = w.sc.oobFunc(w)
	}
	if os.Getenv("MESHDFU_LOG") != "" { // the distributor's log on stderr, stamped with virtual time
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Duration("t", w.f.Elapsed().Round(time.Millisecond))
				}
				return a
			}}))
	}
	s, err := dfd.NewServer(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.srv = s
	return s
}

func contains(l []int, i int) bool {
	for _, v := range l {
		if v == i {
			return true
		}
	}
	return false
}

func (w *world) newTarget(i int) *dfu.Server {
	store := w.tstore[i]
	fwh := &dfu.Firmware{PublicKey: w.pub, Data: store.Data}
	if i == w.d {
		fwh.Data = func(id uint64) []byte { return w.srv.DistributionBLOB(id) }
	}
	cfg := dfu.ServerConfig{
		Clock: lazyClock{w, i}, Images: w.images[i], State: w.tdst[i],
		BLOB: blob.ServerConfig{Storage: store, State: w.tbst[i], Rand: rand.New(rand.NewPCG(w.sc.seed, uint64(i))),
			MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: 1 << 16},
		OnApplied: func(_ uint8, _ dfu.AdditionalInfo, images []dfu.FirmwareInformation) {
			w.images[i] = images
			if i != w.d {
				w.f.Clock(i).AfterFunc(20*time.Millisecond, func() { w.rebootTarget(i) })
			}
		},
	}
	if contains(w.sc.tamper, i) {
		cfg.BLOB.OnComplete = func(id uint64) {
			if d := store.Data(id); len(d) > 100 {
				d[100] ^= 0xff
			}
		}
	}
	fwh.Install(&cfg)
	s, err := dfu.NewServer(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	lost, deaf := contains(w.sc.applyLost, i), contains(w.sc.applyDeaf, i)
	for k, op := range s.Model().Ops {
		if op.Opcode != dfu.OpUpdateApply || (!lost && !deaf) {
			continue
		}
		h := op.Handler
		s.Model().Ops[k].Handler = func(ctx *access.Context, p []byte) {
			if deaf {
				return
			}
			c := *ctx
			c.Src = nowhere
			h(&c, p)
		}
	}
	w.tsrv[i] = s
	return s
}

// nowhere is a unicast address no node of a test network has.
const nowhere mesh.Address = 0x7ff0

func (w *world) rebootTarget(i int) {
	if err := w.f.Reboot(i); err != nil {
		w.t.Fatal(err)
	}
	w.tsrv[i].SetLayer(w.f.Node(i).Access())
}

// restartDistributor drops the distributor's process state and builds it
// again from its stores (fw.Store, StateStore, node store).
func (w *world) restartDistributor() {
	if err := w.f.Reboot(w.d); err != nil {
		w.t.Fatal(err)
	}
	w.setLayers()
}

// do runs f on the initiator and the network until done() or limit.
func (w *world) do(f func(), done func() bool, limit time.Duration) {
	w.t.Helper()
	w.f.Post(0, f)
	if !w.f.RunUntil(done, limit) {
		w.t.Fatalf("seed %d: not done after %v; distributor phase %v\n%s", w.sc.seed, w.f.Elapsed(), w.srv.Phase(), w.summary())
	}
}

func (w *world) targetIndexes() []int {
	var out []int
	for i := range w.tsrv {
		out = append(out, i)
	}
	sortInts(out)
	return out
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// upload uploads im in-band from the initiator.
func (w *world) upload(im image) {
	w.t.Helper()
	var res error
	ended := false
	w.do(func() {
		err := w.cli.Upload(dfd.Upload{Server: w.f.Address(w.d), FirmwareID: im.fwid, Metadata: im.meta,
			Image: bytes.NewReader(im.data), Size: uint32(len(im.data)), BLOBID: rand.Uint64(), TimeoutBase: 1,
			OnEnd: func(err error) { res, ended = err, true }})
		if err != nil {
			w.t.Fatal(err)
		}
	}, func() bool { return ended }, time.Hour)
	if res != nil {
		w.t.Fatalf("upload: %v", res)
	}
}

func (w *world) addReceivers(idx []int, image uint8) {
	w.t.Helper()
	var entries []dfd.ReceiverEntry
	for _, i := range idx {
		entries = append(entries, dfd.ReceiverEntry{Address: w.f.Address(i), ImageIndex: image})
	}
	done := false
	w.do(func() {
		if err := w.cli.ReceiversAdd(w.f.Address(w.d), entries, func(st *dfd.ReceiversStatus, err error) {
			if err != nil {
				w.t.Error(err)
			}
			done = true
		}); err != nil {
			w.t.Fatal(err)
		}
	}, func() bool { return done }, 10*time.Minute)
}

func (w *world) request(send func(done func()) error) {
	w.t.Helper()
	done := false
	w.do(func() {
		if err := send(func() { done = true }); err != nil {
			w.t.Fatal(err)
		}
	}, func() bool { return done }, 10*time.Minute)
}

func (w *world) start(m dfd.Start) *dfd.DistributionStatus {
	w.t.Helper()
	var got *dfd.DistributionStatus
	w.request(func(done func()) error {
		return w.cli.Start(w.f.Address(w.d), m, func(st *dfd.DistributionStatus, err error) {
			if err != nil {
				w.t.Errorf("start: %v", err)
			}
			got = st
			done()
		})
	})
	return got
}

// wait polls the distribution until it ends.
func (w *world) wait(limit time.Duration) dfd.Progress {
	w.t.Helper()
	var p dfd.Progress
	var perr error
	ended := false
	w.do(func() {
		_ = w.cli.Wait(w.f.Address(w.d), nil, func(pr dfd.Progress, err error) { p, perr, ended = pr, err, true })
	}, func() bool { return ended }, limit)
	if perr != nil && perr != dfd.ErrDistributionFailed {
		w.t.Fatalf("wait: %v (virtual %v, phase %v, blob %v, metrics %+v) receivers %+v", perr, w.f.Elapsed(), w.srv.Phase(), w.srv.BLOBClient().State(), w.f.Metrics().Medium, w.srv.Receivers()[:3])
	}
	return p
}

func pushStart(image uint16, group mesh.Address) dfd.Start {
	return dfd.Start{TTL: access.DefaultTTL, TimeoutBase: 10, TransferMode: blob.ModePush, Policy: dfd.PolicyVerifyAndApply,
		ImageIndex: image, Multicast: group}
}

// expectApplied checks that targets run fwid and are Apply Success in
// the distributor's list.
func (w *world) expectApplied(idx []int, fwid []byte) {
	w.t.Helper()
	for _, i := range idx {
		if got := w.images[i][0].FirmwareID; !bytes.Equal(got, fwid) {
			w.t.Errorf("seed %d: target %d runs %x, want %x", w.sc.seed, i, got, fwid)
		}
	}
	rs := w.srv.Receivers()
	for _, r := range rs {
		i := w.f.Index(r.Address)
		if !contains(idx, i) {
			continue
		}
		if r.Failed || r.Phase != dfu.PhaseApplySuccess {
			w.t.Errorf("seed %d: receiver %d: %+v", w.sc.seed, i, r)
		}
	}
}

var _ = https.ErrTooLarge

func dfdUpload(w *world, im image, end func(error)) dfd.Upload {
	return dfd.Upload{Server: w.f.Address(w.d), FirmwareID: im.fwid, Metadata: im.meta,
		Image: bytes.NewReader(im.data), Size: uint32(len(im.data)), BLOBID: 42, TimeoutBase: 1, OnEnd: end}
}

var addrRE = regexp.MustCompile(`0x[0-9a-f]{4}`)

// trace logs, every period of virtual time until the world stops, the
// longest relay queue now and the PDUs the initiator and the distributor
// sent themselves (MESHDFU_TRACE=1 in the scenarios).
func (w *world) trace(period time.Duration) {
	var tick func()
	var last0, last1, lastRelayed uint64
	var lastD, lastT transportCounts
	lastOwn := map[int]uint64{}
	tick = func() {
		m := w.f.Metrics()
		q, who := 0, -1
		for i, n := range m.Nodes {
			if n.Relay && n.Radio.QueueLen > q {
				q, who = n.Radio.QueueLen, i
			}
		}
		o0 := m.Nodes[0].Radio.Sent - m.Nodes[0].Radio.Relayed
		o1 := m.Nodes[w.d].Radio.Sent - m.Nodes[w.d].Radio.Relayed
		step := ""
		if len(w.steps) > 0 {
			step = w.steps[len(w.steps)-1].step
		}
		var top []string
		var others, relayed uint64
		for i, n := range m.Nodes {
			relayed += n.Radio.Relayed
			o := n.Radio.Sent - n.Radio.Relayed
			if i != 0 && i != w.d {
				others += o - lastOwn[i]
			}
			if d := o - lastOwn[i]; d > 20 && i != 0 && i != w.d {
				top = append(top, fmt.Sprintf("%d:+%d", i, d))
			}
			lastOwn[i] = o
		}
		dt := m.Nodes[w.d].Transport
		var tt transportCounts
		for i, n := range m.Nodes {
			if i != 0 && i != w.d {
				tt.seg += n.Transport.SegmentsSent
				tt.retx += n.Transport.SegmentsRetransmitted
				tt.acks += n.Transport.AcksSent
			}
		}
		w.t.Logf("         dist seg +%d retx +%d acks +%d; targets seg +%d retx +%d acks +%d", dt.SegmentsSent-lastD.seg, dt.SegmentsRetransmitted-lastD.retx, dt.AcksSent-lastD.acks,
			tt.seg-lastT.seg, tt.retx-lastT.retx, tt.acks-lastT.acks)
		lastD, lastT = transportCounts{dt.SegmentsSent, dt.SegmentsRetransmitted, dt.AcksSent}, tt
		w.t.Logf("%8v %-8s relay queue %4d (node %2d) initiator +%d distributor +%d targets +%d relayed +%d blob %v busiest %v", m.VirtualTime.Round(time.Second), step, q, who, o0-last0, o1-last1, others, relayed-lastRelayed, w.srv.BLOBClient().State(), top)
		last0, last1, lastRelayed = o0, o1, relayed
		w.f.Clock(0).AfterFunc(period, tick)
	}
	w.f.Clock(0).AfterFunc(period, tick)
}

type transportCounts struct{ seg, retx, acks uint64 }

// relayQueueMax is the longest advertiser queue any relay had.
func relayQueueMax(m fleet.Metrics) int {
	q := 0
	for _, n := range m.Nodes {
		if n.Relay {
			q = max(q, n.Radio.QueueMax)
		}
	}
	return q
}

// summary describes the run for logs: virtual time, air, relay queues,
// the steps and the failed receivers by reason.
func (w *world) summary() string {
	m := w.f.Metrics()
	var b strings.Builder
	fmt.Fprintf(&b, "virtual %v, air %v (%d transmissions, %d collisions), relay queue max %d, distributor queue max %d, initiator queue max %d",
		m.VirtualTime.Round(time.Millisecond), m.Medium.AirTime.Round(time.Millisecond), m.Medium.Transmissions, m.Medium.Lost.Collision,
		relayQueueMax(m), m.Nodes[w.d].Radio.QueueMax, m.Nodes[0].Radio.QueueMax)
	type orig struct {
		i    int
		sent uint64
	}
	var top []orig
	for i, n := range m.Nodes {
		top = append(top, orig{i, n.Radio.Sent - n.Radio.Relayed})
	}
	sort.Slice(top, func(a, b int) bool { return top[a].sent > top[b].sent })
	b.WriteString("\n  own PDUs:")
	for _, o := range top[:min(4, len(top))] {
		fmt.Fprintf(&b, " node %d: %d;", o.i, o.sent)
	}
	for _, s := range w.steps {
		fmt.Fprintf(&b, "\n  %-8s at %-12v air %-12v relay queue max %d", s.step, s.at.Round(time.Millisecond), s.air.Round(time.Millisecond), s.relayMax)
	}
	reasons := map[string]int{}
	var keys []string
	for _, r := range w.srv.Receivers() {
		if r.Failed {
			k := addrRE.ReplaceAllString(r.Reason, "0x….")
			if reasons[k] == 0 {
				keys = append(keys, k)
			}
			reasons[k]++
		}
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %d failed: %s", reasons[k], k)
	}
	return b.String()
}
