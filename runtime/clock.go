package runtime

import (
	"sync/atomic"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Now returns the wall-clock time.
func (l *Loop) Now() time.Time { return time.Now() }

// AfterFunc arranges for f to run on the loop once d has elapsed. The
// wall-clock timer (time.AfterFunc) only posts f to the loop; f itself
// runs there, one thing at a time with the node's other code, never inside
// AfterFunc. On a stopped loop the timer never fires.
func (l *Loop) AfterFunc(d time.Duration, f func()) mesh.Timer {
	t := &timer{l: l, f: f}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		t.state.Store(timerStopped)
		return t
	}
	l.timers[t] = struct{}{}
	t.t = time.AfterFunc(d, t.post)
	return t
}

// Timer states. A timer leaves timerPending exactly once.
const (
	timerPending int32 = iota
	timerStopped
	timerFired
)

// timer is a Loop timer. It is stricter than mesh.Timer asks: Stop
// returns true exactly when f will not run, even if the wall-clock timer
// had already posted f to the loop.
type timer struct {
	l     *Loop
	f     func()
	t     *time.Timer // set under l.mu before anyone else sees the timer
	state atomic.Int32
}

// post runs on the time package's goroutine when the wall-clock timer fires.
func (t *timer) post() { t.l.Post(t.fire) }

// fire runs on the loop.
func (t *timer) fire() {
	if !t.state.CompareAndSwap(timerPending, timerFired) {
		return // stopped after the wall-clock timer posted us
	}
	t.forget()
	t.f()
}

// Stop prevents f from running and reports whether it did so: false means
// f has run, is running, or the timer was already stopped.
func (t *timer) Stop() bool {
	if !t.state.CompareAndSwap(timerPending, timerStopped) {
		return false
	}
	t.forget()
	t.l.mu.Lock()
	tt := t.t
	t.l.mu.Unlock()
	if tt != nil {
		tt.Stop()
	}
	return true
}

func (t *timer) forget() {
	t.l.mu.Lock()
	delete(t.l.timers, t)
	t.l.mu.Unlock()
}
