package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/mesh/transport"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/pcap"
	"github.com/meshdfu/meshdfu/sim/topology"

	bsim "github.com/meshdfu/meshdfu/bearer/sim"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("fleet: invalid configuration")

// Provisioner is the index of the node that holds the Configuration Client
// and every device key: node 0, always.
const Provisioner = 0

// RelayPolicy chooses which nodes have the Relay feature enabled.
type RelayPolicy uint8

// Relay policies.
const (
	// RelaysDominating enables Relay on a connected dominating set of the
	// topology (topology.DominatingRelays): every node is a relay or next
	// to one. The default.
	RelaysDominating RelayPolicy = iota
	// RelaysAll enables Relay on every node.
	RelaysAll
	// RelaysNone disables Relay everywhere (single-hop networks).
	RelaysNone
)

// String names the policy.
func (p RelayPolicy) String() string {
	switch p {
	case RelaysDominating:
		return "dominating"
	case RelaysAll:
		return "all"
	case RelaysNone:
		return "none"
	}
	return fmt.Sprintf("RelayPolicy(%d)", uint8(p))
}

// Config describes a simulated network. Zero fields take the documented
// defaults.
type Config struct {
	// Seed drives everything random: the engine, the key material of the
	// network file, and Build.
	Seed uint64

	// Topology is the radio layout. When nil, Build is called with Seed;
	// when that is nil too, every one of Nodes nodes hears every other
	// (topology.SingleHop). Node i of the topology is node i of the fleet.
	Topology *topology.Topology
	Build    func(seed uint64) (*topology.Topology, error)
	// Nodes is the node count when neither Topology nor Build is set; with
	// a topology it must be 0 or equal to the topology's size.
	Nodes int

	// Relays chooses the relay nodes; RelaySet, when not nil, lists them
	// explicitly (one entry per node) and overrides Relays.
	Relays   RelayPolicy
	RelaySet []bool

	// Loss, when not nil, replaces the loss of every link of the topology.
	Loss *sim.Loss
	// Medium configures the radio (air time, gaps, advertising delay). Its
	// Capture function, if any, still runs next to Capture below.
	Medium sim.MediumConfig

	// NetworkTransmit and RelayRetransmit are every node's initial states;
	// nil: mesh.DefaultNetworkTransmit (3 transmissions 20 ms apart).
	NetworkTransmit *mesh.Transmit
	RelayRetransmit *mesh.Transmit
	// DefaultTTL is every node's Default TTL; 0: access.DefaultTTLValue (7).
	DefaultTTL uint8
	// IVIndex is the network's IV Index.
	IVIndex uint32
	// Beacons turns the Secure Network beacon service on (off by default:
	// 1000 nodes beaconing every 10 s is traffic most scenarios do not
	// want).
	Beacons bool

	// SARTx and SARRx are every node's SAR states; zero values take the
	// transport defaults.
	SARTx transport.SARTransmitter
	SARRx transport.SARReceiver
	// ConfigClient tunes node 0's Configuration Client (Layer and Clock are
	// filled in).
	ConfigClient config.ClientConfig

	// Models returns the elements of node i, with the models a scenario
	// needs (BLOB, DFU, test models). The Configuration Server, and on
	// node 0 the Configuration Client, are added to the first element. It
	// is called again for each reboot, so it must return fresh models.
	// nil: one element with the foundation models only.
	Models func(i int) []node.Element
	// NodeOptions, when set, edits node i's node.Config just before the
	// node is built (at boot and after each reboot): the Friend or Low
	// Power feature, transport limits, and the like.
	NodeOptions func(i int, c *node.Config)
	// Preconfigure, when set, edits node i's entry of the network file
	// before the node is built from it (AppKeys, model bindings,
	// subscriptions, publication), as if a Configuration Client had already
	// run. PreconfigureApp is the common case. Node 0 already holds every
	// AppKey; other nodes start with none.
	Preconfigure func(db *cdb.Database, i int, n *cdb.Node) error

	// Capture, when set, receives every advertising event (only those
	// someone received, with CaptureHeardOnly); see CaptureErr.
	Capture          *pcap.Writer
	CaptureHeardOnly bool

	// Logger receives every node's records, stamped with virtual time and
	// the node ID (sim.Engine.Logger). nil: discard.
	Logger *slog.Logger
	// EngineOptions are passed to sim.New (e.g. sim.WithEventLog).
	EngineOptions []sim.Option
	// NetworkCacheSize is every node's network message cache size; 0: the
	// network layer's default.
	NetworkCacheSize int
	// MaxRxMessages and MaxTxMessages bound the segmented messages every
	// node's transport reassembles and sends at once; 0: the transport
	// defaults. NodeConfig may change them per node.
	MaxRxMessages int
	MaxTxMessages int
	// NodeConfig, when set, edits node i's node.Config last, before the
	// node is built (at boot and at every reboot): e.g. a larger
	// reassembly capacity on a gateway.
	NodeConfig func(i int, nc *node.Config)
}

