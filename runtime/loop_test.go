package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// startLoop starts a loop for the test and closes it at cleanup; in a
// synctest bubble the cleanup runs inside the bubble.
func startLoop(t *testing.T) *Loop {
	t.Helper()
	l := New(Config{Name: t.Name()})
	l.Start(context.Background())
	t.Cleanup(func() { l.Close() })
	return l
}

// advance moves a synctest bubble's fake clock forward by d and lets every
// goroutine of the bubble settle. Outside a bubble it would wait for real.
func advance(d time.Duration) {
	<-time.NewTimer(d).C
	synctest.Wait()
}

// mustDo runs f on the loop and fails the test if it could not.
func mustDo(t *testing.T, l *Loop, f func()) {
	t.Helper()
	if err := l.Do(t.Context(), f); err != nil {
		t.Fatalf("Do: %v", err)
	}
}

func TestLoop_PostRunsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		var got []int
		for i := range 100 {
			l.Post(func() { got = append(got, i) })
		}
		mustDo(t, l, func() {})
		if len(got) != 100 {
			t.Fatalf("ran %d functions, want 100", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("function %d ran as number %d", v, i)
			}
		}
	})
}

// TestLoop_PostConcurrent posts from many goroutines to code with no lock;
// the race detector fails the test if two functions ever overlap.
func TestLoop_PostConcurrent(t *testing.T) {
	l := New(Config{})
	l.Start(t.Context())
	defer l.Close()
	count := 0
	var posters, timers sync.WaitGroup
	timers.Add(8 * 200)
	for range 8 {
		posters.Go(func() {
			for range 200 {
				l.Post(func() { count++ })
				l.AfterFunc(0, func() { count++; timers.Done() })
			}
		})
	}
	posters.Wait()
	timers.Wait() // every timer function has run (or is finishing)
	mustDo(t, l, func() {
		if count != 8*200*2 {
			t.Errorf("count %d, want %d", count, 8*200*2)
		}
	})
	if s := l.Stats(); s.Ran < 8*200*2 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLoop_PostFromLoopRunsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		var trace []string
		mustDo(t, l, func() {
			l.Post(func() { trace = append(trace, "posted") })
			trace = append(trace, "after Post")
		})
		mustDo(t, l, func() {})
		if len(trace) != 2 || trace[0] != "after Post" || trace[1] != "posted" {
			t.Fatalf("trace %v", trace)
		}
	})
}

func TestLoop_Do(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Config{})
		ran := false
		errc := make(chan error, 1)
		go func() { errc <- l.Do(t.Context(), func() { ran = true }) }()
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Do returned %v before the loop ran", err)
		default:
		}
		l.Start(t.Context())
		if err := <-errc; err != nil || !ran {
			t.Fatalf("Do = %v, ran %v", err, ran)
		}
		l.Close()
		if err := l.Do(t.Context(), func() { t.Error("ran after Close") }); !errors.Is(err, ErrClosed) {
			t.Fatalf("Do after Close = %v, want ErrClosed", err)
		}
	})
}

// TestLoop_DoContextEnds blocks the loop, lets Do's context expire, and
// checks that the function, reached only later, is skipped.
func TestLoop_DoContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		release := make(chan struct{})
		l.Post(func() { <-release })
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := l.Do(ctx, func() { t.Error("f ran after its context ended") })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Do returned after %v, want 1s", d)
		}
		close(release)
		mustDo(t, l, func() {})

		done, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if err := l.Do(done, func() { t.Error("ran with a cancelled context") }); !errors.Is(err, context.Canceled) {
			t.Fatalf("Do with cancelled context = %v", err)
		}
	})
}

// TestLoop_DoClosedWhileWaiting closes the loop while Do waits behind a
// blocked function.
func TestLoop_DoClosedWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		release := make(chan struct{})
		l.Post(func() { <-release })
		errc := make(chan error, 1)
		go func() { errc <- l.Do(t.Context(), func() { t.Error("ran after Close") }) }()
		synctest.Wait()
		closed := make(chan struct{})
		go func() { l.Close(); close(closed) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a function was still running")
		default:
		}
		close(release)
		<-closed
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("Do = %v, want ErrClosed", err)
		}
		if s := l.Stats(); s.Dropped != 1 {
			t.Fatalf("stats %+v, want 1 dropped", s)
		}
	})
}

func TestLoop_Close(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Config{})
		runErr := make(chan error, 1)
		go func() { runErr <- l.Run(t.Context()) }()
		synctest.Wait()
		if err := l.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run = %v, want ErrRunning", err)
		}
		l.AfterFunc(time.Hour, func() { t.Error("timer fired after Close") })
		if s := l.Stats(); s.Timers != 1 {
			t.Fatalf("stats %+v, want 1 timer", s)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-runErr; err != nil {
			t.Fatalf("Run = %v, want nil after Close", err)
		}
		select {
		case <-l.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		l.Close() // idempotent
		l.Post(func() { t.Error("ran after Close") })
		tm := l.AfterFunc(0, func() { t.Error("timer made after Close fired") })
		if tm.Stop() {
			t.Error("Stop of a timer made after Close reported true")
		}
		advance(2 * time.Hour)
		if s := l.Stats(); s.Timers != 0 || s.Dropped != 1 {
			t.Fatalf("stats %+v, want no timers and 1 dropped", s)
		}
	})
}

func TestLoop_CloseBeforeRun(t *testing.T) {
	l := New(Config{})
	l.Close()
	if err := l.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestLoop_RunContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(Config{})
		ctx, cancel := context.WithCancel(t.Context())
		runErr := make(chan error, 1)
		go func() { runErr <- l.Run(ctx) }()
		cancel()
		if err := <-runErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want Canceled", err)
		}
		if err := l.Do(t.Context(), func() {}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Do after Run ended = %v, want ErrClosed", err)
		}
		l.Close() // does not wait for anything
	})
}
