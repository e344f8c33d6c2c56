package blob

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// sendPass sends every chunk of set once (Send Data, blob.md §12.6 step 2):
// to the group, or to each target that misses it. Chunks are paced so the
// node's advertiser is never fed faster than it drains.
func (c *Client) sendPass(set ChunkSet) {
	if !c.firstPass {
		c.stats.RepairPasses++
	}
	c.pass = set
	c.passNext = 0
	c.sending = true
	c.setSARPasses()
	c.sendNextChunk()
}

func (c *Client) stopSending() {
	c.sending = false
	c.restoreSAR()
	if c.sendTimer != nil {
		c.sendTimer.Stop()
		c.sendTimer = nil
	}
}

// minBacklogWait is the shortest wait per queued PDU when the strategy
// does not pace (PDUInterval 0), so a full queue is polled, not spun on.
const minBacklogWait = 5 * time.Millisecond

// backlogDelay estimates how long the PDUs already queued on the
// advertiser take to leave.
func (c *Client) backlogDelay() time.Duration {
	if c.cfg.TxBacklog == nil {
		return 0
	}
	return time.Duration(c.cfg.TxBacklog()) * c.strat.PDUInterval
}

// chunkPDUs is the number of advertising events one chunk message of size
// octets costs the client.
func (c *Client) chunkPDUs(size int) int {
	n := ChunkSegments(size) * c.strat.NetworkTransmit.Transmissions()
	if c.multicast && n > 1 {
		n *= c.sarPasses()
	}
	return n
}

// sendNextChunk sends the next chunk of the pass, or ends the pass.
func (c *Client) sendNextChunk() {
	if !c.sending {
		return
	}
	c.sendTimer = nil
	if c.state != ClientBlock {
		c.stopSending()
		return
	}
	// Hold while the transport still has too much of ours, or the
	// advertiser queue is deep.
	dests := c.dataDests(-1)
	if c.inflight >= 2*max(dests, 1) {
		return // the transport's done callback resumes
	}
	if c.cfg.TxBacklog != nil && c.strat.MaxBacklog > 0 {
		if b := c.cfg.TxBacklog(); b > c.strat.MaxBacklog {
			c.armSend(time.Duration(b-c.strat.MaxBacklog) * max(c.strat.PDUInterval, minBacklogWait))
			return
		}
	}
	i := c.pass.Next(c.passNext)
	if i < 0 && c.repeats > 0 {
		c.repeats-- // blind repetition of the first pass (Strategy.passRepeats)
		c.passNext = 0
		i = c.pass.Next(0)
	}
	if i < 0 {
		c.sending = false
		if c.inflight == 0 {
			c.afterPass()
		}
		return
	}
	c.passNext = i + 1
	size := ChunkLen(c.blockLen, c.chunkSize, i)
	off := BlockOffset(c.log2, c.block) + int64(i)*int64(c.chunkSize)
	if cap(c.buf) < size {
		c.buf = make([]byte, size)
	}
	c.buf = c.buf[:size]
	if _, err := c.xfer.Data.ReadAt(c.buf, off); err != nil {
		c.end(fmt.Errorf("blob: read chunk %d of block %d at %d: %w", i, c.block, off, err))
		return
	}
	c.chunk = ChunkTransfer{Number: uint16(i), Data: c.buf}
	sent := 0
	gen := c.gen
	done := func(error) {
		if gen != c.gen {
			return
		}
		c.inflight--
		if c.sending && c.sendTimer == nil {
			c.sendNextChunk()
		} else if !c.sending && c.inflight == 0 && c.state == ClientBlock {
			c.afterPass()
		}
	}
	if c.multicast {
		if c.send(c.group, c.groupTTL(), &c.chunk, done) {
			sent++
		}
	} else {
		for _, t := range c.active() {
			if !t.blockDone && (t.missing.Len() != c.nChunks || t.missing.Has(i)) {
				if c.send(t.addr, c.ttlTo(t, 1), &c.chunk, done) {
					sent++
				}
			}
		}
	}
	c.inflight += sent
	c.lastChunk = c.clk.Now()
	c.sentShort = c.sentShort || (sent > 0 && size != int(c.chunkSize))
	c.stats.Chunks += uint64(sent)
	c.stats.ChunkOctets += uint64(sent * size)
	var wait time.Duration
	if c.strat.PDUInterval > 0 {
		// Over relays every chunk PDU costs each relay its Relay
		// Retransmit transmissions: book the air, so the relays' queues
		// stay short and the queries after the pass get through.
		wait = c.reserveAir(sent * c.chunkPDUs(size))
		wait += time.Duration(sent*c.chunkPDUs(size)) * c.pduCost()
	}
	c.armSend(wait)
}

