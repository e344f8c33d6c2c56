package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinary builds meshdfu once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with real processes skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "meshdfu")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// Two meshdfu processes over the UDP bearer on loopback: a target node and
// a Configuration Client that configures it.
func TestEndToEnd_ConfigOverUDP(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	netFile := filepath.Join(dir, "net.json")
	if out, err := exec.Command(bin, "network", "new", "--nodes", "1", "--out", netFile).CombinedOutput(); err != nil {
		t.Fatalf("network new: %v\n%s", err, out)
	}
	tAddr, pAddr := freeUDPPort(t), freeUDPPort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	target := exec.CommandContext(ctx, bin, "target", "--cdb", netFile, "--node", "0x0002",
		"--data-dir", filepath.Join(dir, "target"), "--bearer", "udp:"+tAddr, "--peer", pAddr, "--pcap", filepath.Join(dir, "target.pcap"))
	stdout, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	target.Stderr = os.Stderr
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = target.Process.Signal(os.Interrupt)
		_ = target.Wait()
	}()
	// Wait until the target says it listens.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening on "+tAddr) {
		t.Fatalf("target did not start: %q %v", line, err)
	}
	run := func(wantExit int, args ...string) map[string]any {
		t.Helper()
		full := append([]string{"config", "--cdb", netFile, "--node", "0x0001", "--data-dir", filepath.Join(dir, "prov"),
			"--bearer", "udp:" + pAddr, "--peer", tAddr, "--timeout", "15s"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Fatalf("config %v: exit %d, want %d; output %s", args, code, wantExit, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("config %v: output %q: %v", args, out, err)
		}
		resp, _ := m["response"].(map[string]any)
		return resp
	}
	if r := run(0, "appkey-add", "0x0002"); r["Status"] != "Success" {
		t.Fatalf("AppKey Add: %v", r)
	}
	if r := run(0, "default-ttl", "0x0002", "9"); r["TTL"] != float64(9) {
		t.Fatalf("Default TTL Set: %v", r)
	}
	if r := run(0, "composition", "0x0002"); r["Page"] != float64(0) {
		t.Fatalf("Composition Data: %v", r)
	}
	// The target has no model 0x1000: the status names the reason and the
	// command exits 1.
	if r := run(1, "bind", "0x0002", "0x0002", "1000"); r["Status"] != "Invalid Model" {
		t.Fatalf("Bind: %v", r)
	}
	// The target's capture holds what it sent and received.
	_ = target.Process.Signal(os.Interrupt)
	_ = target.Wait()
	if st, err := os.Stat(filepath.Join(dir, "target.pcap")); err != nil || st.Size() < 24+4*40 {
		t.Fatalf("target capture: %v %v", st, err)
	}
	// A second AppKey Add of the same key after a restart of the target is
	// still Success (the key survived in its data directory).
	target2 := exec.CommandContext(ctx, bin, "target", "--cdb", netFile, "--node", "0x0002",
		"--data-dir", filepath.Join(dir, "target"), "--bearer", "udp:"+tAddr, "--peer", pAddr)
	stdout2, _ := target2.StdoutPipe()
	target2.Stderr = os.Stderr
	if err := target2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = target2.Process.Signal(os.Interrupt); _ = target2.Wait() }()
	if line, err := bufio.NewReader(stdout2).ReadString('\n'); err != nil {
		t.Fatalf("target restart: %q %v", line, err)
	}
	if r := run(0, "appkey-add", "0x0002"); r["Status"] != "Success" {
		t.Fatalf("AppKey Add after restart: %v", r)
	}
}
