package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/web"
)

// daemon is a long-running meshdfu process of a test.
type daemon struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	lines chan string
	log   *lockedBuffer // everything it printed, for failures
}

// startDaemon runs bin with args until the test ends (or stop).
func startDaemon(t *testing.T, ctx context.Context, name, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, name: name, cmd: exec.CommandContext(ctx, bin, args...), lines: make(chan string, 100), log: &lockedBuffer{}}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.log
	d.cmd.WaitDelay = 5 * time.Second
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.log.Write([]byte(sc.Text() + "\n"))
			select {
			case d.lines <- sc.Text():
			default:
			}
		}
		close(d.lines)
	}()
	t.Cleanup(d.stop)
	return d
}

// waitLine returns the first line containing s.
func (d *daemon) waitLine(s string) string {
	d.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("%s ended before printing %q:\n%s", d.name, s, d.log)
			}
			if strings.Contains(l, s) {
				return l
			}
		case <-timeout:
			d.t.Fatalf("%s did not print %q:\n%s", d.name, s, d.log)
		}
	}
}

func (d *daemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	_ = d.cmd.Wait()
}

// after returns the text after marker in line.
func after(t *testing.T, line, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, marker)
	if !ok {
		t.Fatalf("%q lacks %q", line, marker)
	}
	return strings.Fields(strings.TrimSuffix(rest, ","))[0]
}