// Fleet is a simulated mesh network of complete nodes (mesh/node) on one
// sim.Engine. Call its methods from the goroutine that runs the engine,
// between runs or from events (callbacks of the nodes).
type Fleet struct {
	cfg    Config
	eng    *sim.Engine
	med    *sim.Medium
	topo   *topology.Topology
	db     *cdb.Database
	relays []bool
	devKey map[mesh.Address]crypto.Key

	members    []*member
	captureErr error
	// memo lets the nodes, which all run on the engine's one executor,
	// decrypt each PDU they hear once between them.
	memo  network.OpenMemo
	amemo transport.AccessMemo
}

// member is one simulated node and what outlives its reboots.
type member struct {
	id      sim.NodeID
	addr    mesh.Address
	bearer  *bsim.Bearer
	store   *node.MemoryStore
	prov    *node.Provisioning
	clk     *sim.Clock
	rnd     *rand.Rand
	node    *node.Node
	on      bool
	reboots int
	past    stackStats // counters of node instances before the last reboot
}

// New builds the network: a Mesh Configuration Database with one NetKey and
// one AppKey (index 0) and a node per topology node (node 0 first, so it is
// the provisioner at address 0x0001), then the engine, medium, bearers and
// nodes. Nodes are started (beacons, when enabled) but nothing has run yet.
func New(cfg Config) (*Fleet, error) {
	f := &Fleet{cfg: cfg, eng: sim.New(cfg.Seed, cfg.EngineOptions...)}
	if err := f.buildTopology(); err != nil {
		return nil, err
	}
	n := f.topo.Len()
	if n == 0 {
		return nil, fmt.Errorf("%w: no nodes", ErrConfig)
	}
	if err := f.chooseRelays(); err != nil {
		return nil, err
	}
	mc := cfg.Medium
	if cfg.Capture != nil {
		write := sim.PcapCapture(cfg.Capture, cfg.CaptureHeardOnly, &f.captureErr)
		if user := mc.Capture; user != nil {
			mc.Capture = func(c sim.Capture) { user(c); write(c) }
		} else {
			mc.Capture = write
		}
	}
	f.med = sim.NewMedium(f.eng, mc)
	if err := f.topo.Apply(f.med); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if err := f.buildDatabase(); err != nil {
		return nil, err
	}
	for i := range f.members {
		if err := f.boot(i); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *Fleet) buildTopology() error {
	c := f.cfg
	switch {
	case c.Topology != nil:
		f.topo = c.Topology
	case c.Build != nil:
		t, err := c.Build(c.Seed)
		if err != nil {
			return fmt.Errorf("fleet: build topology: %w", err)
		}
		f.topo = t
	default:
		loss := sim.Loss{}
		if c.Loss != nil {
			loss = *c.Loss
		}
		f.topo = topology.SingleHop(c.Nodes, loss)
	}
	if f.topo == nil {
		return fmt.Errorf("%w: nil topology", ErrConfig)
	}
	if c.Nodes != 0 && c.Nodes != f.topo.Len() {
		return fmt.Errorf("%w: Nodes is %d but the topology has %d", ErrConfig, c.Nodes, f.topo.Len())
	}
	if c.Loss != nil {
		if err := c.Loss.Validate(); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		// Copy, so the caller's topology keeps its own losses.
		t := *f.topo
		t.Links = make([]topology.Link, len(f.topo.Links))
		for i, l := range f.topo.Links {
			l.Loss = *c.Loss
			t.Links[i] = l
		}
		f.topo = &t
	}
	return nil
}

func (f *Fleet) chooseRelays() error {
	n := f.topo.Len()
	switch {
	case f.cfg.RelaySet != nil:
		if len(f.cfg.RelaySet) != n {
			return fmt.Errorf("%w: RelaySet has %d entries for %d nodes", ErrConfig, len(f.cfg.RelaySet), n)
		}
		f.relays = append([]bool(nil), f.cfg.RelaySet...)
	case f.cfg.Relays == RelaysDominating:
		f.relays = f.topo.DominatingRelays()
	case f.cfg.Relays == RelaysAll:
		f.relays = f.topo.AllRelays()
	case f.cfg.Relays == RelaysNone:
		f.relays = make([]bool, n)
	default:
		return fmt.Errorf("%w: %v", ErrConfig, f.cfg.Relays)
	}
	return nil
}

// keyReader is the deterministic source of key material and UUIDs: a
// ChaCha8 stream keyed from the engine's "cdb" random stream.
func (f *Fleet) keyReader() *rand.ChaCha8 {
	r := f.eng.Rand("cdb", 0)
	var seed [32]byte
	for i := 0; i < 32; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			seed[i+j] = byte(v >> (8 * j))
		}
	}
	return rand.NewChaCha8(seed)
}

