package fleet_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/cdb"
	"github.com/meshdfu/meshdfu/mesh/dissect"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/pcap"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// tshark returns the path of tshark, or skips the test; with
// MESHDFU_REQUIRE_TSHARK=1 a missing tshark fails it instead.
func tshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("MESHDFU_REQUIRE_TSHARK") == "1" {
			t.Fatal("tshark not on PATH and MESHDFU_REQUIRE_TSHARK=1")
		}
		t.Skip("tshark not on PATH (install Wireshark's tshark to run; set MESHDFU_REQUIRE_TSHARK=1 to make this a failure)")
	}
	return path
}

// frame is what the test expects tshark to show for one captured event.
type frame struct {
	src, seq  uint64
	decrypted string // the access message, for unsegmented AppKey messages
}

// A simulated exchange (node 0 configures nodes 1–3 over a relay: AppKey
// Add, Model App Bind, Subscription Add; then an unsegmented and a
// segmented application message to a group) is captured to a pcap, and
// tshark, given the network's keys (Fleet.Keys().TsharkOptions()), decodes
// every mesh PDU's SRC and SEQ, decrypts every unsegmented AppKey access
// message, and in its two-pass mode reassembles and decrypts the segmented
// one, each payload as mesh/dissect reads it.
func TestTshark_DecodesFleetCapture(t *testing.T) {
	bin := tshark(t)
	path := filepath.Join(t.TempDir(), "fleet.pcap")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcap.NewWriter(file)
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte // payloads in capture order
	rec := newRecorder(4, true)
	f, err := fleet.New(fleet.Config{
		Seed: 7, Topology: topology.Line(4, sim.Independent(0.05)), Relays: fleet.RelaysAll,
		IVIndex: 0x12345678,
		Models:  rec.Models,
		Medium: sim.MediumConfig{Capture: func(c sim.Capture) {
			if c.Kind != mesh.ADMessage {
				t.Errorf("captured a %v", c.Kind)
			}
			events = append(events, bytes.Clone(c.Payload))
		}},
		Capture: w,
		Preconfigure: func(db *cdb.Database, i int, n *cdb.Node) error {
			if i == fleet.Provisioner {
				return fleet.PreconfigureApp(0)(db, i, n)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := false
	err = f.Configure([]int{1, 2, 3}, fleet.Plan{Models: []access.ModelID{testModel}, Subscribe: []mesh.Address{group}, Parallel: 1},
		func(rs []fleet.Result) {
			for _, r := range rs {
				if r.Err != nil {
					t.Error(r.Err)
				}
			}
			done = true
		})
	if err != nil {
		t.Fatal(err)
	}
	if !f.RunUntil(func() bool { return done }, 5*time.Minute) {
		t.Fatal("configuration did not finish")
	}
	rec.send(t, f, 0, group, []byte("hi tshark"), nil)                 // 11 octets: unsegmented
	rec.send(t, f, 0, group, []byte("a segmented group message"), nil) // segmented
	f.RunUntilIdle(time.Minute)
	if len(rec.got[3]) != 2 {
		t.Fatalf("node 3 received %d application messages", len(rec.got[3]))
	}
	if err := f.CaptureErr(); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Count() != len(events) {
		t.Fatalf("pcap has %d records, %d events captured", w.Count(), len(events))
	}

	// What tshark must show, from our own dissector.
	d := dissect.New(f.DissectKeys())
	want := make([]frame, len(events))
	apps := 0
	var segApps []string // segmented AppKey messages, as reassembled
	for i, p := range events {
		pdu, msg, err := d.Decode(p)
		if pdu == nil {
			t.Fatalf("event %d: %v", i, err)
		}
		src, _ := strconv.ParseUint(pdu.SRC, 16, 16)
		seq, _ := strconv.ParseUint(pdu.SEQ, 16, 32)
		want[i] = frame{src: src, seq: seq}
		if pdu.Seg == nil && msg != nil && msg.Key == "app" {
			want[i].decrypted = msg.AccessMessage
			apps++
		}
		if pdu.Seg != nil && msg != nil && msg.Key == "app" {
			segApps = append(segApps, msg.AccessMessage)
		}
	}
	if apps == 0 {
		t.Fatal("no unsegmented application message captured")
	}

	args := []string{"-r", path, "-T", "fields", "-E", "separator=/t",
		"-e", "frame.number", "-e", "btmesh.src", "-e", "btmesh.seq", "-e", "btmesh.access.decrypted"}
	args = append(args, f.Keys().TsharkOptions()...)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tshark printed %d records, captured %d\n%s", len(lines), len(want), stderr.String())
	}
	for i, line := range lines {
		fs := strings.Split(line, "\t")
		for len(fs) < 4 {
			fs = append(fs, "")
		}
		src, errS := strconv.ParseUint(fs[1], 10, 16)
		seq, errQ := strconv.ParseUint(fs[2], 10, 32)
		if errS != nil || errQ != nil || src != want[i].src || seq != want[i].seq {
			t.Errorf("frame %d: tshark src=%q seq=%q, want src=%#04x seq=%#06x", i+1, fs[1], fs[2], want[i].src, want[i].seq)
		}
		if want[i].decrypted != "" && fs[3] != want[i].decrypted {
			t.Errorf("frame %d: decrypted access payload %q, want %q", i+1, fs[3], want[i].decrypted)
		}
	}
	// Segmented application messages: tshark reassembles and decrypts them
	// in its two-pass mode (-2), on the frame that completes the message.
	if len(segApps) == 0 {
		t.Fatal("no segmented application message captured")
	}
	args2 := []string{"-2", "-r", path, "-T", "fields", "-e", "btmesh.segmented.access.reassembled.length", "-e", "btmesh.access.decrypted"}
	args2 = append(args2, f.Keys().TsharkOptions()...)
	out2, err := exec.Command(bin, args2...).Output()
	if err != nil {
		t.Fatalf("tshark -2: %v", err)
	}
	reassembled := map[string]bool{}
	for _, line := range strings.Split(string(out2), "\n") {
		if fs := strings.Split(line, "\t"); len(fs) == 2 && fs[0] != "" && fs[1] != "" {
			reassembled[fs[1]] = true
		}
	}
	for _, m := range segApps {
		if !reassembled[m] {
			t.Errorf("tshark -2 did not reassemble and decrypt the segmented application message %s", m)
		}
	}
	t.Logf("%d frames decoded by tshark, %d unsegmented and %d segmented AppKey messages decrypted", len(lines), apps, len(segApps))
}
