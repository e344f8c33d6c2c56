package faultmatrix

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/sim/scenario"
)

var long = flag.Bool("matrix.long", false, "run every cell of the fault matrix, on one hop and in a building (also MESHDFU_LONG=1)")

func longForm() bool { return *long || os.Getenv("MESHDFU_LONG") == "1" }

// A fault column of the matrix: the --fault value and the upload path.
type faultCol struct {
	name   string // column name in the tables
	fault  string // --fault value, "" for none
	upload string // "inband" or "oob"
}

var faultCols = []faultCol{
	{"none", "", "inband"},
	{"reboot@transfer", "target-reboot@50%", "inband"},
	{"reboot@verify", "target-reboot@verify", "inband"},
	{"reboot@apply", "target-reboot@apply", "inband"},
	{"offline", "target-offline", "inband"},
	{"dist-restart@25%", "distributor-restart@25%", "inband"},
	{"dist-restart@50%", "distributor-restart@50%", "inband"},
	{"dist-restart@75%", "distributor-restart@75%", "inband"},
	{"upload-cut/inband", "upload-interrupt@50%", "inband"},
	{"upload-cut/oob", "upload-interrupt@50%", "oob"},
	{"target-full", "target-storage-full", "inband"},
	{"dist-full", "distributor-storage-full", "inband"},
	{"power-cut", "power-cut@50%", "inband"},
}

type lossRow struct {
	loss  float64
	burst bool
}

func (l lossRow) String() string {
	k := "indep"
	if l.burst {
		k = "bursty"
	}
	return fmt.Sprintf("%.0f%% %s", l.loss*100, k)
}

var lossRows = []lossRow{
	{0, false}, {0.1, false}, {0.3, false}, {0.5, false},
	{0, true}, {0.1, true}, {0.3, true}, {0.5, true},
}

// topo is a topology of the matrix with its fleet.
type topo struct {
	name    string
	targets int
	image   int
	limit   time.Duration
}

var (
	singleHop = topo{"single-hop", 4, 8 << 10, 2 * time.Hour}
	building  = topo{"building", 12, 8 << 10, 6 * time.Hour}
)

// cell names one run: topology, loss, fault column.
type cell struct {
	topo  topo
	loss  lossRow
	fault faultCol
}

func (c cell) key() string { return c.topo.name + " | " + c.loss.String() + " | " + c.fault.name }

// shortCells is the default run: every cell on one hop (about 10 s of
// wall time; the simulator skips idle virtual time).
func shortCells() []cell {
	var cs []cell
	for _, l := range lossRows {
		for _, f := range faultCols {
			cs = append(cs, cell{singleHop, l, f})
		}
	}
	return cs
}

func allCells() []cell {
	var cs []cell
	for _, tp := range []topo{singleHop, building} {
		for _, l := range lossRows {
			for _, f := range faultCols {
				cs = append(cs, cell{tp, l, f})
			}
		}
	}
	return cs
}

// knownFailures are cells that fail today, by key, with the reason. They
// run and print their outcome but do not fail the test; a known failure
// that passes is reported so the entry can go. Every other cell is
// required. Matching is by prefix of the key, so "building | 50% " would
// cover both loss kinds' rows of 50 %.
var knownFailures = map[string]string{}

func knownFailure(key string) (string, bool) {
	if why, ok := knownFailures[key]; ok {
		return why, true
	}
	for k, why := range knownFailures {
		if strings.HasPrefix(key, k) {
			return why, true
		}
	}
	return "", false
}

// outcome is one cell's result.
type outcome struct {
	cell     cell
	problems []string
	summary  string // per-target phases in short
	virtual  float64
	wall     time.Duration
}

func (o outcome) ok() bool { return len(o.problems) == 0 }

