package scenario

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

const (
	// Group is the group address every target's BLOB and Firmware Update
	// Servers subscribe to.
	Group = mesh.Address(0xC0DF)
	// timeoutBase is the Timeout Base of the upload, and the least of the
	// distribution (distributionTimeoutBase): 10·(10+1) s of inactivity
	// before a BLOB Transfer Server suspends, or gives up waiting for
	// Transfer Start.
	timeoutBase = 10
	// settle is the virtual time run after the distribution ended, so that
	// the targets' reboots into the new firmware happen.
	settle = time.Second
	// stepSlice is the virtual time between two checks of the fault
	// triggers.
	stepSlice = 50 * time.Millisecond
)

var (
	oldFWID = []byte{0x59, 0x00, 'm', 'd', 0x01, 0x00, 0x00, 0x00}
	newFWID = []byte{0x59, 0x00, 'm', 'd', 0x01, 0x01, 0x00, 0x00}
)

// Sample is a snapshot of the run for an Observer.
type Sample struct {
	Elapsed time.Duration
	// Step is the procedure step under way ("upload", "start",
	// "transfer", "verify", "apply", "confirm", "restart", "done").
	Step    string
	Targets []TargetState
	// Done is set on the last sample.
	Done bool
}

// TargetState is one target in a Sample.
type TargetState struct {
	Address  string
	Phase    string  // as the distributor knows it
	Progress float64 // share of the image it holds, 0–1
	Failed   bool
	Final    bool // reached its final phase
}

// Observer receives samples every Config.SampleInterval of virtual time
// and at every step change, on the goroutine that called Run. It must not
// keep s.
type Observer func(s *Sample)

// lazyClock is node i's clock once the fleet exists: models are built
// inside fleet.New, before the engine can be asked for clocks.
type lazyClock struct {
	w *world
	i int
}

func (c lazyClock) Now() time.Time { return c.w.f.Clock(c.i).Now() }
func (c lazyClock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.w.f.Clock(c.i).AfterFunc(d, f)
}

// lazySAR is a node's SAR Transmitter state for a BLOB client built before
// the node (and rebuilt with it), so the client can repeat chunk segments
// under one SeqAuth (blob.SARControl).
type lazySAR struct {
	w *world
	i int
}

func (s lazySAR) SARTransmitter() transport.SARTransmitter {
	return s.w.f.Node(s.i).Transport().SARTransmitter()
}

func (s lazySAR) SetSARTransmitter(t transport.SARTransmitter) error {
	return s.w.f.Node(s.i).Transport().SetSARTransmitter(t)
}

type target struct {
	idx    int // fleet node
	addr   mesh.Address
	hops   int
	srv    *dfu.Server
	store  *blob.MemoryStorage
	bstate *blob.MemoryStateStore
	dstate *blob.MemoryStateStore
	images []dfu.FirmwareInformation

	fault    FaultKind
	expected dfu.Phase

	phase  dfu.Phase
	status dfu.Status
	err    error
	final  bool
	doneAt time.Duration

	lpn  bool              // a Low Power node
	mode blob.TransferMode // of its last BLOB Transfer Start

	cut    *cut // FaultPowerCut
	struck bool // a phase-targeted reboot happened

	pastChunks uint64 // new chunks written by server instances before reboots
	progress   float64
	series     []Point
}

type world struct {
	cfg    Config
	ctx    context.Context
	obs    Observer
	f      *fleet.Fleet
	topo   *topology.Topology
	ctl    *sim.Clock // the scenario's own executor, never reset
	strat  blob.Strategy
	group  mesh.Address
	img    *Image
	pub    ed25519.PublicKey
	tg     []*target // tg[k] is fleet node firstTarget+k
	byAddr map[mesh.Address]*target

	// The Initiator and the distributor (its current instance and the
	// stores it is rebuilt from).
	cli         *dfd.Client
	srv         *dfd.Server
	store       *fw.MemStore
	dstate      *blob.MemoryStateStore
	oob         *fakeOOB
	sawTransfer bool // the current instance ran its BLOB transfer
	restarts    int
	restartDue  int    // distributor restarts waiting for their moment
	maxHops     int    // from the distributor to the farthest target
	distTB      uint16 // Timeout Base of the distribution
	// confirmed is the share of the image each target confirmed to the
	// distributor's BLOB client.
	confirmed map[mesh.Address]float64

	step      string
	steps     []PhaseSpan
	ended     bool
	endAt     time.Duration
	endErr    error
	xferStart time.Duration
	xferEnd   time.Duration
	chunkSize uint16
	xfer      blob.ServerTransfer
	xferKnown bool

	// The upload: its end callback (kept for a restarted Initiator), how
	// often it was interrupted or asked for again, and why it failed.
	uploadDone       func(error)
	uploadInterrupts int
	uploadRetries    int
	uploadErr        error

	struck   []string // faults that happened, in order
	pending  []Fault  // triggered faults not yet fired
	bursting int
	err      error // a failure of the harness itself
}

