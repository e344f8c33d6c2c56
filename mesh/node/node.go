package node

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/beacon"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/friend"
	"github.com/meshdfu/meshdfu/mesh/network"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// DefaultSeqReserve is how many SEQ values a node reserves with one write
// to its store. After a reboot it resumes above the reserve, so it never
// reuses a SEQ; a larger reserve writes less often and skips more numbers.
const DefaultSeqReserve = 256

// ErrNotProvisioned is returned by New when the store holds no state and
// the Config no Provisioning.
var ErrNotProvisioned = errors.New("node: not provisioned: no saved state and no provisioning data")

// Provisioning is what provisioning gives a node: its primary address, its
// device key, the keys of the network and the IV Index. It is used when the
// Store holds no state yet.
type Provisioning struct {
	Address  mesh.Address
	DevKey   crypto.Key
	NetKeys  []NetKeyState // at least one
	AppKeys  []AppKeyState // optional: normally a Configuration Client adds them
	IVIndex  uint32
	Updating bool
	// Features are the initial node-wide states; the zero value takes
	// config.DefaultFeatures.
	Features *config.Features
	// Models pre-configures bindings, subscriptions and publications, as a
	// network file (CDB) describes them.
	Models []ModelState
}

// Element lists the models of one element besides the foundation models.
type Element struct {
	Location uint16
	Models   []*access.Model
}

// Config configures a Node.
type Config struct {
	Clock  mesh.Clock   // required; also the node's executor in the simulator
	Bearer mesh.Bearer  // required
	Rand   *rand.Rand   // nil: a fixed seed
	Logger *slog.Logger // nil: discard
	Store  Store        // nil: a MemoryStore

	// Provisioning is used when Store holds no state.
	Provisioning *Provisioning
	// Elements are the node's elements; the Configuration Server (and
	// Client, with ConfigClient) are added to the first one. At least one
	// element always exists.
	Elements []Element
	// Composition is the Composition Data page 0 header (CID, PID, VID,
	// CRPL; the feature bits are filled in).
	Composition access.CompositionHeader

	// ConfigClient adds a Configuration Client model to the primary
	// element; PeerDevKey gives it the device keys of the nodes it
	// configures.
	ConfigClient bool
	PeerDevKey   func(mesh.Address) (crypto.Key, bool)
	// ConfigClientConfig tunes the Configuration Client (Layer and Clock
	// are filled in).
	ConfigClientConfig config.ClientConfig

	SeqReserve uint32 // 0: DefaultSeqReserve
	// SAR and transport limits; zero values take the transport defaults.
	SARTx transport.SARTransmitter
	SARRx transport.SARReceiver
	// MaxRxMessages and MaxTxMessages bound the segmented messages the
	// transport reassembles and sends at once; 0: transport's
	// DefaultMaxRxMessages and DefaultMaxTxMessages. A client that collects
	// many segmented answers at once (a BLOB Transfer Client querying a
	// group) needs a larger MaxRxMessages.
	MaxRxMessages int
	MaxTxMessages int
	// RPLSize is the replay protection list capacity: how many sources
	// the node accepts messages from; 0: transport.DefaultRPLSize (128).
	// A node that hears from more nodes (a Distributor with a thousand
	// targets) needs more: messages from sources beyond it are dropped.
	RPLSize int
	// NetworkCacheSize is the network message cache size; 0: the default.
	NetworkCacheSize int
	// NetworkMemo, when set, is shared with other nodes run on the same
	// executor so that a PDU they all hear is decrypted once
	// (network.OpenMemo; the simulator sets it). nil: none.
	NetworkMemo *network.OpenMemo
	// AccessMemo does the same for access messages' upper transport
	// decryption (transport.AccessMemo). nil: none.
	AccessMemo *transport.AccessMemo
	// IVTestMode removes the 96-hour IV Update limits.
	IVTestMode bool
	// NoBeacons turns the Secure Network beacon service off whatever the
	// Beacon state says (a simulation of many nodes may not want them).
	NoBeacons bool

	// Friend enables the Friend feature with these parameters; nil: off
	// (mesh/node/friend.go).
	Friend *friend.FriendParams
	// LowPower makes the node a Low Power node with these parameters: it
	// looks for a Friend at Start and then listens only in its receive
	// windows. nil: off.
	LowPower *friend.LPNParams
}

