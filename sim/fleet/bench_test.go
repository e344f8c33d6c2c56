package fleet_test

import (
	"flag"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/fleet"
	"github.com/meshdfu/meshdfu/sim/topology"
)

var long = flag.Bool("fleet.long", false, "run TestFleetMillions (also MESHDFU_LONG=1)")

// gridFleet builds the benchmark network: a 25×40 grid, 1 m spacing, the
// 8-neighbourhood in range, 10 % independent loss per link, full nodes
// with the test model subscribed to the group, relays as given, Default
// TTL 127 (the grid is 39 hops across). It returns
// the fleet and the heap it took (after GC) per node.
func gridFleet(tb testing.TB, relays fleet.RelayPolicy) (*fleet.Fleet, *recorder, float64) {
	tb.Helper()
	tp := topology.Grid(25, 40, 1.5, sim.Independent(0.1))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rec := newRecorder(tp.Len(), false)
	f, err := fleet.New(fleet.Config{Seed: 1, Topology: tp, Relays: relays, Models: rec.Models, DefaultTTL: 127,
		Preconfigure: fleet.PreconfigureApp(0, group)})
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perNode := float64(after.HeapAlloc-before.HeapAlloc) / float64(tp.Len())
	return f, rec, perNode
}

// publish makes node 0 send an unsegmented group message every interval,
// forever (the engine never idles).
func publish(tb testing.TB, f *fleet.Fleet, rec *recorder, interval time.Duration) {
	var k uint32
	var tick func()
	tick = func() {
		k++
		rec.send(tb, f, 0, group, []byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}, nil)
		f.Clock(0).AfterFunc(interval, tick)
	}
	f.Post(0, tick)
}

// BenchmarkFleetGrid1000 runs 1000 full nodes (network, transport, access
// layers with real AES-CCM) on a grid; node 0 sends a group message every
// 200 ms. One iteration is one second of virtual time.
//
//	go test -run XXX -bench FleetGrid1000 -benchtime 20x ./sim/fleet/
func BenchmarkFleetGrid1000(b *testing.B) {
	for _, rp := range []fleet.RelayPolicy{fleet.RelaysDominating, fleet.RelaysAll} {
		b.Run("relays="+rp.String(), func(b *testing.B) {
			f, rec, perNode := gridFleet(b, rp)
			publish(b, f, rec, 200*time.Millisecond)
			f.RunFor(time.Second) // warm up: caches, free lists
			d0, ev0, got0 := f.Metrics().Medium.Deliveries, f.Engine().Processed(), rec.count
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				f.RunFor(time.Second)
			}
			wall := time.Since(start)
			m := f.Metrics()
			d := m.Medium.Deliveries - d0
			b.ReportMetric(float64(wall.Nanoseconds())/float64(d), "ns/delivery")
			b.ReportMetric(float64(d)/wall.Seconds(), "deliveries/s")
			b.ReportMetric(float64(f.Engine().Processed()-ev0)/wall.Seconds(), "events/s")
			b.ReportMetric(perNode, "heap-B/node")
			b.ReportMetric(float64(rec.count-got0)/float64(b.N), "app-msgs/vs")
		})
	}
}

// TestFleetMillions runs the benchmark network until the medium has made
// 10^7 deliveries and reports the wall time; the target is under 60 s on 2
// cores. Behind -fleet.long or MESHDFU_LONG=1.
//
//	MESHDFU_LONG=1 go test -run FleetMillions -v ./sim/fleet/
func TestFleetMillions(t *testing.T) {
	if !*long && os.Getenv("MESHDFU_LONG") != "1" {
		t.Skip("long run: use -fleet.long or MESHDFU_LONG=1")
	}
	built := time.Now()
	f, rec, perNode := gridFleet(t, fleet.RelaysAll)
	t.Logf("built 1000 nodes in %v", time.Since(built).Round(time.Millisecond))
	publish(t, f, rec, 200*time.Millisecond)
	start := time.Now()
	const target = 10_000_000
	for f.Metrics().Medium.Deliveries < target {
		f.RunFor(time.Second)
	}
	wall := time.Since(start)
	m := f.Metrics()
	t.Logf("1000 nodes (all relays), %d deliveries, %d transmissions, %d events in %v virtual: %v wall (%.0f ns/delivery, %.2f M deliveries/s), heap %.0f B/node, %d application messages received, delivery ratio %.2f",
		m.Medium.Deliveries, m.Medium.Transmissions, m.Events, m.VirtualTime, wall.Round(time.Millisecond),
		float64(wall.Nanoseconds())/float64(m.Medium.Deliveries), float64(m.Medium.Deliveries)/wall.Seconds()/1e6,
		perNode, rec.count, m.DeliveryRatio())
	if wall > time.Minute {
		t.Errorf("10^7 deliveries took %v, target < 60 s", wall)
	}
}
