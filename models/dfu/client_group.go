package dfu

import (
	"errors"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/internal/rtt"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Requests to the group (docs/dfu.md, "Group requests").
//
// With a group set (SetGroup) and the targets on one hop, a procedure
// that sends the same request to many targets (Start with one image
// index, Get, Apply, Cancel, the first Information Get) sends it once to
// the group, as Zephyr's dfu_cli does through blob_cli's broadcast, and
// collects the statuses that come back: every target still answers with
// its own status, by unicast, 20–500 ms after the request. The answers
// of a thousand targets at once collide and overrun the client's
// reassembly slots, so the client keeps listening while they keep
// coming, then asks the silent targets one by one with the usual
// unicast requests (retries, waits, MaxInFlight).
//
// A silent target of a group Start most likely got the Start and only
// its status was lost. Rather than a dozen segments of Start again, it
// is first asked with Firmware Update Get, whose status says the same
// when the target is in the transfer with this BLOB ID; only otherwise
// does it get the Start by unicast.
//
// A group request goes with TTL 0: only the client's neighbours hear it,
// no relay forwards it (a dozen segments of Start flooded by every relay
// saturate the air of a multi-hop network), and targets farther away are
// asked by unicast as the silent ones. Once a status arrived over relays,
// requests stay unicast altogether.

// Group request timing.
const (
	// groupCollect is the first wait for answers after a group request
	// left: the longest reply delay to a group request and a segmented
	// status.
	groupCollect = access.ReplyDelayMaxGroup + answerBase
	// groupExtend is the further wait while answers keep coming (the
	// targets' transports retry the statuses the client rejected).
	groupExtend = answerBase
	// groupCollectMax bounds the whole collection.
	groupCollectMax = 10 * time.Second
	// minGroupTargets is the least number of targets worth a group
	// request.
	minGroupTargets = 2
	// unsegmentedInFlight is how many one-PDU requests the client keeps
	// outstanding at once to targets on one hop (MaxInFlight when more):
	// their segmented statuses take at most that many of the client's
	// reassembly slots.
	unsegmentedInFlight = 4
)

// groupQuery is one group request and the answers it collects.
type groupQuery struct {
	want   access.Opcode
	match  func(access.Message) bool
	silent map[mesh.Address]bool
	on     func(mesh.Address, access.Message)
	after  func(canceled bool)
	began  time.Time
	heard  int // answers in the current wait
	timer  mesh.Timer
	ended  bool
}

// SetGroup sets the group address (with its Label UUID when virtual) the
// targets' Firmware Update Servers subscribe to; mesh.AddrUnassigned
// sends every request by unicast. It applies to the procedures started
// afterwards. The Distributor sets its distribution's Multicast Address.
func (c *Client) SetGroup(addr mesh.Address, label *[16]byte) {
	c.group, c.label = addr, nil
	if label != nil {
		lb := *label
		c.label = &lb
	}
}

// canGroup reports whether a request to n targets goes to the group: a
// usable group, at least minGroupTargets targets, and no target heard
// over relays.
func (c *Client) canGroup(n int) bool {
	usable := c.group.IsGroup() || (c.group.IsVirtual() && c.label != nil)
	return usable && n >= minGroupTargets && !c.multiHop() && c.cfg.Layer != nil
}

// inFlight is how many targets a procedure with request msg talks to at
// once: MaxInFlight, or unsegmentedInFlight for a one-PDU request when
// every target heard so far is a neighbour.
func (c *Client) inFlight(msg access.Message) int {
	n := c.cfg.MaxInFlight
	if c.hopsMax == 1 && !rtt.Segmented(messageSize(msg)) {
		n = max(n, unsegmentedInFlight)
	}
	return n
}

// askGroup sends msg once to the group and hands every matching status
// from one of addrs to on; after runs when the answers stopped coming (or
// canceled, on Abort), with q.silent holding the targets not heard.
func (c *Client) askGroup(addrs []mesh.Address, msg access.Message, want access.Opcode, match func(access.Message) bool,
	on func(mesh.Address, access.Message), after func(q *groupQuery, canceled bool)) {
	q := &groupQuery{want: want, match: match, on: on, silent: make(map[mesh.Address]bool, len(addrs)), began: c.cfg.Clock.Now()}
	for _, a := range addrs {
		q.silent[a] = true
	}
	q.after = func(canceled bool) { after(q, canceled) }
	c.groups = append(c.groups, q)
	// TTL 0: the neighbours hear it, no relay forwards it, and they
	// answer with TTL 0 too.
	ctx := &access.Context{Dst: c.group, Label: c.label, AppKeyIndex: c.cfg.AppKeyIndex, TTL: 0}
	if c.group.IsGroup() {
		ctx.Label = nil
	}
	c.stats.GroupSends++
	err := c.cfg.Layer.Send(c.model, ctx, msg, func(err error) {
		if q.ended {
			return
		}
		if err != nil {
			c.log.Debug("dfu: client: group request failed", "opcode", msg.Opcode(), "err", err)
		}
		c.armGroup(q, groupCollect)
	})
	if err != nil {
		c.log.Debug("dfu: client: group request not sent", "opcode", msg.Opcode(), "err", err)
		c.endGroup(q, false)
	}
}

// armGroup waits d for answers to q; answers in that wait earn another.
func (c *Client) armGroup(q *groupQuery, d time.Duration) {
	q.heard = 0
	q.timer = c.cfg.Clock.AfterFunc(d, func() {
		if q.ended {
			return
		}
		if q.heard > 0 && len(q.silent) > 0 && c.cfg.Clock.Now().Sub(q.began) < groupCollectMax {
			c.armGroup(q, groupExtend)
			return
		}
		c.endGroup(q, false)
	})
}

func (c *Client) endGroup(q *groupQuery, canceled bool) {
	if q.ended {
		return
	}
	q.ended = true
	if q.timer != nil {
		q.timer.Stop()
	}
	c.groups = slices.DeleteFunc(c.groups, func(p *groupQuery) bool { return p == q })
	c.log.Debug("dfu: client: group request ended", "opcode", q.want, "silent", len(q.silent))
	q.after(canceled)
}

// groupAnswer gives a status from src to the group query waiting for it;
// false when none is.
func (c *Client) groupAnswer(src mesh.Address, op access.Opcode, resp access.Message) bool {
	for _, q := range c.groups {
		if q.want == op && q.silent[src] && q.match(resp) {
			delete(q.silent, src)
			q.heard++
			c.stats.GroupAnswers++
			q.on(src, resp)
			if len(q.silent) == 0 {
				c.endGroup(q, false)
			}
			return true
		}
	}
	return false
}

// silentOf returns the addresses of addrs that q did not hear, in order.
func silentOf(addrs []mesh.Address, q *groupQuery) []mesh.Address {
	var out []mesh.Address
	for _, a := range addrs {
		if q.silent[a] {
			out = append(out, a)
		}
	}
	return out
}

// viaGroup runs a procedure's request to addrs through the group: msg to
// the group, each answer to cb, and then follow(silent, done) for the
// targets not heard. Abort reports them with ErrCanceled instead.
func (c *Client) viaGroup(addrs []mesh.Address, msg access.Message, want access.Opcode, match func(access.Message) bool,
	cb func(mesh.Address, access.Message, error), follow func(silent []mesh.Address, done func()), done func()) {
	c.askGroup(addrs, msg, want, match, func(a mesh.Address, resp access.Message) {
		if cb != nil {
			cb(a, resp, statusErr(msg.Opcode(), a, resp))
		}
	}, func(q *groupQuery, canceled bool) {
		silent := silentOf(addrs, q)
		if canceled {
			for _, a := range silent {
				if cb != nil {
					cb(a, nil, ErrCanceled)
				}
			}
			if done != nil {
				done()
			}
			return
		}
		follow(silent, done)
	})
}

// startFollowUp asks a silent target of a group Start with Firmware Update
// Get: in the transfer with this BLOB ID, its status is the Start's;
// otherwise (or silent again) it gets the Start by unicast. The Get is
// sent once, so that a target that is gone does not keep the others
// waiting for their transfer much longer than a unicast Start would;
// when it stays silent, the group Start and the Get count as two of the
// Start's Retries+1 sends.
func (c *Client) startFollowUp(a mesh.Address, start *UpdateStart, cb func(mesh.Address, access.Message, error), next func()) {
	report := func(resp access.Message, err error) {
		if cb != nil {
			cb(a, resp, err)
		}
		next()
	}
	unicast := func(retries int) {
		if err := c.request(a, start, retries, report); err != nil {
			report(nil, err)
		}
	}
	err := c.request(a, &UpdateGet{}, 0, func(resp access.Message, err error) {
		st, _ := resp.(*UpdateStatus)
		switch {
		case errors.Is(err, ErrCanceled):
			report(nil, err)
		case err == nil && st.Details && st.BLOBID == start.BLOBID && st.ImageIndex == start.ImageIndex &&
			(st.Phase == PhaseTransferActive || st.Phase == PhaseVerifyingUpdate || st.Phase == PhaseVerificationSucceeded):
			report(resp, nil)
		case err == nil:
			unicast(c.cfg.Retries) // it answers: not in this transfer yet
		case c.multiHop():
			// Silent over relays: it may not have heard the group.
			unicast(c.cfg.Retries)
		default:
			// Silent twice on one hop: the group Start and the Get
			// count as two of its sends.
			unicast(max(c.cfg.Retries-2, 0))
		}
	})
	if err != nil {
		unicast(c.cfg.Retries)
	}
}