// buildDatabase writes the network file: the network, then one node per
// topology node with its features and models, then the scenario's
// preconfiguration, and derives every node's Provisioning from it.
func (f *Fleet) buildDatabase() error {
	c := f.cfg
	kr := f.keyReader()
	db, err := cdb.NewNetwork("meshdfu fleet", kr)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if c.IVIndex != 0 {
		db.IVIndex = c.IVIndex
	}
	f.db = db
	ntx, rtx := mesh.DefaultNetworkTransmit, mesh.DefaultNetworkTransmit
	if c.NetworkTransmit != nil {
		ntx = *c.NetworkTransmit
	}
	if c.RelayRetransmit != nil {
		rtx = *c.RelayRetransmit
	}
	ttl := int(access.DefaultTTLValue)
	if c.DefaultTTL != 0 {
		ttl = int(c.DefaultTTL)
	}
	f.devKey = make(map[mesh.Address]crypto.Key, f.topo.Len())
	f.members = make([]*member, f.topo.Len())
	// Addresses are handed out in node order from 0x0001; giving them
	// to AddNode spares it a search of the whole file per node.
	next := mesh.Address(1)
	for i := range f.members {
		elems := f.elements(i)
		if int(next)+len(elems)-1 > 0x7fff {
			return fmt.Errorf("%w: unicast addresses exhausted at node %d", ErrConfig, i)
		}
		nn := cdb.NewNode{Name: fmt.Sprintf("node %d", i), Elements: len(elems), Address: next}
		next += mesh.Address(len(elems))
		if i != Provisioner {
			nn.AppKeys = []uint16{}
		}
		for _, e := range elems {
			var ids []cdb.ModelID
			for _, m := range e.Models {
				ids = append(ids, cdbModelID(m.ID))
			}
			nn.Models = append(nn.Models, ids)
		}
		cn, err := db.AddNode(kr, nn)
		if err != nil {
			return fmt.Errorf("fleet: node %d: %w", i, err)
		}
		relay := cdb.FeatureDisabled
		if f.relays[i] {
			relay = cdb.FeatureEnabled
		}
		beacon := c.Beacons
		cn.Features = &cdb.Features{Relay: &relay}
		cn.SecureNetworkBeacon = &beacon
		cn.DefaultTTL = &ttl
		cn.NetworkTransmit = cdbTransmit(ntx)
		cn.RelayRetransmit = cdbTransmit(rtx)
		if c.Preconfigure != nil {
			if err := c.Preconfigure(db, i, cn); err != nil {
				return fmt.Errorf("fleet: preconfigure node %d: %w", i, err)
			}
		}
		addr := cn.UnicastAddress.Mesh()
		dk, err := cn.DevKey()
		if err != nil {
			return fmt.Errorf("fleet: node %d: %w", i, err)
		}
		f.devKey[addr] = dk
		f.members[i] = &member{id: sim.NodeID(i), addr: addr, store: &node.MemoryStore{}}
	}
	if err := db.Validate(); err != nil {
		return fmt.Errorf("fleet: network file: %w", err)
	}
	for i, m := range f.members {
		p, err := node.ProvisioningFromCDB(db, m.addr, c.IVIndex)
		if err != nil {
			return fmt.Errorf("fleet: node %d: %w", i, err)
		}
		m.prov = p
		m.clk = f.eng.Clock(m.id)
		m.rnd = f.eng.NodeRand(m.id)
		m.bearer = bsim.Attach(f.med, m.id, nil)
		m.on = true
	}
	return nil
}

