// Package faketime provides a manual Clock and executor for tests of
// protocol code: time moves only when a test calls Advance, and due timers
// fire in deadline order (ties in the order they were set), on the caller's
// goroutine. It is the test twin of the simulator's engine.
package faketime

import (
	"container/heap"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Epoch is the fixed instant a Clock starts at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a manual mesh.Clock and mesh.Executor. The zero value is not
// usable; call New.
type Clock struct {
	now   time.Time
	seq   uint64
	queue timerQueue
}

var (
	_ mesh.Clock    = (*Clock)(nil)
	_ mesh.Executor = (*Clock)(nil)
)

// New returns a Clock at Epoch.
func New() *Clock { return &Clock{now: Epoch} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time { return c.now }

// AfterFunc schedules f to run when the clock has advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) mesh.Timer {
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f, index: -1}
	heap.Push(&c.queue, t)
	return t
}

// Post runs f at the current time, after whatever is already due.
func (c *Clock) Post(f func()) { c.AfterFunc(0, f) }

// Advance moves time forward by d, running every timer due by then in order.
func (c *Clock) Advance(d time.Duration) { c.AdvanceTo(c.now.Add(d)) }

// AdvanceTo moves time forward to t, running every timer due by then.
func (c *Clock) AdvanceTo(t time.Time) {
	for len(c.queue) > 0 && !c.queue[0].when.After(t) {
		next := heap.Pop(&c.queue).(*timer)
		if next.when.After(c.now) {
			c.now = next.when
		}
		next.f()
	}
	if t.After(c.now) {
		c.now = t
	}
}

// RunUntilIdle runs timers in order until none are left or limit has
// passed; it returns false if timers remain at the limit.
func (c *Clock) RunUntilIdle(limit time.Duration) bool {
	end := c.now.Add(limit)
	for len(c.queue) > 0 {
		if c.queue[0].when.After(end) {
			c.AdvanceTo(end)
			return false
		}
		c.AdvanceTo(c.queue[0].when)
	}
	return true
}

// Pending returns the number of scheduled timers.
func (c *Clock) Pending() int { return len(c.queue) }

type timer struct {
	c     *Clock
	when  time.Time
	seq   uint64
	f     func()
	index int
}

func (t *timer) Stop() bool {
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.queue, t.index)
	return true
}

type timerQueue []*timer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if q[i].when.Equal(q[j].when) {
		return q[i].seq < q[j].seq
	}
	return q[i].when.Before(q[j].when)
}
func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *timerQueue) Push(x any) {
	t := x.(*timer)
	t.index = len(*q)
	*q = append(*q, t)
}
func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*q = old[:len(old)-1]
	return t
}
