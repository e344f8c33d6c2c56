package fleet_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/sim/fleet"
)

// One node sends an 11-segment message to each of 10 targets at once, on
// default SAR settings: every transfer completes. (The SAR timers count
// from when a segment left the advertiser, not from when it was queued
// behind the other transfers' segments.)
func TestParallelSegmented_DefaultSAR(t *testing.T) {
	const seed, n = 5, 11
	replay(t, seed)
	rec := newRecorder(n, true)
	f, err := fleet.New(fleet.Config{Seed: seed, Nodes: n, Models: rec.Models, Preconfigure: fleet.PreconfigureApp(0)})
	if err != nil {
		t.Fatal(err)
	}
	params := bytes.Repeat([]byte{0x5a}, 120)
	ended, failed := 0, 0
	for i := 1; i < n; i++ {
		rec.send(t, f, 0, f.Address(i), params, func(err error) {
			ended++
			if err != nil {
				failed++
				t.Logf("transfer: %v", err)
			}
		})
	}
	if !f.RunUntil(func() bool { return ended == n-1 }, 2*time.Minute) {
		t.Fatalf("%d of %d transfers ended", ended, n-1)
	}
	if failed > 0 {
		t.Fatalf("%d of %d transfers failed", failed, n-1)
	}
	for i := 1; i < n; i++ {
		if len(rec.got[i]) != 1 {
			t.Errorf("node %d received %d messages", i, len(rec.got[i]))
		}
	}
}
