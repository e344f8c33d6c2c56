package blob

import (
	"errors"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Targets with different modes in one transfer (docs/friend-lpn.md, "Pull
// BLOB sizing").
//
// The Transfer Mode is a parameter of each server's Transfer Start
// (MshMBT: the server keeps the mode of the Transfer Start it accepted),
// not of the BLOB: nothing on the air ties one server's mode to
// another's. A Low Power node supports Pull only (its Information Status
// says so), and the others are best served in Push mode to a group. So
// when the answers to Information Get show targets that support only the
// other mode, the Client splits the transfer in two parts with the same
// BLOB ID and Block Size Log, run at the same time by one model:
//
//   - the parent runs the targets that support Transfer.Mode (Push when
//     it is ModeNone) as before, group included;
//   - a second engine, the pull part, runs the others in their mode by
//     unicast (a Low Power node's Friend stores every group message it
//     subscribed to, so a Push pass to the group would overflow its Friend
//     Queue), with retry timing for targets that answer only after their
//     next Friend Poll (Strategy.forLowPower).
//
// Each server sees one Transfer Start, in its mode, and one consistent
// transfer. Answers are routed to the part that owns their source. The
// transfer ends, with one Result over all targets, when both parts did;
// Suspend, Resume and Cancel act on both, and Progress lists both.

// Low Power timing of the pull part.
const (
	// LPNRetryInterval is the least wait for an answer from a target
	// behind a Friend: a server on a Low Power node polls every
	// DefaultLPNIdlePollInterval during a transfer, then answers after
	// the response delay.
	LPNRetryInterval = 4 * time.Second
	// LPNReportTimeout is the Block Report Timeout of a target behind a
	// Friend: 2·T_MBPI + 7 s (Zephyr blob_cli.c; blob.md §10).
	LPNReportTimeout = 2*MaxPollInterval + 7*time.Second
)

// mixedState is the Client's state for a split transfer.
type mixedState struct {
	sub       *Client // the pull part, nil when the transfer is not split
	mode      TransferMode
	addrs     []mesh.Address
	subOps    []access.Op // the pull part's own handlers
	routed    bool        // the model's handlers route by source
	subDone   bool
	parentErr *error    // the parent ended first: its error, waiting for the pull part
	saved     *Strategy // the strategy to restore after a transfer run as a pull part

	// loss probe bookkeeping: targets whose answer counted as a probe
	// answer (see probeLoss)
	probeOK   map[mesh.Address]bool
	lastProbe int
}

// forLowPower adapts s to targets that hear requests only when they poll
// their Friend: longer retry intervals and enough attempts to cover two
// Maximum BLOB Poll Intervals, all targets asked at once (their answers
// are spread by their polls), and Zephyr's Block Report Timeout.
func (s Strategy) forLowPower() Strategy {
	s.Name += "+lpn"
	if s.RetryInterval != 0 { // 0: ClientTimeout / Attempts, already long
		s.RetryInterval = max(s.RetryInterval, LPNRetryInterval)
		s.Attempts = max(s.Attempts, int((2*MaxPollInterval+s.RetryInterval-1)/s.RetryInterval))
	}
	s.QueryWindow = 0
	s.ScopeTTL = false // a Friend stores only messages it relays: never TTL 0 or 1
	s.PullReportTimeout = max(s.PullReportTimeout, LPNReportTimeout)
	return s
}

// lowPowerTiming switches the whole transfer to Strategy.forLowPower,
// restored when it ends.
func (c *Client) lowPowerTiming() {
	m := c.mixedInit()
	saved := c.strat
	m.saved = &saved
	c.strat = c.strat.forLowPower()
}

// noteProbe records whether t's Information Status counted as an answer
// to the loss probe (the roundtrip counts it before calling the handler).
func (c *Client) noteProbe(t *cliTarget) {
	m := c.mixedInit()
	if c.probeAnswered > m.lastProbe {
		m.probeOK[t.addr] = true
	}
	m.lastProbe = c.probeAnswered
}

func (c *Client) mixedInit() *mixedState {
	if c.mixed == nil {
		c.mixed = &mixedState{probeOK: map[mesh.Address]bool{}}
	}
	return c.mixed
}

// splitModes runs when every target answered Information Get (or was
// lost), before the capabilities are intersected: targets that support
// only the other mode leave the parent for the pull part. When no target
// of the parent's mode is left, the whole transfer takes the other mode
// instead.
func (c *Client) splitModes() {
	m := c.mixedInit()
	m.sub, m.subDone, m.parentErr, m.addrs = nil, false, nil, nil
	want := c.xfer.Mode
	if want == ModeNone {
		want = ModePush
	}
	other := ModePull
	if want == ModePull {
		other = ModePush
	}
	var keep, move []*cliTarget
	active := 0
	for _, t := range c.targets {
		if t.lost == nil && t.caps != nil && !t.caps.Modes.Has(want) && t.caps.Modes.Has(other) {
			move = append(move, t)
			continue
		}
		keep = append(keep, t)
		if t.lost == nil {
			active++
		}
	}
	defer func() { clear(m.probeOK); m.lastProbe = 0 }() // Start counts from 0 again
	if len(move) == 0 {
		if want == ModePull && m.saved == nil {
			// A Pull transfer is for targets behind a Friend: the Friend
			// stores only what it relays (no scoped TTL) and answers
			// come after the target's next Poll (Low Power timing).
			c.lowPowerTiming()
		}
		return
	}
	if active == 0 {
		// One mode fits all: no split, but the whole transfer is served as
		// the pull part would be (unicast, Low Power timing).
		c.xfer.Mode = other
		if other == ModePull {
			c.lowPowerTiming()
			c.group, c.label = mesh.AddrUnassigned, nil
		}
		return
	}
	// The pull part's targets did not answer the probe as the others do
	// (a Low Power node answers after its next Poll): leave them out of it.
	if c.probeSent > 0 {
		for _, t := range move {
			c.probeSent--
			if m.probeOK[t.addr] {
				c.probeAnswered--
			}
		}
	}
	c.targets = keep
	for _, t := range move {
		delete(c.byAddr, t.addr)
		m.addrs = append(m.addrs, t.addr)
	}
	m.mode = other
	c.log.Info("blob client: split by mode", "targets", len(keep), "other", len(move), "mode", other.String())
	// The pull part starts once the parent chose the Block Size Log, so
	// both parts use the same one (a distributor resumes with it).
	user := c.xfer.Callbacks.OnCapabilities
	c.xfer.Callbacks.OnCapabilities = func(lim Limits, log2 uint8, mode TransferMode) {
		if user != nil {
			user(lim, log2, mode)
		}
		if m.sub == nil && len(m.addrs) > 0 && c.state == ClientCapabilities {
			c.startPullPart(log2)
		}
	}
}

// startPullPart starts the second engine for the targets splitModes set
// aside.
func (c *Client) startPullPart(log2 uint8) {
	m := c.mixed
	sub, err := NewClient(c.cfg)
	if err == nil {
		sub.strat = c.strat.forLowPower()
		sub.strat.BlockSizeLog = log2
		sub.log = c.log.With("part", m.mode.String())
		m.subOps = sub.model.Ops
		sub.model = c.model // it sends as the one model the targets know
		c.routeBySource()
		m.sub = sub
		user := c.xfer.Callbacks
		x := c.xfer
		x.Targets, x.Group, x.Label, x.Mode = m.addrs, mesh.AddrUnassigned, nil, m.mode
		x.Callbacks = Callbacks{
			OnProgress:   user.OnProgress,
			OnTargetLost: user.OnTargetLost,
			OnBlockDone:  user.OnBlockDone,
			OnSuspended: func() {
				if m.sub == sub && m.parentErr != nil {
					c.end(*m.parentErr) // every target of the pull part timed out
				}
			},
			OnEnd: func(Result) {
				if m.sub != sub {
					return
				}
				m.subDone = true
				if m.parentErr != nil {
					c.end(*m.parentErr)
				}
			},
		}
		err = sub.Start(x)
	}
	if err != nil {
		m.sub = nil
		c.log.Warn("blob client: pull part", "err", err)
		for _, a := range m.addrs {
			t := &cliTarget{addr: a}
			c.targets = append(c.targets, t)
			c.lose(t, &LostError{Target: a, Step: "Transfer Start", Detail: err.Error()})
		}
	}
}

// routeBySource makes the model's handlers pass answers from the pull
// part's targets to it.
func (c *Client) routeBySource() {
	m := c.mixed
	if m.routed {
		return
	}
	m.routed = true
	for i := range c.model.Ops {
		op := &c.model.Ops[i]
		own, code := op.Handler, op.Opcode
		op.Handler = func(ctx *access.Context, p []byte) {
			if s := m.sub; s != nil && s.state != ClientIdle && s.byAddr[ctx.Src] != nil {
				for _, o := range m.subOps {
					if o.Opcode == code {
						o.Handler(ctx, p)
						return
					}
				}
			}
			own(ctx, p)
		}
	}
}

// mixedEnd runs first in end: while the pull part runs, the parent stops
// and waits for it (a cancel cancels it); once both ended it takes the
// pull part's targets and counters into the one Result. It reports
// whether end must wait.
func (c *Client) mixedEnd(err *error) bool {
	m := c.mixed
	if m != nil && m.saved != nil {
		c.strat, m.saved = *m.saved, nil
	}
	if m == nil || m.sub == nil {
		return false
	}
	sub := m.sub
	if !m.subDone && sub.state != ClientSuspended && sub.state != ClientIdle {
		c.halt()
		e := *err
		m.parentErr = &e
		if errors.Is(e, ErrCanceled) && sub.state != ClientCancelling {
			sub.Cancel()
		}
		return true
	}
	m.sub, m.parentErr = nil, nil
	c.targets = append(c.targets, sub.targets...)
	addClientStats(&c.stats, sub.stats)
	if errors.Is(*err, ErrAllTargetsLost) {
		*err = nil // the pull part may have completed some; end decides
	}
	return false
}

func addClientStats(dst *ClientStats, src ClientStats) {
	dst.Requests += src.Requests
	dst.Chunks += src.Chunks
	dst.ChunkOctets += src.ChunkOctets
	dst.RepairPasses += src.RepairPasses
	dst.Rechunks += src.Rechunks
	dst.Adopted += src.Adopted
	dst.KeepAlives += src.KeepAlives
	dst.Answers += src.Answers
}

// mixedProgress is the pull part's progress.
func (c *Client) mixedProgress() []TargetProgress {
	if c.mixed == nil || c.mixed.sub == nil {
		return nil
	}
	return c.mixed.sub.Progress()
}

// mixedSuspend suspends the pull part with the parent.
func (c *Client) mixedSuspend() {
	if c.mixed != nil && c.mixed.sub != nil && !c.mixed.subDone {
		_ = c.mixed.sub.Suspend()
	}
}

// mixedResume resumes the pull part with the parent.
func (c *Client) mixedResume() {
	if c.mixed != nil && c.mixed.sub != nil && c.mixed.sub.state == ClientSuspended {
		_ = c.mixed.sub.Resume()
	}
}
