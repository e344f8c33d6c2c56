package runtime

import (
	"context"
	"log/slog"
	"sync"

	"github.com/meshdfu/meshdfu/mesh"
)

// Config configures a Loop. The zero value is ready to use.
type Config struct {
	// Name labels the loop's log records (key "node"); "" adds no label.
	Name string
	// Logger receives the loop's few records; nil discards them.
	Logger *slog.Logger
}

// Loop is a node's real-time executor and clock: one goroutine (the one
// running Run) runs posted functions one at a time, in order. It
// implements mesh.Executor and mesh.Clock. Post, AfterFunc, Do, Await and
// Close may be called from any goroutine.
//
// A Loop runs once: after Close, or after Run's context ends, posted
// functions are dropped, pending timers never fire, and Do and Await
// return ErrClosed.
type Loop struct {
	log *slog.Logger

	wake chan struct{} // one token: "the queue is not empty"
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the loop has stopped for good

	mu      sync.Mutex
	queue   []func()
	spare   []func() // the previous batch, reused
	timers  map[*timer]struct{}
	running bool // Run was called
	stopped bool // no more functions will run
	stats   Stats

	closeOnce sync.Once
}

var (
	_ mesh.Executor = (*Loop)(nil)
	_ mesh.Clock    = (*Loop)(nil)
)

// Stats counts what a loop did.
type Stats struct {
	Posted  uint64 // functions accepted by Post (timers and Do included)
	Ran     uint64 // functions run
	Dropped uint64 // functions posted after the loop stopped, or discarded when it stopped
	Timers  int    // timers pending now
}

// New returns a Loop. It runs nothing until Run is called.
func New(cfg Config) *Loop {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Name != "" {
		log = log.With("node", cfg.Name)
	}
	return &Loop{
		log:    log,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		timers: make(map[*timer]struct{}),
	}
}

// Start runs the loop on a new goroutine until ctx ends or Close is
// called. It is shorthand for go l.Run(ctx), for callers that do not need
// Run's result.
func (l *Loop) Start(ctx context.Context) {
	go func() { _ = l.Run(ctx) }()
}

// Run runs posted functions, one at a time and in order, on the calling
// goroutine until Close is called (Run then returns nil) or ctx ends (Run
// returns ctx.Err()). Functions still queued then are discarded, and
// pending timers are stopped. Run may be called once; a second call
// returns ErrRunning, and a call after Close returns ErrClosed.
func (l *Loop) Run(ctx context.Context) error {
	l.mu.Lock()
	switch {
	case l.running:
		l.mu.Unlock()
		return ErrRunning
	case l.stopped:
		l.mu.Unlock()
		return ErrClosed
	}
	l.running = true
	l.mu.Unlock()
	l.log.Debug("runtime: loop started")

	err := l.run(ctx)
	l.stop()
	close(l.done)
	l.log.Debug("runtime: loop stopped", "err", err)
	return err
}

func (l *Loop) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.quit:
			return nil
		case <-l.wake:
		}
		l.mu.Lock()
		batch := l.queue
		l.queue = l.spare[:0]
		l.spare = nil
		l.mu.Unlock()

		for i, f := range batch {
			// Close and cancellation take effect between two functions.
			select {
			case <-ctx.Done():
				l.discard(len(batch) - i)
				return ctx.Err()
			case <-l.quit:
				l.discard(len(batch) - i)
				return nil
			default:
			}
			batch[i] = nil
			f()
			l.mu.Lock()
			l.stats.Ran++
			l.mu.Unlock()
		}

		l.mu.Lock()
		if l.spare == nil {
			l.spare = batch[:0]
		}
		l.mu.Unlock()
	}
}

// discard counts n functions of a batch that will never run.
func (l *Loop) discard(n int) {
	l.mu.Lock()
	l.stats.Dropped += uint64(n)
	l.mu.Unlock()
}

// stop marks the loop stopped, discards the queue and stops every timer.
func (l *Loop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.stats.Dropped += uint64(len(l.queue))
	l.queue, l.spare = nil, nil
	timers := l.timers
	l.timers = make(map[*timer]struct{})
	l.mu.Unlock()
	for t := range timers {
		t.Stop()
	}
}

// Close stops the loop and, if Run is running, waits for it to return
// (after the function running now, if any, returns). Queued functions are
// discarded. Close is idempotent and always returns nil. It must not be
// called from a function running on the loop, which would wait for
// itself; such code cancels Run's context instead.
func (l *Loop) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		running := l.running
		if !running {
			l.stopped = true
		}
		l.mu.Unlock()
		close(l.quit)
		if !running {
			l.stop()
			close(l.done)
		}
	})
	<-l.done
	return nil
}

// Done returns a channel that is closed when the loop has stopped for
// good: Run returned, or Close was called before Run.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Post queues f to run on the loop after everything queued before it. It
// never blocks and never runs f itself. After the loop stopped, f is
// dropped (and counted in Stats.Dropped).
func (l *Loop) Post(f func()) { l.post(f) }

// post is Post reporting whether f was queued.
func (l *Loop) post(f func()) bool {
	l.mu.Lock()
	if l.stopped {
		l.stats.Dropped++
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, f)
	l.stats.Posted++
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return true
}

// Stats returns a snapshot of the loop's counters.
func (l *Loop) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Timers = len(l.timers)
	return s
}

// Do runs f on the loop and waits until it has returned. It returns nil
// once f ran; ErrClosed if the loop stopped before f ran; or ctx.Err() if
// ctx ended first, in which case f has either already started or never
// runs (f is skipped when ctx has ended by the time the loop reaches it).
// Do must not be called from a function running on the loop: it would
// wait for itself until ctx ends.
func (l *Loop) Do(ctx context.Context, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ran := make(chan struct{})
	ok := l.post(func() {
		if ctx.Err() != nil {
			return
		}
		f()
		close(ran)
	})
	if !ok {
		return ErrClosed
	}
	select {
	case <-ran:
		return nil
	case <-ctx.Done():
		select {
		case <-ran: // f finished as ctx ended: report success
			return nil
		default:
		}
		return ctx.Err()
	case <-l.done:
		select {
		case <-ran:
			return nil
		default:
		}
		return ErrClosed
	}
}