// check runs c and lists what went wrong.
func check(t *testing.T, c cell) outcome {
	cfg := scenario.Default()
	cfg.Seed, cfg.Targets, cfg.Topology, cfg.ImageSize, cfg.Limit = 1, c.topo.targets, c.topo.name, c.topo.image, c.topo.limit
	cfg.Loss, cfg.Burst, cfg.Upload = c.loss.loss, c.loss.burst, c.fault.upload
	o := outcome{cell: c}
	if c.fault.fault != "" {
		f, err := scenario.ParseFault(c.fault.fault)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Faults = []scenario.Fault{f}
	}
	start := time.Now()
	r, err := scenario.Run(t.Context(), cfg, nil)
	o.wall = time.Since(start)
	if err != nil {
		o.problems = append(o.problems, "run: "+err.Error())
		return o
	}
	o.virtual = r.VirtualDuration
	bad := func(format string, args ...any) { o.problems = append(o.problems, fmt.Sprintf(format, args...)) }
	if r.TimedOut {
		bad("no end within %v of virtual time", cfg.Limit)
	}
	phases := map[string]int{}
	for _, tg := range r.Targets {
		phases[tg.FinalPhase]++
		switch {
		case tg.FinalPhase != tg.Expected:
			bad("%s (%s) ended %s, want %s: %s", tg.Address, orHealthy(tg.Fault), tg.FinalPhase, tg.Expected, tg.Reason)
		case tg.FinalPhase != "Apply Success" && tg.Reason == "":
			bad("%s ended %s with no reason", tg.Address, tg.FinalPhase)
		case strings.HasPrefix(tg.Reason, "did not finish"):
			bad("%s: %s", tg.Address, tg.Reason)
		}
		if tg.FinalPhase == "Apply Success" && !bytes.Equal(tg.Installed, r.ImageFile) {
			bad("%s applied an image that differs from the one uploaded (%d octets, want %d)", tg.Address, len(tg.Installed), len(r.ImageFile))
		}
		// The status the specification names for a refusal.
		switch {
		case tg.Fault == "target-storage-full" && !strings.Contains(tg.Reason, "Internal Error"):
			bad("%s: storage refused, reason %q does not name Internal Error", tg.Address, tg.Reason)
		case c.fault.fault == "distributor-storage-full" && !strings.Contains(tg.Reason, "Insufficient Resources"):
			bad("%s: distributor full, reason %q does not name Insufficient Resources", tg.Address, tg.Reason)
		}
	}
	// A timed fault that never struck tests nothing.
	if c.fault.fault != "" && c.fault.fault != "target-offline" && c.fault.fault != "distributor-storage-full" &&
		!strings.HasPrefix(c.fault.fault, "distributor-restart") && !strings.HasPrefix(c.fault.fault, "target-reboot@5") && len(r.Struck) == 0 {
		bad("fault %s never struck", c.fault.fault)
	}
	if strings.HasPrefix(c.fault.fault, "distributor-restart") && !slices.Contains(r.Struck, "distributor-restart") {
		bad("the distributor never restarted")
	}
	var keys []string
	for k := range phases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.summary += fmt.Sprintf("%d %s, ", phases[k], k)
	}
	o.summary = strings.TrimSuffix(o.summary, ", ")
	if r.EndError != "" && !o.ok() {
		o.problems = append(o.problems, "distribution ended: "+r.EndError)
	}
	return o
}

func orHealthy(f string) string {
	if f == "" {
		return "healthy"
	}
	return f
}

func TestFaultMatrix(t *testing.T) {
	cells := shortCells()
	if longForm() {
		cells = allCells()
	}
	var (
		mu   sync.Mutex
		outs []outcome
	)
	t.Run("cells", func(t *testing.T) {
		for _, c := range cells {
			t.Run(strings.NewReplacer(" | ", "/", " ", "_", "%", "pct").Replace(c.key()), func(t *testing.T) {
				t.Parallel()
				o := check(t, c)
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
				why, known := knownFailure(c.key())
				switch {
				case !o.ok() && known:
					t.Logf("known failure (%s): %s", why, strings.Join(o.problems, "; "))
				case !o.ok():
					t.Errorf("seed 1: %s\n(replay: go run ./cmd/meshdfu sim --seed 1 --nodes %d --topology %s --image-size %d --loss %v%s --upload %s%s)",
						strings.Join(o.problems, "\n"), c.topo.targets, c.topo.name, c.topo.image, c.loss.loss, burstFlag(c.loss.burst), c.fault.upload, faultFlag(c.fault.fault))
				case known:
					t.Logf("known failure now passes: remove %q from knownFailures", c.key())
				}
			})
		}
	})
	sort.Slice(outs, func(i, j int) bool { return outs[i].cell.key() < outs[j].cell.key() })
	var b strings.Builder
	fmt.Fprintf(&b, "fault matrix, %d cells:\n", len(outs))
	pass := 0
	for _, o := range outs {
		res := "pass"
		if !o.ok() {
			res = "FAIL"
			if why, known := knownFailure(o.cell.key()); known {
				res = "known failure: " + why
			}
		} else {
			pass++
		}
		fmt.Fprintf(&b, "  %-44s %-6s %7.0f s virtual %6.2f s wall  %s\n", o.cell.key(), res, o.virtual, o.wall.Seconds(), o.summary)
		if !o.ok() && testing.Verbose() {
			fmt.Fprintf(&b, "      why: %s\n", strings.Join(o.problems, " // "))
		}
	}
	fmt.Fprintf(&b, "%d of %d cells pass\n", pass, len(outs))
	t.Log(b.String())
	if p := os.Getenv("MESHDFU_MATRIX_OUT"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func burstFlag(b bool) string {
	if b {
		return " --burst"
	}
	return ""
}

func faultFlag(f string) string {
	if f == "" {
		return ""
	}
	return " --fault " + f
}
