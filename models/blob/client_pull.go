package blob

import (
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Pull mode (blob.md §12.6 step 4): each target asks for chunks with the
// list in its Block Status and then with Partial Block Reports. The client
// keeps each target's request, sends the union of what is asked (once to
// the group, or to each requester), and waits for the next report; a
// target that stays silent for Strategy.PullReportTimeout after its batch
// gets the batch again, and is lost after Strategy.Attempts such tries. An
// empty report means the target has the block.

// pullRequest records that t asks for list.
func (c *Client) pullRequest(t *cliTarget, list []uint16) {
	if !slices.Equal(list, t.pullSent) {
		t.pullTries = 0
	}
	if len(list) == 0 {
		c.markBlockDone(t)
		c.pullCheckDone()
		return
	}
	t.pullReq = append(t.pullReq[:0], list...)
	t.pullPending = true
	c.stopPullTimer(t)
	if c.startRT == nil {
		c.pullKick()
	}
}

// onReport handles a Partial Block Report from t.
func (c *Client) onReport(t *cliTarget, list []uint16) {
	if c.state != ClientBlock || c.mode != ModePull || t.blockDone || !t.started {
		return // e.g. Zephyr's empty reports after the last block (blob.md §13 #4)
	}
	c.pullRequest(t, list)
}

// pullKick starts a pass over the union of pending requests when none runs.
func (c *Client) pullKick() {
	if c.state != ClientBlock || c.mode != ModePull || c.sending || c.inflight > 0 {
		return
	}
	u := NewChunkSet(c.nChunks)
	var batch []*cliTarget
	for _, t := range c.active() {
		if t.blockDone {
			continue
		}
		if !t.pullPending {
			// Its batch went out already: unicast passes serve only the
			// requesters (a repeat would also fill a Friend Queue).
			t.missing = NewChunkSet(c.nChunks)
			continue
		}
		t.missing = NewChunkSet(c.nChunks)
		for _, ch := range t.pullReq {
			t.missing.Set(int(ch))
			u.Set(int(ch))
		}
		t.pullSent = append(t.pullSent[:0], t.pullReq...)
		t.pullPending = false
		batch = append(batch, t)
	}
	if u.Empty() {
		if !c.pullBusy() {
			c.stopSending()
			c.blockFinished()
		}
		return
	}
	// Each requester waits for its report from the end of this pass.
	est := time.Duration(0)
	if c.strat.PDUInterval > 0 {
		est = time.Duration(u.Count()*c.chunkPDUs(int(c.chunkSize))*max(1, c.dataDests(-1))) * c.strat.PDUInterval
	}
	for _, t := range batch {
		c.armPullTimer(t, est+c.strat.PullReportTimeout)
	}
	c.sendPass(u)
}

func (c *Client) armPullTimer(t *cliTarget, d time.Duration) {
	c.stopPullTimer(t)
	gen := t.pullGen
	t.pullTimer = c.clk.AfterFunc(d, func() {
		if gen == t.pullGen {
			c.onPullTimeout(t)
		}
	})
}

func (c *Client) stopPullTimer(t *cliTarget) {
	t.pullGen++
	if t.pullTimer != nil {
		t.pullTimer.Stop()
		t.pullTimer = nil
	}
}

// onPullTimeout: no report from t since its batch. Its report may be
// lost, and a server repeats one only when its report timer (T_BPI)
// expires, which every chunk it hears restarts, so while other targets'
// chunks flow it would never repeat it. A Block Get asks it directly: in
// Pull mode the Block Status carries the chunks it wants next (blob.md
// §11.2). Attempts such tries without progress lose the target.
func (c *Client) onPullTimeout(t *cliTarget) {
	t.pullTimer = nil
	if t.lost != nil || t.blockDone || c.state != ClientBlock {
		return
	}
	t.pullTries++
	if t.pullTries > c.strat.Attempts {
		c.lose(t, &LostError{Target: t.addr, Step: "Partial Block Report", Timeout: true, Attempts: t.pullTries - 1})
		if c.checkTargets() {
			c.pullCheckDone()
		}
		return
	}
	gen := c.gen
	c.startRoundtrip("Block Get", &BlockGet{}, OpBlockStatus, []*cliTarget{t}, false,
		func(t *cliTarget, m access.Message) bool {
			st := m.(*BlockStatus)
			switch {
			case st.Status == StatusInformationUnavailable || st.Status == StatusWrongPhase:
				t.needStart = true // suspended: Block Start resumes it
			case st.Status != StatusSuccess:
				c.loseStatus(t, "Block Status", st.Status)
			case st.BlockNumber != uint16(c.block):
				t.needStart = true
			case st.Format == FormatNoneMissing:
				c.markBlockDone(t)
			case st.Format == FormatEncodedList:
				tries := t.pullTries
				c.pullRequest(t, st.EncodedMissing)
				t.pullTries = tries // progress is a new chunk, not an answer
			}
			return true
		}, func() {
			if gen != c.gen || c.state != ClientBlock || !c.checkTargets() {
				return
			}
			if t.lost == nil && t.needStart && c.startRT == nil {
				t.needStart = false
				c.startRT = c.blockStartRoundtrip([]*cliTarget{t})
				return
			}
			if t.lost == nil && !t.blockDone && t.pullTimer == nil && !t.pullPending {
				c.armPullTimer(t, c.strat.PullReportTimeout)
			}
			c.pullCheckDone()
		})
}

// pullCheckDone finishes the block when every active target has it.
func (c *Client) pullCheckDone() {
	if c.state != ClientBlock || c.mode != ModePull || c.startRT != nil {
		return
	}
	if c.pullBusy() {
		if !c.sending && c.inflight == 0 {
			c.pullKick()
		}
		return
	}
	c.stopSending()
	c.blockFinished()
}

// pullBusy reports whether an active target still misses the block.
func (c *Client) pullBusy() bool {
	return slices.ContainsFunc(c.active(), func(t *cliTarget) bool { return !t.blockDone })
}
