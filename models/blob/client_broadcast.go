package blob

import (
	"math"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// roundtrip is one acknowledged step sent to every target still in it
// (blob.md §12.2, Zephyr blob_cli.c's TX machine): send the request to the
// group or to each target, wait, send again to the silent ones, and after
// Strategy.Attempts sends lose those still silent. Answers go to handle,
// which returns true when the target is through this step (it may also
// have lost the target). Several roundtrips may run at once (a pipelined
// Block Start beside a repair query); each answers only to its own opcode.
type roundtrip struct {
	c       *Client
	step    string // "Transfer Start", for loss reasons and logs
	msg     access.Message
	want    access.Opcode
	pending []*cliTarget
	attempt int
	group   bool // may use the group address
	handle  func(t *cliTarget, m access.Message) bool
	done    func()

	// unicast sweeps: an attempt asks every pending target, in waves of
	// Strategy.QueryWindow
	sweep     []*cliTarget
	sweepNext int
	wave      []*cliTarget
	grouped   bool // the current attempt went to the group
	blind     int  // > 0: a blind step of this many group sends (startBlindRoundtrip)
	initial   int  // targets at the start

	sends map[*cliTarget]*rtSend

	begun    time.Time
	timer    mesh.Timer
	gen      uint64
	finished bool
}

// startRoundtrip sends msg to targets and runs done once every one of them
// answered or was lost.
func (c *Client) startRoundtrip(step string, msg access.Message, want access.Opcode, targets []*cliTarget,
	group bool, handle func(*cliTarget, access.Message) bool, done func()) *roundtrip {
	rt := &roundtrip{c: c, step: step, msg: msg, want: want, group: group, handle: handle, done: done}
	return rt.start(targets)
}

// startBlindRoundtrip sends msg to the group sends times, one reply
// window apart, takes the answers that come, and then runs done without
// losing the silent targets: a step whose answers the client need not
// wait for. A Block Start before the data: sends is chosen so that every
// target likely heard one (blindSends); a silent target most likely only
// lost its answers, and asking it again while the chunks flow would make
// its answer collide with them at the other targets. One that did miss
// every send shows it in the Block Get after the pass, and gets Block
// Start again then.
func (c *Client) startBlindRoundtrip(step string, msg access.Message, want access.Opcode, targets []*cliTarget,
	sends int, handle func(*cliTarget, access.Message) bool, done func()) *roundtrip {
	rt := &roundtrip{c: c, step: step, msg: msg, want: want, group: true, blind: max(sends, 1), handle: handle, done: done}
	return rt.start(targets)
}

func (rt *roundtrip) start(targets []*cliTarget) *roundtrip {
	c := rt.c
	for _, t := range targets {
		if t.lost == nil {
			rt.pending = append(rt.pending, t)
		}
	}
	rt.initial = len(rt.pending)
	rt.begun = c.clk.Now()
	c.rts = append(c.rts, rt)
	if len(rt.pending) == 0 {
		c.clk.AfterFunc(0, func() { rt.finish() })
		return rt
	}
	rt.send()
	return rt
}

// send starts an attempt, or sends the next wave of the current one. An
// attempt goes to the group when the strategy allows it for this many
// silent targets and the answers are short enough for all of them to
// arrive at once; otherwise to each silent target, at most QueryWindow at
// a time (a node reassembles only a few segmented messages at once, and
// answers to a group come within 500 ms, so a hundred segmented answers
// would collide and be rejected). Over relays each send first books the
// network air its request and answers need (reserveAir).
func (rt *roundtrip) send() {
	c := rt.c
	if rt.grouped || rt.sweepNext >= len(rt.sweep) {
		rt.attempt++
		c.stats.Requests++
		rt.grouped = rt.useGroup()
		if !rt.grouped {
			rt.sweep = append(rt.sweep[:0], rt.pending...)
			rt.sweepNext = 0
		}
	}
	req, ans := requestPDUs(rt.msg), c.answerPDUs(rt.want)
	if rt.grouped {
		rt.wave = rt.wave[:0]
		if d := c.reserveAir(req + len(rt.pending)*ans); d > 0 {
			rt.armFunc(d, rt.sendGroup)
			return
		}
		rt.sendGroup()
		return
	}
	w := c.queryWindow()
	if w <= 0 || !c.segmentedAnswers(rt.want) {
		// One-PDU answers take no reassembly slot and come 20–50 ms
		// after each request: ask every silent target in one stream.
		w = len(rt.sweep)
	}
	probe := rt.attempt == 1 && rt.want == OpInformationStatus && c.probeSent < probeTargets(len(c.targets))
	if probe && c.strat.QueryWindow > 0 {
		// The loss probe: answers of a narrow wave rarely collide, so
		// the share answered reads the link's loss, not the collisions.
		w = min(w, c.strat.QueryWindow)
	}
	if req > 1 {
		// Segmented requests hold a transport slot until acknowledged.
		w = min(w, transport.DefaultMaxTxMessages/2)
	}
	var wave []*cliTarget
	for rt.sweepNext < len(rt.sweep) && len(wave) < w {
		t := rt.sweep[rt.sweepNext]
		rt.sweepNext++
		if t.lost == nil && rt.isPending(t) {
			wave = append(wave, t)
		}
	}
	rt.wave = rt.wave[:0]
	if d := c.reserveAir(len(wave) * (req + ans)); d > 0 {
		rt.armFunc(d, func() { rt.sendWave(wave, probe) })
		return
	}
	rt.sendWave(wave, probe)
}

// sendGroup sends the attempt to the group and waits for the slowest
// expected answer.
func (rt *roundtrip) sendGroup() {
	c := rt.c
	c.send(c.group, c.groupTTL(), rt.msg, nil)
	req, ans := requestPDUs(rt.msg), c.answerPDUs(rt.want)
	at := c.clk.Now().Add(c.backlogDelay())
	wait := c.retryWait(true, 1, c.answersToWait(rt.want, len(rt.pending)))
	if rt.attempt <= rt.blind {
		// One-PDU answers within the reply delay; the next send (or the
		// data) must not meet them on air.
		wait = access.ReplyDelayMaxGroup + blindMargin + c.backlogDelay()
	}
	var slowest time.Duration
	for _, t := range rt.pending {
		n := rt.noteSend(t, at, true)
		slowest = max(slowest, c.rto(t, req, ans, n))
	}
	if c.multiHop() && c.strat.RetryInterval > 0 {
		// Answers come 20–500 ms after the request, and the relays
		// forward them one after the other.
		slowest += access.ReplyDelayMaxGroup + time.Duration(len(rt.pending)*ans)*c.relayHop() + c.backlogDelay()
		wait = max(wait, min(slowest, maxRetryWait))
	}
	rt.arm(wait)
}

// sendWave sends the attempt to each target of wave that is still silent
// and waits for the slowest of their answers.
func (rt *roundtrip) sendWave(wave []*cliTarget, probe bool) {
	c := rt.c
	req, ans := requestPDUs(rt.msg), c.answerPDUs(rt.want)
	at := c.clk.Now().Add(c.backlogDelay())
	rt.wave = rt.wave[:0]
	var slowest time.Duration
	for _, t := range wave {
		if t.lost != nil || !rt.isPending(t) {
			continue
		}
		n := rt.noteSend(t, at, false)
		if probe && n == 1 {
			rt.sends[t].probe = true
			c.probeSent++
		}
		c.send(t.addr, c.ttlTo(t, n), rt.msg, nil)
		rt.wave = append(rt.wave, t)
		slowest = max(slowest, c.rto(t, req, ans, n))
	}
	if len(rt.wave) == 0 {
		rt.arm(0)
		return
	}
	wait := c.retryWait(false, len(rt.wave), c.answersToWait(rt.want, len(rt.wave)))
	if c.strat.RetryInterval > 0 && c.multiHop() {
		// The answers of one wave share the relays.
		wait = slowest + time.Duration(len(rt.wave))*(c.strat.PDUInterval+c.strat.AnswerTime) + c.backlogDelay()
		wait += time.Duration((len(rt.wave)-1)*ans) * c.relayHop()
		wait = min(max(wait, c.retryWait(false, len(rt.wave), len(rt.wave))), maxRetryWait)
	}
	rt.arm(wait)
}

// rtSend is what a roundtrip sent one target: how many times, when the
// first send was expected on air, and whether it went to the group.
type rtSend struct {
	n     int
	at    time.Time
	group bool
	probe bool // a send of the loss probe (first Information Get)
}

// noteSend records a send to t and returns how many t got.
func (rt *roundtrip) noteSend(t *cliTarget, at time.Time, group bool) int {
	if rt.sends == nil {
		rt.sends = map[*cliTarget]*rtSend{}
	}
	s := rt.sends[t]
	if s == nil {
		s = &rtSend{at: at, group: group}
		rt.sends[t] = s
	}
	s.n++
	return s.n
}

// sampleRTT measures t's round trip from an answer to a request sent once
// by unicast (Karn's rule: an answer after a retry may belong to either
// send).
func (rt *roundtrip) sampleRTT(t *cliTarget) {
	s := rt.sends[t]
	if s == nil || s.n != 1 || s.group {
		return
	}
	if d := rt.c.clk.Now().Sub(s.at); d > 0 {
		t.rtt.sample(d)
	}
}

func (rt *roundtrip) useGroup() bool {
	c := rt.c
	s := &c.strat
	if rt.attempt <= rt.blind && c.group != mesh.AddrUnassigned {
		return true
	}
	if !rt.group || c.group == mesh.AddrUnassigned || (s.GroupQueryMin > 0 && len(rt.pending) < s.GroupQueryMin) {
		return false
	}
	// A retry to the group makes every target answer again, and while
	// chunks flow (a pipelined Block Start) the answering targets miss
	// them (half duplex): retry the silent ones one by one, unless most
	// are silent.
	if rt.attempt > 1 && (c.sending || 2*len(rt.pending) < rt.initial) {
		return false
	}
	w := c.queryWindow()
	return w <= 0 || len(rt.pending) <= w || !c.segmentedAnswers(rt.want)
}

// blindMargin is the wait after the longest group reply delay before a
// blind step sends again or ends.
const blindMargin = 100 * time.Millisecond

// blindSends is how many group sends of a request it takes for n targets
// to miss all of them less than once in ten: n · loss^r < 0.1 (a target
// that missed the Block Start needs the whole block in repair).
func blindSends(loss float64, n, most int) int {
	r := 1
	for r < most && float64(n)*math.Pow(loss, float64(r)) >= 0.1 {
		r++
	}
	return r
}

// probeTargets is how many of n targets the loss probe asks in narrow
// waves (Strategy.QueryWindow at a time, whatever the reassembly
// capacity): 20, and a tenth of a larger fleet up to 100. Twenty samples
// read 5 % loss as under 3 % (no loss) about one time in three, and a
// thousand targets then got 377-octet chunks, of which each reached a
// fifth of them (measured, seed 1). The probe costs no extra request:
// every target gets the Information Get, and asked by unicast.
func probeTargets(n int) int { return max(20, min(n/10, 100)) }

// queryWindow is how many targets may be asked at once for segmented
// answers: Strategy.QueryWindow, but at most the reassembly slots of the
// client's node (ClientConfig.MaxRxMessages); 0 when the strategy sets no
// window. A larger capacity does not widen the window: measured on 100
// targets, wider windows are slower (docs/blob-strategy.md, "Queries").
func (c *Client) queryWindow() int {
	w := c.strat.QueryWindow
	if w <= 0 {
		return 0
	}
	rx := c.cfg.MaxRxMessages
	if rx <= 0 {
		rx = transport.DefaultMaxRxMessages
	}
	return max(1, min(w, rx))
}

// segmentedAnswers reports whether answers with opcode op are likely
// segmented: Transfer Status (with the BLOB ID) and Information Status
// always; Block Status when chunks are lost and its Missing Chunks bit
// field makes it longer than one unsegmented PDU.
func (c *Client) segmentedAnswers(op access.Opcode) bool {
	if op != OpBlockStatus {
		return true
	}
	return c.loss > 0 && 1+5+(c.nChunks+7)/8 > 11
}

func (rt *roundtrip) isPending(t *cliTarget) bool {
	for _, p := range rt.pending {
		if p == t {
			return true
		}
	}
	return false
}

// answersToWait is how many of n expected answers with opcode op need
// their own share of the wait (Strategy.AnswerTime): segmented ones, whose
// segments and acknowledgments queue behind each other; one-PDU answers
// come within the reply delay in parallel.
func (c *Client) answersToWait(op access.Opcode, n int) int {
	if c.segmentedAnswers(op) {
		return n
	}
	return 0
}

// retryWait is how long an attempt waits for answers.
func (c *Client) retryWait(group bool, queued, answers int) time.Duration {
	s := &c.strat
	base := s.RetryInterval
	if group && s.GroupRetryInterval > 0 {
		base = s.GroupRetryInterval
	}
	if base == 0 {
		return c.clientTimeout() / time.Duration(s.Attempts)
	}
	return base + time.Duration(queued)*s.PDUInterval + time.Duration(answers)*s.AnswerTime + c.backlogDelay()
}

func (rt *roundtrip) arm(d time.Duration) { rt.armFunc(d, rt.onTimeout) }

// armFunc runs f after d unless the roundtrip moved on meanwhile.
func (rt *roundtrip) armFunc(d time.Duration, f func()) {
	if rt.timer != nil {
		rt.timer.Stop()
	}
	rt.gen++
	gen := rt.gen
	rt.timer = rt.c.clk.AfterFunc(d, func() {
		if gen == rt.gen && !rt.finished {
			f()
		}
	})
}

func (rt *roundtrip) onTimeout() {
	rt.prune()
	switch {
	case len(rt.pending) == 0:
		rt.finish()
	case rt.blind > 0 && rt.attempt >= rt.blind:
		rt.pending = nil // the silent targets stay in the transfer
		rt.finish()
	case !rt.grouped && rt.sweepNext < len(rt.sweep):
		rt.send() // the next wave of this attempt
	case rt.attempt < rt.c.strat.Attempts:
		rt.send()
	default:
		// Attempts are spent: while the step is younger than half the
		// servers' inactivity timeout, the silent targets are asked
		// again after a growing pause (loss comes in bursts longer than
		// the attempts); then they are lost. A longer wait would let the
		// targets that did answer time out meanwhile. They are asked
		// at most maxSilentPause apart: a target's link leaves a burst
		// as the target transmits, i.e. answers requests it hears.
		now, limit := rt.c.clk.Now(), rt.c.serverTimeout()/2
		keep := rt.pending[:0]
		var lost []*cliTarget
		for _, t := range rt.pending {
			if now.Sub(rt.begun) < limit {
				keep = append(keep, t)
			} else {
				lost = append(lost, t)
			}
		}
		rt.pending = keep
		for _, t := range lost {
			rt.c.lose(t, &LostError{Target: t.addr, Step: rt.step, Attempts: rt.attempt, Timeout: true})
		}
		rt.prune()
		if len(rt.pending) == 0 {
			rt.finish()
			return
		}
		pause := min(time.Duration(rt.attempt-rt.c.strat.Attempts+1)*time.Second, maxSilentPause)
		rt.armFunc(pause, rt.send)
	}
}

// maxSilentPause caps the pause before a silent target is asked again
// once a step's Attempts are spent.
const maxSilentPause = 2 * time.Second

// serverTimeout is the targets' inactivity timeout, 10 s·(Timeout Base
// + 1) (blob.md §10).
func (c *Client) serverTimeout() time.Duration {
	return 10 * time.Second * time.Duration(int(c.cfg.TimeoutBase)+1)
}

// prune drops targets lost meanwhile (by another step).
func (rt *roundtrip) prune() {
	k := 0
	for _, t := range rt.pending {
		if t.lost == nil {
			rt.pending[k] = t
			k++
		}
	}
	clear(rt.pending[k:])
	rt.pending = rt.pending[:k]
}

// answer handles m from t if this roundtrip waits for it; it reports
// whether it did.
func (rt *roundtrip) answer(t *cliTarget, m access.Message) bool {
	if rt.finished || m.Opcode() != rt.want {
		return false
	}
	i := -1
	for j, p := range rt.pending {
		if p == t {
			i = j
			break
		}
	}
	if i < 0 {
		return false
	}
	if s := rt.sends[t]; s != nil && s.probe && s.n == 1 {
		rt.c.probeAnswered++
	}
	rt.sampleRTT(t)
	if rt.handle(t, m) || t.lost != nil {
		rt.pending = append(rt.pending[:i], rt.pending[i+1:]...)
	}
	rt.prune()
	if len(rt.pending) == 0 {
		rt.finish()
		return true
	}
	if !rt.grouped && len(rt.wave) > 0 && !slices.ContainsFunc(rt.wave, rt.isPending) {
		rt.arm(0) // the whole wave answered: go on at once
	}
	return true
}

// stop abandons the roundtrip without running done.
func (rt *roundtrip) stop() {
	rt.finished = true
	rt.gen++
	if rt.timer != nil {
		rt.timer.Stop()
	}
	rt.c.dropRoundtrip(rt)
}

func (rt *roundtrip) finish() {
	if rt.finished {
		return
	}
	rt.stop()
	rt.c.log.Debug("blob client: step done", "step", rt.step, "targets", rt.initial, "attempts", rt.attempt,
		"took", rt.c.clk.Now().Sub(rt.begun))
	if rt.done != nil {
		rt.done()
	}
}

func (c *Client) dropRoundtrip(rt *roundtrip) {
	for i, r := range c.rts {
		if r == rt {
			c.rts = append(c.rts[:i], c.rts[i+1:]...)
			return
		}
	}
}

// stopRoundtrips abandons every running step (suspend, cancel, end).
func (c *Client) stopRoundtrips() {
	for len(c.rts) > 0 {
		c.rts[0].stop()
	}
}
