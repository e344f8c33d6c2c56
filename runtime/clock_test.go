package runtime

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestClock_AfterFuncOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		start := l.Now()
		var got []time.Duration
		fired := make(chan struct{})
		for _, d := range []time.Duration{30 * time.Second, 10 * time.Second, 20 * time.Second} {
			l.AfterFunc(d, func() {
				got = append(got, l.Now().Sub(start))
				if len(got) == 3 {
					close(fired)
				}
			})
		}
		<-fired
		want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}
		mustDo(t, l, func() {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("fired at %v, want %v", got, want)
				}
			}
		})
	})
}

// TestClock_AfterFuncNeverInline checks that f runs later on the loop,
// even for a zero duration, never inside AfterFunc.
func TestClock_AfterFuncNeverInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		ran := false
		mustDo(t, l, func() {
			l.AfterFunc(0, func() { ran = true })
			l.AfterFunc(-time.Second, func() { ran = true })
			if ran {
				t.Error("f ran inside AfterFunc")
			}
		})
		synctest.Wait()
		mustDo(t, l, func() {
			if !ran {
				t.Error("f did not run")
			}
		})
	})
}

func TestTimer_Stop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		stopped := l.AfterFunc(time.Second, func() { t.Error("stopped timer fired") })
		ran := 0
		fired := l.AfterFunc(time.Second, func() { ran++ })
		if !stopped.Stop() {
			t.Fatal("Stop of a pending timer = false")
		}
		if stopped.Stop() {
			t.Fatal("second Stop = true")
		}
		advance(2 * time.Second)
		if fired.Stop() {
			t.Fatal("Stop after the timer fired = true")
		}
		mustDo(t, l, func() {
			if ran != 1 {
				t.Errorf("timer ran %d times", ran)
			}
		})
		if s := l.Stats(); s.Timers != 0 {
			t.Fatalf("stats %+v, want no timers", s)
		}
	})
}

// TestTimer_StopAfterPosted stops a timer whose wall-clock timer already
// posted it while the loop was busy: f must not run and Stop reports true.
func TestTimer_StopAfterPosted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		release := make(chan struct{})
		l.Post(func() { <-release })
		tm := l.AfterFunc(time.Second, func() { t.Error("timer stopped after posting fired") })
		advance(2 * time.Second) // the wall-clock timer has posted fire
		if s := l.Stats(); s.Posted != 2 {
			t.Fatalf("stats %+v, want the timer posted", s)
		}
		if !tm.Stop() {
			t.Fatal("Stop = false, want true: f had not run")
		}
		close(release)
		mustDo(t, l, func() {})
	})
}
