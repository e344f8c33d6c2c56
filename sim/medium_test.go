package sim_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/topology"
)

var once = mesh.Transmit{} // one transmission

// flooder is a trivial relay node: it re-sends every payload it has not
// seen before once, deduplicating by the 8-octet message ID at the start of
// the payload in a small ring (no allocation per PDU).
type flooder struct {
	med   *sim.Medium
	id    sim.NodeID
	relay bool
	seen  [32]uint64
	next  int
	got   int
	first map[uint64]time.Time // filled only when track is set
	track bool
}

func (f *flooder) receive(_ mesh.ADType, p []byte) {
	msg := binary.BigEndian.Uint64(p)
	for _, s := range f.seen {
		if s == msg {
			return
		}
	}
	f.seen[f.next] = msg
	f.next = (f.next + 1) % len(f.seen)
	f.got++
	if f.track {
		f.first[msg] = f.med.Engine().Now()
	}
	if f.relay {
		f.med.SendRelay(f.id, mesh.ADMessage, p, once)
	}
}

// network attaches a flooder to every node of tp.
func network(e *sim.Engine, cfg sim.MediumConfig, tp *topology.Topology, relays []bool) (*sim.Medium, []*flooder) {
	med := sim.NewMedium(e, cfg)
	if err := tp.Apply(med); err != nil {
		panic(err)
	}
	fl := make([]*flooder, tp.Len())
	for i := range fl {
		fl[i] = &flooder{med: med, id: sim.NodeID(i), relay: relays == nil || relays[i], first: map[uint64]time.Time{}}
		fl[i].seen[0] = math.MaxUint64
		med.SetReceiver(sim.NodeID(i), fl[i].receive)
	}
	return med, fl
}

func payload(msg uint64) []byte {
	p := make([]byte, 20)
	binary.BigEndian.PutUint64(p, msg)
	return p
}

// runScenario floods msgs messages from random nodes of a lossy grid and
// returns the engine (for its digest) and the text event log.
func runScenario(seed uint64, msgs int) (*sim.Engine, string) {
	var log bytes.Buffer
	e := sim.New(seed, sim.WithEventLog(&log))
	tp := topology.Grid(4, 4, 1.5, sim.Independent(0.2))
	med, fl := network(e, sim.MediumConfig{}, tp, nil)
	r := e.Rand("scenario", -1)
	for i := range msgs {
		at := time.Duration(r.Int64N(int64(time.Second)))
		src := sim.NodeID(r.IntN(tp.Len()))
		e.Clock(src).AfterFunc(at, func() {
			fl[src].seen[0] = uint64(i + 1)
			med.Send(src, mesh.ADMessage, payload(uint64(i+1)), mesh.DefaultNetworkTransmit)
		})
	}
	e.RunUntilIdle(time.Minute)
	return e, log.String()
}

func TestDeterminism_SameSeedSameLog(t *testing.T) {
	e1, log1 := runScenario(7, 50)
	e2, log2 := runScenario(7, 50)
	if e1.Digest() != e2.Digest() || log1 != log2 {
		t.Fatalf("same seed, different runs: %016x vs %016x", e1.Digest(), e2.Digest())
	}
	if e1.Processed() < 1000 {
		t.Fatalf("only %d events; scenario too small to mean anything", e1.Processed())
	}
	e3, log3 := runScenario(8, 50)
	if e3.Digest() == e1.Digest() || log3 == log1 {
		t.Fatal("different seed, same run")
	}
}

// collisionRate sends from n nodes in one hop, each 200 PDUs at random
// times in 10 s, and returns the fraction of receptions at a silent
// listener lost to collisions.
func collisionRate(t *testing.T, n int) float64 {
	t.Helper()
	e := sim.New(3)
	tp := topology.SingleHop(n+1, sim.Loss{})
	med, _ := network(e, sim.MediumConfig{}, tp, make([]bool, n+1))
	r := e.Rand("traffic", -1)
	for s := 1; s <= n; s++ {
		for k := range 200 {
			e.Clock(sim.NodeID(s)).AfterFunc(time.Duration(r.Int64N(int64(10*time.Second))), func() {
				med.Send(sim.NodeID(s), mesh.ADMessage, payload(uint64(s<<16|k)), once)
			})
		}
	}
	e.RunUntilIdle(time.Minute)
	m := med.NodeMetrics(0)
	total := m.Received + m.Lost.Total()
	if total != uint64(200*n) {
		t.Fatalf("listener saw %d receptions, want %d", total, 200*n)
	}
	return float64(m.Lost.Collision) / float64(total)
}

