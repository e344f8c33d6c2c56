package fleet_test

import (
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
)

// burst is the outcome of a publishing burst scenario.
type burst struct {
	ratio      float64 // messages node 0's model received / messages sent
	collisions float64 // collision losses per transmission
	halfDuplex uint64
}

// runBurst puts senders+1 nodes in range of each other; in each of rounds
// rounds (500 ms apart) nodes 1..senders all send one unsegmented group
// message at the same instant, with one transmission each (no Network
// Transmit repeats) so the outcome is the radio's.
func runBurst(t *testing.T, seed uint64, senders, rounds int, advDelay time.Duration) burst {
	t.Helper()
	one := mesh.Transmit{}
	rec := newRecorder(senders+1, false)
	f, err := fleet.New(fleet.Config{
		Seed: seed, Nodes: senders + 1, Relays: fleet.RelaysNone, NetworkTransmit: &one,
		Medium: sim.MediumConfig{AdvDelay: advDelay},
		Models: rec.Models, Preconfigure: fleet.PreconfigureApp(0, group),
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range rounds {
		for s := 1; s <= senders; s++ {
			f.Clock(s).AfterFunc(time.Duration(r)*500*time.Millisecond, func() {
				rec.send(t, f, s, group, []byte{byte(s), byte(r)}, nil)
			})
		}
	}
	f.RunUntilIdle(time.Duration(rounds+1) * 500 * time.Millisecond)
	m := f.Metrics()
	return burst{
		ratio:      float64(len(rec.got[0])) / float64(senders*rounds),
		collisions: float64(m.Medium.Lost.Collision) / float64(m.Medium.Transmissions),
		halfDuplex: m.Medium.Lost.HalfDuplex,
	}
}

// More simultaneous senders in range: fewer of their messages reach the
// listener and more receptions collide; senders miss each other while
// they transmit (half duplex). Spreading the random advertising delay over
// a longer window brings the delivery ratio back up.
func TestCollisions_MoreSendersLessDelivery(t *testing.T) {
	const seed, rounds = 21, 30
	replay(t, seed)
	var prev *burst
	for _, n := range []int{2, 6, 16} {
		b := runBurst(t, seed, n, rounds, 0)
		t.Logf("%2d senders: delivery ratio %.2f, collisions per transmission %.2f, half-duplex losses %d", n, b.ratio, b.collisions, b.halfDuplex)
		if b.halfDuplex == 0 {
			t.Errorf("%d senders: no half-duplex loss", n)
		}
		if prev != nil && (b.ratio >= prev.ratio || b.collisions <= prev.collisions) {
			t.Errorf("%d senders: ratio %.2f (before %.2f), collisions %.2f (before %.2f): want fewer delivered, more collisions",
				n, b.ratio, prev.ratio, b.collisions, prev.collisions)
		}
		prev = &b
	}
	spread := runBurst(t, seed, 16, rounds, 100*time.Millisecond)
	t.Logf("16 senders, 0–100 ms advertising delay: delivery ratio %.2f, collisions per transmission %.2f", spread.ratio, spread.collisions)
	if spread.ratio <= prev.ratio || spread.collisions >= prev.collisions {
		t.Errorf("a wider advertising delay did not help: ratio %.2f vs %.2f", spread.ratio, prev.ratio)
	}
}