// The whole operator story with separate processes over UDP on loopback:
// an HTTPS update server with a self-signed certificate, a distributor
// that trusts it (--ca), three targets that check signatures, and the
// Initiator ("meshdfu dist") doing an OOB upload and a distribution to
// the end. Every target ends Apply Success and runs the new Firmware ID,
// also after a restart; the distributor keeps its state across a restart.
func TestEndToEnd_DistributionOverUDP(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	run := func(wantExit int, args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Fatalf("meshdfu %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantExit, out, stderr.String())
		}
		return out
	}
	netFile := filepath.Join(dir, "net.json")
	run(0, "network", "new", "--nodes", "4", "--out", netFile)
	key := filepath.Join(dir, "signing.key")
	run(0, "firmware", "keygen", "--out", key)
	images := filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app.bin")
	if err := os.WriteFile(app, bytes.Repeat([]byte("meshdfu firmware 1.0.2\n"), 60), 0o644); err != nil {
		t.Fatal(err)
	}
	const oldFWID, newFWID = "590001000100", "590001000200"
	// The new firmware changes the device's Composition Data.
	run(0, "firmware", "pack", "--image", app, "--fwid", newFWID, "--version", "1.0.2", "--key", key,
		"--composition-change", "--out", filepath.Join(images, "app-1.0.2.mdfu"))

	us := startDaemon(t, ctx, "updateserver", bin, "updateserver", "--dir", images, "--self-signed", "--listen", "127.0.0.1:0")
	cert := after(t, us.waitLine("certificate: "), "certificate: ")
	url := after(t, us.waitLine("listening on "), "listening on ")

	ports := map[string]string{}
	for _, a := range []string{"0x0001", "0x0002", "0x0003", "0x0004", "0x0005"} {
		ports[a] = freeUDPPort(t)
	}
	nodeArgs := func(addr string) []string {
		args := []string{"--cdb", netFile, "--node", addr, "--data-dir", filepath.Join(dir, addr), "--bearer", "udp:" + ports[addr]}
		for b, p := range ports {
			if b != addr {
				args = append(args, "--peer", p)
			}
		}
		return args
	}
	targets := map[string]*daemon{}
	startTarget := func(addr string, extra ...string) *daemon {
		d := startDaemon(t, ctx, "target "+addr, bin, append(append([]string{"target"}, nodeArgs(addr)...), extra...)...)
		targets[addr] = d
		return d
	}
	for _, a := range []string{"0x0003", "0x0004", "0x0005"} {
		if l := startTarget(a, "--fwid", oldFWID, "--pubkey", key+".pub").waitLine("listening on "); !strings.Contains(l, "firmware "+oldFWID) {
			t.Fatalf("target %s: %q", a, l)
		}
	}
	startDist := func() (*daemon, string) {
		d := startDaemon(t, ctx, "distributor", bin, append(append([]string{"distributor"}, nodeArgs("0x0002")...),
			"--http", "127.0.0.1:0", "--ca", cert)...)
		d.waitLine("listening on ")
		return d, after(t, d.waitLine("dashboard "), "dashboard ")
	}
	dist, dashboard := startDist()

	initiator := append([]string{"dist"}, nodeArgs("0x0001")...)
	initiator = append(initiator, "--distributor", "0x0002", "--json", "--interval", "1s")
	distJSON := func(wantExit int, args ...string) map[string]any {
		t.Helper()
		out := run(wantExit, append(append([]string{}, initiator...), args...)...)
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			// status --watch prints one JSON object per line: take the last.
			if err := json.Unmarshal(lines[len(lines)-1], &m); err != nil {
				t.Fatalf("dist %v: output %q: %v", args, out, err)
			}
		}
		return m
	}
	if m := distJSON(0, "receivers", "add", "0x0003", "0x0004", "0x0005"); m["status"] != "Success" || m["receivers"] != float64(3) {
		t.Fatalf("receivers add: %v", m)
	}
	if m := distJSON(0, "caps"); m["oob"] != true {
		t.Fatalf("caps: %v", m)
	}
	if m := distJSON(0, "upload-oob", url, oldFWID); m["firmware_id"] != newFWID {
		t.Fatalf("upload-oob: %v", m)
	}
	if m := distJSON(0, "firmware", "list"); len(m["images"].([]any)) != 1 {
		t.Fatalf("firmware list: %v", m)
	}
	// A bad request is refused with the status named, exit 1.
	if out := run(1, append(append([]string{}, initiator...), "start", "--image", "5")...); len(out) != 0 {
		t.Fatalf("start of a missing image printed %s", out)
	}
	if m := distJSON(0, "start", "--policy", "apply"); m["phase"] != "Transfer Active" {
		t.Fatalf("start: %v", m)
	}
	if m := distJSON(0, "status", "--watch"); m["phase"] != "Completed" {
		t.Fatalf("status --watch ended with %v", m)
	}
	m := distJSON(0, "status")
	if m["phase"] != "Completed" {
		t.Fatalf("status: %v", m)
	}
	rs, _ := m["receivers"].([]any)
	if len(rs) != 3 {
		t.Fatalf("status receivers: %v", m)
	}
	for _, r := range rs {
		if r := r.(map[string]any); r["phase"] != "Apply Success" || r["progress"] != float64(100) {
			t.Fatalf("receiver %v", r)
		}
	}
	// Every target installed the new Firmware ID and rebooted with it.
	for a, d := range targets {
		d.waitLine("applied firmware " + newFWID)
		// ... with the new Composition Data (its Version ID bumped).
		d.waitLine("rebooted, firmware " + newFWID + ", composition data version 0x0001")
		_ = a
	}

	// The HTTP API and metrics of the distributor tell the same.
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(dashboard + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	var st web.Status
	if err := json.Unmarshal(get("/api/status"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != "Completed" || len(st.Receivers) != 3 || len(st.Images) != 1 || st.Images[0].FirmwareID != newFWID ||
		st.Distribution == nil || st.Distribution.FirmwareID != newFWID || st.Counters.PDUsSent == 0 {
		t.Fatalf("api status %+v", st)
	}
	if metrics := string(get("/metrics")); !strings.Contains(metrics, `meshdfu_receivers{phase="Apply Success"} 3`) {
		t.Fatalf("metrics:\n%s", metrics)
	}

	// A target restarted runs the new firmware (its data directory kept it).
	targets["0x0003"].stop()
	if l := startTarget("0x0003").waitLine("listening on "); !strings.Contains(l, "firmware "+newFWID) {
		t.Fatalf("restarted target: %q", l)
	}
	// The distributor restarted keeps its images, receivers and phase.
	dist.stop()
	_, dashboard = startDist()
	if err := json.Unmarshal(get("/api/status"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != "Completed" || len(st.Receivers) != 3 || len(st.Images) != 1 || st.Receivers[0].Phase != "Apply Success" {
		t.Fatalf("api status after restart %+v", st)
	}
}
