package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/bearer/udp"
	"github.com/meshdfu/meshdfu/fw"
	fwhttps "github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/internal/oob"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/models/dfu"
	"github.com/meshdfu/meshdfu/runtime"
	"github.com/meshdfu/meshdfu/web"
)

// Files of a distributor's data directory (besides node.json).
const (
	distImagesDir = "images"          // the Firmware Images List (fw.DirStore)
	distStateFile = "dist-state.json" // the Distribution Server's state
)

type distributorOptions struct {
	http         string
	token        string
	ca           string
	appKeyIndex  uint16
	maxImageSize uint32
	maxImages    int
}

func newDistributorCmd() *cobra.Command {
	var (
		f nodeFlags
		o distributorOptions
	)
	cmd := &cobra.Command{
		Use:   "distributor",
		Short: "Run a Firmware Distribution Server node with an HTTP API and dashboard",
		Long: `distributor runs one node of a network file as a Distributor: the Firmware
Distribution Server (with its Firmware Update and BLOB Transfer Clients) that
an Initiator ("meshdfu dist") or the HTTP API drives to update receivers.

Its data directory keeps everything across restarts: the node's state, the
Firmware Images List (images/), the receivers, the distribution and each
receiver's progress (dist-state.json); a distribution that was running
continues after a restart. Images arrive in-band from an Initiator, out of
band over HTTPS (Upload OOB Start: the distributor fetches the URI; --ca
trusts a private update server such as "meshdfu updateserver --self-signed"),
or through POST /api/images.

--http serves the API (docs/distributor.md), the server-sent-events stream,
the dashboard at / and Prometheus metrics at /metrics. It listens on
127.0.0.1 unless told otherwise; a non-loopback address needs --token, and
with --token every /api and /metrics request needs
"Authorization: Bearer TOKEN". --http "" turns it off.

It prints "listening on HOST:PORT" (UDP) and the dashboard URL once it runs,
and stops on SIGINT or SIGTERM.`,
		Example: `  meshdfu distributor --cdb net.json --node 0x0002 --data-dir /tmp/dist \
      --bearer udp:127.0.0.1:5002 --peer 127.0.0.1:5001 --peer 127.0.0.1:5003 \
      --http 127.0.0.1:8080 --ca images/.tls/cert.pem
  curl -s http://127.0.0.1:8080/api/status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if o.http != "" {
				if err := web.CheckListen(o.http, o.token); err != nil {
					return &exitError{code: 2, msg: "--http: " + err.Error()}
				}
			}
			if err := runDistributor(ctx, &f, o, cmd.OutOrStdout(), os.Stderr); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.http, "http", "127.0.0.1:8080", `HOST:PORT of the HTTP API and dashboard ("" for none; port 0: any free port)`)
	fl.StringVar(&o.token, "token", "", "bearer token every /api and /metrics request must carry (required with a non-loopback --http)")
	fl.StringVar(&o.ca, "ca", "", "PEM file of further CA certificates to trust for OOB uploads over HTTPS")
	fl.Uint16Var(&o.appKeyIndex, "app-index", 0, "AppKey of the distribution (bound to the distributor's models when the network file binds none)")
	fl.Uint32Var(&o.maxImageSize, "max-image-size", dfd.DefaultMaxImageSize, "largest firmware image accepted, octets")
	fl.IntVar(&o.maxImages, "max-images", dfd.DefaultMaxImages, "most images in the Firmware Images List")
	return cmd
}

// countingBearer counts what a node sends.
type countingBearer struct {
	*udp.Bearer
	octets atomic.Uint64
}

func (c *countingBearer) Send(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	c.octets.Add(uint64(len(payload)))
	c.Bearer.Send(kind, payload, tx)
}

func (c *countingBearer) SendRelay(kind mesh.ADType, payload []byte, tx mesh.Transmit) {
	c.octets.Add(uint64(len(payload)))
	c.Bearer.SendRelay(kind, payload, tx)
}

// distributor is a running Distribution Server node.
type distributor struct {
	rn    *runningNode
	srv   *dfd.Server // on the loop
	cli   *dfd.Client // the local Initiator the HTTP API speaks through; on the loop
	store *fw.DirStore
	cb    *countingBearer
	opts  distributorOptions
	// mu serializes requests of the local client (one of a kind at a
	// time).
	mu sync.Mutex
}

func startDistributor(ctx context.Context, f *nodeFlags, o distributorOptions, errOut io.Writer) (*distributor, error) {
	dir, err := runtime.OpenDataDir(f.dataDir)
	if err != nil {
		return nil, err
	}
	imagesDir, err := dir.Sub(distImagesDir)
	if err != nil {
		return nil, err
	}
	store, err := fw.OpenStore(imagesDir.Path(), fw.StoreConfig{})
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var httpsClient *fwhttps.Client
	httpsClient, err = fwhttps.NewClient(fwhttps.Config{CAFile: o.ca})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("--ca: %w", err)
	}
	d := &distributor{store: store, opts: o}
	opts := nodeOptions{
		bindApp: true, appKeyIndex: o.appKeyIndex,
		wrapBearer: func(b mesh.Bearer) mesh.Bearer {
			d.cb = &countingBearer{Bearer: b.(*udp.Bearer)}
			return d.cb
		},
		elements: func(rn *runningNode) ([]node.Element, error) {
			srv, err := dfd.NewServer(dfd.ServerConfig{
				Clock: rn.loop, Logger: rn.log, Rand: seededRand(),
				Store: store, State: blob.FileStateStore{Path: dir.File(distStateFile)},
				AppKeyIndex:  o.appKeyIndex,
				MaxImages:    o.maxImages,
				MaxImageSize: o.maxImageSize,
				OOB:          &oob.HTTPS{Client: httpsClient, Exec: rn.loop},
			})
			if err != nil {
				return nil, err
			}
			cli, err := dfd.NewClient(dfd.ClientConfig{Clock: rn.loop, Logger: rn.log, AppKeyIndex: o.appKeyIndex,
				Timeout: 5 * time.Second, Retries: 2, OOBTimeout: 2 * time.Minute})
			if err != nil {
				return nil, err
			}
			d.srv, d.cli = srv, cli
			// The local client's own model sits next to the server's; its
			// BLOB Transfer Client is never used (uploads through the API
			// go to the store directly).
			return []node.Element{{Models: append(srv.Models(), cli.Model())}}, nil
		},
		built: func(n *node.Node) error {
			d.srv.SetLayer(n.Access())
			d.cli.SetLayer(n.Access())
			return nil
		},
	}
	rn, err := startNodeWith(ctx, f, errOut, opts)
	if err != nil {
		store.Close()
		return nil, err
	}
	d.rn = rn
	return d, nil
}

func (d *distributor) Close() {
	d.rn.Close()
	d.store.Close()
}

func runDistributor(ctx context.Context, f *nodeFlags, o distributorOptions, out, errOut io.Writer) error {
	d, err := startDistributor(ctx, f, o, errOut)
	if err != nil {
		return err
	}
	defer d.Close()
	var phase dfd.Phase
	_ = d.rn.loop.Do(ctx, func() { phase = d.srv.Phase() })
	fmt.Fprintf(out, "meshdfu distributor: node %v listening on %v, distribution phase %v\n", d.rn.node.Address(), d.rn.bearer.LocalAddr(), phase)
	if o.http == "" {
		<-ctx.Done()
		return nil
	}
	ws, err := web.New(web.Config{Backend: d, Token: o.token, Logger: d.rn.log, MaxImageSize: int64(o.maxImageSize) + 64<<10})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return fmt.Errorf("--http: %w", err)
	}
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(d.rn.log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ws.Run(wctx)
	fmt.Fprintf(out, "meshdfu distributor: dashboard http://%s/\n", displayHTTPAddr(ln.Addr()))
	select {
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer scancel()
	cancel() // ends the event streams first
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	return nil
}

func displayHTTPAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// ---- web.Backend ----

var _ web.Backend = (*distributor)(nil)

// local runs one request of the local Distribution Client to the
// distributor's own server and waits for its status.
func local[T any](ctx context.Context, d *distributor, send func(dst mesh.Address, done func(T, error)) error) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return runtime.Await(ctx, d.rn.loop, func(done func(T, error)) {
		if err := send(d.rn.node.Address(), done); err != nil {
			var zero T
			done(zero, err)
		}
	})
}

// Snapshot implements web.Backend.
func (d *distributor) Snapshot(ctx context.Context) (*web.Snapshot, error) {
	snap := &web.Snapshot{}
	err := d.rn.loop.Do(ctx, func() {
		snap.Node = d.rn.node.Address()
		snap.Phase = d.srv.Phase()
		snap.Receivers = d.srv.Receivers()
		snap.Images = d.srv.Images()
		snap.Upload.Phase = d.srv.UploadPhase()
	})
	if err != nil {
		return nil, err
	}
	if snap.Phase != dfd.PhaseIdle {
		st, err := local(ctx, d, d.cli.Get)
		if err != nil {
			return nil, fmt.Errorf("distribution get: %w", err)
		}
		snap.Phase = st.Phase
		if st.Details {
			snap.Distribution = &web.StartRequest{ImageIndex: st.ImageIndex, Group: st.Multicast, TTL: st.TTL,
				TimeoutBase: st.TimeoutBase, Mode: st.TransferMode, Policy: st.Policy, AppKeyIndex: st.AppKeyIndex}
			if int(st.ImageIndex) < len(snap.Images) {
				snap.FirmwareID = snap.Images[st.ImageIndex].FirmwareID
			}
		}
	}
	if snap.Upload.Phase != dfd.UploadIdle {
		if st, err := local(ctx, d, d.cli.UploadGet); err == nil {
			snap.Upload = web.UploadState{Phase: st.Phase, Progress: st.Progress, OOB: st.OOB, FirmwareID: st.FirmwareID}
		}
	}
	us := d.rn.bearer.Stats()
	snap.Counters = web.Counters{PDUsSent: us.Sent, PDUsReceived: us.Received, OctetsSent: d.cb.octets.Load(),
		BytesTransferred: transferredBytes(snap)}
	return snap, nil
}

// transferredBytes sums the BLOB octets each receiver of the current
// distribution confirmed.
func transferredBytes(s *web.Snapshot) uint64 {
	if s.Distribution == nil || int(s.Distribution.ImageIndex) >= len(s.Images) {
		return 0
	}
	in := s.Images[s.Distribution.ImageIndex]
	size := uint64((&fw.ImageFile{FirmwareID: in.FirmwareID, Metadata: in.Metadata}).MarshalSize()) + uint64(in.Size)
	var n uint64
	for _, r := range s.Receivers {
		switch {
		case r.Blocks > 0:
			n += size * uint64(r.BlocksDone) / uint64(r.Blocks)
		case r.Phase == dfu.PhaseVerifyingUpdate, r.Phase == dfu.PhaseVerificationSucceeded,
			r.Phase == dfu.PhaseApplyingUpdate, r.Phase == dfu.PhaseApplySuccess:
			n += size
		}
	}
	return n
}

// AddReceivers implements web.Backend.
func (d *distributor) AddReceivers(ctx context.Context, entries []dfd.ReceiverEntry) error {
	for len(entries) > 0 {
		page := entries[:min(len(entries), dfd.MaxReceiversPerAdd)]
		entries = entries[len(page):]
		if _, err := local(ctx, d, func(dst mesh.Address, done func(*dfd.ReceiversStatus, error)) error {
			return d.cli.ReceiversAdd(dst, page, done)
		}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteReceivers implements web.Backend.
func (d *distributor) DeleteReceivers(ctx context.Context) error {
	_, err := local(ctx, d, d.cli.ReceiversDeleteAll)
	return err
}

// AddImage implements web.Backend: the image goes into the store
// directly, in the slot an upload of the same Firmware ID would take.
func (d *distributor) AddImage(ctx context.Context, f *fw.ImageFile) (int, error) {
	if len(f.Image) > int(d.opts.maxImageSize) {
		return 0, fmt.Errorf("%w: image of %d octets, the distributor takes at most %d (--max-image-size)", web.ErrConflict, len(f.Image), d.opts.maxImageSize)
	}
	if len(f.FirmwareID) < dfd.MinFirmwareIDLen || len(f.FirmwareID) > dfd.MaxFirmwareIDLen {
		return 0, fmt.Errorf("%w: Firmware ID of %d octets, want %d..%d", web.ErrBadRequest, len(f.FirmwareID), dfd.MinFirmwareIDLen, dfd.MaxFirmwareIDLen)
	}
	list := d.store.List()
	for i, in := range list {
		if string(in.FirmwareID) == string(f.FirmwareID) {
			if in.SHA256 == sha256.Sum256(f.Image) && string(in.Metadata) == string(f.Metadata) {
				return i, nil // already stored
			}
			return 0, fmt.Errorf("%w: an image with Firmware ID %x is stored already, with other content: delete it first", web.ErrConflict, f.FirmwareID)
		}
	}
	if len(list) >= d.opts.maxImages {
		return 0, fmt.Errorf("%w: the Firmware Images List is full (%d images, --max-images): delete one first", web.ErrConflict, len(list))
	}
	if err := d.store.Put(dfd.SlotName(f.FirmwareID), f.FirmwareID, f.Metadata, f.Image); err != nil {
		if errors.Is(err, fw.ErrNoSpace) || errors.Is(err, fw.ErrBusy) {
			return 0, fmt.Errorf("%w: %w", web.ErrConflict, err)
		}
		return 0, err
	}
	for i, in := range d.store.List() {
		if string(in.FirmwareID) == string(f.FirmwareID) {
			return i, nil
		}
	}
	return 0, errors.New("image stored but not listed")
}

// DeleteImage implements web.Backend.
func (d *distributor) DeleteImage(ctx context.Context, index int) error {
	if index < 0 {
		_, err := local(ctx, d, d.cli.FirmwareDeleteAll)
		return err
	}
	list := d.store.List()
	if index >= len(list) {
		return fmt.Errorf("%w: no image at index %d (%d images)", web.ErrNotFound, index, len(list))
	}
	_, err := local(ctx, d, func(dst mesh.Address, done func(*dfd.FirmwareStatus, error)) error {
		return d.cli.FirmwareDelete(dst, list[index].FirmwareID, done)
	})
	return err
}

// Start implements web.Backend.
func (d *distributor) Start(ctx context.Context, r web.StartRequest) error {
	_, err := local(ctx, d, func(dst mesh.Address, done func(*dfd.DistributionStatus, error)) error {
		return d.cli.Start(dst, dfd.Start{AppKeyIndex: r.AppKeyIndex, TTL: r.TTL, TimeoutBase: r.TimeoutBase,
			TransferMode: r.Mode, Policy: r.Policy, ImageIndex: r.ImageIndex, Multicast: r.Group}, done)
	})
	return err
}

// Suspend implements web.Backend.
func (d *distributor) Suspend(ctx context.Context) error {
	_, err := local(ctx, d, d.cli.Suspend)
	return err
}

// Resume implements web.Backend: Distribution Start with the parameters
// of the suspended distribution.
func (d *distributor) Resume(ctx context.Context) error {
	st, err := local(ctx, d, d.cli.Get)
	if err != nil {
		return err
	}
	if st.Phase != dfd.PhaseTransferSuspended || !st.Details {
		return fmt.Errorf("%w: nothing to resume: the distribution is %v", web.ErrConflict, st.Phase)
	}
	return d.Start(ctx, web.StartRequest{ImageIndex: st.ImageIndex, Group: st.Multicast, TTL: st.TTL,
		TimeoutBase: st.TimeoutBase, Mode: st.TransferMode, Policy: st.Policy, AppKeyIndex: st.AppKeyIndex})
}

// Cancel implements web.Backend.
func (d *distributor) Cancel(ctx context.Context) error {
	_, err := local(ctx, d, d.cli.Cancel)
	return err
}

// Apply implements web.Backend.
func (d *distributor) Apply(ctx context.Context) error {
	_, err := local(ctx, d, d.cli.Apply)
	return err
}