// Node is a provisioned mesh node. Call its methods on its executor.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store Store
	st    State

	subnets *network.Subnets
	appKeys map[uint16]*appKey
	net     *network.Layer
	tr      *transport.Layer
	acc     *access.Layer
	iv      *beacon.IVUpdate
	beacons *beacon.Service
	keySets []beacon.KeySet

	cfgSrv *config.Server
	cfgCli *config.Client

	seq    []uint32 // next SEQ per element
	closed bool

	rplSavePending bool
	stats          Stats
	ff             friendFeatures
}

type appKey struct {
	index, netKeyIndex uint16
	key                crypto.Key
	aid                uint8
	newKey             *crypto.Key
	newAID             uint8
}

// Stats counts node-level events.
type Stats struct {
	Saves     uint64 // state writes
	SaveFails uint64
	Beacons   uint64 // beacons handled
}

// New builds a node from its saved state, or from cfg.Provisioning when the
// store is empty. It does not start timers; call Start on the executor.
func New(cfg Config) (*Node, error) {
	if cfg.Clock == nil || cfg.Bearer == nil {
		return nil, errors.New("node: Config needs Clock and Bearer")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryStore{}
	}
	if cfg.SeqReserve == 0 {
		cfg.SeqReserve = DefaultSeqReserve
	}
	if len(cfg.Elements) == 0 {
		cfg.Elements = []Element{{}}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, store: cfg.Store, appKeys: map[uint16]*appKey{}}
	st, err := cfg.Store.Load()
	switch {
	case err == nil:
		n.st = *st
	case errors.Is(err, ErrNoState):
		if cfg.Provisioning == nil {
			return nil, ErrNotProvisioned
		}
		if err := n.provision(cfg.Provisioning); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if n.st.Elements != len(cfg.Elements) {
		n.st.Elements = len(cfg.Elements)
	}
	for len(n.st.SeqLimit) < n.st.Elements {
		n.st.SeqLimit = append(n.st.SeqLimit, 0)
	}
	// Resume every element above anything it may have used.
	n.seq = slices.Clone(n.st.SeqLimit[:n.st.Elements])
	if err := n.build(); err != nil {
		return nil, err
	}
	// Reserve SEQ space now, so the first messages do not each write.
	if err := n.save(); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Node) provision(p *Provisioning) error {
	if !p.Address.IsUnicast() {
		return fmt.Errorf("node: provisioning address %v is not unicast", p.Address)
	}
	if len(p.NetKeys) == 0 {
		return errors.New("node: provisioning needs a NetKey")
	}
	n.st = State{
		Address:  p.Address,
		DevKey:   Key(p.DevKey),
		NetKeys:  slices.Clone(p.NetKeys),
		AppKeys:  slices.Clone(p.AppKeys),
		IV:       IVState{Index: p.IVIndex, Updating: p.Updating, Since: n.cfg.Clock.Now()},
		Features: config.DefaultFeatures,
		Models:   slices.Clone(p.Models),
	}
	if p.Features != nil {
		n.st.Features = *p.Features
	}
	return nil
}

// build creates the layers from n.st.
func (n *Node) build() error {
	c := n.cfg
	n.subnets = network.NewSubnets()
	for _, k := range n.st.NetKeys {
		if err := n.loadNetKey(k); err != nil {
			return err
		}
	}
	for _, k := range n.st.AppKeys {
		n.putAppKey(k)
	}
	iv, err := beacon.NewIVUpdate(beacon.IVUpdateConfig{
		Clock:    c.Clock,
		Logger:   n.log,
		State:    beacon.IVState{Index: n.st.IV.Index, Updating: n.st.IV.Updating, Since: n.st.IV.Since},
		TestMode: c.IVTestMode,
		OnChange: func(s beacon.IVState) {
			n.st.IV = IVState{Index: s.Index, Updating: s.Updating, Since: s.Since}
			n.persist()
			n.friendSecurityChanged()
		},
		ResetSeq:        n.resetSeq,
		TransferPending: func() bool { return n.tr != nil && n.tr.TxInProgress() },
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.iv = iv
	f := n.st.Features
	n.net = network.New(network.Config{
		Clock:           c.Clock,
		Bearer:          n.wrapBearer(c.Bearer),
		Rand:            c.Rand,
		Logger:          n.log,
		Subnets:         n.subnets,
		IV:              func() network.IVState { return network.IVState{Index: n.iv.Index(), Updating: n.iv.Updating()} },
		NetworkTransmit: f.NetworkTransmit,
		RelayRetransmit: f.RelayRetransmit,
		Relay:           f.Relay == config.FeatureEnabled,
		CacheSize:       c.NetworkCacheSize,
		Memo:            c.NetworkMemo,
		IsLocal:         n.IsLocal,
		Deliver:         n.deliverNetwork,
		// A Low Power node in a friendship takes its messages from its
		// Friend only, in the order the Friend Queue keeps: a later
		// message heard directly in a receive window would move the
		// replay protection list past earlier messages still queued at
		// the Friend, which would then be dropped as replays.
		FriendOnly: func() bool { return n.ff.lpn != nil && n.ff.lpn.Established() },
		ForLPN:     n.forLPN,
	})
	n.tr, err = transport.New(transport.Config{
		Clock:   c.Clock,
		Rand:    c.Rand,
		Logger:  n.log,
		SARTx:   c.SARTx,
		SARRx:   c.SARRx,
		NextSeq: n.nextSeq,
		IVIndex: n.iv.TxIndex,
		Send: func(p *transport.NetPDU) error {
			return n.net.Send(&network.Tx{NetKeyIndex: p.NetKeyIndex, CTL: p.CTL, TTL: p.TTL, SEQ: p.SEQ, SRC: p.SRC, DST: p.DST, TransportPDU: p.LowerPDU, Sent: p.Sent})
		},
		Keys:          keyStore{n},
		IsLocal:       n.IsLocal,
		DefaultTTL:    func() uint8 { return n.st.Features.DefaultTTL },
		DeliverAccess: n.deliverAccess,
		ReplayUpdated: func(transport.RPLEntry) { n.scheduleRPLSave() },
		MaxRxMessages: c.MaxRxMessages,
		MaxTxMessages: c.MaxTxMessages,
		RPLSize:       c.RPLSize,
		Memo:          c.AccessMemo,
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if err := n.tr.ReplayList().Import(n.st.RPL); err != nil {
		n.log.Warn("node: saved replay protection list not restored", "err", err)
	}
	hdr := c.Composition
	n.acc, err = access.New(access.Config{
		Clock:       c.Clock,
		Rand:        c.Rand,
		Logger:      n.log,
		Primary:     func() mesh.Address { return n.st.Address },
		DefaultTTL:  func() uint8 { return n.st.Features.DefaultTTL },
		Send:        n.sendAccess,
		FixedGroup:  n.fixedGroup,
		BoundNetKey: n.boundNetKey,
		Composition: hdr,
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.cfgSrv, err = config.NewServer(config.ServerConfig{Layer: n.acc, State: nodeState{n}, Logger: n.log})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	primary := []*access.Model{n.cfgSrv.Model()}
	if c.ConfigClient {
		cc := c.ConfigClientConfig
		cc.Layer, cc.Clock = n.acc, c.Clock
		if cc.Logger == nil {
			cc.Logger = n.log
		}
		n.cfgCli, err = config.NewClient(cc)
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		primary = append(primary, n.cfgCli.Model())
	}
	for i, e := range c.Elements {
		models := e.Models
		if i == 0 {
			models = append(primary, models...)
		}
		if _, err := n.acc.AddElement(e.Location, models...); err != nil {
			return fmt.Errorf("node: element %d: %w", i, err)
		}
	}
	if err := n.restoreModels(); err != nil {
		return err
	}
	n.beacons, err = beacon.NewService(beacon.Config{
		Clock:        c.Clock,
		Logger:       n.log,
		Rand:         c.Rand,
		IV:           n.iv,
		Subnets:      func() []uint16 { return n.subnets.List(nil) },
		Send:         n.sendBeacon,
		OnKeyRefresh: n.onKeyRefresh,
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.rebuildKeySets()
	return n.buildFriend()
}

func (n *Node) loadNetKey(k NetKeyState) error {
	if _, err := n.subnets.Add(k.Index, crypto.Key(k.Key)); err != nil {
		return fmt.Errorf("node: NetKey %d: %w", k.Index, err)
	}
	if k.New != nil {
		if _, err := n.subnets.Update(k.Index, crypto.Key(*k.New)); err != nil {
			return fmt.Errorf("node: NetKey %d update: %w", k.Index, err)
		}
		if k.Phase == 2 {
			if _, err := n.subnets.SetPhase(k.Index, network.Phase2); err != nil {
				return fmt.Errorf("node: NetKey %d phase: %w", k.Index, err)
			}
		}
	}
	return nil
}

func (n *Node) putAppKey(k AppKeyState) {
	a := &appKey{index: k.Index, netKeyIndex: k.NetKeyIndex, key: crypto.Key(k.Key), aid: crypto.K4(crypto.Key(k.Key))}
	if k.New != nil {
		nk := crypto.Key(*k.New)
		a.newKey, a.newAID = &nk, crypto.K4(nk)
	}
	n.appKeys[k.Index] = a
}

// restoreModels applies saved bindings, subscriptions and publications.
func (n *Node) restoreModels() error {
	for _, ms := range n.st.Models {
		elems := n.acc.Elements()
		if ms.Element < 0 || ms.Element >= len(elems) {
			continue
		}
		m := elems[ms.Element].Model(ms.ID)
		if m == nil {
			continue
		}
		for _, b := range ms.Bindings {
			_ = m.Bind(b)
		}
		for _, s := range ms.Subscriptions {
			_ = m.Subscribe(s.Address, labelPtr(s.Label))
		}
		if p := ms.Publication; p != nil {
			_ = m.SetPublication(access.Publication{
				Address: p.Address, Label: labelPtr(p.Label), AppKeyIndex: p.AppKeyIndex, CredentialFlag: p.CredentialFlag,
				TTL: p.TTL, Period: access.PublishPeriod(p.Period), Retransmit: access.PublishRetransmitFromByte(p.Retransmit),
			})
		}
	}
	return nil
}

// snapshotModels reads the models' configuration into n.st.
func (n *Node) snapshotModels() {
	n.st.Models = n.st.Models[:0]
	for ei, e := range n.acc.Elements() {
		for _, m := range e.Models {
			ms := ModelState{Element: ei, ID: m.ID, Bindings: m.Bindings()}
			for _, s := range m.Subscriptions() {
				ms.Subscriptions = append(ms.Subscriptions, SubscriptionState{Address: s.Address, Label: keyPtr(s.Label)})
			}
			if p := m.Publication(); p.Address != mesh.AddrUnassigned {
				ms.Publication = &PublicationState{
					Address: p.Address, Label: keyPtr(p.Label), AppKeyIndex: p.AppKeyIndex, CredentialFlag: p.CredentialFlag,
					TTL: p.TTL, Period: uint8(p.Period), Retransmit: p.Retransmit.Byte(),
				}
			}
			if len(ms.Bindings) > 0 || len(ms.Subscriptions) > 0 || ms.Publication != nil {
				n.st.Models = append(n.st.Models, ms)
			}
		}
	}
}

// Start starts the node's own timers (beacons, IV Update). Call it on the
// executor.
func (n *Node) Start() error {
	if n.st.Features.Beacon && !n.cfg.NoBeacons {
		if err := n.beacons.Start(); err != nil {
			return fmt.Errorf("node: beacons: %w", err)
		}
	}
	n.startFriend()
	return nil
}

// Close stops the node's timers; a closed node ignores received PDUs.
// Pending transport timers may still fire and find nothing to do.
func (n *Node) Close() {
	n.closed = true
	n.beacons.Stop()
	n.iv.Stop()
	n.closeFriend()
}

// Receive is the node's mesh.ReceiveFunc: give it to the bearer.
func (n *Node) Receive(kind mesh.ADType, payload []byte) {
	if n.closed {
		return
	}
	switch kind {
	case mesh.ADMessage:
		n.lpnHeard(payload)
		n.net.Receive(payload)
	case mesh.ADBeacon:
		n.stats.Beacons++
		if _, err := n.beacons.HandleBeacon(payload, n.keySets...); err != nil {
			n.log.Debug("node: beacon dropped", "err", err)
		}
	}
}

// Address returns the primary element address.
func (n *Node) Address() mesh.Address { return n.st.Address }

// IsLocal reports whether addr is one of this node's element addresses.
func (n *Node) IsLocal(addr mesh.Address) bool {
	return addr.IsUnicast() && addr >= n.st.Address && int(addr-n.st.Address) < n.st.Elements
}

// Access returns the access layer, to add models' messages and send.
func (n *Node) Access() *access.Layer { return n.acc }

// Network returns the network layer.
func (n *Node) Network() *network.Layer { return n.net }

// Transport returns the transport layer.
func (n *Node) Transport() *transport.Layer { return n.tr }

// ConfigClient returns the Configuration Client, or nil without
// Config.ConfigClient.
func (n *Node) ConfigClient() *config.Client { return n.cfgCli }

// ConfigServer returns the Configuration Server.
func (n *Node) ConfigServer() *config.Server { return n.cfgSrv }

// IV returns the IV Update machine.
func (n *Node) IV() *beacon.IVUpdate { return n.iv }

// Stats returns node-level counters.
func (n *Node) Stats() Stats { return n.stats }

// State returns a copy of the node's durable state as it would be saved now.
func (n *Node) State() State {
	n.snapshotModels()
	s := n.st
	s.NetKeys = slices.Clone(s.NetKeys)
	s.AppKeys = slices.Clone(s.AppKeys)
	s.SeqLimit = slices.Clone(s.SeqLimit)
	s.Models = slices.Clone(s.Models)
	return s
}

// Seq returns the next SEQ element idx will use.
func (n *Node) Seq(idx int) uint32 { return n.seq[idx] }

func (n *Node) fixedGroup(a mesh.Address) bool {
	switch a {
	case mesh.AddrAllRelays:
		return n.st.Features.Relay == config.FeatureEnabled
	case mesh.AddrAllNodes:
		return true
	}
	return false
}

func (n *Node) boundNetKey(appIdx uint16) uint16 {
	if a, ok := n.appKeys[appIdx]; ok {
		return a.netKeyIndex
	}
	return 0
}

// nextSeq allocates the next SEQ of element src, writing a new reserve to
// the store before handing out a number past the saved limit.
func (n *Node) nextSeq(src mesh.Address) (uint32, error) {
	if !n.IsLocal(src) {
		return 0, fmt.Errorf("node: %v is not an element of this node", src)
	}
	i := int(src - n.st.Address)
	s := n.seq[i]
	if s > network.MaxSEQ {
		return 0, fmt.Errorf("node: element %v has used every sequence number of IV Index %d", src, n.iv.Index())
	}
	if s >= n.st.SeqLimit[i] {
		n.st.SeqLimit[i] = min(s+n.cfg.SeqReserve, network.MaxSEQ+1)
		if err := n.save(); err != nil {
			return 0, fmt.Errorf("node: reserve sequence numbers: %w", err)
		}
	}
	n.seq[i] = s + 1
	n.iv.SeqUsed(s)
	return s, nil
}

func (n *Node) resetSeq() {
	for i := range n.seq {
		n.seq[i] = 0
		n.st.SeqLimit[i] = 0
	}
}

// RPLSaveDelay is how long a change of the replay protection list may wait
// before it is written, so that a burst of messages costs one write. A
// message accepted within this time before a power cut could be accepted
// once more after it (Zephyr's CONFIG_BT_MESH_RPL_STORE_TIMEOUT plays the
// same role).
const RPLSaveDelay = 2 * time.Second

// scheduleRPLSave writes the replay protection list soon.
func (n *Node) scheduleRPLSave() {
	if n.rplSavePending || n.closed {
		return
	}
	n.rplSavePending = true
	n.cfg.Clock.AfterFunc(RPLSaveDelay, func() {
		n.rplSavePending = false
		if !n.closed {
			n.persist()
		}
	})
}

func (n *Node) save() error {
	n.snapshotModels()
	n.st.RPL = n.tr.ReplayList().Export(n.st.RPL[:0])
	if err := n.store.Save(&n.st); err != nil {
		n.stats.SaveFails++
		return err
	}
	n.stats.Saves++
	return nil
}

// persist saves and logs a failure (for callbacks that cannot return one).
func (n *Node) persist() {
	if err := n.save(); err != nil {
		n.log.Error("node: cannot save state", "err", err)
	}
}

func (n *Node) deliverNetwork(rx *network.Rx) {
	if n.friendReceive(rx) {
		return
	}

	n.tr.Receive(&transport.NetPDU{
		NetKeyIndex: rx.NetKeyIndex, CTL: rx.CTL, TTL: rx.TTL, SEQ: rx.SEQ,
		SRC: rx.SRC, DST: rx.DST, LowerPDU: rx.TransportPDU,
		FromFriend: n.lpnNoAcks(rx),
	}, rx.IVIndex)
}

func (n *Node) deliverAccess(m *transport.AccessMessage) {
	ctx := access.Context{
		Src: m.Src, Dst: m.Dst, Label: m.Label, NetKeyIndex: m.NetKeyIndex,
		AppKeyIndex: m.AppKeyIndex, DevKey: m.DevKey, RecvTTL: m.TTL,
	}
	n.acc.Receive(&ctx, m.Payload)
	if m.DevKey && n.IsLocal(m.Dst) {
		// A configuration message may have changed bindings,
		// subscriptions or publication: keep them.
		n.persist()
	}
}

func (n *Node) sendAccess(ctx *access.Context, payload []byte, done func(error)) error {
	tx := transport.AccessTx{
		Src: ctx.Src, Dst: ctx.Dst, Label: ctx.Label, NetKeyIndex: ctx.NetKeyIndex,
		AppKeyIndex: ctx.AppKeyIndex, DevKey: ctx.DevKey, TTL: ctx.TTL, Payload: payload,
	}
	if ctx.DevKey {
		// A Configuration Client secures requests with the target's
		// DevKey, which it knows; a server answers with its own.
		if _, ok := n.peerDevKey(ctx.Dst); ok || n.IsLocal(ctx.Dst) {
			tx.DevKeyAddr = ctx.Dst
		} else {
			tx.DevKeyAddr = ctx.Src
		}
	}
	return n.tr.SendAccess(&tx, done)
}

func (n *Node) peerDevKey(a mesh.Address) (crypto.Key, bool) {
	if n.cfg.PeerDevKey == nil {
		return crypto.Key{}, false
	}
	return n.cfg.PeerDevKey(a)
}
