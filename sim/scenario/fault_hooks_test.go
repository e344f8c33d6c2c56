package scenario

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseFault_Hardening(t *testing.T) {
	t.Parallel()
	ok := map[string]Fault{
		"target-reboot@verify":        {FaultTargetRebootVerify, DefaultFaultAt, 1, DefaultBurstFor},
		"target-reboot@apply:count=2": {FaultTargetRebootApply, DefaultFaultAt, 2, DefaultBurstFor},
		"upload-interrupt@50%":        {FaultUploadInterrupt, 0.5, 1, DefaultBurstFor},
		"target-storage-full":         {FaultTargetStorageFull, DefaultFaultAt, 1, DefaultBurstFor},
		"distributor-storage-full":    {FaultDistributorStorageFull, DefaultFaultAt, 1, DefaultBurstFor},
		"power-cut@30%:count=2":       {FaultPowerCut, 0.3, 2, DefaultBurstFor},
		"target-reboot@40%":           {FaultTargetReboot, 0.4, 1, DefaultBurstFor},
	}
	for in, want := range ok {
		got, err := ParseFault(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
			continue
		}
		if again, err := ParseFault(got.String()); err != nil || again != got {
			t.Errorf("%q: String %q reads back %+v %v", in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"upload-interrupt", "power-cut", "distributor-storage-full@5%", "target-storage-full@5%",
		"distributor-storage-full:count=2", "target-reboot@verify:for=1s", "target-reboot@later"} {
		if _, err := ParseFault(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", bad, err)
		}
	}
}

// Each hardening fault ends as planned on a single hop, and the targets
// that applied hold the image file octet for octet.
func TestRun_HardeningFaults(t *testing.T) {
	cases := []struct {
		fault, upload string
		want          string // final phase of the sabotaged targets, "" for applied
	}{
		{"target-reboot@verify", "", ""},
		{"target-reboot@apply", "", "Apply Failed"},
		{"upload-interrupt@50%", "inband", ""},
		{"upload-interrupt@50%", "oob", ""},
		{"target-storage-full", "", "Transfer Error"},
		{"distributor-storage-full", "inband", "Idle"},
		{"distributor-storage-full", "oob", "Idle"},
		{"power-cut@50%", "", ""},
	}
	for _, c := range cases {
		t.Run(c.fault+"/"+c.upload, func(t *testing.T) {
			f, err := ParseFault(c.fault)
			if err != nil {
				t.Fatal(err)
			}
			cfg := small(f)
			cfg.ImageSize = 8 << 10
			if c.upload != "" {
				cfg.Upload = c.upload
			}
			r := run(t, cfg)
			for _, tg := range r.Targets {
				t.Logf("%s fault=%q %s (%s) reason=%q", tg.Address, tg.Fault, tg.FinalPhase, tg.Status, tg.Reason)
				if tg.FinalPhase == "Apply Success" && !bytes.Equal(tg.Installed, r.ImageFile) {
					t.Errorf("%s applied but holds a different image", tg.Address)
				}
				if tg.FinalPhase != "Apply Success" && tg.Reason == "" {
					t.Errorf("%s ended %s with no reason", tg.Address, tg.FinalPhase)
				}
				if strings.HasPrefix(tg.Reason, "did not finish") {
					t.Errorf("%s did not finish", tg.Address)
				}
			}
			t.Logf("struck: %q", r.Struck)
			if r.TimedOut {
				t.Errorf("timed out")
			}
			if !r.OK {
				t.Fatalf("not as planned (end: %s)", r.EndError)
			}
		})
	}
}
