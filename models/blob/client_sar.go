package blob

import (
	"math"
)

// Blind SAR repetition of group chunks (docs/blob-strategy.md, "Repair").
//
// A chunk to a group is lost at a target when any of its segments is, and
// the BLOB protocol repairs whole chunks. The transport's SAR Multicast
// Retransmissions send every segment of a message again with the same
// SeqAuth, and a target's SAR receiver fills in the segments it missed
// from any pass: a segment sent s times is missed with loss^s, so a chunk
// of k segments with 1 − (1 − loss^s)^k instead of 1 − (1 − loss)^k. The
// client therefore sets the client node's Multicast Retransmissions Count
// for each pass of a block (ClientConfig.SAR), sized with PlanSAR so that
// after the first pass most targets hold the whole block and answer Block
// Get in one PDU ("no chunks missing"); repairs are new messages, each
// with its own passes.

// sarMinSegments is the smallest chunk, in segments, a block sized for SAR
// repetition must allow (it bounds the Block Size Log through Max Total
// Chunks).
const sarMinSegments = 4

// useSAR reports whether group chunks to n receivers go with SAR
// repetition.
func (c *Client) useSAR(n int) bool {
	return c.cfg.SAR != nil && c.strat.MaxSARPasses > 1 && c.strat.ChunkSize == 0 &&
		n > 1 && c.group != 0 && c.xfer.Mode != ModePull && c.mode != ModePull
}

// chooseBlockChunk picks the current block's Chunk Size for n receivers at
// the given loss, and its SAR passes when it goes to a group with SAR
// repetition.
func (c *Client) chooseBlockChunk(n int, loss float64) uint16 {
	c.sarFirst, c.sarRepair = 0, 0
	if !c.multicast || !c.useSAR(n) {
		return c.strat.chooseChunk(c.lim, c.blockLen, n, loss)
	}
	pl := c.planSAR(n, loss, 0)
	if pl.ChunkSize == 0 {
		return c.strat.chooseChunk(c.lim, c.blockLen, n, loss)
	}
	c.sarFirst, c.sarRepair = pl.FirstPasses, pl.RepairPasses
	c.log.Debug("blob client: SAR plan", "chunk_size", pl.ChunkSize, "first", pl.FirstPasses, "repair", pl.RepairPasses,
		"expected_s", pl.ExpectedTime, "complete_share", pl.CompleteShare)
	return pl.ChunkSize
}

// planSAR runs PlanSAR for the current block, n receivers and loss; with
// size > 0 only for chunks of that size.
func (c *Client) planSAR(n int, loss float64, size uint16) SARPlan {
	// Every chunk size must keep a full block within Max Total Chunks:
	// a server checks the full block size, even for the last block.
	full := int(min(uint64(c.xfer.Size), BlockSize(c.log2)))
	tc := c.strat.blockChunks(c.lim)
	lo, hi := (full+tc-1)/tc, c.lim.chunkLimit()
	if size > 0 {
		lo, hi = int(size), int(size)
	}
	return PlanSAR(loss, n, c.blockLen, lo, hi, c.strat.MaxChunkSegments, c.strat.MaxSARPasses, c.pduCost())
}

// replanSAR runs after a block's first pass with the loss it measured:
// it sets the repair passes for the block's chunk size, and reports
// whether the block should start over with another chunk (the chunk in
// use would take more than twice as long as the best one: a first pass
// that most targets missed, e.g. over relays where long chunks meet
// collisions at every hop).
func (c *Client) replanSAR(n int) (rechunk bool) {
	cur := c.planSAR(n, c.loss, c.chunkSize)
	if cur.ChunkSize == 0 {
		return false
	}
	c.sarRepair = cur.RepairPasses
	best := c.planSAR(n, c.loss, 0)
	return best.ChunkSize != 0 && best.ChunkSize != c.chunkSize && cur.ExpectedTime > 2*best.ExpectedTime
}

// sarPasses is how many times the transport sends each segment of a
// chunk in the pass running now.
func (c *Client) sarPasses() int {
	switch {
	case c.sarFirst == 0:
		return 1
	case c.firstPass:
		return c.sarFirst
	}
	return max(c.sarRepair, 1)
}

// setSARPasses sets the node's Multicast Retransmissions Count for the
// pass that starts, saving the state it found.
func (c *Client) setSARPasses() {
	if c.sarFirst == 0 || c.cfg.SAR == nil || !c.multicast {
		return
	}
	cur := c.cfg.SAR.SARTransmitter()
	if c.sarSaved == nil {
		saved := cur
		c.sarSaved = &saved
	}
	cur.MulticastRetransmissionsCount = uint8(min(c.sarPasses()-1, 15))
	cur.MulticastRetransmissionsIntervalStep = 0 // 25 ms: the passes follow each other
	if err := c.cfg.SAR.SetSARTransmitter(cur); err != nil {
		c.log.Warn("blob client: SAR passes", "err", err)
	}
}

// restoreSAR gives the node back the SAR Transmitter state it had.
func (c *Client) restoreSAR() {
	if c.sarSaved == nil || c.cfg.SAR == nil {
		return
	}
	if err := c.cfg.SAR.SetSARTransmitter(*c.sarSaved); err != nil {
		c.log.Warn("blob client: restore SAR", "err", err)
	}
	c.sarSaved = nil
}

// blindBlockStart reports whether the first Block Start of a block to n
// targets goes blind (startBlindRoundtrip): to a large group in push mode
// that waits for the answers before the data. Collecting a hundred
// answers to a group request takes several rounds (they collide within
// the reply delay, and at 10 % loss a fifth of the exchanges fail), while
// a target that missed every blind send only costs a Block Start in the
// Block Get round after the pass.
func (c *Client) blindBlockStart(n int) bool {
	return c.strat.BlindBlockStart && c.multicast && c.mode == ModePush && c.firstPass &&
		c.group != 0 && c.strat.GroupQueryMin > 0 && n >= c.strat.GroupQueryMin
}

// estimateLossSAR turns the share of chunks of k segments a target missed
// after each segment was sent s times (same SeqAuth) into a per-PDU loss:
// missed = 1 − (1 − loss^s)^k.
func estimateLossSAR(missedShare float64, k, s int) float64 {
	missedShare = min(max(missedShare, 0), 0.999)
	seg := 1 - math.Pow(1-missedShare, 1/float64(max(k, 1)))
	return math.Pow(seg, 1/float64(max(s, 1)))
}
