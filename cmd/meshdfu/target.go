package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/runtime"
)

// Files of a target's data directory (besides node.json).
const (
	targetFirmwareFile = "firmware.json"  // the Firmware Information List
	targetBLOBDir      = "blob"           // received BLOBs (blob.FileStorage)
	targetBLOBState    = "blob-state.bin" // the BLOB Transfer Server's state
	targetDFUState     = "dfu-state.bin"  // the Firmware Update Server's state
	targetInstalled    = "installed.mdfu" // the image file last installed
)

// defaultTargetFWID is the Firmware ID of a target started without --fwid:
// Company ID 0xFFFF (the Bluetooth SIG's ID for tests) and version 0.0.0.1.
const defaultTargetFWID = "ffff00000001"

type targetOptions struct {
	fwid        string
	pubkey      string
	appKeyIndex uint16
	groups      []string
	rebootDelay time.Duration
}

func newTargetCmd() *cobra.Command {
	var (
		f nodeFlags
		o targetOptions
	)
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Run an emulated mesh device with a Firmware Update Server over UDP",
		Long: `target runs one node of a network file as its own process: an emulated
device with the Firmware Update Server and the BLOB Transfer Server, which a
distributor ("meshdfu distributor") updates.

Its keys, address and model configuration come from the file on first start;
from then on its data directory holds its state (keys, IV Index, sequence
numbers, configuration, the update in progress, the received image), so a
restart resumes where it stopped. The DFU models are bound to AppKey
--app-index unless the file binds them already. PDUs travel as UDP datagrams
to the peers given with --peer, the node's "radio range".

The device checks every image it receives as meshdfu images are checked
(docs/metadata.md): size and SHA-256 against the metadata and, with --pubkey,
the Ed25519 signature; an image that fails ends Verification Failed with the
reason. Applying an image installs its Firmware ID, saves it, and reboots the
node in-process (after --reboot-delay); afterwards the device answers
Firmware Update Information Get with the new Firmware ID.

It prints "listening on HOST:PORT" once the node runs, a line for every
applied image and reboot, and stops on SIGINT or SIGTERM.`,
		Example: `  meshdfu network new --nodes 2 --out net.json
  meshdfu target --cdb net.json --node 0x0003 --data-dir /tmp/t3 --fwid 590001000100 \
      --pubkey signing.key.pub --bearer udp:127.0.0.1:5003 --peer 127.0.0.1:5002`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			t, err := newTarget(&f, o, cmd.OutOrStdout())
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			if err := t.start(ctx); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer t.rn.Close()
			<-ctx.Done()
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.fwid, "fwid", defaultTargetFWID, "the device's Firmware ID on first start, hex: Company ID (2 octets, little-endian) + version information; later starts use the one saved (default: company 0xFFFF, the SIG's test ID)")
	fl.StringVar(&o.pubkey, "pubkey", "", "public key file (meshdfu firmware keygen) images must be signed with; without it only size and hash are checked")
	fl.Uint16Var(&o.appKeyIndex, "app-index", 0, "AppKey the DFU models are bound to when the network file binds them to none")
	fl.StringArrayVar(&o.groups, "subscribe", nil, "group address the DFU models subscribe to, for group distributions (repeatable)")
	fl.DurationVar(&o.rebootDelay, "reboot-delay", 500*time.Millisecond, "time the device takes to reboot after applying an image")
	return cmd
}

// target is an emulated device: a node with a Firmware Update Server.
type target struct {
	flags  *nodeFlags
	opts   targetOptions
	out    io.Writer
	pub    ed25519.PublicKey
	groups []mesh.Address
	dir    string
	rn     *runningNode
	images []dfu.FirmwareInformation // on the loop
	srv    *dfu.Server               // on the loop
	vid    uint16                    // Composition Data Version ID; on the loop
}

func newTarget(f *nodeFlags, o targetOptions, out io.Writer) (*target, error) {
	t := &target{flags: f, opts: o, out: out, dir: f.dataDir}
	if o.pubkey != "" {
		pub, err := fw.ReadPublicKeyFile(o.pubkey)
		if err != nil {
			return nil, fmt.Errorf("--pubkey: %w", err)
		}
		t.pub = pub
	}
	for _, g := range o.groups {
		a, err := parseAddr("subscribe", g)
		if err != nil {
			return nil, err
		}
		if !a.IsGroup() {
			return nil, fmt.Errorf("--subscribe %v: not a group address (0xC000..0xFFFF)", a)
		}
		t.groups = append(t.groups, a)
	}
	if o.rebootDelay < 0 {
		return nil, fmt.Errorf("--reboot-delay %v: want 0 or more", o.rebootDelay)
	}
	return t, nil
}

// firmwareRecord is targetFirmwareFile.
type firmwareRecord struct {
	Images []firmwareEntry `json:"images"`
	// VID is the Version ID of the device's Composition Data page 0; an
	// image whose metadata says the composition changes bumps it.
	VID uint16 `json:"vid"`
}

type firmwareEntry struct {
	FirmwareID string `json:"firmware_id"`
	UpdateURI  string `json:"update_uri,omitempty"`
}

