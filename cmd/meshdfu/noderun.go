package main

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshdfu/meshdfu/bearer/udp"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/runtime"
	"github.com/meshdfu/meshdfu/sim/pcap"
)

// nodeFlags are the flags every command that runs a real node shares.
type nodeFlags struct {
	cdbPath string
	addr    string
	dataDir string
	bearer  string
	peers   []string
	ivIndex string
	pcap    string
	verbose bool
}

func (f *nodeFlags) register(cmd *cobra.Command) {
	f.registerOn(cmd.Flags())
	for _, name := range []string{"cdb", "node", "data-dir"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

// registerPersistent registers the flags on cmd for its subcommands too.
func (f *nodeFlags) registerPersistent(cmd *cobra.Command) {
	f.registerOn(cmd.PersistentFlags())
	for _, name := range []string{"cdb", "node", "data-dir"} {
		_ = cmd.MarkPersistentFlagRequired(name)
	}
}

func (f *nodeFlags) registerOn(fl *pflag.FlagSet) {
	fl.StringVar(&f.cdbPath, "cdb", "", "Mesh Configuration Database (network JSON file) the node is in (required)")
	fl.StringVar(&f.addr, "node", "", "the node's primary unicast address in the file, hex (required)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the node's durable state (required)")
	fl.StringVar(&f.bearer, "bearer", "udp:127.0.0.1:0", "bearer: udp:HOST:PORT to listen on")
	fl.StringArrayVar(&f.peers, "peer", nil, "HOST:PORT of a node in radio range (repeatable)")
	fl.StringVar(&f.ivIndex, "iv-index", "0", "IV Index, hex, on first start when the file has none")
	fl.StringVar(&f.pcap, "pcap", "", "write every PDU sent and received to this pcap file (Wireshark: Bluetooth LE advertising)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every PDU (debug level)")
}

func parseAddr(flag, s string) (mesh.Address, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want a 16-bit hex address such as 0x0100", flag, s)
	}
	return mesh.Address(v), nil
}

// runningNode is a node on a real-time loop with a UDP bearer.
type runningNode struct {
	loop    *runtime.Loop
	bearer  *udp.Bearer
	node    *node.Node
	db      *cdb.Database
	log     *slog.Logger
	capture *os.File
	dir     *runtime.DataDir
	cfg     node.Config
	opts    nodeOptions
}

// nodeOptions says what a command's node holds beyond the foundation
// models.
type nodeOptions struct {
	// configClient adds the Configuration Client.
	configClient bool
	// elements builds the application elements on the loop (r.loop is
	// their Clock); it is called at start and again at every reboot, so
	// it must return fresh models. nil: none.
	elements func(r *runningNode) ([]node.Element, error)
	// appKeyIndex is bound to every application model that the network
	// file (or the node's saved configuration) binds to nothing, so a node
	// made by "meshdfu network new" works without a Configuration Client
	// round; bindApp enables it.
	bindApp     bool
	appKeyIndex uint16
	// subscribe adds these group addresses to every application model
	// that can subscribe.
	subscribe []mesh.Address
	// wrapBearer, when set, wraps the UDP bearer the node sends through.
	wrapBearer func(mesh.Bearer) mesh.Bearer
	// composition, when set, gives the Composition Data page 0 header at
	// every (re)build: an emulated device's firmware decides it.
	composition func() access.CompositionHeader
	// built runs on the loop after the node is built (at start and after
	// every reboot), before it starts: give models their access layer.
	built func(n *node.Node) error
}

// startNode opens the network file and data directory, and starts the node
// on its own loop with the foundation models (and the Configuration Client
// with configClient) and elements.
func startNode(ctx context.Context, f *nodeFlags, errOut *os.File, configClient bool, elements []node.Element) (*runningNode, error) {
	opts := nodeOptions{configClient: configClient}
	if elements != nil {
		opts.elements = func(*runningNode) ([]node.Element, error) { return elements, nil }
	}
	return startNodeWith(ctx, f, errOut, opts)
}

// startNodeWith is startNode with every option.
func startNodeWith(ctx context.Context, f *nodeFlags, errOut io.Writer, opts nodeOptions) (*runningNode, error) {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	addr, err := parseAddr("node", f.addr)
	if err != nil {
		return nil, err
	}
	db, err := cdb.Load(f.cdbPath)
	if err != nil {
		return nil, fmt.Errorf("%w (give the network file written by `meshdfu network new` or exported by nRF Mesh)", err)
	}
	iv, err := strconv.ParseUint(f.ivIndex, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("--iv-index %q: want hex", f.ivIndex)
	}
	prov, err := node.ProvisioningFromCDB(db, addr, uint32(iv))
	if err != nil {
		return nil, err
	}
	dir, err := runtime.OpenDataDir(f.dataDir)
	if err != nil {
		return nil, err
	}
	listen, ok := strings.CutPrefix(f.bearer, "udp:")
	if !ok {
		return nil, fmt.Errorf("--bearer %q: only udp:HOST:PORT is supported", f.bearer)
	}
	loop := runtime.New(runtime.Config{Name: addr.String(), Logger: log})
	ucfg := udp.Config{Listen: listen, Peers: f.peers, Executor: loop, Logger: log}
	var capFile *os.File
	if f.pcap != "" {
		if capFile, err = os.Create(f.pcap); err != nil {
			return nil, err
		}
		if ucfg.Capture, err = pcap.NewWriter(capFile); err != nil {
			capFile.Close()
			return nil, err
		}
	}
	b, err := udp.Open(ucfg)
	if err != nil {
		if capFile != nil {
			capFile.Close()
		}
		return nil, err
	}
	var bearer mesh.Bearer = b
	if opts.wrapBearer != nil {
		bearer = opts.wrapBearer(b)
	}
	cfg := node.Config{
		Clock:        loop,
		Bearer:       bearer,
		Rand:         seededRand(),
		Logger:       log.With("node", addr),
		Store:        &node.FileStore{Path: filepath.Join(dir.Path(), "node.json")},
		Provisioning: prov,
		ConfigClient: opts.configClient,
		PeerDevKey: func(a mesh.Address) (crypto.Key, bool) {
			n := db.Node(a)
			if n == nil {
				return crypto.Key{}, false
			}
			k, err := n.DevKey()
			return k, err == nil
		},
	}
	rn := &runningNode{loop: loop, bearer: b, db: db, log: log, capture: capFile, dir: dir, cfg: cfg, opts: opts}
	loop.Start(ctx)
	if err := loop.Do(ctx, func() { err = rn.build() }); err != nil {
		rn.shutdown()
		return nil, err
	}
	if err != nil {
		rn.shutdown()
		return nil, err
	}
	return rn, nil
}

// build makes the node from its store and starts it; on the loop.
func (r *runningNode) build() error {
	cfg := r.cfg
	if r.opts.elements != nil {
		els, err := r.opts.elements(r)
		if err != nil {
			return err
		}
		cfg.Elements = els
	}
	if r.opts.composition != nil {
		cfg.Composition = r.opts.composition()
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	for i, e := range n.Access().Elements() {
		if i >= len(cfg.Elements) {
			break
		}
		for _, m := range cfg.Elements[i].Models {
			if r.opts.bindApp && !m.DevKey && len(m.Bindings()) == 0 {
				if err := m.Bind(r.opts.appKeyIndex); err != nil {
					return fmt.Errorf("bind model %v of element %v to AppKey %d: %w", m.ID, e.Address(), r.opts.appKeyIndex, err)
				}
			}
			if !m.NoSubscriptions {
				for _, g := range r.opts.subscribe {
					_ = m.Subscribe(g, nil)
				}
			}
		}
	}
	if r.opts.built != nil {
		if err := r.opts.built(n); err != nil {
			return err
		}
	}
	r.bearer.SetReceiver(n.Receive)
	if err := n.Start(); err != nil {
		return err
	}
	r.node = n
	return nil
}

// reboot drops the node and builds it again from its store, as a device
// does after it installed new firmware; on the loop.
func (r *runningNode) reboot() error {
	r.log.Info("rebooting node")
	r.node.Close()
	return r.build()
}

func (r *runningNode) Close() {
	if r.node != nil {
		_ = r.loop.Do(context.Background(), r.node.Close)
	}
	r.shutdown()
}

func (r *runningNode) shutdown() {
	r.loop.Close()
	r.bearer.Close()
	if r.capture != nil {
		r.capture.Close()
	}
}

// seededRand returns a generator seeded from the system's randomness, for
// response delays and BLOB IDs of a real node.
func seededRand() *mrand.Rand {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
}
