package blob

import (
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// Keeping the servers of an open block awake.
//
// A server that hears no valid chunk or Block Start for its inactivity
// timeout, 10 s·(Timeout Base + 1), suspends, and the Block Start that
// resumes it opens the block afresh: every chunk missing again (blob.md
// §11.2, Block Start row 7). Over relays under heavy loss one round of
// Block Get can outlast that timeout (4½ minutes to 7 targets at 30 %
// bursty loss in the fault matrix's building), so the servers kept losing
// what they had of the block and no receiver ever completed it. While a
// query step (Block Get, Block Start) of an open block runs and no chunk
// went out for half the timeout (a quarter over relays: keepAliveAfter),
// the client sends one chunk: a chunk is never answered, and a valid one
// restarts the timer even when it is a duplicate (blob.md §11.2 Chunk
// Transfer). Only then: between a pass and its Block Get the chunk would
// cost air and spoil the loss measured.

// keepAliveAfter is how long a query step may run without a chunk: half
// the servers' inactivity timeout on one hop, a quarter over relays, where
// one chunk reaches a target less often, so that a few reach it before
// it suspends.
func (c *Client) keepAliveAfter() time.Duration {
	if c.multiHop() {
		return c.serverTimeout() / 4
	}
	return c.serverTimeout() / 2
}

// armKeepAlive (re)starts the keep-alive check of the current block.
func (c *Client) armKeepAlive() {
	c.stopKeepAlive()
	gen, every := c.gen, c.keepAliveAfter()
	c.keepTimer = c.clk.AfterFunc(every/2, func() {
		c.keepTimer = nil
		if gen != c.gen || c.state != ClientBlock || c.mode != ModePush {
			return
		}
		if !c.sending && c.inflight == 0 && c.clk.Now().Sub(c.quietSince()) >= every {
			c.sendKeepAlive()
		}
		c.armKeepAlive()
	})
}

// quietSince is when the servers last heard a chunk, or when the query
// step running began if later; now when no step runs.
func (c *Client) quietSince() time.Time {
	if len(c.rts) == 0 {
		return c.clk.Now()
	}
	since := c.lastChunk
	for _, rt := range c.rts {
		if rt.begun.After(since) {
			since = rt.begun
		}
	}
	return since
}

// stopKeepAlive stops the keep-alive until the next block starts: a
// rechunk waits for the servers to suspend.
func (c *Client) stopKeepAlive() {
	if c.keepTimer != nil {
		c.keepTimer.Stop()
		c.keepTimer = nil
	}
}

// sendKeepAlive sends one chunk of the current block to the targets still
// in it: the first one some target misses, else chunk 0.
func (c *Client) sendKeepAlive() {
	var to []*cliTarget
	for _, t := range c.active() {
		if !t.blockDone {
			to = append(to, t)
		}
	}
	if len(to) == 0 || c.nChunks == 0 {
		return
	}
	i := max(c.unionMissing().Next(0), 0)
	size := ChunkLen(c.blockLen, c.chunkSize, i)
	data := make([]byte, size)
	if _, err := c.xfer.Data.ReadAt(data, BlockOffset(c.log2, c.block)+int64(i)*int64(c.chunkSize)); err != nil {
		return // the next pass reports it
	}
	msg := &ChunkTransfer{Number: uint16(i), Data: data}
	c.lastChunk = c.clk.Now()
	c.stats.KeepAlives++
	c.log.Debug("blob client: keep-alive chunk", "block", c.block, "chunk", i, "targets", len(to))
	// The next block's Block Start waits until the chunk left (startBlock):
	// a segmented chunk still on its way would land in the next block of
	// a server that opened it meanwhile.
	gen := c.gen
	done := func(error) {
		if gen != c.gen {
			return
		}
		c.keepInflight--
		if c.keepInflight == 0 && c.keepNext > 0 && c.state == ClientBlock {
			b := c.keepNext - 1
			c.keepNext = 0
			c.startBlock(b)
		}
	}
	if c.multicast && c.group != mesh.AddrUnassigned {
		if c.send(c.group, c.groupTTL(), msg, done) {
			c.keepInflight++
		}
		return
	}
	for _, t := range to {
		if c.send(t.addr, c.ttlTo(t, 1), msg, done) {
			c.keepInflight++
		}
	}
}
