package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/meshdfu/meshdfu/sim/pcap"
	"github.com/meshdfu/meshdfu/sim/report"
	"github.com/meshdfu/meshdfu/sim/scenario"
)

// simFlags are the flags of "meshdfu sim"; the names are a contract (issue 7).
type simFlags struct {
	nodes     int
	topology  string
	loss      string
	burst     bool
	imageSize string
	mode      string
	group     bool
	unicast   bool
	profile   string
	upload    string
	seed      uint64
	pcap      string
	report    string
	json      bool
	quiet     bool
	faults    []string
	lpn       int
}

func newSimCmd() *cobra.Command {
	var f simFlags
	def := scenario.Default()
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a fleet firmware update",
		Long: `sim runs a simulated fleet update in virtual time: an Initiator (node
0x0001, a Firmware Distribution Client) uploads a signed image to a
Distributor (0x0002, a Firmware Distribution Server), in band over the mesh
or out of band from an update server (--upload), adds the targets as
receivers and starts the distribution; the Distributor updates the targets
over a simulated radio medium with loss, relays and collisions, and the
Initiator polls it until the end. Targets verify the image's signature,
apply it, reboot into the new firmware and report its Firmware ID. The
nodes run the same protocol code as real ones; a run is a pure function of
its flags and seed. Without flags: 24 targets in a random building with
relays, 5% loss, a 32 KiB image.

On a terminal it shows live progress (the procedure's steps, the transfer,
one mark per target) and ends with a table: every target, its final phase
as the specification names it, when it got there, and why it failed.
--json prints one JSON object instead (docs/sim-json.md); --report writes
an HTML page with charts.

Faults (--fault, repeatable) sabotage targets on purpose; a sabotaged
target is expected to fail with the matching phase:
  target-reboot[@P%][:count=N]   N targets power-cycle when the transfer is
                                 P% done (default 50%, 1); they still apply
  target-offline[:count=N]       N targets stay off: Transfer Error
  tamper[:count=N]               N targets receive a corrupted image:
                                 Verification Failed
  distributor-restart@P%         the distributor restarts (at the first
                                 block boundary from P%) and resumes from
                                 its stored state
  loss-burst@P%[:for=DURATION]   every link loses 50% for DURATION (2s)

--lpn N makes N targets Low Power nodes, each with a Friend among the
relays (in a single-hop network a quarter of the other targets become
relays and Friends): they sleep between polls, take the image in Pull mode
sized to their Friend Queue, and the table shows their radio-on time.

Exit status: 0 when every target ended as planned, 1 otherwise, 2 for bad
flags.`,
		Example: `  meshdfu sim
  meshdfu sim --nodes 100 --loss 10% --image-size 64KiB
  meshdfu sim --fault tamper --fault target-offline:count=2 --json
  meshdfu sim --profile zephyr --mode pull --unicast --seed 7
  meshdfu sim --nodes 20 --lpn 8 --topology single-hop --image-size 8KiB
  meshdfu sim --report /tmp/run.html --pcap /tmp/run.pcap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			return runSim(cmd, &f, cfg)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", def.Targets, "number of targets (Firmware Update Servers)")
	fl.StringVar(&f.topology, "topology", def.Topology, "single-hop, line, grid, building, or a topology file (docs/simulator.md)")
	fl.StringVar(&f.loss, "loss", "0.05", "loss probability per link and transmission, 0 ≤ P < 1 (5% also accepted)")
	fl.BoolVar(&f.burst, "burst", false, "bursty loss (Gilbert-Elliott) with the same mean")
	fl.StringVar(&f.imageSize, "image-size", "32KiB", "size of the signed image file the targets receive (e.g. 64KiB)")
	fl.StringVar(&f.mode, "mode", def.Mode, "BLOB transfer mode: push, pull or auto")
	fl.BoolVar(&f.group, "group", true, "send the data to a group address (the default)")
	fl.BoolVar(&f.unicast, "unicast", false, "send the data to each target by unicast")
	fl.StringVar(&f.profile, "profile", def.Profile, "transfer strategy: meshdfu, or zephyr (Zephyr's defaults)")
	fl.StringVar(&f.upload, "upload", def.Upload, "how the Initiator uploads the image: inband or oob")
	fl.Uint64Var(&f.seed, "seed", def.Seed, "seed of every random choice: same seed, same run")
	fl.StringVar(&f.pcap, "pcap", "", "write every advertising event to this pcap file (open with Wireshark, keys in --json)")
	fl.StringVar(&f.report, "report", "", "write an HTML report with charts to this file")
	fl.BoolVar(&f.json, "json", false, "print one JSON object (docs/sim-json.md) instead of progress and table")
	fl.BoolVar(&f.quiet, "quiet", false, "print nothing; the exit status tells")
	fl.IntVar(&f.lpn, "lpn", 0, "make N of the targets Low Power nodes, each with a Friend among the relays (Pull mode)")
	fl.StringArrayVar(&f.faults, "fault", nil, "planned fault (repeatable): target-reboot[@P%][:count=N], target-offline[:count=N], tamper[:count=N], distributor-restart@P%, loss-burst@P%[:for=DURATION]")
	return cmd
}

// config turns the flags into a scenario configuration; errors are for
// exit status 2.
func (f *simFlags) config(cmd *cobra.Command) (scenario.Config, error) {
	cfg := scenario.Default()
	cfg.Seed, cfg.Topology, cfg.Burst, cfg.Mode, cfg.Profile, cfg.Upload = f.seed, f.topology, f.burst, f.mode, f.profile, f.upload
	if f.nodes < 1 {
		return cfg, fmt.Errorf("--nodes %d: want at least 1 target", f.nodes)
	}
	cfg.Targets = f.nodes
	if f.lpn < 0 || (f.lpn > f.nodes && cmd.Flags().Changed("nodes")) {
		return cfg, fmt.Errorf("--lpn %d: want 0 to --nodes (%d)", f.lpn, f.nodes)
	}
	cfg.LPNs = f.lpn
	if cmd.Flags().Changed("topology") && !cmd.Flags().Changed("nodes") && !isBuiltinTopology(f.topology) {
		cfg.Targets = 0 // from the file
	}
	var err error
	if cfg.Loss, err = scenario.ParseLoss(f.loss); err != nil {
		return cfg, fmt.Errorf("--loss: %w", unwrapConfig(err))
	}
	if cfg.ImageSize, err = scenario.ParseSize(f.imageSize); err != nil {
		return cfg, fmt.Errorf("--image-size: %w", unwrapConfig(err))
	}
	if cfg.ImageSize < scenario.MinImageSize || cfg.ImageSize > scenario.MaxImageSize {
		return cfg, fmt.Errorf("--image-size %s: want %d octets to %d MiB", f.imageSize, scenario.MinImageSize, scenario.MaxImageSize>>20)
	}
	switch f.mode {
	case "push", "pull", "auto":
	default:
		return cfg, fmt.Errorf("--mode %q: want push, pull or auto", f.mode)
	}
	switch f.profile {
	case "meshdfu", "zephyr":
	default:
		return cfg, fmt.Errorf("--profile %q: want meshdfu or zephyr", f.profile)
	}
	switch f.upload {
	case "inband", "oob":
	default:
		return cfg, fmt.Errorf("--upload %q: want inband or oob", f.upload)
	}
	if f.unicast && cmd.Flags().Changed("group") && f.group {
		return cfg, errors.New("--group and --unicast: choose one")
	}
	cfg.Unicast = f.unicast || !f.group
	if f.json && f.quiet {
		return cfg, errors.New("--json and --quiet: choose one")
	}
	for _, s := range f.faults {
		ft, err := scenario.ParseFault(s)
		if err != nil {
			return cfg, unwrapConfig(err)
		}
		cfg.Faults = append(cfg.Faults, ft)
	}
	return cfg, nil
}

func isBuiltinTopology(s string) bool {
	for _, t := range scenario.Topologies {
		if s == t {
			return true
		}
	}
	return false
}

// unwrapConfig drops the "scenario: invalid configuration: " prefix, which
// means nothing on a command line.
func unwrapConfig(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), scenario.ErrConfig.Error()+": "))
}

func runSim(cmd *cobra.Command, f *simFlags, cfg scenario.Config) error {
	out := cmd.OutOrStdout()
	var pcapFile *os.File
	if f.pcap != "" {
		var err error
		if pcapFile, err = os.Create(f.pcap); err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("--pcap: %v", err)}
		}
		defer pcapFile.Close()
		bw := bufio.NewWriter(pcapFile)
		defer bw.Flush()
		pw, err := pcap.NewWriter(bw)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("--pcap: %v", err)}
		}
		cfg.Capture = pw
	}
	var obs scenario.Observer
	var live *liveView
	if !f.json && !f.quiet && isTerminal(out) {
		live = newLiveView(out, cfg.Targets)
		obs = live.observe
	}
	res, err := scenario.Run(cmd.Context(), cfg, obs)
	if live != nil {
		live.wait()
	}
	if err != nil {
		code := 1
		if errors.Is(err, scenario.ErrConfig) {
			code = 2
			err = unwrapConfig(err)
		}
		return &exitError{code: code, msg: err.Error()}
	}
	if f.report != "" {
		if err := writeReport(f.report, res); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
	}
	switch {
	case f.json:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
	case !f.quiet:
		printSimSummary(out, res)
	}
	if !res.OK {
		bad := 0
		for _, t := range res.Targets {
			if t.FinalPhase != t.Expected {
				bad++
			}
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d targets did not end as planned (replay with --seed %d)", bad, len(res.Targets), res.Seed)}
	}
	return nil
}

func writeReport(path string, res *scenario.Result) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	bw := bufio.NewWriter(fh)
	if err := report.Write(bw, res); err != nil {
		fh.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("--report: %w", err)
	}
	return fh.Close()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := fh.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printSimSummary writes the table of targets and the totals.
func printSimSummary(w io.Writer, r *scenario.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	lpnCols := ""
	if r.LPNs > 0 {
		lpnCols = "\tLPN\tMODE\tRADIO ON"
	}
	fmt.Fprintf(tw, "TARGET\tFINAL PHASE\tEXPECTED\tTIME%s\tREASON\n", lpnCols)
	for _, t := range r.Targets {
		mark := ""
		if t.FinalPhase != t.Expected {
			mark = "  ✗"
		}
		reason := t.Reason
		if reason == "" {
			reason = "-"
		}
		cols := ""
		if r.LPNs > 0 {
			kind, mode, radio := "-", t.Mode, "-"
			if t.LPN {
				kind, radio = "LPN", fmt.Sprintf("%.1f s", t.RadioOn)
			}
			if mode == "" {
				mode = "-"
			}
			cols = "\t" + kind + "\t" + mode + "\t" + radio
		}
		fmt.Fprintf(tw, "%s\t%s%s\t%s\t%.1f s%s\t%s\n", t.Address, t.FinalPhase, mark, t.Expected, t.CompletedAt, cols, reason)
	}
	tw.Flush()
	applied := 0
	for _, t := range r.Targets {
		if t.FinalPhase == "Apply Success" {
			applied++
		}
	}
	verdict := "every target ended as planned"
	if !r.OK {
		verdict = "NOT every target ended as planned"
	}
	fmt.Fprintf(w, "\n%d/%d targets applied; %s.\n", applied, len(r.Targets), verdict)
	fmt.Fprintf(w, "%s, %d nodes, %.0f%% loss, %s profile, %s %s: image %d octets in %.1f s of transfer (%.0f B/s, %.0f%% of the %.0f B/s bound); %.1f s virtual, %.2f s wall; seed %d\n",
		r.Network.Topology, r.Network.Nodes, r.Network.Loss*100, r.Network.Profile, r.Network.Addressing, r.Transfer.Mode,
		r.ImageBytes, r.Transfer.Duration, r.Transfer.Goodput, r.Transfer.Efficiency*100, r.Transfer.Bound, r.VirtualDuration, r.WallSeconds, r.Seed)
	if r.LPNs > 0 {
		fmt.Fprintf(w, "%d Low Power targets; %d Friend Queue overflows.\n", r.LPNs, r.FriendQueueOverflows)
	}
}

// liveView shows mpb bars while the simulation runs: the step, the
// transfer and one mark per target.
type liveView struct {
	p        *mpb.Progress
	step     *mpb.Bar
	transfer *mpb.Bar
	targets  *mpb.Bar

	mu      sync.Mutex
	stepTxt string
	marks   string
	n       int
}

func newLiveView(w io.Writer, n int) *liveView {
	v := &liveView{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(100*time.Millisecond)), n: n}
	text := func(get func() string) decor.Decorator {
		return decor.Any(func(decor.Statistics) string {
			v.mu.Lock()
			defer v.mu.Unlock()
			return get()
		})
	}
	v.step = v.p.AddBar(6, mpb.PrependDecorators(decor.Name("steps    ", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(text(func() string { return v.stepTxt })))
	v.transfer = v.p.AddBar(1000, mpb.PrependDecorators(decor.Name("transfer ", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Percentage()))
	v.targets = v.p.AddBar(int64(max(n, 1)), mpb.PrependDecorators(decor.Name("targets  ", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.CountersNoUnit("%d/%d done "), text(func() string { return v.marks })))
	return v
}

var stepIndex = map[string]int64{"upload": 0, "start": 1, "transfer": 2, "verify": 3, "apply": 4, "confirm": 5, "done": 6}

// observe runs on the simulation goroutine.
func (v *liveView) observe(s *scenario.Sample) {
	sum, done := 0.0, 0
	var b strings.Builder
	for i, t := range s.Targets {
		sum += t.Progress
		if t.Final {
			done++
		}
		if i < 64 {
			b.WriteRune(mark(t))
		}
	}
	if len(s.Targets) > 64 {
		b.WriteString("…")
	}
	v.mu.Lock()
	v.stepTxt = fmt.Sprintf("%-8s at %6.1f s virtual", s.Step, s.Elapsed.Seconds())
	v.marks = b.String()
	v.mu.Unlock()
	if i, ok := stepIndex[s.Step]; ok {
		v.step.SetCurrent(i)
	}
	if n := len(s.Targets); n > 0 {
		v.transfer.SetCurrent(int64(sum / float64(n) * 1000))
		v.targets.SetCurrent(int64(done))
	}
	if s.Done {
		v.step.SetCurrent(6)
		v.transfer.SetCurrent(1000)
		v.targets.SetCurrent(int64(max(v.n, 1)))
	}
}

// mark is one target's glyph: a block by share received, ✓ applied,
// ✗ failed.
func mark(t scenario.TargetState) rune {
	switch {
	case t.Final && !t.Failed:
		return '✓'
	case t.Failed:
		return '✗'
	}
	levels := []rune("·▁▂▃▄▅▆▇█")
	return levels[min(int(t.Progress*float64(len(levels)-1)+0.5), len(levels)-1)]
}

func (v *liveView) wait() {
	v.step.SetTotal(-1, true)
	v.transfer.SetTotal(-1, true)
	v.targets.SetTotal(-1, true)
	v.p.Wait()
}
