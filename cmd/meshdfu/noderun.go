package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/bearer/udp"
	"github.com/meshdfu/meshdfu/mesh"
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
	fl := cmd.Flags()
	fl.StringVar(&f.cdbPath, "cdb", "", "Mesh Configuration Database (network JSON file) the node is in (required)")
	fl.StringVar(&f.addr, "node", "", "the node's primary unicast address in the file, hex (required)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the node's durable state (required)")
	fl.StringVar(&f.bearer, "bearer", "udp:127.0.0.1:0", "bearer: udp:HOST:PORT to listen on")
	fl.StringArrayVar(&f.peers, "peer", nil, "HOST:PORT of a node in radio range (repeatable)")
	fl.StringVar(&f.ivIndex, "iv-index", "0", "IV Index, hex, on first start when the file has none")
	fl.StringVar(&f.pcap, "pcap", "", "write every PDU sent and received to this pcap file (Wireshark: Bluetooth LE advertising)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every PDU (debug level)")
	for _, name := range []string{"cdb", "node", "data-dir"} {
		_ = cmd.MarkFlagRequired(name)
	}
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
}

// startNode opens the network file and data directory, and starts the node
// on its own loop. extra builds the node's application elements.
func startNode(ctx context.Context, f *nodeFlags, errOut *os.File, configClient bool, elements []node.Element) (*runningNode, error) {
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
		return nil, err
	}
	cfg := node.Config{
		Clock:        loop,
		Bearer:       b,
		Logger:       log.With("node", addr),
		Store:        &node.FileStore{Path: filepath.Join(dir.Path(), "node.json")},
		Provisioning: prov,
		Elements:     elements,
		ConfigClient: configClient,
		PeerDevKey: func(a mesh.Address) (crypto.Key, bool) {
			n := db.Node(a)
			if n == nil {
				return crypto.Key{}, false
			}
			k, err := n.DevKey()
			return k, err == nil
		},
	}
	n, err := node.New(cfg)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.SetReceiver(n.Receive)
	loop.Start(ctx)
	if err := loop.Do(ctx, func() { err = n.Start() }); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return &runningNode{loop: loop, bearer: b, node: n, db: db, log: log, capture: capFile}, nil
}

func (r *runningNode) Close() {
	_ = r.loop.Do(context.Background(), r.node.Close)
	r.loop.Close()
	r.bearer.Close()
	if r.capture != nil {
		r.capture.Close()
	}
}