// dataDests is how many messages one chunk costs: 1 to a group, else one
// per target that is not done.
func (c *Client) dataDests(chunk int) int {
	if c.multicast {
		return 1
	}
	n := 0
	for _, t := range c.targets {
		if t.lost == nil && !t.blockDone {
			n++
		}
	}
	return n
}

func (c *Client) armSend(d time.Duration) {
	gen := c.gen
	c.sendTimer = c.clk.AfterFunc(d, func() {
		if gen == c.gen {
			c.sendNextChunk()
		}
	})
}

// afterPass runs Determine Block Status once the pass has left the
// transport (blob.md §12.6 step 3): Block Get to every target that is not
// done, then repair with the union of what they miss.
func (c *Client) afterPass() {
	if c.state != ClientBlock {
		return
	}
	c.restoreSAR() // the pass is over: queries go with the node's own SAR state
	if c.mode == ModePull {
		c.pullKick()
		return
	}
	if c.startRT != nil {
		return // the pipelined Block Start is still collecting answers; its end calls back
	}
	// Targets that came back suspended (or rebooted) need Block Start again.
	var restart []*cliTarget
	for _, t := range c.active() {
		if t.needStart && !t.blockDone {
			restart = append(restart, t)
		}
	}
	var xfer []*cliTarget
	for _, t := range restart {
		if t.needXfer {
			xfer = append(xfer, t)
		}
	}
	if len(xfer) > 0 {
		// They missed the blind Transfer Start: send it acknowledged,
		// then come back here for their Block Start.
		gen := c.gen
		c.startRT = c.startRoundtrip("Transfer Start", c.transferStartMsg(), OpTransferStatus, xfer, true,
			func(t *cliTarget, m access.Message) bool {
				if !c.onTransferStartStatus(t, m.(*TransferStatus)) {
					return false
				}
				t.needStart = true // its Block Start follows
				return true
			}, func() {
				if gen == c.gen {
					c.startRT = nil
					if c.checkTargets() {
						c.afterPass()
					}
				}
			})
		return
	}
	if len(restart) > 0 {
		for _, t := range restart {
			t.needStart = false
			t.missing = FullChunkSet(c.nChunks)
		}
		c.startRT = c.blockStartRoundtrip(restart)
		return
	}
	var ask []*cliTarget
	for _, t := range c.active() {
		if !t.blockDone {
			ask = append(ask, t)
		}
	}
	if len(ask) == 0 {
		c.blockFinished()
		return
	}
	// Let the queued PDUs leave before the query's timer starts.
	wait := c.backlogDelay()
	gen := c.gen
	if c.confirmsLastBlock() {
		c.early = c.block + 1
		c.clk.AfterFunc(wait, func() {
			if gen == c.gen {
				c.confirmLastBlock(ask)
			}
		})
		return
	}
	c.clk.AfterFunc(wait, func() {
		if gen != c.gen {
			return
		}
		c.startRoundtrip("Block Get", &BlockGet{}, OpBlockStatus, ask, true,
			func(t *cliTarget, m access.Message) bool { return c.onBlockGetStatus(t, m.(*BlockStatus)) },
			func() {
				if gen == c.gen && c.checkTargets() {
					c.repair()
				}
			})
	})
}

// confirmsLastBlock reports whether the first pass of the last block is
// followed by Transfer Get instead of Block Get: when no loss was seen
// every target most likely holds the block, and its Transfer Status
// (phase Complete) confirms the block and the transfer at once (blob.md
// §12.7), one query round fewer. A target not Complete is then asked
// with Block Get as usual. One hop only: over relays it made the 50-target
// distribution of models/dfd fail (Wrong Phase at Block Start; the cause
// was not isolated), and there the Transfer Status answers cost the most.
func (c *Client) confirmsLastBlock() bool {
	if !c.firstPass || c.loss > 0 || c.mode != ModePush || c.early == c.block+1 || !c.strat.ConfirmLastBlock || c.multiHop() {
		return false
	}
	for b := c.block + 1; b < c.blocks; b++ {
		for _, t := range c.active() {
			if t.needsBlock(b) {
				return false
			}
		}
	}
	return true
}