func TestPhysics_MoreSendersMoreCollisions(t *testing.T) {
	c2, c5, c10 := collisionRate(t, 2), collisionRate(t, 5), collisionRate(t, 10)
	t.Logf("collision rate: 2 senders %.4f, 5 senders %.4f, 10 senders %.4f", c2, c5, c10)
	if !(c2 < c5 && c5 < c10) || c10 == 0 {
		t.Fatalf("collision rate not increasing with senders: %.4f %.4f %.4f", c2, c5, c10)
	}
	// Pure ALOHA: a reception survives if no other of the n−1 senders'
	// events starts within ±air time: rate ≈ 1 − exp(−2·λ·air·(n−1)).
	lambda := 200.0 / 10 // events per second per sender
	want := 1 - math.Exp(-2*lambda*sim.DefaultAirTime.Seconds()*9)
	if math.Abs(c10-want) > 0.35*want {
		t.Errorf("10 senders: collision rate %.4f, ALOHA predicts %.4f", c10, want)
	}
}

func TestPhysics_HalfDuplex(t *testing.T) {
	e := sim.New(1)
	med, fl := network(e, sim.MediumConfig{AdvDelay: -1}, topology.SingleHop(2, sim.Loss{}), []bool{false, false})
	// Both start at the same instant: each is transmitting while the
	// other's PDU is on air, so neither hears the other.
	med.Send(0, mesh.ADMessage, payload(1), once)
	med.Send(1, mesh.ADMessage, payload(2), once)
	// Then node 1 alone: node 0 hears it.
	e.Clock(1).AfterFunc(100*time.Millisecond, func() { med.Send(1, mesh.ADMessage, payload(3), once) })
	e.RunUntilIdle(time.Second)
	for i, f := range fl {
		m := med.NodeMetrics(sim.NodeID(i))
		if m.Lost.HalfDuplex != 1 || m.Lost.Collision != 0 {
			t.Errorf("node %d: lost %+v, want one half-duplex loss", i, m.Lost)
		}
		if want := 1 - i; f.got != want {
			t.Errorf("node %d received %d, want %d", i, f.got, want)
		}
	}
}

// deliveries sends n single PDUs 0→1 over loss and returns which arrived.
func deliveries(t *testing.T, loss sim.Loss, n int) []bool {
	t.Helper()
	e := sim.New(11)
	med := sim.NewMedium(e, sim.MediumConfig{})
	if err := med.SetLink(0, 1, loss); err != nil {
		t.Fatal(err)
	}
	got := make([]bool, n)
	med.SetReceiver(1, func(_ mesh.ADType, p []byte) { got[binary.BigEndian.Uint64(p)] = true })
	for i := range n {
		med.Send(0, mesh.ADMessage, payload(uint64(i)), once)
	}
	e.RunUntilIdle(time.Hour)
	if m := med.NodeMetrics(1); m.Received+m.Lost.Link != uint64(n) || m.Lost.Link != m.Lost.Total() {
		t.Fatalf("metrics %+v do not add up to %d link-only outcomes", *m, n)
	}
	return got
}

func lossStats(got []bool) (rate, meanBurst float64) {
	lost, bursts := 0, 0
	for i, ok := range got {
		if !ok {
			lost++
			if i == 0 || got[i-1] {
				bursts++
			}
		}
	}
	return float64(lost) / float64(len(got)), float64(lost) / float64(max(bursts, 1))
}

