package sim_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/topology"
)

// BenchmarkFloodGrid1000 floods raw broadcast traffic through a 25×40 grid
// (8-neighbourhood, 10 % loss) where every node re-sends each new payload
// once: a source injects a new message every 50 ms for one second of
// virtual time per iteration. It reports ns per engine event, ns per
// delivery, deliveries per second of wall time and heap bytes per node.
func BenchmarkFloodGrid1000(b *testing.B) {
	const rows, cols = 25, 40
	tp := topology.Grid(rows, cols, 1.5, sim.Independent(0.1))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := sim.New(1)
	med, fl := network(e, sim.MediumConfig{}, tp, nil)
	runtime.GC()
	runtime.ReadMemStats(&after)
	bytesPerNode := float64(after.HeapAlloc-before.HeapAlloc) / float64(tp.Len())

	msg := uint64(0)
	src := sim.NodeID(rows / 2 * cols) // middle of the left edge
	clk := e.Clock(src)
	var inject func()
	inject = func() {
		msg++
		fl[src].seen[0] = msg
		med.Send(src, mesh.ADMessage, payload(msg), mesh.Transmit{})
		clk.AfterFunc(50*time.Millisecond, inject)
	}
	clk.Post(inject)
	e.RunFor(time.Second) // warm up pools and queues

	b.ReportAllocs()
	ev0, del0 := e.Processed(), med.Totals().Deliveries
	start := time.Now()
	for b.Loop() {
		e.RunFor(time.Second)
	}
	wall := time.Since(start)
	events, deliveries := e.Processed()-ev0, med.Totals().Deliveries-del0
	b.ReportMetric(float64(wall.Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(deliveries), "ns/delivery")
	b.ReportMetric(float64(deliveries)/wall.Seconds(), "deliveries/s")
	b.ReportMetric(bytesPerNode, "B/node")
}