// Run simulates the update cfg describes and returns its Result. obs may
// be nil. The run is a pure function of cfg (except Result.WallSeconds);
// ctx cancels it between slices of virtual time.
func Run(ctx context.Context, cfg Config, obs Observer) (*Result, error) {
	wall := time.Now()
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &world{cfg: cfg, ctx: ctx, obs: obs, group: Group, byAddr: map[mesh.Address]*target{}, confirmed: map[mesh.Address]float64{}}
	if err := w.build(); err != nil {
		return nil, err
	}
	if err := w.run(); err != nil {
		return nil, err
	}
	res := w.result()
	res.WallSeconds = math.Round(time.Since(wall).Seconds()*1000) / 1000
	return res, nil
}

// loss is the loss model of the built-in topologies' links.
func (c *Config) loss() sim.Loss {
	if c.Burst {
		return sim.Bursty(c.Loss, BurstLength)
	}
	return sim.Independent(c.Loss)
}

// buildTopology returns the layout of the distributor (node 0) and the
// targets; withInitiator adds the Initiator.
func (c *Config) buildTopology() (*topology.Topology, error) {
	loss := c.loss()
	n := c.Targets + 1
	switch c.Topology {
	case "single-hop":
		return topology.SingleHop(n, loss), nil
	case "line":
		return topology.Line(n, loss), nil
	case "grid":
		cols := int(math.Ceil(math.Sqrt(float64(n))))
		rows := (n + cols - 1) / cols
		return trim(topology.Grid(rows, cols, 1.5, loss), n), nil
	case "building":
		// About 36 m² per node on one floor, 12 m of radio range: a few
		// hops across, several neighbours each. A layout that came out
		// disconnected is drawn again from the next seed.
		side := 6 * math.Sqrt(float64(n))
		for k := uint64(0); k < 64; k++ {
			t := topology.RandomBuilding(topology.Building{Nodes: n, Width: side, Height: side, Range: 12, Loss: loss}, c.Seed+k)
			if t.Connected() {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%w: no connected building layout for %d nodes", ErrConfig, n)
	}
	t, err := topology.LoadFile(c.Topology)
	if err != nil {
		return nil, fmt.Errorf("%w: topology %q: %w (want single-hop, line, grid, building or a topology file)", ErrConfig, c.Topology, err)
	}
	if c.Targets != 0 && c.Targets != t.Len()-1 {
		return nil, fmt.Errorf("%w: --nodes %d but %s has %d nodes (the distributor and %d targets)", ErrConfig, c.Targets, c.Topology, t.Len(), t.Len()-1)
	}
	if t.Len() < 2 {
		return nil, fmt.Errorf("%w: topology %s has %d nodes; it needs a distributor and a target", ErrConfig, c.Topology, t.Len())
	}
	c.Targets = t.Len() - 1
	return t, nil
}

// withInitiator returns t with the Initiator prepended as node 0, so the
// distributor becomes node 1: a phone or gateway a metre from the
// distributor, linked to it alone with the given loss.
func withInitiator(t *topology.Topology, loss sim.Loss) *topology.Topology {
	d := t.Nodes[0]
	out := &topology.Topology{Name: t.Name, Nodes: make([]topology.Node, 0, t.Len()+1),
		Links: make([]topology.Link, 0, len(t.Links)+2)}
	out.Nodes = append(out.Nodes, topology.Node{ID: 0, X: d.X + 1, Y: d.Y, Floor: d.Floor})
	for _, nd := range t.Nodes {
		nd.ID++
		out.Nodes = append(out.Nodes, nd)
	}
	out.Links = append(out.Links, topology.Link{From: 0, To: 1, Loss: loss}, topology.Link{From: 1, To: 0, Loss: loss})
	for _, l := range t.Links {
		out.Links = append(out.Links, topology.Link{From: l.From + 1, To: l.To + 1, Loss: l.Loss})
	}
	return out
}

// trim keeps the first n nodes of t and the links between them.
func trim(t *topology.Topology, n int) *topology.Topology {
	out := &topology.Topology{Name: t.Name, Nodes: t.Nodes[:n]}
	for _, l := range t.Links {
		if l.From < n && l.To < n {
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// buildImage makes a firmware image, its signed metadata and the image
// file of exactly c.ImageSize octets, with keys from the seed.
func (w *world) buildImage() error {
	r := rand.New(rand.NewPCG(w.cfg.Seed, 0x696d616765)) // "image"
	seed := make([]byte, 64)
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	pub, priv, err := fw.GenerateKey(bytes.NewReader(seed))
	if err != nil {
		return err
	}
	w.pub = pub
	make1 := func(n int) (*Image, error) {
		image := make([]byte, n)
		for i := range image {
			image[i] = byte(r.Uint32())
		}
		m, err := fw.NewMetadata("1.1.0", image, 0)
		if err != nil {
			return nil, err
		}
		if err := m.Sign(priv, newFWID); err != nil {
			return nil, err
		}
		meta, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		file := fw.ImageFile{FirmwareID: newFWID, Metadata: meta, Image: image}
		b, err := file.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return &Image{FirmwareID: newFWID, Metadata: meta, Firmware: image, File: b, BLOBID: r.Uint64()}, nil
	}
	probe, err := make1(w.cfg.ImageSize)
	if err != nil {
		return fmt.Errorf("scenario: image: %w", err)
	}
	over := len(probe.File) - w.cfg.ImageSize
	img, err := make1(w.cfg.ImageSize - over)
	if err != nil {
		return fmt.Errorf("scenario: image: %w", err)
	}
	w.img = img
	return nil
}

func (w *world) build() error {
	base, err := w.cfg.buildTopology()
	if err != nil {
		return err
	}
	topo := withInitiator(base, w.cfg.loss())
	w.topo = topo
	if err := w.buildImage(); err != nil {
		return err
	}
	w.strat = blob.StrategyMeshdfu
	if w.cfg.Profile == "zephyr" {
		w.strat = blob.StrategyZephyr
	}
	w.store, w.dstate = fw.NewMemStore(0), &blob.MemoryStateStore{}
	if w.planned(FaultDistributorStorageFull) {
		// Room for half the firmware.
		w.store = fw.NewMemStore(int64(len(w.img.Firmware) / 2))
	}
	if w.cfg.Upload == "oob" {
		if w.oob, err = newFakeOOB(lazyClock{w, distributorIdx}, w.img); err != nil {
			return err
		}
		for _, f := range w.cfg.Faults {
			if f.Kind == FaultUploadInterrupt {
				w.oob.cutAt = f.At
				w.oob.onCut = func() { w.strike(FaultUploadInterrupt.String() + " (OOB body cut)") }
			}
		}
	}
	n := topo.Len()
	hops := topo.Hops(distributorIdx)
	w.tg = make([]*target, n-firstTarget)
	for k := range w.tg {
		i := firstTarget + k
		w.tg[k] = &target{idx: i, hops: hops[i], store: &blob.MemoryStorage{}, bstate: &blob.MemoryStateStore{},
			dstate: &blob.MemoryStateStore{}, expected: dfu.PhaseApplySuccess, phase: dfu.PhaseIdle,
			images: []dfu.FirmwareInformation{{FirmwareID: oldFWID}}}
	}
	if err := w.planFaults(); err != nil {
		return err
	}
	for _, t := range w.tg {
		w.maxHops = max(w.maxHops, t.hops)
	}
	// Relays are chosen among the distributor and the targets, as if the
	// Initiator were not there (it only talks to the distributor).
	relays := make([]bool, n)
	if w.cfg.Topology != "single-hop" {
		copy(relays[1:], base.DominatingRelays())
	}
	if w.cfg.LPNs > w.cfg.Targets {
		return fmt.Errorf("%w: %d Low Power targets of %d", ErrConfig, w.cfg.LPNs, w.cfg.Targets)
	}
	lpn, err := w.chooseLPNs(topo.Adjacency(), relays)
	if err != nil {
		return err
	}
	for _, t := range w.tg {
		t.lpn = lpn[t.idx]
	}
	w.distTB = w.distributionTimeoutBase()
	ntx := w.strat.NetworkTransmit
	fc := fleet.Config{
		Seed: w.cfg.Seed, Topology: topo, RelaySet: relays,
		NetworkTransmit: &ntx, SARTx: w.strat.SAR, SARRx: w.strat.TargetSARRx,
		Preconfigure: fleet.PreconfigureApp(0, w.group),
		Capture:      w.cfg.Capture, Logger: w.cfg.Logger,
	}
	if w.hasLPNs() {
		// A Low Power target does not subscribe to the distribution's
		// group: its Friend would store every chunk pushed to it. The
		// Friends relay each PDU once, as the distributor sends it.
		withGroup, noGroup := fleet.PreconfigureApp(0, w.group), fleet.PreconfigureApp(0)
		fc.Preconfigure = func(db *cdb.Database, i int, nd *cdb.Node) error {
			if lpn[i] {
				return noGroup(db, i, nd)
			}
			return withGroup(db, i, nd)
		}
		fc.NodeOptions = fleet.LowPowerOptions(lpn, friendMask(relays),
			friend.LPNParams{PollTimeout: lpnPollTimeout, Attempts: lpnAttempts},
			friend.FriendParams{SARRx: w.strat.TargetSARRx})
		fc.RelayRetransmit = &ntx
	}
	if w.multiHop() {
		// Over relays (docs/benchmarks-blob.md, Relays): a segment must
		// not leave faster than a relay forwards it, acknowledgments
		// follow the Mesh defaults (each crosses every relay too), and
		// the Default TTL reaches the farthest node with one hop to
		// spare, so PDUs stop at the network's edge.
		if w.strat.SARRelayed != (transport.SARTransmitter{}) {
			fc.SARTx = w.strat.SARRelayed
		}
		fc.SARRx = transport.DefaultSARReceiver
		fc.DefaultTTL = w.distributionTTL()
	}
	if n := len(w.tg) + firstTarget; n > transport.DefaultRPLSize {
		// The initiator and the distributor hear from every target:
		// their replay protection lists must hold them all, or the
		// statuses and acknowledgments of the targets beyond the list
		// are dropped (with 1000 targets, all but the first 127).
		opts := fc.NodeOptions
		fc.NodeOptions = func(i int, c *node.Config) {
			if opts != nil {
				opts(i, c)
			}
			if i == initiatorIdx || i == distributorIdx {
				c.RPLSize = n
			}
		}
	}
	fc.Models = func(i int) []node.Element {
		switch i {
		case initiatorIdx:
			return []node.Element{{Models: w.newInitiator()}}
		case distributorIdx:
			return []node.Element{{Models: w.newDistributor()}}
		}
		return []node.Element{{Models: w.newServer(w.tg[i-firstTarget]).Models()}}
	}
	w.f, err = fleet.New(fc)
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	w.ctl = w.f.Engine().Clock(-1)
	w.cli.SetLayer(w.f.Node(initiatorIdx).Access())
	w.srv.SetLayer(w.f.Node(distributorIdx).Access())
	for _, t := range w.tg {
		t.addr = w.f.Address(t.idx)
		w.byAddr[t.addr] = t
		t.srv.SetLayer(w.f.Node(t.idx).Access())
		if t.fault == FaultTargetOffline {
			w.f.PowerOff(t.idx)
		}
	}
	return nil
}

// planFaults picks the targets of each fault from the seed: a target gets
// at most one fault.
func (w *world) planFaults() error {
	r := rand.New(rand.NewPCG(w.cfg.Seed, 0x6661756c74)) // "fault"
	order := r.Perm(len(w.tg))
	next := 0
	for _, f := range w.cfg.Faults {
		switch f.Kind {
		case FaultDistributorStorageFull:
			for _, t := range w.tg {
				t.expected = dfu.PhaseIdle
			}
		}
		switch {
		case f.Kind.perTarget():
			if next+f.Count > len(order) {
				return fmt.Errorf("%w: --fault %s: only %d of %d targets left to sabotage", ErrConfig, f, len(order)-next, len(w.tg))
			}
			for _, k := range order[next : next+f.Count] {
				t := w.tg[k]
				t.fault = f.Kind
				switch f.Kind {
				case FaultTargetOffline:
					t.expected = dfu.PhaseTransferError
				case FaultTamper:
					t.expected = dfu.PhaseVerificationFailed
				case FaultTargetStorageFull:
					t.expected = dfu.PhaseTransferError
				case FaultTargetRebootApply:
					t.expected = expectedAfterApplyCut
				}
			}
			next += f.Count
		}
		if f.Kind.timed() {
			w.pending = append(w.pending, f)
		}
	}
	return nil
}

// newServer builds target t's Firmware Update Server from its durable
// state, at boot and after every reboot.
func (w *world) newServer(t *target) *dfu.Server {
	// Stats of the instance being replaced still count.
	if t.srv != nil {
		t.pastChunks += t.srv.BLOB().Stats().Chunks
	}
	store := t.store
	fwh := &dfu.Firmware{PublicKey: w.pub, Data: store.Data}
	size := max(uint32(1<<20), uint32(len(w.img.File)))
	cfg := dfu.ServerConfig{
		Clock:  lazyClock{w, t.idx},
		Logger: w.logger(t.idx),
		Images: t.images,
		State:  t.dstate,
		BLOB: blob.ServerConfig{
			Storage: store, State: t.bstate,
			Rand:            rand.New(rand.NewPCG(w.cfg.Seed, uint64(t.idx))),
			MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxBLOBSize: size,
		},
		OnApplied: func(_ uint8, _ dfu.AdditionalInfo, images []dfu.FirmwareInformation) {
			t.images = images
			// The emulated device reboots into the new firmware.
			w.ctl.AfterFunc(20*time.Millisecond, func() { w.rebootTarget(t) })
		},
	}
	cfg.BLOB.OnStart = func(x blob.ServerTransfer) error {
		t.mode = x.Mode
		return nil
	}
	if t.lpn {
		cfg.BLOB.LPN = fleet.LowPowerHook{Node: func() *node.Node { return w.f.Node(t.idx) }}
	}
	if t.fault == FaultTamper {
		cfg.BLOB.OnComplete = func(id uint64) {
			if d := store.Data(id); len(d) > 100 {
				d[len(d)/2] ^= 0xff // corrupted on the way into flash
			}
		}
	}
	fwh.Install(&cfg)
	w.armTarget(t, &cfg)
	s, err := dfu.NewServer(cfg)
	if err != nil {
		panic(fmt.Sprintf("scenario: target server: %v", err)) // static configuration
	}
	// Note the Chunk Size of the first block the targets are given, and
	// look for the moment of a due distributor restart after every BLOB
	// message.
	ops := s.BLOB().Model().Ops
	for i := range ops {
		h := ops[i].Handler
		if ops[i].Opcode == blob.OpBlockStart {
			ops[i].Handler = func(ctx *access.Context, p []byte) {
				var m blob.BlockStart
				if w.chunkSize == 0 && m.Unmarshal(p) == nil && m.ChunkSize != 0 {
					w.chunkSize = m.ChunkSize
				}
				h(ctx, p)
				w.maybeRestart()
			}
			continue
		}
		ops[i].Handler = func(ctx *access.Context, p []byte) {
			h(ctx, p)
			w.maybeRestart()
		}
	}
	t.srv = s
	return s
}

// logger is node i's model logger (nil when the scenario has none). The
// models of the first boot are built inside fleet.New, before the engine
// that stamps records with virtual time can be reached: the handler finds
// it when the first record comes.
func (w *world) logger(i int) *slog.Logger {
	if w.cfg.Logger == nil {
		return nil
	}
	return slog.New(&lazyHandler{w: w, i: i})
}

// lazyHandler is node i's handler of the engine (sim.Engine.Logger),
// resolved at the first record; attributes and groups added before wait
// in edits.
type lazyHandler struct {
	w     *world
	i     int
	edits []func(slog.Handler) slog.Handler
	h     slog.Handler
}

func (l *lazyHandler) handler() slog.Handler {
	if l.h != nil {
		return l.h
	}
	if l.w.f == nil {
		return l.w.cfg.Logger.Handler()
	}
	h := l.w.f.Engine().Logger(sim.NodeID(l.i), l.w.cfg.Logger.Handler()).Handler()
	for _, e := range l.edits {
		h = e(h)
	}
	l.h = h
	return h
}

func (l *lazyHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return l.w.cfg.Logger.Handler().Enabled(ctx, lv)
}

func (l *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return l.handler().Handle(ctx, r)
}

func (l *lazyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return l.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(as) })
}

func (l *lazyHandler) WithGroup(name string) slog.Handler {
	return l.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (l *lazyHandler) with(e func(slog.Handler) slog.Handler) slog.Handler {
	if l.h != nil {
		return e(l.h)
	}
	return &lazyHandler{w: l.w, i: l.i, edits: append(l.edits[:len(l.edits):len(l.edits)], e)}
}

func (w *world) rebootTarget(t *target) {
	if !w.f.IsOn(t.idx) {
		return
	}
	if err := w.f.Reboot(t.idx); err != nil {
		w.err = err
		return
	}
	t.srv.SetLayer(w.f.Node(t.idx).Access())
}

func (w *world) setStep(s string) {
	if s == w.step {
		return
	}
	now := w.f.Elapsed()
	if n := len(w.steps); n > 0 {
		last := &w.steps[n-1]
		last.Duration = now.Seconds() - last.Start
	}
	switch {
	case s == "transfer" && w.xferStart == 0:
		w.xferStart = now
	case w.step == "transfer" && s != "transfer" && s != "restart":
		w.xferEnd = now
	}
	w.step = s
	if s != "done" {
		w.steps = append(w.steps, PhaseSpan{Name: s, Start: now.Seconds()})
	}
	w.sample(false)
}

// run drives the Initiator: upload, then the distribution until it
// ends, firing the planned faults on the way.
func (w *world) run() error {
	end := func(err error) {
		if !w.ended {
			w.ended, w.endErr, w.endAt = true, err, w.f.Elapsed()
		}
	}
	if w.hasLPNs() && !w.f.RunUntil(w.lpnsEstablished, lpnEstablishLimit) {
		return fmt.Errorf("scenario: a Low Power target has no Friend after %v", lpnEstablishLimit)
	}
	w.setStep("upload")
	w.uploadDone = func(err error) {
		if err != nil && w.planned(FaultUploadInterrupt) && w.uploadRetries < 1 {
			// The Initiator asks again for an upload that broke.
			w.uploadRetries++
			w.ctl.AfterFunc(uploadRetryDelay, func() {
				w.f.Post(initiatorIdx, func() { w.upload(w.uploadDone) })
			})
			return
		}
		if err != nil {
			w.uploadErr = err
			end(fmt.Errorf("upload: %w", err))
			return
		}
		w.setStep("start")
		w.distribute(end)
	}
	w.f.Post(initiatorIdx, func() { w.upload(w.uploadDone) })
	next := w.cfg.SampleInterval
	for !w.ended && w.f.Elapsed() < w.cfg.Limit {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		w.f.RunFor(stepSlice)
		if w.err != nil {
			return fmt.Errorf("scenario: %w", w.err)
		}
		w.observeStep()
		// Progress is read every step while a fault waits for a share of
		// the image, else at each sample (with a thousand targets, reading
		// it every step cost a tenth of the run).
		sampleDue := w.f.Elapsed() >= next
		if sampleDue || (w.xferStart != 0 && len(w.pending) > 0) {
			w.updateProgress()
		}
		w.fireFaults()
		w.fireUploadFaults()
		w.maybeRestart()
		if sampleDue {
			w.sample(false)
			next = w.f.Elapsed() + w.cfg.SampleInterval
		}
	}
	if !w.ended {
		w.endAt = w.f.Elapsed()
		w.endErr = fmt.Errorf("scenario: no end within %v of virtual time", w.cfg.Limit)
	}
	w.f.RunFor(settle)
	w.updateProgress()
	for _, t := range w.tg {
		if !t.final {
			t.final, t.doneAt = true, w.endAt
			if t.err == nil && w.uploadErr != nil {
				t.err = fmt.Errorf("not updated: the upload to the distributor failed: %w", w.uploadErr)
			}
			if t.err == nil {
				t.err = fmt.Errorf("did not finish: %s when the distribution ended", t.phase)
			}
		}
	}
	w.setStep("done")
	w.sample(true)
	return nil
}

// progressOf is the share of the image target t holds.
func (w *world) progressOf(t *target) float64 {
	if t.phase == dfu.PhaseApplySuccess || (t.phase >= dfu.PhaseVerifyingUpdate && t.phase <= dfu.PhaseApplyingUpdate) {
		return 1
	}
	b := t.srv.BLOB()
	if b.Phase() == blob.PhaseComplete {
		return 1
	}
	if x, ok := b.Transfer(); ok && !w.xferKnown {
		w.xfer, w.xferKnown = x, true
	}
	v := 0.0
	if done, total := b.Progress(); total > 0 {
		v = float64(done) / float64(total)
	}
	if p, ok := w.confirmed[t.addr]; ok {
		v = max(v, p)
	}
	return min(v, 0.999)
}

func (w *world) updateProgress() {
	now := w.f.Elapsed().Seconds()
	size := float64(len(w.img.File))
	for _, p := range w.distProgress() {
		v := float64(p.OctetsDone) / size
		if p.Block >= 0 && p.Chunks > 0 && !p.Complete {
			bs := 1 << w.xfer.BlockSizeLog
			v += float64(p.ChunksDone) / float64(p.Chunks) * float64(bs) / size
		}
		w.confirmed[p.Target] = v
	}
	for _, t := range w.tg {
		v := max(t.progress, w.progressOf(t))
		if v != t.progress || len(t.series) == 0 {
			if len(t.series) == 0 && v > 0 {
				t.series = append(t.series, Point{T: 0, V: 0})
			}
			t.progress = v
			t.series = append(t.series, Point{T: round3(now), V: v})
		}
	}
}

// meanProgress is the share of the image the targets hold on average;
// targets planned offline do not count.
func (w *world) meanProgress() float64 {
	sum, n := 0.0, 0
	for _, t := range w.tg {
		if t.fault != FaultTargetOffline {
			sum += t.progress
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// fireFaults runs the timed faults whose moment has come: the transfer
// must be under way and the targets must hold At of the image.
func (w *world) fireFaults() {
	if w.xferStart == 0 || len(w.pending) == 0 {
		return
	}
	mean := w.meanProgress()
	keep := w.pending[:0]
	for _, f := range w.pending {
		if mean < f.At {
			keep = append(keep, f)
			continue
		}
		w.fire(f)
	}
	w.pending = keep
}

func (w *world) fire(f Fault) {
	switch f.Kind {
	case FaultTargetReboot, FaultDistributorRestart, FaultLossBurst:
		w.strike(f.Kind.String())
	}
	switch f.Kind {
	case FaultTargetReboot:
		for _, t := range w.tg {
			if t.fault == FaultTargetReboot {
				w.rebootTarget(t)
			}
		}
	case FaultPowerCut:
		w.armPowerCuts()
	case FaultDistributorRestart:
		w.restartDue++
		w.maybeRestart()
	case FaultLossBurst:
		w.setLinks(func(l topology.Link) sim.Loss { return sim.Independent(BurstLoss) })
		w.bursting++
		w.ctl.AfterFunc(f.For, func() {
			w.bursting--
			if w.bursting == 0 {
				w.setLinks(func(l topology.Link) sim.Loss { return l.Loss })
			}
		})
	}
}

func (w *world) setLinks(loss func(topology.Link) sim.Loss) {
	m := w.f.Medium()
	for _, l := range w.f.Topology().Links {
		if err := m.SetLink(sim.NodeID(l.From), sim.NodeID(l.To), loss(l)); err != nil {
			w.err = err
		}
	}
}

func (w *world) sample(done bool) {
	if w.obs == nil {
		return
	}
	s := &Sample{Elapsed: w.f.Elapsed(), Step: w.step, Done: done, Targets: make([]TargetState, len(w.tg))}
	for k, t := range w.tg {
		s.Targets[k] = TargetState{Address: t.addr.String(), Phase: phaseName(t), Progress: t.progress, Failed: t.err != nil, Final: t.final}
	}
	w.obs(s)
}

// phaseName is the target's phase for people: the specification's name.
func phaseName(t *target) string {
	if t.phase == dfu.PhaseUnknown {
		return "Idle"
	}
	return t.phase.String()
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// reason says why t failed, in words.
func (w *world) reason(t *target) string {
	if t.err == nil {
		return ""
	}
	msg := t.err.Error()
	if t.phase == dfu.PhaseVerificationFailed && t.srv != nil && t.srv.VerifyError() != nil {
		msg = "target rejected the image: " + t.srv.VerifyError().Error()
	}
	msg = strings.TrimPrefix(msg, "dfu: ")
	return msg
}

func (w *world) result() *Result {
	c := w.cfg
	r := &Result{Seed: c.Seed, VirtualDuration: round3(w.endAt.Seconds()), ImageBytes: len(w.img.File), Nodes: len(w.tg)}
	relays := 0
	for _, on := range w.f.Relays() {
		if on {
			relays++
		}
	}
	addressing := "group"
	if c.Unicast {
		addressing = "unicast"
	}
	r.Network = Network{Topology: w.topo.Name, Nodes: w.f.Len(), Relays: relays, MaxHops: w.maxHops, Loss: c.Loss, Burst: c.Burst,
		Initiator: w.f.Address(initiatorIdx).String(), Distributor: w.f.Address(distributorIdx).String(), Role: "dfd", Profile: c.Profile, Upload: c.Upload, Addressing: addressing}
	r.OK = w.err == nil
	r.ImageFile = w.img.File
	r.TimedOut = !w.ended
	r.Struck = w.struck
	if w.endErr != nil {
		r.EndError = w.endErr.Error()
	}
	for _, t := range w.tg {
		tr := TargetResult{Address: t.addr.String(), FinalPhase: phaseName(t), Status: t.status.String(), Reason: w.reason(t),
			Expected: t.expected.String(), CompletedAt: round3(t.doneAt.Seconds()), Hops: t.hops}
		if t.fault != 0 {
			tr.Fault = t.fault.String()
		}
		tr.LPN, tr.Mode = t.lpn, modeName(t.mode)
		if t.phase == dfu.PhaseApplySuccess && w.xferKnown {
			tr.Installed = t.store.Data(w.xfer.ID)
		}
		if tr.FinalPhase != tr.Expected {
			r.OK = false
		}
		r.Targets = append(r.Targets, tr)
		r.Series = append(r.Series, TargetSeries{Address: tr.Address, Points: t.series})
	}
	// Transfer figures.
	end := w.xferEnd
	if end == 0 && w.xferStart != 0 {
		end = w.endAt
	}
	whole := false // some target received the whole image
	for _, t := range w.tg {
		whole = whole || t.progress >= 1
	}
	if d := (end - w.xferStart).Seconds(); w.xferStart != 0 && d > 0 {
		r.Transfer.Duration = round3(d)
		if whole {
			r.Transfer.Goodput = round3(float64(r.ImageBytes) / d)
		}
	}
	gap := w.f.Medium().Config().MinGap
	if gap <= 0 {
		gap = sim.DefaultMinGap
	}
	r.Transfer.Bound = round3(12 / gap.Seconds())
	if r.Transfer.Bound > 0 {
		r.Transfer.Efficiency = math.Round(r.Transfer.Goodput/r.Transfer.Bound*10000) / 10000
	}
	r.Transfer.ChunkSize = int(w.chunkSize)
	if w.xferKnown {
		r.Transfer.BlockSize = 1 << w.xfer.BlockSizeLog
		r.Transfer.Mode = strings.ToLower(w.xfer.Mode.String())
	}
	r.Phases = w.steps
	for i := range r.Phases {
		r.Phases[i].Start, r.Phases[i].Duration = round3(r.Phases[i].Start), round3(r.Phases[i].Duration)
	}
	// Air.
	m := w.f.Metrics()
	r.LPNs, r.FriendQueueOverflows = m.LPNs, m.FriendQueueOverflows
	for k, t := range w.tg {
		if l := m.Nodes[t.idx].LPN; t.lpn && l != nil {
			r.Targets[k].RadioOn = round3(l.RadioOn.Seconds())
		}
	}
	r.Air = Air{PDUs: m.Medium.Transmissions, AirTime: round3(m.Medium.AirTime.Seconds()), Collisions: m.Medium.Lost.Collision,
		Lost: m.Medium.Lost.Total(), Deliveries: m.Medium.Deliveries}
	for i, nm := range m.Nodes {
		role := "target"
		switch i {
		case initiatorIdx:
			role = "initiator"
		case distributorIdx:
			role = "distributor"
		}
		if nm.Relay {
			role = "relay+" + role
		}
		per := 0.0
		if nm.Radio.Transmissions > 0 {
			per = nm.Radio.AirTime.Seconds() / float64(nm.Radio.Transmissions)
		}
		// Transmissions of messages split between own and relayed in the
		// proportion of the PDUs handed to the advertiser.
		msgs := float64(min(nm.Radio.TxByKind.Message, nm.Radio.Transmissions))
		other := float64(nm.Radio.Transmissions) - msgs
		share := 0.0
		if nm.Radio.Sent > 0 {
			share = float64(nm.Radio.Relayed) / float64(nm.Radio.Sent)
		}
		r.AirByNode = append(r.AirByNode, NodeAir{Address: nm.Address.String(), Role: role,
			Own: per * msgs * (1 - share), Relayed: per * msgs * share, Beacons: per * other})
	}
	k := w.f.Keys()
	r.Keys = Keys{NetKey: strings.TrimPrefix(k.NetKey, "0x"), IVIndex: strings.TrimPrefix(k.IVIndex, "0x")}
	if len(k.AppKeys) > 0 {
		r.Keys.AppKey = strings.TrimPrefix(k.AppKeys[0], "0x")
	}
	r.Faults = []string{}
	for _, f := range c.Faults {
		r.Faults = append(r.Faults, f.String())
	}
	if w.endErr != nil && r.OK {
		// Every target as planned but the distribution reported an error
		// (e.g. every target was sabotaged): still as planned.
		r.OK = true
	}
	return r
}
