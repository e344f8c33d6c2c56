package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// runCLI runs meshdfu in-process and returns its output and exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String() + ee.msg, ee.code
	}
	return out.String() + err.Error(), 2
}

var smallSim = []string{"sim", "--nodes", "3", "--image-size", "2KiB", "--topology", "single-hop"}

// structure lists every JSON path with its type, arrays by their first
// element: the shape scripts rely on, not the values.
func structure(v any, path string, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			structure(x[k], path+"."+k, out)
		}
	case []any:
		*out = append(*out, path+": array")
		if len(x) > 0 {
			structure(x[0], path+"[]", out)
		}
	default:
		*out = append(*out, fmt.Sprintf("%s: %T", path, v))
	}
}

func TestSim_JSONStructure(t *testing.T) {
	out, code := runCLI(t, append(smallSim, "--json", "--fault", "tamper")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var lines []string
	structure(v, "", &lines)
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/sim-json.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("JSON structure changed (update docs/sim-json.md, then go test ./cmd/meshdfu -run TestSim_JSONStructure -update):\n%s", got)
	}
	if v["ok"] != true || v["nodes"] != float64(3) || v["image_bytes"] != float64(2048) {
		t.Fatalf("ok %v nodes %v image_bytes %v", v["ok"], v["nodes"], v["image_bytes"])
	}
}

func TestSim_ExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"healthy", append(smallSim, "--quiet"), 0, ""},
		{"planned tamper", append(smallSim, "--quiet", "--fault", "tamper"), 0, ""},
		{"planned offline", append(smallSim, "--quiet", "--fault", "target-offline:count=2"), 0, ""},
		{"unplanned failure", append(smallSim, "--quiet", "--loss", "0.95"), 1, "did not end as planned"},
		{"loss too high", []string{"sim", "--loss", "1"}, 2, "0 ≤ P < 1"},
		{"loss not a number", []string{"sim", "--loss", "much"}, 2, "--loss"},
		{"bad size", []string{"sim", "--image-size", "big"}, 2, "--image-size"},
		{"bad mode", []string{"sim", "--mode", "shove"}, 2, "--mode"},
		{"bad profile", []string{"sim", "--profile", "x"}, 2, "--profile"},
		{"bad upload", []string{"sim", "--upload", "x"}, 2, "--upload"},
		{"bad fault", []string{"sim", "--fault", "meteor"}, 2, "unknown fault"},
		{"too many faults", []string{"sim", "--nodes", "2", "--fault", "tamper:count=3"}, 2, "left to sabotage"},
		{"bad topology", []string{"sim", "--topology", "/nonexistent/topo.json"}, 2, "topology"},
		{"group and unicast", []string{"sim", "--group", "--unicast"}, 2, "choose one"},
		{"zero nodes", []string{"sim", "--nodes", "0"}, 2, "--nodes"},
		{"negative lpn", []string{"sim", "--lpn", "-1"}, 2, "--lpn"},
		{"more lpns than targets", []string{"sim", "--nodes", "3", "--lpn", "4"}, 2, "--lpn"},
		{"no room for lpns", []string{"sim", "--nodes", "4", "--lpn", "4", "--topology", "single-hop"}, 2, "Friends"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(out, c.msg) {
				t.Fatalf("exit %d, want %d; output %q, want %q in it", code, c.code, out, c.msg)
			}
		})
	}
}

func TestSim_Deterministic(t *testing.T) {
	strip := regexp.MustCompile(`"wall_s": [0-9.e-]+`)
	a, _ := runCLI(t, append(smallSim, "--json", "--seed", "5")...)
	b, _ := runCLI(t, append(smallSim, "--json", "--seed", "5")...)
	if strip.ReplaceAllString(a, "") != strip.ReplaceAllString(b, "") {
		t.Fatalf("same seed, different JSON:\n%s\n%s", a, b)
	}
}

func TestSim_TableAndReport(t *testing.T) {
	dir := t.TempDir()
	html, pcapPath := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.pcap")
	out, code := runCLI(t, append(smallSim, "--fault", "tamper", "--report", html, "--pcap", pcapPath)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"TARGET", "FINAL PHASE", "Verification Failed", "Apply Success", "3/3 targets"} {
		if want == "3/3 targets" {
			want = "2/3 targets applied; every target ended as planned"
		}
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
		t.Fatal("not an HTML page")
	}
	// Self-contained: nothing is loaded from elsewhere.
	if regexp.MustCompile(`(?i)<script|<link|src=|@import|url\(`).MatchString(page) {
		t.Fatal("the report loads external resources")
	}
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(svgs) != 3 {
		t.Fatalf("%d charts, want 3 (progress, steps, air time)", len(svgs))
	}
	for i, s := range svgs {
		var doc struct {
			XMLName xml.Name
			Title   string `xml:"title"`
		}
		if err := xml.Unmarshal([]byte(s), &doc); err != nil || doc.XMLName.Local != "svg" || doc.Title == "" {
			t.Errorf("chart %d is not well-formed SVG with a title: %v", i, err)
		}
	}
	for _, want := range []string{"progress of every target", "air time by node", "duration of each step", "polyline", "<rect"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if st, err := os.Stat(pcapPath); err != nil || st.Size() < 100 {
		t.Errorf("pcap: %v %v", st, err)
	}
}

// TestSim_LPN: 20 targets of which 8 are Low Power nodes (issue 9): all
// apply, each LPN in Pull with its radio-on time, the others in Push, and
// no Friend Queue overflows.
func TestSim_LPN(t *testing.T) {
	out, code := runCLI(t, "sim", "--nodes", "20", "--lpn", "8", "--topology", "single-hop", "--image-size", "8KiB", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var r struct {
		OK        bool   `json:"ok"`
		LPNs      int    `json:"lpns"`
		Overflows uint64 `json:"friend_queue_overflows"`
		Targets   []struct {
			Address    string  `json:"address"`
			FinalPhase string  `json:"final_phase"`
			LPN        bool    `json:"lpn"`
			Mode       string  `json:"mode"`
			RadioOn    float64 `json:"radio_on_s"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !r.OK || r.LPNs != 8 || r.Overflows != 0 {
		t.Fatalf("ok %v, %d LPNs, %d overflows", r.OK, r.LPNs, r.Overflows)
	}
	lpns := 0
	for _, x := range r.Targets {
		want := "push"
		if x.LPN {
			want = "pull"
			lpns++
			if x.RadioOn <= 0 {
				t.Errorf("LPN %s: radio on %v s", x.Address, x.RadioOn)
			}
		} else if x.RadioOn != 0 {
			t.Errorf("target %s is no LPN but has radio_on_s %v", x.Address, x.RadioOn)
		}
		if x.Mode != want || x.FinalPhase != "Apply Success" {
			t.Errorf("target %s (LPN %v): mode %q, final phase %q", x.Address, x.LPN, x.Mode, x.FinalPhase)
		}
	}
	if lpns != 8 {
		t.Errorf("%d targets marked lpn, want 8", lpns)
	}
	table, code := runCLI(t, "sim", "--nodes", "20", "--lpn", "8", "--topology", "single-hop", "--image-size", "8KiB")
	for _, want := range []string{"LPN", "MODE", "RADIO ON", "pull", "8 Low Power targets; 0 Friend Queue overflows"} {
		if code != 0 || !strings.Contains(table, want) {
			t.Errorf("exit %d; summary lacks %q:\n%s", code, want, table)
		}
	}
}
