package sim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Epoch is the instant virtual time starts at: 2026-01-01 00:00:00 UTC, the
// same instant as mesh/faketime, so logs of tests and simulations line up.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NodeID names a simulated node. IDs are small non-negative integers; the
// medium and the topologies index their tables by them.
type NodeID int

// NoNode is the NodeID of events that belong to no node.
const NoNode NodeID = -1

// EventKind classifies an event for the event log.
type EventKind uint8

// Event kinds recorded in the event log.
const (
	KindTimer   EventKind = iota + 1 // a Clock.AfterFunc or Executor.Post callback
	KindTxStart                      // an advertising event begins on air
	KindTxEnd                        // an advertising event ends
	KindDeliver                      // a PDU handed to a receiver
	KindLost                         // a reception that failed (cause in the payload digest)
)

// String names the kind as it appears in the text event log.
func (k EventKind) String() string {
	switch k {
	case KindTimer:
		return "timer"
	case KindTxStart:
		return "tx-start"
	case KindTxEnd:
		return "tx-end"
	case KindDeliver:
		return "deliver"
	case KindLost:
		return "lost"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// handler runs an engine-internal event (the medium's); arg identifies what.
type handler interface {
	handle(arg int64)
}

// event is one entry of the queue. Events are values in a hand-written heap
// so that scheduling the medium's events allocates nothing.
type event struct {
	at   int64 // virtual nanoseconds since Epoch
	seq  uint64
	t    *timer  // set for timers
	h    handler // set for internal events
	arg  int64
	node NodeID
}

func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// Engine is the discrete-event loop. Every simulated node runs on it: timers,
// received PDUs and posted calls are events ordered by (virtual time,
// sequence number), run one at a time on the goroutine that calls Run. A run
// is a pure function of the seed and the calls made before and during it.
//
// An Engine is not safe for concurrent use.
type Engine struct {
	seed      uint64
	now       int64
	seq       uint64
	queue     []event
	processed uint64
	stopped   bool

	gens          []uint32 // per node timer generation, see ResetNode
	stoppedTimers int      // stopped timers still in the queue

	digest uint64 // running FNV-1a of the event log
	log    io.Writer
	logBuf []byte
}

// Option configures an Engine in New.
type Option func(*Engine)

// WithEventLog writes one text line per event to w: virtual time, kind,
// node and a digest of the payload. Two runs with the same seed write the
// same bytes. It slows the engine; leave it off for benchmarks.
func WithEventLog(w io.Writer) Option { return func(e *Engine) { e.log = w } }

// New returns an engine at Epoch whose randomness derives from seed.
func New(seed uint64, opts ...Option) *Engine {
	e := &Engine{seed: seed, digest: fnvOffset}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Seed returns the seed the engine was created with.
func (e *Engine) Seed() uint64 { return e.seed }

// Rand returns a new random source for one purpose ("medium", "node", a
// scenario's own name) and index (a node ID, or -1), derived from the seed.
// The same (seed, purpose, index) always gives the same stream, and streams
// for different purposes are independent, so adding a node or a consumer
// does not shift the randomness of the others.
func (e *Engine) Rand(purpose string, index int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(int64(index)))
	h.Write(b[:])
	return rand.New(rand.NewPCG(e.seed, h.Sum64()))
}

// NodeRand returns the random source for node id's own protocol code.
func (e *Engine) NodeRand(id NodeID) *rand.Rand { return e.Rand("node", int(id)) }

// Now returns the current virtual time.
func (e *Engine) Now() time.Time { return Epoch.Add(time.Duration(e.now)) }

// Elapsed returns the virtual time since Epoch.
func (e *Engine) Elapsed() time.Duration { return time.Duration(e.now) }

// Processed returns the number of events run so far (stopped timers that
// were skipped do not count).
func (e *Engine) Processed() uint64 { return e.processed }

// Pending returns the number of queued events, including stopped timers not
// yet discarded.
func (e *Engine) Pending() int { return len(e.queue) }

// Digest returns the running hash of the event log: every event's time,
// kind, node and payload digest. Equal digests mean equal runs.
func (e *Engine) Digest() uint64 { return e.digest }

// Stop makes the running Run* call return after the current event.
func (e *Engine) Stop() { e.stopped = true }

// RunFor runs events for d of virtual time and leaves the clock at the end
// of that span; it returns early if Stop is called.
func (e *Engine) RunFor(d time.Duration) { e.RunUntil(e.Now().Add(d)) }

// RunUntil runs every event due by t and leaves the clock at t (unless
// stopped earlier).
func (e *Engine) RunUntil(t time.Time) {
	end := int64(t.Sub(Epoch))
	e.run(end, nil)
	if !e.stopped && end > e.now {
		e.now = end
	}
}

// RunUntilIdle runs events until none are left or limit of virtual time has
// passed. It reports whether the queue ran empty.
func (e *Engine) RunUntilIdle(limit time.Duration) bool {
	e.run(e.now+int64(limit), nil)
	return e.live() == 0
}

// RunWhile runs events while cond reports true (checked before each event)
// and no more than limit of virtual time passes. It reports whether cond
// became false.
func (e *Engine) RunWhile(cond func() bool, limit time.Duration) bool {
	e.run(e.now+int64(limit), cond)
	return !cond()
}

// live counts events that will still run (excludes stopped timers).
func (e *Engine) live() int {
	n := 0
	for i := range e.queue {
		if t := e.queue[i].t; t == nil || !t.dead(e) {
			n++
		}
	}
	return n
}

func (e *Engine) run(end int64, cond func() bool) {
	e.stopped = false
	for len(e.queue) > 0 && !e.stopped {
		if e.queue[0].at > end {
			return
		}
		if cond != nil && !cond() {
			return
		}
		ev := e.pop()
		if ev.t != nil && ev.t.dead(e) {
			if ev.t.stopped {
				e.stoppedTimers--
			}
			continue
		}
		if ev.at > e.now {
			e.now = ev.at
		}
		e.processed++
		if ev.t != nil {
			ev.t.fired = true
			e.note(KindTimer, ev.node, 0)
			ev.t.f()
			continue
		}
		ev.h.handle(ev.arg)
	}
}

// compact drops stopped timers from the queue once they are the majority,
// so that code which arms and stops long timers cannot grow it unbounded.
func (e *Engine) compact() {
	if e.stoppedTimers < 1024 || e.stoppedTimers < len(e.queue)/2 {
		return
	}
	kept := e.queue[:0]
	for _, ev := range e.queue {
		if ev.t != nil && ev.t.stopped {
			continue
		}
		kept = append(kept, ev)
	}
	clear(e.queue[len(kept):])
	e.queue = kept
	e.stoppedTimers = 0
	for i := len(kept)/2 - 1; i >= 0; i-- {
		e.down(i)
	}
}

// schedule queues an internal event at absolute virtual time at.
func (e *Engine) schedule(at int64, h handler, arg int64, node NodeID) {
	if at < e.now {
		at = e.now
	}
	e.seq++
	e.push(event{at: at, seq: e.seq, h: h, arg: arg, node: node})
}

// afterFunc is Clock.AfterFunc for node.
func (e *Engine) afterFunc(node NodeID, d time.Duration, f func()) *timer {
	if d < 0 {
		d = 0
	}
	t := &timer{f: f, node: node, eng: e}
	if node >= 0 {
		e.grow(node)
		t.gen = e.gens[node]
	}
	e.compact()
	e.seq++
	e.push(event{at: e.now + int64(d), seq: e.seq, t: t, node: node})
	return t
}

func (e *Engine) grow(node NodeID) {
	for int(node) >= len(e.gens) {
		e.gens = append(e.gens, 0)
	}
}

// ResetNode cancels every pending timer and posted call of node, as a
// reboot does: code that was scheduled before the reset never runs.
func (e *Engine) ResetNode(node NodeID) {
	e.grow(node)
	e.gens[node]++
}

// note adds one event to the digest and the text log.
func (e *Engine) note(kind EventKind, node NodeID, payload uint64) {
	// Mix whole words (a multiply-xorshift per word) rather than FNV over
	// 25 octets: this runs for every event, delivery and loss.
	d := e.digest
	d = mix64(d ^ uint64(e.now))
	d = mix64(d ^ uint64(kind)<<56 ^ uint64(int64(node)))
	d = mix64(d ^ payload)
	e.digest = d
	if e.log != nil {
		e.logBuf = fmt.Appendf(e.logBuf[:0], "%s %s node=%d payload=%016x\n",
			FormatVirtual(time.Duration(e.now)), kind, node, payload)
		e.log.Write(e.logBuf)
	}
}

// mix64 is the SplitMix64 finaliser: a cheap, well-spread 64-bit mix.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashBytes is FNV-1a over p, for payload digests.
func hashBytes(p []byte) uint64 {
	d := uint64(fnvOffset)
	for _, c := range p {
		d ^= uint64(c)
		d *= fnvPrime
	}
	return d
}

// FormatVirtual prints a virtual duration since Epoch with microsecond
// precision and fixed width, e.g. "   12.345678s".
func FormatVirtual(d time.Duration) string {
	us := int64(d / time.Microsecond)
	return fmt.Sprintf("%6d.%06ds", us/1e6, us%1e6)
}

// heap operations on e.queue (binary min-heap by (at, seq)).

func (e *Engine) push(ev event) {
	e.queue = append(e.queue, ev)
	q := e.queue
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].before(&q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (e *Engine) pop() event {
	q := e.queue
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = event{}
	e.queue = q[:n]
	e.down(0)
	return top
}

func (e *Engine) down(i int) {
	q := e.queue
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q[r].before(&q[l]) {
			m = r
		}
		if !q[m].before(&q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

// timer is a pending AfterFunc; it is removed lazily from the queue.
type timer struct {
	f       func()
	node    NodeID
	gen     uint32
	stopped bool
	fired   bool
	eng     *Engine
}

func (t *timer) dead(e *Engine) bool {
	return t.stopped || (t.node >= 0 && t.gen != e.gens[t.node])
}

// Stop cancels the timer; it reports whether the call stopped it from
// running.
func (t *timer) Stop() bool {
	if t.stopped || t.fired || t.dead(t.eng) {
		return false
	}
	t.stopped = true
	t.eng.stoppedTimers++
	return true
}

// Clock is a node's view of the engine: a mesh.Clock whose timers run on
// the engine loop, and a mesh.Executor.
type Clock struct {
	e    *Engine
	node NodeID
}

var (
	_ mesh.Clock    = (*Clock)(nil)
	_ mesh.Executor = (*Clock)(nil)
)

// Clock returns node's clock and executor. Events it schedules carry the
// node's ID in the event log and are cancelled by ResetNode.
func (e *Engine) Clock(node NodeID) *Clock {
	if node >= 0 {
		e.grow(node)
	}
	return &Clock{e: e, node: node}
}

// Node returns the node the clock belongs to.
func (c *Clock) Node() NodeID { return c.node }

// Now returns the engine's virtual time.
func (c *Clock) Now() time.Time { return c.e.Now() }

// AfterFunc runs f on the engine loop after d of virtual time.
func (c *Clock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	return c.e.afterFunc(c.node, d, f)
}

// Post runs f on the engine loop at the current virtual time, after the
// events already due.
func (c *Clock) Post(f func()) { c.AfterFunc(0, f) }