func (f *Fleet) elements(i int) []node.Element {
	if f.cfg.Models == nil {
		return []node.Element{{}}
	}
	e := f.cfg.Models(i)
	if len(e) == 0 {
		return []node.Element{{}}
	}
	return e
}

func cdbModelID(id access.ModelID) cdb.ModelID {
	if id.IsVendor() {
		return cdb.VendorModel(id.CompanyID(), id.Number())
	}
	return cdb.SIGModel(id.Number())
}

func cdbTransmit(t mesh.Transmit) *cdb.Transmit {
	return &cdb.Transmit{Count: int(t.Count) + 1, Interval: (int(t.IntervalSteps) + 1) * 10}
}

// boot builds node i from its store (its Provisioning the first time) and
// starts it.
func (f *Fleet) boot(i int) error {
	m := f.members[i]
	var logger *slog.Logger
	if f.cfg.Logger != nil {
		logger = f.eng.Logger(m.id, f.cfg.Logger.Handler())
	}
	nc := node.Config{
		Clock: m.clk, Bearer: m.bearer, Rand: m.rnd, Logger: logger, Store: m.store,
		Provisioning:     m.prov,
		Elements:         f.elements(i),
		SARTx:            f.cfg.SARTx,
		SARRx:            f.cfg.SARRx,
		NetworkCacheSize: f.cfg.NetworkCacheSize,
		NetworkMemo:      &f.memo,
		AccessMemo:       &f.amemo,
		NoBeacons:        !f.cfg.Beacons,
		MaxRxMessages:    f.cfg.MaxRxMessages,
		MaxTxMessages:    f.cfg.MaxTxMessages,
	}
	if i == Provisioner {
		nc.ConfigClient = true
		nc.ConfigClientConfig = f.cfg.ConfigClient
		nc.PeerDevKey = func(a mesh.Address) (crypto.Key, bool) {
			k, ok := f.devKey[a]
			return k, ok
		}
	}
	if f.cfg.NodeOptions != nil {
		f.cfg.NodeOptions(i, &nc)
	}
	if f.cfg.NodeConfig != nil {
		f.cfg.NodeConfig(i, &nc)
	}
	n, err := node.New(nc)
	if err != nil {
		return fmt.Errorf("fleet: node %d: %w", i, err)
	}
	m.node = n
	m.bearer.SetReceiver(n.Receive)
	if err := n.Start(); err != nil {
		return fmt.Errorf("fleet: node %d: %w", i, err)
	}
	return nil
}

// Len returns the number of nodes.
func (f *Fleet) Len() int { return len(f.members) }

// Nodes returns every node, by index. After a reboot the node at an index
// is a new *node.Node: do not keep the slice across reboots.
func (f *Fleet) Nodes() []*node.Node {
	out := make([]*node.Node, len(f.members))
	for i, m := range f.members {
		out[i] = m.node
	}
	return out
}

// Node returns node i (its current instance; see Reboot).
func (f *Fleet) Node(i int) *node.Node { return f.members[i].node }

// Address returns node i's primary unicast address.
func (f *Fleet) Address(i int) mesh.Address { return f.members[i].addr }

