package runtime

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// procedure is a client procedure in the protocol style: it runs on the
// loop and reports through done after a timer.
type procedure struct {
	l         *Loop
	cancelled bool
	timer     interface{ Stop() bool }
}

func (p *procedure) start(after time.Duration, v int, done func(int, error)) func() {
	p.timer = p.l.AfterFunc(after, func() { done(v, nil) })
	return func() {
		p.cancelled = true
		p.timer.Stop()
	}
}

func TestAwait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		p := &procedure{l: l}
		start := time.Now()
		v, err := Await(t.Context(), l, func(done func(int, error)) {
			p.start(5*time.Second, 42, done)
		})
		if err != nil || v != 42 {
			t.Fatalf("Await = %d, %v", v, err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Await took %v, want 5s", d)
		}

		errBoom := errors.New("boom")
		_, err = Await(t.Context(), l, func(done func(int, error)) {
			done(0, errBoom)
			done(1, nil) // ignored
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Await = %v, want errBoom", err)
		}
	})
}

func TestAwaitCancel_ContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		p := &procedure{l: l}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := AwaitCancel(ctx, l, func(done func(int, error)) func() {
			return p.start(5*time.Second, 42, done)
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AwaitCancel = %v, want DeadlineExceeded", err)
		}
		mustDo(t, l, func() {
			if !p.cancelled {
				t.Error("procedure not cancelled")
			}
		})
	})
}

// TestAwaitCancel_NoCancelAfterDone checks that a procedure that finished
// is not cancelled, even when the caller's context ends at the same time.
func TestAwaitCancel_NoCancelAfterDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		p := &procedure{l: l}
		ctx, cancel := context.WithCancel(t.Context())
		v, err := AwaitCancel(ctx, l, func(done func(int, error)) func() {
			done(7, nil)
			cancel()
			return func() { p.cancelled = true }
		})
		if err != nil || v != 7 {
			t.Fatalf("AwaitCancel = %d, %v", v, err)
		}
		mustDo(t, l, func() {
			if p.cancelled {
				t.Error("finished procedure was cancelled")
			}
		})
	})
}

func TestAwait_LoopCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t)
		errc := make(chan error, 1)
		go func() {
			_, err := Await(t.Context(), l, func(done func(int, error)) {})
			errc <- err
		}()
		synctest.Wait()
		l.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("Await = %v, want ErrClosed", err)
		}
		if _, err := Await(t.Context(), l, func(done func(int, error)) { t.Error("started after Close") }); !errors.Is(err, ErrClosed) {
			t.Fatalf("Await after Close = %v, want ErrClosed", err)
		}
	})
}
