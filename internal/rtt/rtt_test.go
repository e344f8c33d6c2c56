package rtt

import (
	"testing"
	"time"
)

func TestHopsFromTTL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sent, recv uint8
		want       int
	}{
		{7, 7, 1}, {7, 6, 2}, {7, 5, 3}, {7, 2, 6}, {7, 1, 1}, {7, 0, 1},
		{0, 0, 1}, {4, 3, 2}, {4, 9, 1}, {127, 100, 28},
	} {
		if got := HopsFromTTL(c.sent, c.recv); got != c.want {
			t.Errorf("HopsFromTTL(%d, %d) = %d, want %d", c.sent, c.recv, got, c.want)
		}
	}
}

func TestMessagePDUs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n, want int
		seg     bool
	}{
		{1, 1, false}, {11, 1, false},
		{12, 3, true}, // 16 octets of upper PDU: 2 segments + ack
		{20, 3, true}, {21, 4, true},
		{380, 33, true}, // 32 segments + ack
	} {
		if got := MessagePDUs(c.n); got != c.want {
			t.Errorf("MessagePDUs(%d) = %d, want %d", c.n, got, c.want)
		}
		if got := Segmented(c.n); got != c.seg {
			t.Errorf("Segmented(%d) = %t", c.n, got)
		}
	}
}

func TestEstimator(t *testing.T) {
	t.Parallel()
	var e Estimator
	if e.RTO() != 0 || e.Samples() != 0 {
		t.Fatalf("empty: %v", e.RTO())
	}
	e.Sample(0)
	e.Sample(-time.Second)
	if e.Samples() != 0 {
		t.Fatal("non-positive samples counted")
	}
	e.Sample(time.Second)
	if e.SRTT() != time.Second || e.RTO() != 3*time.Second {
		t.Fatalf("first sample: srtt %v rto %v", e.SRTT(), e.RTO())
	}
	for range 50 {
		e.Sample(time.Second)
	}
	if e.RTO() < time.Second+MinVariation || e.RTO() > time.Second+100*time.Millisecond {
		t.Fatalf("steady: rto %v", e.RTO())
	}
	e.Sample(5 * time.Second)
	if e.SRTT() != time.Second+500*time.Millisecond || e.RTO() <= 5*time.Second {
		t.Fatalf("after a spike: srtt %v rto %v", e.SRTT(), e.RTO())
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for sends, want := range map[int]time.Duration{0: 1, 1: 1, 2: 2, 3: 4, 4: 8, 5: 8, 100: 8} {
		if got := Backoff(time.Second, sends); got != want*time.Second {
			t.Errorf("Backoff(1 s, %d) = %v, want %v s", sends, got, want)
		}
	}
}

func TestRelays(t *testing.T) {
	t.Parallel()
	var r Relays
	if r.Hop() != 75*time.Millisecond || r.PDUCost() != 150*time.Millisecond {
		t.Fatalf("defaults: hop %v cost %v", r.Hop(), r.PDUCost())
	}
	r = Relays{Transmissions: 2, PDUInterval: time.Millisecond, Load: 1}
	if r.Hop() != 10*time.Millisecond || r.PDUCost() != 10*time.Millisecond {
		t.Fatalf("custom: hop %v cost %v", r.Hop(), r.PDUCost())
	}
	r = Relays{Load: 2} // out of range: default
	if r.PDUCost() != 150*time.Millisecond {
		t.Fatalf("bad load: %v", r.PDUCost())
	}
	var d Relays
	if got := d.Exchange(time.Second, 1, 12, 3); got != time.Second {
		t.Errorf("one hop: %v", got)
	}
	// 3 hops: 2 relays each way (4 × 75 ms) and 15 PDUs × 75 ms.
	if got := d.Exchange(time.Second, 3, 12, 3); got != time.Second+300*time.Millisecond+1125*time.Millisecond {
		t.Errorf("three hops: %v", got)
	}
}

func TestAir(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	var a Air
	if w := a.Reserve(t0, time.Second); w != 0 {
		t.Fatalf("first booking waits %v", w)
	}
	if w := a.Reserve(t0.Add(200*time.Millisecond), time.Second); w != 800*time.Millisecond {
		t.Fatalf("second booking waits %v", w)
	}
	if w := a.Wait(t0); w != 2*time.Second {
		t.Fatalf("wait %v", w)
	}
	if w := a.Reserve(t0.Add(5*time.Second), time.Second); w != 0 {
		t.Fatalf("after the air is free: %v", w)
	}
	a.Reset()
	if a.Wait(t0) != 0 {
		t.Fatal("reset")
	}
}

func TestScopedTTL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		hops        int
		ttl, defTTL uint8
		want        uint8
	}{
		{1, 7, 7, 0}, {0, 7, 7, 0}, {2, 7, 7, 3}, {3, 0xFF, 7, 4}, {3, 4, 7, 4}, {6, 0xFF, 7, 0xFF}, {9, 5, 7, 5},
	} {
		if got := ScopedTTL(c.hops, c.ttl, c.defTTL); got != c.want {
			t.Errorf("ScopedTTL(%d, %d, %d) = %d, want %d", c.hops, c.ttl, c.defTTL, got, c.want)
		}
	}
}