// Index returns the index of the node that owns unicast address a, or -1.
func (f *Fleet) Index(a mesh.Address) int {
	for i, m := range f.members {
		if a >= m.addr && int(a-m.addr) < len(f.db.Nodes[i].Elements) {
			return i
		}
	}
	return -1
}

// Bearer returns node i's simulated bearer (radio on/off, live metrics).
func (f *Fleet) Bearer(i int) *bsim.Bearer { return f.members[i].bearer }

// Clock returns node i's clock and executor.
func (f *Fleet) Clock(i int) *sim.Clock { return f.members[i].clk }

// Post runs fn on node i's executor, after the events already due.
func (f *Fleet) Post(i int, fn func()) { f.members[i].clk.Post(fn) }

// Relay reports whether node i was built with the Relay feature enabled.
func (f *Fleet) Relay(i int) bool { return f.relays[i] }

// Relays returns the relay set (one entry per node).
func (f *Fleet) Relays() []bool { return append([]bool(nil), f.relays...) }

// Engine returns the discrete-event engine.
func (f *Fleet) Engine() *sim.Engine { return f.eng }

// Medium returns the radio medium.
func (f *Fleet) Medium() *sim.Medium { return f.med }

// Topology returns the layout in use (with Config.Loss applied).
func (f *Fleet) Topology() *topology.Topology { return f.topo }

// Database returns the network file the nodes were provisioned from. It
// records the initial state; configuration done later over the air is not
// written back.
func (f *Fleet) Database() *cdb.Database { return f.db }

// DevKey returns the device key of the node at primary address a.
func (f *Fleet) DevKey(a mesh.Address) (crypto.Key, bool) {
	k, ok := f.devKey[a]
	return k, ok
}

// ConfigClient returns node 0's Configuration Client.
func (f *Fleet) ConfigClient() *config.Client { return f.members[Provisioner].node.ConfigClient() }

// CaptureErr returns the first error writing Config.Capture, if any.
func (f *Fleet) CaptureErr() error { return f.captureErr }

// Now returns the virtual time.
func (f *Fleet) Now() time.Time { return f.eng.Now() }

// Elapsed returns the virtual time since the start.
func (f *Fleet) Elapsed() time.Duration { return f.eng.Elapsed() }

// RunFor runs the network for d of virtual time.
func (f *Fleet) RunFor(d time.Duration) { f.eng.RunFor(d) }

// RunUntil runs until done reports true (checked before every event) or
// limit of virtual time has passed; it reports whether done became true.
func (f *Fleet) RunUntil(done func() bool, limit time.Duration) bool {
	return f.eng.RunWhile(func() bool { return !done() }, limit)
}

// RunUntilIdle runs until no event is left or limit has passed; it reports
// whether the network went quiet. With beacons on it never does.
func (f *Fleet) RunUntilIdle(limit time.Duration) bool { return f.eng.RunUntilIdle(limit) }

// PowerOff switches node i off: its radio goes off (queued PDUs are
// dropped), the node is closed and every timer it scheduled is cancelled.
// Its durable state stays in its MemoryStore.
func (f *Fleet) PowerOff(i int) {
	m := f.members[i]
	if !m.on {
		return
	}
	m.bearer.SetRadio(false)
	m.node.Close()
	m.past.add(m.node)
	f.eng.ResetNode(m.id)
	m.on = false
}

// PowerOn builds a new node i from its saved state (a boot: SEQ resumes
// above the saved reserve, configuration is restored, RAM state such as
// SAR transfers and the message cache is gone) and switches its radio on.
func (f *Fleet) PowerOn(i int) error {
	m := f.members[i]
	if m.on {
		return nil
	}
	if err := f.boot(i); err != nil {
		return err
	}
	m.bearer.SetRadio(true)
	m.on = true
	m.reboots++
	return nil
}

// IsOn reports whether node i is powered.
func (f *Fleet) IsOn(i int) bool { return f.members[i].on }

// Reboot is PowerOff then PowerOn at the same virtual instant.
func (f *Fleet) Reboot(i int) error {
	f.PowerOff(i)
	return f.PowerOn(i)
}

// Store returns node i's durable state store.
func (f *Fleet) Store(i int) *node.MemoryStore { return f.members[i].store }