// confirmLastBlock sends Transfer Get to ask (the targets not done with
// the last block): Complete confirms the block and the transfer; another
// phase sends the target on to Block Get (afterPass).
func (c *Client) confirmLastBlock(ask []*cliTarget) {
	gen := c.gen
	c.startRoundtrip("Transfer Get", &TransferGet{}, OpTransferStatus, ask, true,
		func(t *cliTarget, m access.Message) bool {
			st := m.(*TransferStatus)
			switch {
			case st.Status != StatusSuccess:
				c.loseStatus(t, "Transfer Status", st.Status)
			case st.HasID && st.ID != c.xfer.ID:
				c.lose(t, &LostError{Target: t.addr, Step: "Transfer Status", Status: StatusWrongBLOBID,
					Detail: fmt.Sprintf("BLOB ID %016x, want %016x", st.ID, c.xfer.ID)})
			case st.Phase == PhaseComplete:
				c.markBlockDone(t)
				t.complete = true
				t.blocksDone = c.blocks
				t.octetsDone = uint64(c.xfer.Size)
				c.progress(t)
			}
			return true // not Complete: Block Get tells what it misses
		}, func() {
			if gen == c.gen && c.checkTargets() {
				c.afterPass()
			}
		})
}

func (c *Client) onBlockGetStatus(t *cliTarget, st *BlockStatus) bool {
	if c.missedTransferStart(t, st.Status) {
		return true
	}
	switch st.Status {
	case StatusSuccess:
	case StatusInformationUnavailable, StatusWrongPhase:
		// Suspended (inactivity, or a reboot): Block Start resumes it.
		t.needStart = true
		t.missing = FullChunkSet(c.nChunks)
		return true
	default:
		c.loseStatus(t, "Block Status", st.Status)
		return true
	}
	if st.BlockNumber != uint16(c.block) {
		t.needStart = true // it never opened this block
		t.missing = FullChunkSet(c.nChunks)
		return true
	}
	c.takeBlockStatus(t, st)
	return true
}

// repair sends the union of missing chunks, or finishes the block.
func (c *Client) repair() {
	if c.firstPass && c.strat.Adaptive && c.multicast {
		c.updateLoss()
		if c.rechunk() {
			return
		}
	}
	if !c.firstPass && c.strat.Adaptive && c.multicast && c.updateRepairLoss() && c.rechunk() {
		return
	}
	c.firstPass = false
	for _, t := range c.active() {
		if t.needStart && !t.blockDone {
			c.afterPass() // Block Start first
			return
		}
	}
	u := c.unionMissing()
	for _, t := range c.active() {
		t.sentRepair = ChunkSet{}
		if t.started && !t.blockDone && t.missing.Len() == c.nChunks {
			t.sentRepair = t.missing.Clone()
		}
	}
	if u.Empty() {
		allDone := true
		for _, t := range c.active() {
			if !t.blockDone {
				allDone = false
			}
		}
		if allDone {
			c.blockFinished()
			return
		}
		c.afterPass()
		return
	}
	c.sendPass(u)
}

// updateLoss re-estimates the per-PDU loss from the first pass (blob.md
// §9.2: a chunk of k PDUs to a group survives with (1 − loss)^k; sent r
// times, a target misses it with (1 − (1 − loss)^k)^r). Without
// repetition it takes the median share of chunks the targets missed, so a
// few targets that were transmitting while chunks went by (half duplex)
// do not shrink everyone's chunks; with repetition misses are rare and the
// median would read 0, so it takes the mean. A falling estimate only
// halves the distance per block, so one lucky block does not undo it.
func (c *Client) updateLoss() {
	var shares []float64
	for _, t := range c.active() {
		switch {
		case t.deferSize != 0: // sat the pass out
		case t.blockDone:
			shares = append(shares, 0)
		case t.started && t.missing.Len() == c.nChunks:
			shares = append(shares, float64(t.missing.Count())/float64(c.nChunks))
		}
	}
	if len(shares) == 0 {
		return
	}
	c.measured = true
	var m float64
	if c.sarFirst > 1 {
		for _, v := range shares {
			m += v
		}
		m /= float64(len(shares))
	} else if c.passes > 1 {
		for _, v := range shares {
			m += v
		}
		m /= float64(len(shares))
		m = math.Pow(m, 1/float64(c.passes))
	} else {
		slices.Sort(shares)
		m = shares[len(shares)/2]
	}
	est := estimateLoss(m, ChunkSegments(int(c.chunkSize)))
	if c.sarFirst > 1 {
		est = estimateLossSAR(m, ChunkSegments(int(c.chunkSize)), c.sarFirst)
	}
	if est < c.loss {
		est = (est + c.loss) / 2
	}
	c.loss = est
	c.log.Debug("blob client: loss estimate", "loss", c.loss, "targets", len(shares), "passes", c.passes)
}

