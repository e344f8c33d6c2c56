package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/node"
	"github.com/meshdfu/meshdfu/models/dfd"
	"github.com/meshdfu/meshdfu/runtime"
	"github.com/meshdfu/meshdfu/web"
)

// distSettle is how long a dist run listens before its first request.
const distSettle = 150 * time.Millisecond

// distFlags are the flags every "meshdfu dist" subcommand shares.
type distFlags struct {
	node        nodeFlags
	distributor string
	asJSON      bool
	timeout     time.Duration
	appKeyIndex uint16
	interval    time.Duration
}

func newDistCmd() *cobra.Command {
	df := &distFlags{}
	cmd := &cobra.Command{
		Use:   "dist",
		Short: "Drive a distributor over the mesh as the Initiator (Firmware Distribution Client)",
		Long: `dist runs the Initiator's node of a network file (usually the provisioner,
0x0001) for one request or procedure: it sends Firmware Distribution messages
to the distributor --distributor over the mesh, prints the answer and exits.

Phases and statuses are printed in words, as the specification names them;
--json prints JSON instead. Exit status: 0 when the distributor answered
Success (and, for status --watch, the distribution ended with every receiver
updated), 1 on any other answer (the message names the status, e.g.
"Busy With Distribution") or when the distributor did not answer, 2 for bad
flags or arguments.`,
		Example: `  meshdfu dist --cdb net.json --node 0x0001 --data-dir /tmp/init --bearer udp:127.0.0.1:5001 \
      --peer 127.0.0.1:5002 --distributor 0x0002 receivers add 0x0003 0x0004 0x0005
  meshdfu dist ... upload-oob https://127.0.0.1:8443 590001000100
  meshdfu dist ... start --policy apply
  meshdfu dist ... status --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{code: 2, msg: "dist: name a subcommand (see meshdfu dist --help)"}
		},
	}
	df.node.registerPersistent(cmd)
	pf := cmd.PersistentFlags()
	pf.StringVar(&df.distributor, "distributor", "", "unicast address of the distributor's node, hex (required)")
	pf.BoolVar(&df.asJSON, "json", false, "print JSON")
	pf.DurationVar(&df.timeout, "timeout", 0, "give up after this long (0: 1 min per request, 30 min for an upload, no limit for status --watch)")
	pf.Uint16Var(&df.appKeyIndex, "app-index", 0, "AppKey the distributor's server is bound to")
	pf.DurationVar(&df.interval, "interval", 2*time.Second, "polling interval of status --watch and uploads")
	_ = cmd.MarkPersistentFlagRequired("distributor")

	receivers := &cobra.Command{Use: "receivers", Short: "Manage the Distribution Receivers List", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{code: 2, msg: "dist receivers: name add, list or clear"}
		}}
	receivers.AddCommand(
		&cobra.Command{Use: "add ADDR[:IMAGE_INDEX]...", Short: "Add receivers (Firmware Distribution Receivers Add)",
			Example: "  meshdfu dist ... receivers add 0x0003 0x0004:1", Args: cobra.MinimumNArgs(1),
			RunE: df.run(distReceiversAdd)},
		&cobra.Command{Use: "list", Short: "List the receivers with their phase and progress", Args: cobra.NoArgs,
			RunE: df.run(distReceiversList)},
		&cobra.Command{Use: "clear", Short: "Delete every receiver (Receivers Delete All)", Args: cobra.NoArgs,
			RunE: df.run(distReceiversClear)},
	)
	firmware := &cobra.Command{Use: "firmware", Short: "Manage the distributor's Firmware Images List", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{code: 2, msg: "dist firmware: name list or delete"}
		}}
	firmware.AddCommand(
		&cobra.Command{Use: "list", Short: "List the stored images (Firmware Get By Index)", Args: cobra.NoArgs,
			RunE: df.run(distFirmwareList)},
		&cobra.Command{Use: "delete INDEX|all", Short: "Delete an image (Firmware Delete) or all (Firmware Delete All)",
			Example: "  meshdfu dist ... firmware delete 0", Args: cobra.ExactArgs(1), RunE: df.run(distFirmwareDelete)},
	)
	var up uploadOptions
	upload := &cobra.Command{Use: "upload FILE", Short: "Upload an image file to the distributor in-band (over the mesh)",
		Long: `upload sends an image file made by "meshdfu firmware pack" to the distributor
with Firmware Distribution Upload Start and a BLOB transfer, and waits until
the distributor stored it. On a terminal it shows a progress bar.`,
		Example: "  meshdfu dist ... upload app-2.0.0.mdfu", Args: cobra.ExactArgs(1),
		RunE: df.run(func(c *distCall, args []string) error { return distUpload(c, args, up) })}
	upload.Flags().Uint16Var(&up.timeoutBase, "timeout-base", 2, "Upload Timeout Base (the distributor waits 10 s × (base + 1) for the next BLOB message)")
	upload.Flags().Uint8Var(&up.ttl, "ttl", 0xFF, "Upload TTL (255: the Default TTL)")
	oobCmd := &cobra.Command{Use: "upload-oob URI FWID", Short: "Have the distributor fetch newer firmware over HTTPS (Upload OOB Start)",
		Long: `upload-oob asks the distributor to check URI for firmware newer than the
Firmware ID FWID (hex) and to retrieve it (Firmware Check and Retrieval over
HTTPS), then waits until it stored the image and prints its Firmware ID.`,
		Example: "  meshdfu dist ... upload-oob https://updates.example.com/fw 590001000100", Args: cobra.ExactArgs(2),
		RunE: df.run(distUploadOOB)}
	var so startOptions
	start := &cobra.Command{Use: "start", Short: "Start a distribution (Firmware Distribution Start)",
		Long: `start has the distributor update every receiver with image --image: Firmware
Update Start, the BLOB transfer (unicast, or to --group), verification, and
with --policy apply the apply and confirm steps.`,
		Example: "  meshdfu dist ... start --image 0 --policy apply --group 0xC100", Args: cobra.NoArgs,
		RunE: df.run(func(c *distCall, args []string) error { return distStart(c, so) })}
	sf := start.Flags()
	sf.IntVar(&so.image, "image", 0, "index of the image in the distributor's Firmware Images List")
	sf.StringVar(&so.group, "group", "", "group address the BLOB goes to (default: unicast to each receiver)")
	sf.StringVar(&so.policy, "policy", "apply", "verify (Verify Only: apply later with dist apply) or apply (Verify And Apply)")
	sf.StringVar(&so.mode, "mode", "auto", "transfer mode: push, pull or auto")
	sf.IntVar(&so.ttl, "ttl", 0xFF, "Distribution TTL (255: the distributor's Default TTL)")
	sf.IntVar(&so.timeoutBase, "timeout-base", web.DefaultTimeoutBase, "Distribution Timeout Base")
	var watch bool
	status := &cobra.Command{Use: "status", Short: "Show the distribution and its receivers (--watch: until it ends)",
		Long: `status prints the Distribution Phase and every receiver's phase in words with
its progress. With --watch it polls every --interval until the distribution
ends and prints each change; it exits 1 when the distribution failed or a
receiver did not update.`,
		Example: "  meshdfu dist ... status --watch", Args: cobra.NoArgs,
		RunE: df.run(func(c *distCall, args []string) error { return distStatus(c, watch) })}
	status.Flags().BoolVar(&watch, "watch", false, "poll until the distribution ends")

	simple := func(use, short string, f func(*distCall, []string) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: df.run(f)}
	}
	cmd.AddCommand(
		simple("caps", "Show the distributor's capabilities", distCaps),
		receivers, upload, oobCmd, start,
		simple("suspend", "Suspend the distribution", distSimple("suspend", (*dfd.Client).Suspend)),
		simple("resume", "Resume a suspended distribution (Start with the same parameters)", distResume),
		simple("cancel", "Cancel the distribution", distSimple("cancel", (*dfd.Client).Cancel)),
		simple("apply", "Apply a distribution that ended verified (Verify Only)", distSimple("apply", (*dfd.Client).Apply)),
		status, firmware,
	)
	return cmd
}

// distCall is one run of a dist subcommand: the Initiator's node and its
// client.
type distCall struct {
	ctx  context.Context
	f    *distFlags
	rn   *runningNode
	cli  *dfd.Client
	dst  mesh.Address
	out  io.Writer
	errw io.Writer
	// long: the default timeout is for a procedure, not a request.
	long bool
}

// run wraps a subcommand: it checks the shared flags (exit 2), starts the
// node, runs f and maps errors to exit statuses.
func (df *distFlags) run(f func(*distCall, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		dst, err := parseAddr("distributor", df.distributor)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		if !dst.IsUnicast() {
			return &exitError{code: 2, msg: fmt.Sprintf("--distributor %v: want the unicast address of the distributor's node", dst)}
		}
		if df.interval <= 0 {
			return &exitError{code: 2, msg: "--interval must be positive"}
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c := &distCall{f: df, dst: dst, out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr()}
		if err := c.validate(cmd, args); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		timeout := df.timeout
		if timeout == 0 {
			switch cmd.Name() {
			case "status":
				if w, _ := cmd.Flags().GetBool("watch"); w {
					timeout = 0
				} else {
					timeout = time.Minute
				}
			case "upload", "upload-oob":
				timeout = 30 * time.Minute
			default:
				timeout = time.Minute
			}
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		c.ctx = ctx
		opts := nodeOptions{bindApp: true, appKeyIndex: df.appKeyIndex,
			elements: func(rn *runningNode) ([]node.Element, error) {
				cli, err := dfd.NewClient(dfd.ClientConfig{Clock: rn.loop, Logger: rn.log, AppKeyIndex: df.appKeyIndex,
					PollInterval: df.interval, OOBTimeout: 5 * time.Minute})
				if err != nil {
					return nil, err
				}
				c.cli = cli
				return []node.Element{{Models: cli.Models()}}, nil
			},
			built: func(n *node.Node) error { c.cli.SetLayer(n.Access()); return nil },
		}
		rn, err := startNodeWith(ctx, &df.node, os.Stderr, opts)
		if err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		defer rn.Close()
		c.rn = rn
		// Let late copies of a previous run's answers (Network Transmit
		// repeats them for about 60 ms) reach the node before it asks
		// anything: the node does not keep its replay protection list
		// across runs, so such a copy could pass for the answer.
		select {
		case <-time.After(distSettle):
		case <-ctx.Done():
		}
		if err := f(c, args); err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return ee
			}
			return &exitError{code: 1, msg: describeDistError(cmd.CommandPath(), err, ctx)}
		}
		return nil
	}
}

// validate checks arguments before the node starts, so that mistakes exit
// 2 at once.
func (c *distCall) validate(cmd *cobra.Command, args []string) error {
	switch cmd.Name() {
	case "add":
		_, err := parseReceiverArgs(args)
		return err
	case "delete":
		if args[0] == "all" {
			return nil
		}
		if _, err := strconv.ParseUint(args[0], 10, 16); err != nil {
			return fmt.Errorf("firmware delete %q: want an image index (see dist firmware list) or all", args[0])
		}
	case "upload-oob":
		if !strings.Contains(args[0], "://") {
			return fmt.Errorf("upload-oob %q: want an absolute URI such as https://host:8443/fw", args[0])
		}
		_, err := parseFWID(args[1])
		return err
	case "upload":
		if _, err := os.Stat(args[0]); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	case "start":
		so := startOptions{}
		so.image, _ = cmd.Flags().GetInt("image")
		so.group, _ = cmd.Flags().GetString("group")
		so.policy, _ = cmd.Flags().GetString("policy")
		so.mode, _ = cmd.Flags().GetString("mode")
		so.ttl, _ = cmd.Flags().GetInt("ttl")
		so.timeoutBase, _ = cmd.Flags().GetInt("timeout-base")
		_, err := so.request(c.f.appKeyIndex)
		return err
	}
	return nil
}

// describeDistError words an error for the user: the status the
// distributor answered, or what to check when it did not answer.
func describeDistError(cmd string, err error, ctx context.Context) string {
	var se *dfd.StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s: the distributor answered %s", cmd, se.Status)
	case errors.Is(err, dfd.ErrTimeout):
		return fmt.Sprintf("%s: %v (is the distributor running, is --distributor its address, and are the nodes in each other's --peer range?)", cmd, err)
	case ctx.Err() != nil:
		return fmt.Sprintf("%s: gave up after --timeout: %v", cmd, err)
	}
	return fmt.Sprintf("%s: %v", cmd, err)
}

// do sends one request of the client and waits for its status.
func do[T any](c *distCall, send func(dst mesh.Address, done func(T, error)) error) (T, error) {
	return runtime.Await(c.ctx, c.rn.loop, func(done func(T, error)) {
		if err := send(c.dst, done); err != nil {
			var zero T
			done(zero, err)
		}
	})
}

func (c *distCall) printJSON(v any) {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ---- receivers ----

func parseReceiverArgs(args []string) ([]dfd.ReceiverEntry, error) {
	var out []dfd.ReceiverEntry
	for _, a := range args {
		addrS, idxS, hasIdx := strings.Cut(a, ":")
		addr, err := parseAddr("receiver", addrS)
		if err != nil {
			return nil, fmt.Errorf("receiver %q: want ADDR or ADDR:IMAGE_INDEX, e.g. 0x0003 or 0x0003:1", a)
		}
		if !addr.IsUnicast() {
			return nil, fmt.Errorf("receiver %v: not a unicast address", addr)
		}
		e := dfd.ReceiverEntry{Address: addr}
		if hasIdx {
			v, err := strconv.ParseUint(idxS, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("receiver %q: image index %q: want 0..255", a, idxS)
			}
			e.ImageIndex = uint8(v)
		}
		out = append(out, e)
	}
	return out, nil
}

func distReceiversAdd(c *distCall, args []string) error {
	entries, _ := parseReceiverArgs(args)
	var st *dfd.ReceiversStatus
	for len(entries) > 0 {
		page := entries[:min(len(entries), dfd.MaxReceiversPerAdd)]
		entries = entries[len(page):]
		var err error
		if st, err = do(c, func(dst mesh.Address, done func(*dfd.ReceiversStatus, error)) error {
			return c.cli.ReceiversAdd(dst, page, done)
		}); err != nil {
			return err
		}
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"status": st.Status.String(), "receivers": st.Count})
	} else {
		fmt.Fprintf(c.out, "%s: the list holds %d receivers\n", st.Status, st.Count)
	}
	return nil
}

func distReceiversClear(c *distCall, _ []string) error {
	st, err := do(c, c.cli.ReceiversDeleteAll)
	if err != nil {
		return err
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"status": st.Status.String(), "receivers": st.Count})
	} else {
		fmt.Fprintf(c.out, "%s: the receivers list is empty\n", st.Status)
	}
	return nil
}

// allReceivers reads the whole Receivers List page by page.
func (c *distCall) allReceivers() ([]dfd.NodeEntry, error) {
	var out []dfd.NodeEntry
	for {
		l, err := do(c, func(dst mesh.Address, done func(*dfd.ReceiversList, error)) error {
			return c.cli.ReceiversGet(dst, uint16(len(out)), dfd.ReceiversPage, done)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, l.Entries...)
		if len(l.Entries) == 0 || len(out) >= int(l.Count) {
			return out, nil
		}
	}
}

func distReceiversList(c *distCall, _ []string) error {
	list, err := c.allReceivers()
	if err != nil {
		return err
	}
	rs := receiverViews(list)
	if c.f.asJSON {
		c.printJSON(map[string]any{"receivers": rs})
		return nil
	}
	printReceivers(c.out, rs)
	return nil
}

func receiverViews(list []dfd.NodeEntry) []web.Receiver {
	out := make([]web.Receiver, 0, len(list))
	for _, e := range list {
		out = append(out, web.NewNodeEntry(e))
	}
	return out
}

// phaseHints explain a receiver's phase in a few words.
var phaseHints = map[string]string{
	"Idle": "waiting", "Transfer Error": "the transfer failed", "Transfer Active": "receiving the image",
	"Verifying Update": "checking the image", "Verification Succeeded": "image verified, ready to apply",
	"Verification Failed": "rejected the image", "Applying Update": "installing",
	"Transfer Canceled": "update canceled", "Apply Success": "updated", "Apply Failed": "installation failed",
	"Unknown": "not reached yet",
}

func printReceivers(w io.Writer, rs []web.Receiver) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no receivers")
		return
	}
	fmt.Fprintf(w, "%-8s %-5s %-24s %5s  %s\n", "ADDRESS", "IMAGE", "PHASE", "DONE", "STATUS")
	for _, r := range rs {
		st := phaseHints[r.Phase]
		if r.UpdateStatus != "Success" {
			st = "update: " + r.UpdateStatus
		}
		if r.TransferStatus != "Success" {
			st += ", transfer: " + r.TransferStatus
		}
		fmt.Fprintf(w, "%-8s %-5d %-24s %4d%%  %s\n", r.Address, r.ImageIndex, r.Phase, r.Progress, st)
	}
}

// ---- capabilities and firmware ----

func distCaps(c *distCall, _ []string) error {
	st, err := do(c, c.cli.Capabilities)
	if err != nil {
		return err
	}
	schemes := []string{}
	for _, s := range st.URISchemes {
		switch s {
		case dfd.SchemeHTTPS:
			schemes = append(schemes, "https")
		case dfd.SchemeHTTP:
			schemes = append(schemes, "http")
		default:
			schemes = append(schemes, fmt.Sprintf("0x%02x", s))
		}
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"max_receivers": st.MaxReceivers, "max_images": st.MaxImages,
			"max_image_size": st.MaxImageSize, "max_upload_space": st.MaxUploadSpace,
			"remaining_upload_space": st.RemainingUploadSpace, "oob": st.OOBSupported, "uri_schemes": schemes})
		return nil
	}
	fmt.Fprintf(c.out, "receivers:         up to %d\nimages:            up to %d, each up to %d octets\n", st.MaxReceivers, st.MaxImages, st.MaxImageSize)
	fmt.Fprintf(c.out, "upload space:      %d of %d octets free\n", st.RemainingUploadSpace, st.MaxUploadSpace)
	if st.OOBSupported {
		fmt.Fprintf(c.out, "out-of-band:       %s\n", strings.Join(schemes, ", "))
	} else {
		fmt.Fprintf(c.out, "out-of-band:       not supported\n")
	}
	return nil
}

type firmwareView struct {
	Index      int    `json:"index"`
	FirmwareID string `json:"firmware_id"`
}

func (c *distCall) firmwareList() ([]firmwareView, error) {
	var out []firmwareView
	for i := 0; ; i++ {
		st, err := do(c, func(dst mesh.Address, done func(*dfd.FirmwareStatus, error)) error {
			return c.cli.FirmwareGetByIndex(dst, uint16(i), done)
		})
		var se *dfd.StatusError
		if errors.As(err, &se) && se.Status == dfd.StatusFirmwareNotFound {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, firmwareView{Index: i, FirmwareID: hex.EncodeToString(st.FirmwareID)})
		if i+1 >= int(st.EntryCount) {
			return out, nil
		}
	}
}

func distFirmwareList(c *distCall, _ []string) error {
	list, err := c.firmwareList()
	if err != nil {
		return err
	}
	if c.f.asJSON {
		if list == nil {
			list = []firmwareView{}
		}
		c.printJSON(map[string]any{"images": list})
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(c.out, "no images")
	}
	for _, im := range list {
		fmt.Fprintf(c.out, "%3d  %s\n", im.Index, im.FirmwareID)
	}
	return nil
}

func distFirmwareDelete(c *distCall, args []string) error {
	var st *dfd.FirmwareStatus
	var err error
	if args[0] == "all" {
		st, err = do(c, c.cli.FirmwareDeleteAll)
	} else {
		i, _ := strconv.ParseUint(args[0], 10, 16)
		var got *dfd.FirmwareStatus
		got, err = do(c, func(dst mesh.Address, done func(*dfd.FirmwareStatus, error)) error {
			return c.cli.FirmwareGetByIndex(dst, uint16(i), done)
		})
		if err != nil {
			return err
		}
		st, err = do(c, func(dst mesh.Address, done func(*dfd.FirmwareStatus, error)) error {
			return c.cli.FirmwareDelete(dst, got.FirmwareID, done)
		})
	}
	if err != nil {
		return err
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"status": st.Status.String(), "images": st.EntryCount})
	} else {
		fmt.Fprintf(c.out, "%s: %d images left\n", st.Status, st.EntryCount)
	}
	return nil
}

// ---- uploads ----

type uploadOptions struct {
	timeoutBase uint16
	ttl         uint8
}

func isCharDevice(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func distUpload(c *distCall, args []string, o uploadOptions) error {
	raw, err := os.ReadFile(args[0])
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("upload: %v", err)}
	}
	file, err := fw.ReadImageFile(bytes.NewReader(raw))
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("upload %s: not an image file (make one with meshdfu firmware pack): %v", args[0], err)}
	}
	var idb [8]byte
	binary.LittleEndian.PutUint64(idb[:], seededRand().Uint64())
	onProgress := func(int) {}
	var finish func(ok bool)
	if !c.f.asJSON && isCharDevice(os.Stderr) {
		p := mpb.NewWithContext(c.ctx, mpb.WithOutput(os.Stderr), mpb.WithWidth(48))
		bar := p.AddBar(100, mpb.PrependDecorators(decor.Name("upload "+hex.EncodeToString(file.FirmwareID)+" ")),
			mpb.AppendDecorators(decor.Percentage()))
		onProgress = func(pct int) { bar.SetCurrent(int64(pct)) }
		finish = func(ok bool) {
			if ok {
				bar.SetCurrent(100)
			} else {
				bar.Abort(false)
			}
			p.Wait()
		}
	}
	_, err = runtime.Await(c.ctx, c.rn.loop, func(done func(struct{}, error)) {
		err := c.cli.Upload(dfd.Upload{Server: c.dst, FirmwareID: file.FirmwareID, Metadata: file.Metadata,
			Image: bytes.NewReader(file.Image), Size: uint32(len(file.Image)), BLOBID: binary.LittleEndian.Uint64(idb[:]),
			TTL: o.ttl, TimeoutBase: o.timeoutBase,
			OnProgress: onProgress,
			OnEnd:      func(err error) { done(struct{}{}, err) }})
		if err != nil {
			done(struct{}{}, err)
		}
	})
	if finish != nil {
		finish(err == nil)
	}
	if err != nil {
		return err
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"status": "Success", "firmware_id": hex.EncodeToString(file.FirmwareID), "size": len(file.Image)})
	} else {
		fmt.Fprintf(c.out, "uploaded %s (%d octets) to %v\n", hex.EncodeToString(file.FirmwareID), len(file.Image), c.dst)
	}
	return nil
}

func distUploadOOB(c *distCall, args []string) error {
	current, _ := parseFWID(args[1])
	if !c.f.asJSON && isCharDevice(os.Stderr) {
		fmt.Fprintf(os.Stderr, "the distributor checks %s for firmware newer than %x…\n", args[0], current)
	}
	fwid, err := runtime.Await(c.ctx, c.rn.loop, func(done func([]byte, error)) {
		if err := c.cli.UploadOOB(c.dst, args[0], current, done); err != nil {
			done(nil, err)
		}
	})
	if err != nil {
		return err
	}
	if c.f.asJSON {
		c.printJSON(map[string]any{"status": "Success", "firmware_id": hex.EncodeToString(fwid)})
	} else {
		fmt.Fprintf(c.out, "the distributor stored firmware %s from %s\n", hex.EncodeToString(fwid), args[0])
	}
	return nil
}

// ---- distribution ----

type startOptions struct {
	image       int
	group       string
	policy      string
	mode        string
	ttl         int
	timeoutBase int
}

func (o startOptions) request(appKeyIndex uint16) (dfd.Start, error) {
	b := web.StartBody{ImageIndex: &o.image, TTL: &o.ttl, TimeoutBase: &o.timeoutBase, Mode: &o.mode, Policy: &o.policy}
	if o.group != "" {
		b.Group = &o.group
	}
	r, err := b.StartRequest()
	if err != nil {
		return dfd.Start{}, fmt.Errorf("start: %w", err)
	}
	return dfd.Start{AppKeyIndex: appKeyIndex, TTL: r.TTL, TimeoutBase: r.TimeoutBase, TransferMode: r.Mode,
		Policy: r.Policy, ImageIndex: r.ImageIndex, Multicast: r.Group}, nil
}

func distStart(c *distCall, o startOptions) error {
	m, err := o.request(c.f.appKeyIndex)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	st, err := do(c, func(dst mesh.Address, done func(*dfd.DistributionStatus, error)) error {
		return c.cli.Start(dst, m, done)
	})
	if err != nil {
		return err
	}
	c.printDistribution(st)
	return nil
}

func distResume(c *distCall, _ []string) error {
	st, err := do(c, c.cli.Get)
	if err != nil {
		return err
	}
	if st.Phase != dfd.PhaseTransferSuspended || !st.Details {
		return &exitError{code: 1, msg: fmt.Sprintf("dist resume: nothing to resume: the distribution is %v", st.Phase)}
	}
	m := dfd.Start{AppKeyIndex: st.AppKeyIndex, TTL: st.TTL, TimeoutBase: st.TimeoutBase, TransferMode: st.TransferMode,
		Policy: st.Policy, ImageIndex: st.ImageIndex, Multicast: st.Multicast}
	st, err = do(c, func(dst mesh.Address, done func(*dfd.DistributionStatus, error)) error {
		return c.cli.Start(dst, m, done)
	})
	if err != nil {
		return err
	}
	c.printDistribution(st)
	return nil
}

// distSimple runs one request answered by a Distribution Status.
func distSimple(name string, send func(*dfd.Client, mesh.Address, func(*dfd.DistributionStatus, error)) error) func(*distCall, []string) error {
	return func(c *distCall, _ []string) error {
		st, err := do(c, func(dst mesh.Address, done func(*dfd.DistributionStatus, error)) error {
			return send(c.cli, dst, done)
		})
		if err != nil {
			return err
		}
		c.printDistribution(st)
		return nil
	}
}

// distStatusView is the JSON of dist status.
type distStatusView struct {
	Distributor  string            `json:"distributor"`
	Status       string            `json:"status,omitempty"`
	Phase        string            `json:"phase"`
	PhaseCode    int               `json:"phase_code"`
	Running      bool              `json:"running"`
	Distribution *web.Distribution `json:"distribution,omitempty"`
	Receivers    []web.Receiver    `json:"receivers,omitempty"`
}

func (c *distCall) view(st *dfd.DistributionStatus, list []dfd.NodeEntry) distStatusView {
	v := distStatusView{Distributor: c.dst.String(), Status: st.Status.String(), Phase: st.Phase.String(),
		PhaseCode: int(st.Phase), Running: web.Running(st.Phase)}
	if st.Details {
		group := "unicast"
		if st.Multicast != mesh.AddrUnassigned {
			group = st.Multicast.String()
		}
		v.Distribution = &web.Distribution{ImageIndex: int(st.ImageIndex), Group: group, TTL: int(st.TTL),
			TimeoutBase: int(st.TimeoutBase), Mode: web.ModeName(st.TransferMode), Policy: web.PolicyName(st.Policy),
			AppKeyIndex: int(st.AppKeyIndex)}
	}
	if list != nil {
		v.Receivers = receiverViews(list)
	}
	return v
}

func (c *distCall) printDistribution(st *dfd.DistributionStatus) {
	v := c.view(st, nil)
	if c.f.asJSON {
		c.printJSON(v)
		return
	}
	fmt.Fprintf(c.out, "%s: distribution %s", v.Status, v.Phase)
	if d := v.Distribution; d != nil {
		fmt.Fprintf(c.out, " (image %d, %s, policy %s, mode %s)", d.ImageIndex, d.Group, d.Policy, d.Mode)
	}
	fmt.Fprintln(c.out)
}

func distStatus(c *distCall, watch bool) error {
	if !watch {
		st, err := do(c, c.cli.Get)
		if err != nil {
			return err
		}
		list, err := c.allReceivers()
		if err != nil {
			return err
		}
		c.printStatus(c.view(st, list))
		return nil
	}
	var last distStatusView
	lastPhase := map[string]string{}
	report := func(p dfd.Progress) {
		if p.Status == nil {
			return
		}
		v := c.view(p.Status, p.Receivers)
		if c.f.asJSON {
			enc := json.NewEncoder(c.out)
			_ = enc.Encode(v)
		} else {
			if v.Phase != last.Phase {
				fmt.Fprintf(c.out, "%s  distribution %s\n", time.Now().Format("15:04:05"), v.Phase)
			}
			for _, r := range v.Receivers {
				line := fmt.Sprintf("%s %3d%%", r.Phase, r.Progress)
				if lastPhase[r.Address] != line {
					lastPhase[r.Address] = line
					fmt.Fprintf(c.out, "%s  %s  %-24s %3d%%\n", time.Now().Format("15:04:05"), r.Address, r.Phase, r.Progress)
				}
			}
		}
		last = v
	}
	p, err := runtime.Await(c.ctx, c.rn.loop, func(done func(dfd.Progress, error)) {
		if err := c.cli.Wait(c.dst, report, done); err != nil {
			done(dfd.Progress{}, err)
		}
	})
	if p.Status != nil {
		last = c.view(p.Status, p.Receivers)
	}
	if !c.f.asJSON && last.Phase != "" {
		fmt.Fprintln(c.out)
		c.printStatus(last)
	}
	if err != nil && !errors.Is(err, dfd.ErrDistributionFailed) {
		return err
	}
	// A receiver that did not reach the end the policy asks for did not
	// update, whatever its phase says (Unknown: the distributor never
	// reached it).
	verifyOnly := last.Distribution != nil && last.Distribution.Policy == "verify"
	var failed []string
	for _, r := range last.Receivers {
		if r.Phase != "Apply Success" && !(verifyOnly && r.Phase == "Verification Succeeded") {
			failed = append(failed, r.Address+" "+r.Phase)
		}
	}
	switch {
	case errors.Is(err, dfd.ErrDistributionFailed):
		return &exitError{code: 1, msg: fmt.Sprintf("dist status: the distribution failed (%s)", strings.Join(failed, ", "))}
	case len(failed) > 0:
		return &exitError{code: 1, msg: fmt.Sprintf("dist status: the distribution ended %s, but receivers failed: %s", last.Phase, strings.Join(failed, ", "))}
	}
	return nil
}

func (c *distCall) printStatus(v distStatusView) {
	if c.f.asJSON {
		c.printJSON(v)
		return
	}
	fmt.Fprintf(c.out, "distribution: %s", v.Phase)
	if d := v.Distribution; d != nil {
		fmt.Fprintf(c.out, " (image %d, %s, policy %s, mode %s)", d.ImageIndex, d.Group, d.Policy, d.Mode)
	}
	fmt.Fprintln(c.out)
	printReceivers(c.out, v.Receivers)
}