// loadImages reads the saved Firmware Information List, or makes it from
// --fwid on first start.
func (t *target) loadImages(dir *runtime.DataDir) error {
	b, err := dir.ReadFile(targetFirmwareFile)
	switch {
	case err == nil:
		var rec firmwareRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("%s: %w", dir.File(targetFirmwareFile), err)
		}
		for _, e := range rec.Images {
			id, err := hex.DecodeString(e.FirmwareID)
			if err != nil {
				return fmt.Errorf("%s: firmware ID %q: %w", dir.File(targetFirmwareFile), e.FirmwareID, err)
			}
			t.images = append(t.images, dfu.FirmwareInformation{FirmwareID: id, UpdateURI: e.UpdateURI})
		}
		if len(t.images) == 0 {
			return fmt.Errorf("%s: no images", dir.File(targetFirmwareFile))
		}
		t.vid = rec.VID
		return nil
	case errors.Is(err, os.ErrNotExist):
		id, err := parseFWID(t.opts.fwid)
		if err != nil {
			return err
		}
		t.images = []dfu.FirmwareInformation{{FirmwareID: id}}
		return t.saveImages(dir)
	default:
		return err
	}
}

func (t *target) saveImages(dir *runtime.DataDir) error {
	rec := firmwareRecord{VID: t.vid}
	for _, e := range t.images {
		rec.Images = append(rec.Images, firmwareEntry{FirmwareID: hex.EncodeToString(e.FirmwareID), UpdateURI: e.UpdateURI})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return dir.WriteFile(targetFirmwareFile, append(b, '\n'))
}

func (t *target) start(ctx context.Context) error {
	dir, err := runtime.OpenDataDir(t.dir)
	if err != nil {
		return err
	}
	if err := t.loadImages(dir); err != nil {
		return err
	}
	blobDir, err := dir.Sub(targetBLOBDir)
	if err != nil {
		return err
	}
	storage := blob.FileStorage{Dir: blobDir.Path()}
	opts := nodeOptions{
		bindApp: true, appKeyIndex: t.opts.appKeyIndex, subscribe: t.groups,
		elements: func(rn *runningNode) ([]node.Element, error) {
			s, err := t.newServer(dir, storage, rn)
			if err != nil {
				return nil, err
			}
			return []node.Element{{Models: s.Models()}}, nil
		},
		built: func(n *node.Node) error {
			t.srv.SetLayer(n.Access())
			return nil
		},
		composition: t.composition,
	}
	rn, err := startNodeWith(ctx, t.flags, os.Stderr, opts)
	if err != nil {
		return err
	}
	t.rn = rn
	fmt.Fprintf(t.out, "meshdfu target: node %v listening on %v, firmware %x\n", rn.node.Address(), rn.bearer.LocalAddr(), t.images[0].FirmwareID)
	return nil
}

// newServer builds the Firmware Update Server from the durable state (at
// start and after every reboot); on the loop.
func (t *target) newServer(dir *runtime.DataDir, storage blob.FileStorage, rn *runningNode) (*dfu.Server, error) {
	fwh := &dfu.Firmware{PublicKey: t.pub, Data: func(id uint64) []byte {
		b, err := os.ReadFile(storage.Path(id))
		if err != nil {
			return nil
		}
		return b
	}}
	cfg := dfu.ServerConfig{
		Clock:  rn.loop,
		Logger: rn.log,
		Images: t.images,
		State:  blob.FileStateStore{Path: dir.File(targetDFUState)},
		BLOB: blob.ServerConfig{
			Storage: storage,
			State:   blob.FileStateStore{Path: dir.File(targetBLOBState)},
			Rand:    seededRand(),
		},
		OnApplied: func(index uint8, info dfu.AdditionalInfo, images []dfu.FirmwareInformation) {
			t.applied(dir, index, images, rn)
		},
	}
	fwh.Install(&cfg)
	// Keep the installed image file beside the state: Apply verified it.
	apply := cfg.Apply
	cfg.Apply = func(index uint8, metadata []byte, blobID uint64) ([]byte, error) {
		id, err := apply(index, metadata, blobID)
		if err == nil {
			// New firmware whose metadata says the Composition Data
			// changes comes up with a new page 0 after the reboot.
			if m, merr := fw.ParseMetadata(metadata); merr == nil && m.Flags&(fw.FlagCompositionChange|fw.FlagRemoteProvisioning) != 0 {
				t.vid++
			}
			if b := fwh.Data(blobID); b != nil {
				if werr := dir.WriteFile(targetInstalled, b); werr != nil {
					return nil, fmt.Errorf("save installed image: %w", werr)
				}
			}
		}
		return id, err
	}
	s, err := dfu.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	t.srv = s
	return s, nil
}

// composition is the device's Composition Data page 0 header: the Company
// ID from its running Firmware ID, and the Version ID its firmware set.
func (t *target) composition() access.CompositionHeader {
	h := access.CompositionHeader{PID: 0x0001, VID: t.vid, CRPL: 0x0100}
	if len(t.images) > 0 && len(t.images[0].FirmwareID) >= 2 {
		h.CID = uint16(t.images[0].FirmwareID[0]) | uint16(t.images[0].FirmwareID[1])<<8
	}
	return h
}

// applied saves the new Firmware Information List and reboots the node.
func (t *target) applied(dir *runtime.DataDir, index uint8, images []dfu.FirmwareInformation, rn *runningNode) {
	t.images = images
	if err := t.saveImages(dir); err != nil {
		rn.log.Error("target: save firmware list", "err", err)
	}
	fmt.Fprintf(t.out, "meshdfu target: node %v applied firmware %x at index %d; rebooting\n", rn.node.Address(), images[index].FirmwareID, index)
	rn.loop.AfterFunc(t.opts.rebootDelay, func() {
		if err := rn.reboot(); err != nil {
			rn.log.Error("target: reboot", "err", err)
			return
		}
		fmt.Fprintf(t.out, "meshdfu target: node %v rebooted, firmware %x, composition data version 0x%04x\n", rn.node.Address(), t.images[0].FirmwareID, t.vid)
	})
}