// updateRepairLoss re-estimates the loss from the last repair pass when
// the targets missed most of what it sent them (the median share of the chunks
// each target missed and was sent that it still misses): the first pass
// alone cannot always tell (when no target had heard Block Start yet, the
// estimate stays at its start), and without it a block whose chunks are
// far too long for the loss would be repaired with the same chunks and
// passes for ever. A repair pass that mostly landed leaves the estimate
// alone, and after a first pass that measured the loss so does a single
// bad one (over relays, raising it from every repair made the default
// run 9–20 % slower). The estimate only rises here; it sets the repair passes
// for the next pass (replanSAR) and reports whether it rose.
func (c *Client) updateRepairLoss() bool {
	var shares []float64
	for _, t := range c.active() {
		if t.sentRepair.Len() != c.nChunks || t.blockDone || !t.started || t.missing.Len() != c.nChunks {
			continue
		}
		sent, still := 0, 0
		for i := t.sentRepair.Next(0); i >= 0; i = t.sentRepair.Next(i + 1) {
			sent++
			if t.missing.Has(i) {
				still++
			}
		}
		if sent > 0 {
			shares = append(shares, float64(still)/float64(sent))
		}
	}
	if len(shares) == 0 {
		return false
	}
	// The median: one far or busy target that missed the pass does not
	// resize everyone's chunks.
	slices.Sort(shares)
	m := shares[len(shares)/2]
	if m < repairMissedShare {
		c.badRepair = 0
		return false
	}
	if c.badRepair++; c.measured && c.badRepair < 2 {
		return false // one unlucky pass after a measured first pass
	}
	k := ChunkSegments(int(c.chunkSize))
	est := estimateLoss(m, k)
	if c.sarFirst > 0 {
		est = estimateLossSAR(m, k, c.sarPasses())
	}
	// A pass that every target missed whole reads as a loss near 1,
	// which sizes nothing useful (and may have another cause: a target
	// still in an older block rejects every chunk): capped.
	est = min(est, maxRepairLoss)
	if est <= c.loss {
		return false
	}
	c.loss = est
	c.log.Debug("blob client: loss estimate from a repair pass", "loss", c.loss, "targets", len(shares))
	return true
}

// maxRepairLoss caps the loss updateRepairLoss estimates.
const maxRepairLoss = 0.5

// repairMissedShare is the share of a repair pass's chunks the median
// target must have missed for updateRepairLoss to raise the loss.
const repairMissedShare = 0.5

// rechunk restarts the current block with a smaller chunk when the first
// pass showed the chunk is far too big for the loss (a chunk of k PDUs to a
// group survives with (1 − loss)^k, so 32-segment chunks at 10 % loss reach
// a target 3 % of the time). A server keeps a block's Chunk Size until the
// block is complete or the transfer suspends, so the client stays silent
// until the servers' inactivity timer (10 s · (Timeout Base + 1)) suspends
// them, then sends Block Start again with the new size: a Suspended server
// accepts it and resumes (blob.md §11.5); completed blocks are kept. It
// reports whether it restarts.
func (c *Client) rechunk() bool {
	n := 0
	for _, t := range c.active() {
		if !t.blockDone {
			n++
		}
	}
	if n == 0 {
		return false
	}
	if c.sarFirst > 0 {
		if !c.replanSAR(n) {
			return false
		}
	} else {
		k := ChunkSegments(int(c.chunkSize))
		better := c.strat.chooseChunk(c.lim, c.blockLen, n, c.loss)
		kb := ChunkSegments(int(better))
		if kb >= k || ChunkEfficiency(k, c.loss, n) >= 0.5*ChunkEfficiency(kb, c.loss, n) {
			return false
		}
	}
	c.stats.Rechunks++
	c.stopKeepAlive() // the servers must suspend now
	c.log.Info("blob client: rechunk", "block", c.block, "chunk_size", c.chunkSize, "loss", c.loss)
	wait := 10*time.Second*time.Duration(int(c.cfg.TimeoutBase)+1) + 2*time.Second
	gen := c.gen
	b := c.block
	c.clk.AfterFunc(wait, func() {
		if gen == c.gen && c.state == ClientBlock && c.block == b {
			c.startBlock(b)
		}
	})
	return true
}