func TestPhysics_LossConvergesAndBursts(t *testing.T) {
	const n = 20000
	indep, indepBurst := lossStats(deliveries(t, sim.Independent(0.2), n))
	ge := sim.Bursty(0.2, 8)
	bursty, burstyBurst := lossStats(deliveries(t, ge, n))
	t.Logf("independent: loss %.4f mean burst %.2f; Gilbert-Elliott (mean %.2f): loss %.4f mean burst %.2f",
		indep, indepBurst, ge.Mean(), bursty, burstyBurst)
	if math.Abs(indep-0.2) > 0.015 {
		t.Errorf("independent loss %.4f, configured 0.2", indep)
	}
	if math.Abs(bursty-0.2) > 0.04 {
		t.Errorf("Gilbert-Elliott loss %.4f, configured mean 0.2", bursty)
	}
	if burstyBurst < 2*indepBurst || math.Abs(burstyBurst-8) > 2 {
		t.Errorf("mean burst: Gilbert-Elliott %.2f (configured 8), independent %.2f", burstyBurst, indepBurst)
	}
}

func TestAdvertiser_MinGapAndQueue(t *testing.T) {
	e := sim.New(5)
	var starts []time.Time
	med := sim.NewMedium(e, sim.MediumConfig{Capture: func(c sim.Capture) {
		if c.Node == 0 {
			starts = append(starts, c.Start)
		}
	}})
	med.Connect(0, 1, sim.Loss{})
	// 3 transmissions 10 ms apart requested: the 20 ms minimum wins.
	tx := mesh.Transmit{Count: 2, IntervalSteps: 0}
	for i := range 10 {
		med.Send(0, mesh.ADMessage, payload(uint64(i)), tx)
	}
	if m := med.NodeMetrics(0); m.QueueLen != 10 || m.QueueMax != 10 {
		t.Fatalf("queue %d max %d, want 10", m.QueueLen, m.QueueMax)
	}
	// Interval above the gap: 40 ms requested.
	med.Send(0, mesh.ADMessage, payload(99), mesh.Transmit{Count: 1, IntervalSteps: 3})
	e.RunUntilIdle(time.Minute)
	if len(starts) != 32 {
		t.Fatalf("%d advertising events, want 32", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		d := starts[i].Sub(starts[i-1])
		lo := sim.DefaultMinGap
		if i == 31 {
			lo = 40 * time.Millisecond
		}
		if d < lo || d > lo+sim.DefaultAdvDelay {
			t.Errorf("event %d: %v after the previous, want %v–%v", i, d, lo, lo+sim.DefaultAdvDelay)
		}
	}
	if m := med.NodeMetrics(0); m.QueueLen != 0 || m.Transmissions != 32 || m.AirTime != 32*sim.DefaultAirTime {
		t.Fatalf("metrics %+v", *m)
	}
	if got := med.NodeMetrics(1).Received; got != 32 {
		t.Fatalf("receiver got %d, want 32", got)
	}
}

func TestFlood_LineCrossesAllHops(t *testing.T) {
	const n = 12
	e := sim.New(9)
	tp := topology.Line(n, sim.Loss{})
	med, fl := network(e, sim.MediumConfig{}, tp, tp.DominatingRelays())
	for _, f := range fl {
		f.track = true
	}
	fl[0].seen[0] = 1
	med.Send(0, mesh.ADMessage, payload(1), mesh.DefaultNetworkTransmit)
	e.RunUntilIdle(time.Minute)
	hops := tp.Hops(0)
	prev := sim.Epoch
	for i := 1; i < n; i++ {
		at, ok := fl[i].first[1]
		if !ok {
			t.Fatalf("node %d (%d hops) never got the message", i, hops[i])
		}
		if !at.After(prev) {
			t.Fatalf("node %d got it at %v, not after node %d (%v)", i, at, i-1, prev)
		}
		prev = at
	}
	// Each hop costs at least one air time.
	if d := prev.Sub(sim.Epoch); d < time.Duration(n-1)*sim.DefaultAirTime {
		t.Fatalf("%d hops in %v", n-1, d)
	}
	tot := med.Totals()
	if tot.Deliveries == 0 || med.NodeMetrics(5).Relayed != 1 || med.NodeMetrics(n-1).Relayed != 0 {
		t.Fatalf("totals %+v, relayed %d/%d", tot, med.NodeMetrics(5).Relayed, med.NodeMetrics(n-1).Relayed)
	}
}

func TestRadioOff(t *testing.T) {
	e := sim.New(2)
	med, fl := network(e, sim.MediumConfig{}, topology.SingleHop(2, sim.Loss{}), []bool{false, false})
	med.Send(0, mesh.ADMessage, payload(1), mesh.DefaultNetworkTransmit)
	med.Send(0, mesh.ADMessage, payload(2), once)
	med.SetRadio(1, false)
	e.RunFor(time.Second)
	if fl[1].got != 0 || med.NodeMetrics(1).Lost.RadioOff != 4 {
		t.Fatalf("radio off receiver: got %d, lost %+v", fl[1].got, med.NodeMetrics(1).Lost)
	}
	med.SetRadio(1, true)
	med.Send(0, mesh.ADMessage, payload(3), once)
	med.SetRadio(0, false) // drops the queued PDU
	med.Send(0, mesh.ADMessage, payload(4), once)
	e.RunFor(time.Second)
	if fl[1].got != 0 || med.NodeMetrics(0).Dropped != 2 {
		t.Fatalf("sender off: receiver got %d, sender dropped %d", fl[1].got, med.NodeMetrics(0).Dropped)
	}
	med.SetRadio(0, true)
	med.Send(0, mesh.ADMessage, payload(5), once)
	e.RunFor(time.Second)
	if fl[1].got != 1 {
		t.Fatalf("after both on: got %d", fl[1].got)
	}
}

func TestListeningHook(t *testing.T) {
	e := sim.New(2)
	med, fl := network(e, sim.MediumConfig{}, topology.SingleHop(2, sim.Loss{}), []bool{false, false})
	listening := false
	med.SetListening(1, func() bool { return listening })
	med.Send(0, mesh.ADMessage, payload(1), once)
	e.RunFor(time.Second)
	listening = true
	med.Send(0, mesh.ADMessage, payload(2), once)
	e.RunFor(time.Second)
	if fl[1].got != 1 || med.NodeMetrics(1).Lost.NotListening != 1 {
		t.Fatalf("got %d, lost %+v", fl[1].got, med.NodeMetrics(1).Lost)
	}
}

func TestDelivery_NoAllocations(t *testing.T) {
	e := sim.New(1)
	med, _ := network(e, sim.MediumConfig{}, topology.SingleHop(8, sim.Loss{P: 0.1}), make([]bool, 8))
	p := payload(1)
	step := func() {
		med.Send(0, mesh.ADMessage, p, mesh.DefaultNetworkTransmit)
		med.Send(3, mesh.ADMessage, p, mesh.DefaultNetworkTransmit)
		e.RunFor(time.Second)
	}
	step()
	if a := testing.AllocsPerRun(50, step); a != 0 {
		t.Fatalf("%v allocations per round of sends and deliveries, want 0", a)
	}
}

func TestCapture_MarksUnheard(t *testing.T) {
	e := sim.New(1)
	var caps []sim.Capture
	med := sim.NewMedium(e, sim.MediumConfig{Capture: func(c sim.Capture) { c.Payload = bytes.Clone(c.Payload); caps = append(caps, c) }})
	med.SetLink(0, 1, sim.Independent(1))
	med.SetLink(1, 0, sim.Loss{})
	med.Send(0, mesh.ADBeacon, []byte{1}, once)
	e.Clock(1).AfterFunc(100*time.Millisecond, func() { med.Send(1, mesh.ADMessage, []byte{2}, once) })
	e.RunUntilIdle(time.Second)
	if len(caps) != 2 {
		t.Fatalf("%d captures", len(caps))
	}
	for _, c := range caps {
		want := 1
		if c.Node == 0 {
			want = 0
		}
		if c.Delivered != want || c.InRange != 1 {
			t.Errorf("node %d: %+v", c.Node, c)
		}
	}
	if med.Totals().Unheard != 1 {
		t.Fatalf("unheard %d", med.Totals().Unheard)
	}
}
