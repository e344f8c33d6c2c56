package sim_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/sim"
)

func TestEngine_OrderByTimeThenSequence(t *testing.T) {
	e := sim.New(1)
	var got []string
	c0, c1 := e.Clock(0), e.Clock(1)
	c0.AfterFunc(2*time.Millisecond, func() { got = append(got, "b") })
	c1.AfterFunc(time.Millisecond, func() { got = append(got, "a") })
	c1.AfterFunc(2*time.Millisecond, func() { got = append(got, "c") })
	c0.Post(func() {
		got = append(got, "post")
		c0.Post(func() { got = append(got, "nested") }) // after, never inside
	})
	stopped := c0.AfterFunc(time.Millisecond, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true then false")
	}
	if !e.RunUntilIdle(time.Second) {
		t.Fatal("not idle")
	}
	if want := "post nested a b c"; strings.Join(got, " ") != want {
		t.Fatalf("order %q, want %q", strings.Join(got, " "), want)
	}
	if e.Elapsed() != 2*time.Millisecond || e.Processed() != 5 {
		t.Fatalf("elapsed %v processed %d", e.Elapsed(), e.Processed())
	}
	if !e.Now().Equal(sim.Epoch.Add(2 * time.Millisecond)) {
		t.Fatalf("Now = %v", e.Now())
	}
}

func TestEngine_RunForAndStop(t *testing.T) {
	e := sim.New(1)
	c := e.Clock(0)
	n := 0
	var tick func()
	tick = func() {
		n++
		if n == 5 {
			e.Stop()
		}
		c.AfterFunc(time.Second, tick)
	}
	c.Post(tick)
	e.RunFor(time.Hour)
	if n != 5 || e.Elapsed() != 4*time.Second {
		t.Fatalf("n=%d elapsed=%v after Stop", n, e.Elapsed())
	}
	e.RunFor(2500 * time.Millisecond)
	if n != 7 || e.Elapsed() != 6500*time.Millisecond {
		t.Fatalf("n=%d elapsed=%v after RunFor", n, e.Elapsed())
	}
	if !e.RunWhile(func() bool { return n < 10 }, time.Hour) || n != 10 {
		t.Fatalf("RunWhile: n=%d", n)
	}
}

func TestEngine_ResetNodeCancelsTimers(t *testing.T) {
	e := sim.New(1)
	fired := 0
	e.Clock(3).AfterFunc(time.Second, func() { fired++ })
	e.Clock(4).AfterFunc(time.Second, func() { fired += 10 })
	e.ResetNode(3)
	e.Clock(3).AfterFunc(time.Second, func() { fired += 100 })
	e.RunUntilIdle(time.Minute)
	if fired != 110 {
		t.Fatalf("fired = %d, want 110 (reset node's old timer cancelled)", fired)
	}
}

func TestEngine_ManyStoppedTimersCompact(t *testing.T) {
	e := sim.New(1)
	c := e.Clock(0)
	for range 100000 {
		c.AfterFunc(time.Hour, func() {}).Stop()
	}
	if e.Pending() > 4096 {
		t.Fatalf("%d events pending after stopping every timer", e.Pending())
	}
	if !e.RunUntilIdle(2 * time.Hour) {
		t.Fatal("not idle")
	}
}

func TestEngine_RandIndependentPerPurpose(t *testing.T) {
	e := sim.New(42)
	a, b := e.Rand("x", 1).Uint64(), e.Rand("x", 1).Uint64()
	if a != b {
		t.Fatal("same purpose and index, different streams")
	}
	if a == e.Rand("x", 2).Uint64() || a == e.Rand("y", 1).Uint64() || a == sim.New(43).Rand("x", 1).Uint64() {
		t.Fatal("streams not independent")
	}
}

func TestTrace_StampsVirtualTime(t *testing.T) {
	e := sim.New(1)
	var buf bytes.Buffer
	tr := sim.NewTrace(e, &buf)
	e.Clock(0).AfterFunc(1500*time.Millisecond, func() { tr.Write([]byte("hello\nwor")) })
	e.Clock(0).AfterFunc(2*time.Second, func() { tr.Write([]byte("ld\n")) })
	e.RunUntilIdle(time.Minute)
	if want := "     1.500000s hello\n     2.000000s world\n"; buf.String() != want {
		t.Fatalf("trace %q, want %q", buf.String(), want)
	}
}

func TestHandler_VirtualTimeInLogs(t *testing.T) {
	e := sim.New(1)
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: sim.ReplaceVirtualTime})
	log := e.Logger(7, h)
	e.Clock(7).AfterFunc(250*time.Millisecond, func() { log.Info("tick", "n", 1) })
	e.RunUntilIdle(time.Second)
	if want := `time="     0.250000s" level=INFO msg=tick node=7 n=1` + "\n"; buf.String() != want {
		t.Fatalf("log %q, want %q", buf.String(), want)
	}
}
