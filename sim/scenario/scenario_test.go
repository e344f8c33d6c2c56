package scenario

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// small is a quick scenario: 4 targets in one hop, a 4 KiB image.
func small(faults ...Fault) Config {
	c := Default()
	c.Targets, c.Topology, c.ImageSize, c.Faults = 4, "single-hop", 4096, faults
	return c
}

func run(t *testing.T, c Config) *Result {
	t.Helper()
	r, err := Run(t.Context(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseFault(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		want Fault
	}{
		{"target-reboot", Fault{FaultTargetReboot, 0.5, 1, DefaultBurstFor}},
		{"target-reboot@20%", Fault{FaultTargetReboot, 0.2, 1, DefaultBurstFor}},
		{"target-reboot@20%:count=3", Fault{FaultTargetReboot, 0.2, 3, DefaultBurstFor}},
		{"target-reboot:count=2", Fault{FaultTargetReboot, 0.5, 2, DefaultBurstFor}},
		{"target-offline", Fault{FaultTargetOffline, 0.5, 1, DefaultBurstFor}},
		{"target-offline:count=4", Fault{FaultTargetOffline, 0.5, 4, DefaultBurstFor}},
		{"tamper", Fault{FaultTamper, 0.5, 1, DefaultBurstFor}},
		{"tamper:count=2", Fault{FaultTamper, 0.5, 2, DefaultBurstFor}},
		{"distributor-restart@40%", Fault{FaultDistributorRestart, 0.4, 1, DefaultBurstFor}},
		{"loss-burst@60%", Fault{FaultLossBurst, 0.6, 1, DefaultBurstFor}},
		{"loss-burst@60%:for=5s", Fault{FaultLossBurst, 0.6, 1, 5 * time.Second}},
	}
	for _, c := range ok {
		got, err := ParseFault(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.in, got, err, c.want)
			continue
		}
		// The canonical form reads back the same.
		if again, err := ParseFault(got.String()); err != nil || again != got {
			t.Errorf("%q: String %q reads back %+v %v", c.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "reboot", "tamper@50%", "target-offline@10%", "distributor-restart", "loss-burst",
		"target-reboot@150%", "target-reboot@x", "tamper:count=0", "tamper:count=x", "tamper:for=1s", "loss-burst@5%:for=-1s",
		"loss-burst@5%:count=2", "tamper:count"} {
		if _, err := ParseFault(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", bad, err)
		}
	}
}

func TestParseLossAndSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"0.05": 0.05, "5%": 0.05, "0": 0, "0.5": 0.5} {
		if got, err := ParseLoss(in); err != nil || got != want {
			t.Errorf("loss %q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"1", "100%", "-0.1", "x", ""} {
		if _, err := ParseLoss(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("loss %q: %v", bad, err)
		}
	}
	for in, want := range map[string]int{"32768": 32768, "64KiB": 65536, "64K": 65536, "1MiB": 1 << 20, "100kB": 100000} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("size %q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "-1", "0", "12QB"} {
		if _, err := ParseSize(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("size %q: %v", bad, err)
		}
	}
}

func TestRun_Healthy(t *testing.T) {
	r := run(t, small())
	if !r.OK || r.Nodes != 4 || r.ImageBytes != 4096 || len(r.Targets) != 4 {
		t.Fatalf("%+v", r)
	}
	for _, tg := range r.Targets {
		if tg.FinalPhase != "Apply Success" || tg.Reason != "" || tg.CompletedAt <= 0 {
			t.Errorf("%+v", tg)
		}
	}
	if r.Transfer.Duration <= 0 || r.Transfer.Bound != 600 || r.Transfer.ChunkSize == 0 || r.Transfer.BlockSize == 0 || r.Transfer.Mode != "push" {
		t.Errorf("transfer %+v", r.Transfer)
	}
	if want := float64(r.ImageBytes) / r.Transfer.Duration; r.Transfer.Goodput < want*0.999 || r.Transfer.Goodput > want*1.001 {
		t.Errorf("goodput %v, want %v", r.Transfer.Goodput, want)
	}
	if r.Air.PDUs == 0 || len(r.Keys.NetKey) != 32 || len(r.Keys.AppKey) != 32 || r.Keys.IVIndex != "00000000" {
		t.Errorf("air %+v keys %+v", r.Air, r.Keys)
	}
	// The Initiator, the distributor and 4 targets.
	if len(r.Series) != 4 || len(r.AirByNode) != 6 || r.Network.Nodes != 6 {
		t.Errorf("series %d, air by node %d, nodes %d", len(r.Series), len(r.AirByNode), r.Network.Nodes)
	}
	if n := r.Network; n.Initiator != "0x0001" || n.Distributor != "0x0002" || n.Role != "dfd" || r.Targets[0].Address != "0x0003" {
		t.Errorf("roles: %+v, first target %s", n, r.Targets[0].Address)
	}
	var steps []string
	for _, p := range r.Phases {
		steps = append(steps, p.Name)
	}
	if got := strings.Join(steps, " "); got != "upload start transfer verify apply confirm" {
		t.Errorf("steps %q", got)
	}
}

// The OOB upload: the distributor fetches the image (packed as a firmware
// archive) from the fake update server, after its virtual delays.
func TestRun_UploadOOB(t *testing.T) {
	c := small()
	c.Upload = "oob"
	r := run(t, c)
	if !r.OK || r.Network.Upload != "oob" {
		t.Fatalf("%+v", r.Targets)
	}
	if up := r.Phases[0]; up.Name != "upload" || up.Duration < (2*oobLatency).Seconds() {
		t.Errorf("upload step %+v, want at least the update server's two round trips", up)
	}
}

// Unicast addressing and pull mode reach the end too.
func TestRun_UnicastPull(t *testing.T) {
	c := small()
	c.Unicast, c.Mode = true, "pull"
	r := run(t, c)
	if !r.OK || r.Network.Addressing != "unicast" || r.Transfer.Mode != "pull" {
		t.Fatalf("addressing %s mode %s: %+v", r.Network.Addressing, r.Transfer.Mode, r.Targets)
	}
}

// A distributor restarted at half of the transfer comes back from its
// stores and resumes: the transfer goes on after the restart, and the air
// time stays below 1.5 times that of the same run without the restart.
func TestRun_DistributorRestartResumes(t *testing.T) {
	c := small()
	c.ImageSize = 16 << 10 // several blocks
	plain := run(t, c)
	c.Faults = []Fault{{Kind: FaultDistributorRestart, At: 0.5}}
	r := run(t, c)
	if !plain.OK || !r.OK {
		t.Fatalf("plain %v, restarted %v: %+v", plain.OK, r.OK, r.Targets)
	}
	var steps []string
	for _, p := range r.Phases {
		steps = append(steps, p.Name)
	}
	if got := strings.Join(steps, " "); !strings.Contains(got, "transfer restart start transfer verify") {
		t.Errorf("steps %q: the restart should come mid-transfer", got)
	}
	ratio := r.Air.AirTime / plain.Air.AirTime
	t.Logf("air time: uninterrupted %.3f s, restarted at 50%% %.3f s (%.2f×)", plain.Air.AirTime, r.Air.AirTime, ratio)
	if ratio >= 1.5 {
		t.Errorf("air time with a restart %.3f s ≥ 1.5 × %.3f s", r.Air.AirTime, plain.Air.AirTime)
	}
}

// The default configuration (what `meshdfu sim` runs without flags) ends
// with every target applied.
func TestRun_Default(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the default run takes about 2 s")
	}
	start := time.Now()
	r := run(t, Default())
	t.Logf("default: %s, %d targets, %d hops, %.0f s virtual, %v wall", r.Network.Topology, r.Nodes, r.Network.MaxHops, r.VirtualDuration, time.Since(start))
	if !r.OK {
		for _, tg := range r.Targets {
			if tg.FinalPhase != tg.Expected {
				t.Errorf("%+v", tg)
			}
		}
		t.Fatalf("seed %d: not OK (replay: go run ./cmd/meshdfu sim --seed %d)", r.Seed, r.Seed)
	}
	if r.Nodes != DefaultTargets || r.ImageBytes != DefaultImageSize {
		t.Errorf("nodes %d image %d", r.Nodes, r.ImageBytes)
	}
}

// Every fault has its planned effect and the run is still OK.
func TestRun_Faults(t *testing.T) {
	cases := []struct {
		fault string
		want  string // final phase of the sabotaged target, "" for all applied
	}{
		{"tamper", "Verification Failed"},
		{"target-offline", "Transfer Error"},
		{"target-reboot@30%", ""},
		{"distributor-restart@40%", ""},
		{"loss-burst@50%:for=1s", ""},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			f, err := ParseFault(c.fault)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, small(f))
			if !r.OK {
				t.Fatalf("not OK: %+v", r.Targets)
			}
			hit := 0
			for _, tg := range r.Targets {
				if tg.Fault != "" {
					hit++
					if c.want != "" && (tg.FinalPhase != c.want || tg.Reason == "") {
						t.Errorf("%+v", tg)
					}
				}
			}
			if c.want != "" && hit != 1 {
				t.Errorf("%d targets sabotaged", hit)
			}
			if f.Kind == FaultDistributorRestart {
				restarted := false
				for _, p := range r.Phases {
					restarted = restarted || p.Name == "restart"
				}
				if !restarted {
					t.Errorf("no restart in %+v", r.Phases)
				}
			}
		})
	}
}

func TestRun_Deterministic(t *testing.T) {
	c := small(Fault{Kind: FaultTamper, Count: 1})
	c.Seed = 9
	enc := func(r *Result) string {
		r.WallSeconds = 0
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	a, b := enc(run(t, c)), enc(run(t, c))
	if a != b {
		t.Fatalf("same seed, different results:\n%s\n%s", a, b)
	}
	c.Seed = 10
	if enc(run(t, c)) == a {
		t.Fatal("another seed gave the same result")
	}
}

func TestRun_BadConfig(t *testing.T) {
	for _, c := range []Config{
		{Loss: 1}, {Mode: "x"}, {Profile: "x"}, {Upload: "x"}, {ImageSize: 10}, {Topology: "/nonexistent.json"},
		{Targets: 2, Faults: []Fault{{Kind: FaultTamper, Count: 3}}},
	} {
		if _, err := Run(t.Context(), c, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
