package blob

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Tests of Block Start answered with Wrong Phase by a server that holds
// another block open (blob.md §11.2, Block Start row 3: its Block Status
// names the open block and its Chunk Size): the first transfer's group
// Block Start reached a target it had lost, or a distributor opened the
// block before its restart.

// openBlockNet is a fake network of n targets that take blocks of at most
// 4 KiB (a 40000-octet BLOB is 10 blocks).
func openBlockNet(t *testing.T, n int, seed uint64) *fakeNet {
	f := newFakeNet(t, n, seed)
	for _, s := range f.order {
		s.caps.MaxBlockSizeLog = 12
	}
	return f
}

// openBlockCase runs a transfer of data to the fake targets until every
// target took Block Start of block 1, suspends the client, has other (a
// target) hold block ob open with cs-octet chunks, and resumes.
func openBlockCase(t *testing.T, f *fakeNet, c *Client, data []byte, r *runResult, other *fakeSrv, ob int, cs uint16) {
	t.Helper()
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs()}, r)
	open1 := func() bool {
		for _, s := range f.order {
			if s.phase != PhaseWaitingForChunk || s.block != 1 || !s.blocks.Has(1) {
				return false
			}
		}
		return true
	}
	f.runUntil(open1, time.Hour)
	if !open1() || BlockCount(other.size, other.log2) <= ob {
		t.Fatalf("targets not in block 1 of at least %d blocks", ob+1)
	}
	if err := c.Suspend(); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * time.Second)
	if other.chunkSize == cs {
		t.Fatalf("client chose the %d-octet chunks the test opens the block with", cs)
	}
	other.block, other.chunkSize = ob, cs
	other.missing = FullChunkSet(ChunkCount(BlockLen(other.size, other.log2, ob), cs))
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
}

// A target holding another block open while others are in the block sits
// the block out and, its server suspended meanwhile, gets the block alone
// after the others and before the next block (OnBlockDone names a block
// every remaining target holds): every target ends with the whole BLOB.
func TestClient_OpenBlockElsewhereSitsOut(t *testing.T) {
	f := openBlockNet(t, 3, 21)
	b := f.order[2]
	b.dropBad = true
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(40000, 7)
	var r runResult
	r.onBlock = func(bl int) {
		remaining := map[*fakeSrv]bool{}
		for _, s := range f.order {
			remaining[s] = true
		}
		for _, e := range r.lost {
			delete(remaining, f.srv[e.Target])
		}
		for s := range remaining {
			if s.blocks.Has(bl) {
				t.Errorf("block %d done while %v misses it", bl, s.addr)
			}
		}
	}
	f.before = func(s *fakeSrv, m access.Message) {
		bs, ok := m.(*BlockStart)
		if s != b || !ok || bs.BlockNumber != 1 || s.phase != PhaseWaitingForChunk || s.block == 1 {
			return
		}
		if f.order[0].blocks.Has(1) || f.order[1].blocks.Has(1) {
			return
		}
		// A real server's inactivity timer runs out while it sits the
		// block out; the fake has none.
		s.phase = PhaseSuspended
	}
	openBlockCase(t, f, c, data, &r, b, 3, 100)
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 3)
	if len(r.lost) != 0 {
		t.Fatalf("lost %v", r.lost)
	}
}

// A lone target holding open another block it still needs gets that block
// first, with the Chunk Size it holds it open with, and then the rest.
func TestClient_OpenBlockElsewhereFirstWhenAlone(t *testing.T) {
	f := openBlockNet(t, 1, 23)
	s := f.order[0]
	s.dropBad = true
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(40000, 9)
	var r runResult
	openBlockCase(t, f, c, data, &r, s, 3, 100)
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 1)
	if len(r.lost) != 0 || r.res.Stats.Adopted != 1 {
		t.Fatalf("lost %v, blocks adopted %d, want none and 1", r.lost, r.res.Stats.Adopted)
	}
	at := map[int]int{}
	for i, bl := range r.blocks {
		if _, ok := at[bl]; !ok {
			at[bl] = i
		}
	}
	if a3, ok3 := at[3]; !ok3 || a3 > at[1] {
		t.Fatalf("blocks done in order %v, want the open block 3 before block 1", r.blocks)
	}
}

// A Wrong Phase answer naming exactly the block and Chunk Size the client
// asks for, with chunks already received (a late answer to the Block
// Start of another block: a server holding this block open with this
// size answers Success), does not lose the target.
func TestClient_LateWrongPhaseForAskedBlock(t *testing.T) {
	f := openBlockNet(t, 1, 25)
	s := f.order[0]
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(40000, 11)
	injected := false
	f.before = func(srv *fakeSrv, m access.Message) {
		bs, ok := m.(*BlockStart)
		if !ok || bs.BlockNumber != 1 || injected {
			return
		}
		injected = true
		n := ChunkCount(BlockLen(srv.size, srv.log2, 1), bs.ChunkSize)
		missing := FullChunkSet(n)
		missing.Clear(0)
		f.inject(srv, &BlockStatus{Status: StatusWrongPhase, Format: FormatSomeMissing, BlockNumber: 1,
			ChunkSize: bs.ChunkSize, Missing: missing})
	}
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs()}, &r)
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	if !injected {
		t.Fatalf("no Block Start of block 1 reached %v", s.addr)
	}
	mustComplete(t, f, &r, data, 1)
	if len(r.lost) != 0 {
		t.Fatalf("lost %v", r.lost)
	}
}
