package blob

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

func mustComplete(t *testing.T, f *fakeNet, r *runResult, data []byte, want int) {
	t.Helper()
	if r.res == nil {
		t.Fatalf("no end at %v", f.clk.Now())
	}
	if r.res.Err != nil {
		t.Fatalf("end: %v (lost %v)", r.res.Err, r.res.Lost)
	}
	if len(r.res.Completed) != want {
		t.Fatalf("completed %d targets, want %d (lost %v)", len(r.res.Completed), want, r.res.Lost)
	}
	for _, a := range r.res.Completed {
		s := f.srv[a]
		if s.phase != PhaseComplete || !bytes.Equal(s.data, data) {
			t.Fatalf("target %v: phase %v, data equal %v", a, s.phase, bytes.Equal(s.data, data))
		}
	}
}

func TestClient_Transfers(t *testing.T) {
	cases := []struct {
		name    string
		targets int
		group   bool
		mode    TransferMode
		loss    float64
		strat   Strategy
	}{
		{"push unicast 1", 1, false, ModePush, 0, StrategyMeshdfu},
		{"push group 1", 1, true, ModePush, 0, StrategyMeshdfu},
		{"push group 10", 10, true, ModePush, 0, StrategyMeshdfu},
		{"push group 10 loss 10%", 10, true, ModePush, 0.1, StrategyMeshdfu},
		{"push unicast 3 loss 10%", 3, false, ModePush, 0.1, StrategyMeshdfu},
		{"push group 10 loss 30%", 10, true, ModePush, 0.3, StrategyMeshdfu},
		{"pull group 3", 3, true, ModePull, 0, StrategyMeshdfu},
		{"pull unicast 2 loss 10%", 2, false, ModePull, 0.1, StrategyMeshdfu},
		{"zephyr group 5", 5, true, ModePush, 0, StrategyZephyr},
		{"zephyr group 5 loss 10%", 5, true, ModePush, 0.1, StrategyZephyr},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNet(t, tc.targets, uint64(i+1))
			for _, s := range f.order {
				s.loss = tc.loss
			}
			c := f.newClient(tc.strat)
			data := testBLOB(10000, uint64(i))
			x := Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Mode: tc.mode, Targets: f.addrs()}
			if tc.group {
				x.Group = fakeGroup
			}
			var r runResult
			f.start(c, x, &r)
			f.runUntil(func() bool { return r.res != nil }, 2*time.Hour)
			mustComplete(t, f, &r, data, tc.targets)
			if len(r.lost) != 0 {
				t.Fatalf("lost %v", r.lost)
			}
			if c.State() != ClientIdle {
				t.Fatalf("state %v", c.State())
			}
			for _, p := range c.Progress() {
				if !p.Complete || p.BlocksDone != p.Blocks || p.OctetsDone != uint64(len(data)) {
					t.Fatalf("progress %+v", p)
				}
			}
			if r.progress == 0 || len(r.blocks) == 0 {
				t.Fatalf("callbacks: progress %d, blocks %v", r.progress, r.blocks)
			}
		})
	}
}

func TestClient_SilentTargetLost(t *testing.T) {
	f := newFakeNet(t, 4, 7)
	f.order[2].silent = true
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(3000, 1)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: 3000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 3)
	if len(r.lost) != 1 || r.lost[0].Target != f.order[2].addr || !r.lost[0].Timeout ||
		!errors.Is(r.lost[0], ErrTargetTimeout) {
		t.Fatalf("lost %v", r.lost)
	}
	want := "target 0x0102: Information Get: no answer after 16 tries"
	if got := r.lost[0].Error(); got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
}

// A target whose server holds the block open with another Chunk Size (a
// client before a restart opened it) answers Block Start with Wrong Phase
// naming that block (blob.md §11.2, Block Start row 3): the client takes
// its size for the block instead of losing the target.
func TestClient_AdoptsOpenBlock(t *testing.T) {
	f := newFakeNet(t, 1, 11)
	s := f.order[0]
	s.dropBad = true
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(3000, 5)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs()}, &r)
	f.runUntil(func() bool { return s.phase == PhaseWaitingForChunk }, time.Minute)
	if err := c.Suspend(); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(5 * time.Second)
	if s.phase != PhaseWaitingForChunk || s.chunkSize == 100 {
		t.Fatalf("server phase %v, chunk size %d", s.phase, s.chunkSize)
	}
	// Another client opened the block with 100-octet chunks.
	s.chunkSize = 100
	s.missing = FullChunkSet(ChunkCount(BlockLen(s.size, s.log2, s.block), 100))
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 1)
	if len(r.lost) != 0 || r.res.Stats.Adopted != 1 {
		t.Fatalf("lost %v, blocks adopted %d, want none and 1", r.lost, r.res.Stats.Adopted)
	}
}

// A unicast chunk to a target behind relays is at most 8 segments (a loss
// burst outlasts the transport's retransmissions of a 32-segment chunk);
// a neighbour gets the largest chunk.
func TestClient_RelayedUnicastChunk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		recvTTL uint8
		want    uint16
	}{
		{"3 hops", 5, 89},
		{"neighbour", access.DefaultTTLValue, 377},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNet(t, 1, 12)
			f.recvTTL = tc.recvTTL
			c := f.newClient(StrategyMeshdfu)
			data := testBLOB(5000, 6)
			var r runResult
			f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs()}, &r)
			f.runUntil(func() bool { return r.res != nil }, time.Hour)
			mustComplete(t, f, &r, data, 1)
			if got := f.order[0].chunkSize; got != tc.want {
				t.Fatalf("chunk size %d, want %d", got, tc.want)
			}
		})
	}
}

// When every target left falls silent the transfer suspends, and Resume
// brings them back: the owner is not told they were lost (it would give
// them up) unless the transfer ends without them.
func TestClient_SilenceSuspendsUnreported(t *testing.T) {
	f := newFakeNet(t, 2, 13)
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(5000, 7)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return f.order[0].phase == PhaseWaitingForChunk }, time.Minute)
	for _, s := range f.order {
		s.silent = true
	}
	f.runUntil(func() bool { return r.suspended > 0 || r.res != nil }, time.Hour)
	if r.suspended != 1 || r.res != nil || len(r.lost) != 0 {
		t.Fatalf("suspended %d, ended %v, lost %v; want suspended, no loss reported", r.suspended, r.res != nil, r.lost)
	}
	for _, s := range f.order {
		s.silent = false
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 2)
	if len(r.lost) != 0 {
		t.Fatalf("lost %v", r.lost)
	}

	// Silent again, then cancelled while suspended: the losses come with
	// the end.
	f2 := newFakeNet(t, 2, 14)
	c2 := f2.newClient(StrategyMeshdfu)
	var r2 runResult
	f2.start(c2, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f2.addrs(), Group: fakeGroup}, &r2)
	f2.runUntil(func() bool { return f2.order[0].phase == PhaseWaitingForChunk }, time.Minute)
	for _, s := range f2.order {
		s.silent = true
	}
	f2.runUntil(func() bool { return r2.suspended > 0 }, time.Hour)
	if err := c2.Cancel(); err != nil {
		t.Fatal(err)
	}
	f2.runUntil(func() bool { return r2.res != nil }, time.Hour)
	if r2.res == nil || len(r2.lost) != 2 {
		t.Fatalf("ended %v, lost %v; want the end and 2 losses", r2.res != nil, r2.lost)
	}
}

// The next transfer of a client starts from the loss the last one
// measured: two targets are too few to probe it, and chunks sized for
// 0 % loss did not reach targets at 50 % (a distributor's second
// transfer to the targets it lost).
func TestClient_NextTransferKeepsLoss(t *testing.T) {
	f := newFakeNet(t, 10, 15)
	f.recvTTL = access.DefaultTTLValue // neighbours
	for _, s := range f.order {
		s.loss = 0.3
	}
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(5000, 8)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return r.res != nil }, 2*time.Hour)
	mustComplete(t, f, &r, data, 10)
	first := f.order[0].chunkSize

	// Two other targets, no loss now; the group still gets the chunks
	// sized for the loss measured.
	f2 := []*fakeSrv{newFakeSrv(0x0200), newFakeSrv(0x0201)}
	for _, s := range f2 {
		f.srv[s.addr] = s
	}
	f.order = f2
	var r2 runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r2)
	f.runUntil(func() bool { return r2.res != nil }, 2*time.Hour)
	mustComplete(t, f, &r2, data, 2)
	if got := f2[0].chunkSize; got == 377 || got > first*2 {
		t.Fatalf("second transfer chunk %d octets (first transfer %d): sized for no loss", got, first)
	}
}

// While a query step of an open block waits long for a silent target, the
// servers in the block hear a chunk at least every quarter of their
// inactivity timeout over relays (a server that suspends loses the block),
// and the data stays intact: the next block's Block Start waits until that
// chunk left.
func TestClient_KeepAlive(t *testing.T) {
	f := newFakeNet(t, 3, 16) // answers arrive with TTL 5: behind relays
	c := f.newClient(StrategyMeshdfu)
	if err := c.SetTimeoutBase(3); err != nil { // servers suspend after 40 s
		t.Fatal(err)
	}
	data := testBLOB(9000, 9)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: uint32(len(data)), Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return f.order[2].phase == PhaseWaitingForChunk }, time.Minute)
	f.order[2].silent = true
	s0 := f.order[0]
	var longest time.Duration
	heard, got := f.clk.Now(), s0.got
	for r.res == nil && f.clk.Now().Before(heard.Add(2*time.Hour)) {
		f.clk.Advance(10 * time.Millisecond)
		if s0.got != got {
			heard, got = f.clk.Now(), s0.got
		}
		if s0.phase == PhaseWaitingForChunk {
			longest = max(longest, f.clk.Now().Sub(heard))
		}
	}
	mustComplete(t, f, &r, data, 2)
	if r.res.Stats.KeepAlives == 0 {
		t.Fatalf("no keep-alive chunk; stats %+v", r.res.Stats)
	}
	if longest > 20*time.Second {
		t.Errorf("a server in the block heard nothing for %v (it suspends after 40 s)", longest)
	}
}

func TestClient_StatusReasons(t *testing.T) {
	cases := []struct {
		op   string
		st   Status
		want string
	}{
		{"transfer start", StatusWrongPhase, "Transfer Status: Wrong Phase"},
		{"block start", StatusInvalidChunkSize, "Block Status: Invalid Chunk Size"},
		{"block get", StatusInternalError, "Block Status: Internal Error"},
		{"transfer get", StatusWrongPhase, "Transfer Status: Wrong Phase"},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			f := newFakeNet(t, 3, 11)
			bad := f.order[1]
			bad.override = map[access.Opcode]Status{}
			switch tc.op {
			case "transfer start":
				bad.override[OpTransferStart] = tc.st
			case "block start":
				bad.override[OpBlockStart] = tc.st
			case "block get":
				bad.override[OpBlockGet] = tc.st
			case "transfer get":
				bad.override[OpTransferGet] = tc.st
			}
			c := f.newClient(StrategyMeshdfu)
			data := testBLOB(5000, 2)
			var r runResult
			f.start(c, Transfer{ID: fakeID, Size: 5000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
			f.runUntil(func() bool { return r.res != nil }, time.Hour)
			mustComplete(t, f, &r, data, 2)
			if len(r.lost) != 1 || r.lost[0].Target != bad.addr || r.lost[0].Timeout ||
				!errors.Is(r.lost[0], ErrTargetStatus) || !strings.HasSuffix(r.lost[0].Error(), tc.want) {
				t.Fatalf("lost %v, want …%s", r.lost, tc.want)
			}
		})
	}
}

func TestClient_Capabilities(t *testing.T) {
	f := newFakeNet(t, 5, 3)
	f.order[0].caps.MaxChunkSize = 200
	f.order[1].caps.MinBlockSizeLog, f.order[1].caps.MaxBlockSizeLog = 10, 12
	f.order[1].caps.MTU = 300
	f.order[2].caps.MinBlockSizeLog, f.order[2].caps.MaxBlockSizeLog = 14, 15 // no overlap with 10–12
	f.order[3].caps.MaxBLOBSize = 1000                                        // too small
	f.order[4].caps.Modes = SupportPush
	f.order[4].caps.MaxTotalChunks = 100
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(4000, 3)
	var lim Limits
	var log2 uint8
	var r runResult
	x := Transfer{ID: fakeID, Size: 4000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}
	x.Callbacks.OnCapabilities = func(l Limits, lg uint8, m TransferMode) { lim, log2 = l, lg }
	f.start(c, x, &r)
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 3)
	want := Limits{MinBlockSizeLog: 10, MaxBlockSizeLog: 12, MaxTotalChunks: 100, MaxChunkSize: 200,
		MaxBLOBSize: 1 << 20, MTU: 300, Modes: SupportPush}
	if lim != want {
		t.Fatalf("limits %+v, want %+v", lim, want)
	}
	if log2 != 12 { // the targets' common maximum
		t.Fatalf("block size log %d", log2)
	}
	if len(r.lost) != 2 {
		t.Fatalf("lost %v", r.lost)
	}
	reasons := map[mesh.Address]Status{}
	for _, e := range r.lost {
		reasons[e.Target] = e.Status
	}
	if reasons[f.order[2].addr] != StatusInvalidBlockSize || reasons[f.order[3].addr] != StatusBLOBTooLarge {
		t.Fatalf("reasons %v", r.lost)
	}
}

func TestClient_SuspendResume(t *testing.T) {
	f := newFakeNet(t, 3, 5)
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(20000, 4)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: 20000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return c.State() == ClientBlock && c.block == 0 && c.passNext > 5 }, time.Hour)
	if err := c.Suspend(); err != nil {
		t.Fatal(err)
	}
	if c.State() != ClientSuspended || r.suspended != 1 {
		t.Fatalf("state %v, suspended %d", c.State(), r.suspended)
	}
	sent := f.sent
	f.clk.Advance(time.Minute)
	if f.sent != sent {
		t.Fatalf("suspended client sent %d messages", f.sent-sent)
	}
	for _, s := range f.order {
		s.phase = PhaseSuspended // their inactivity timers expired
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 3)
}

func TestClient_AllSilentSuspends(t *testing.T) {
	f := newFakeNet(t, 2, 6)
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(8000, 5)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: 8000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return c.State() == ClientBlock }, time.Hour)
	for _, s := range f.order {
		s.silent = true
	}
	f.runUntil(func() bool { return c.State() == ClientSuspended }, time.Hour)
	if c.State() != ClientSuspended || r.suspended != 1 || r.res != nil {
		t.Fatalf("state %v suspended %d res %v", c.State(), r.suspended, r.res)
	}
	for _, s := range f.order {
		s.silent = false
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	mustComplete(t, f, &r, data, 2)
}

func TestClient_Cancel(t *testing.T) {
	f := newFakeNet(t, 3, 8)
	c := f.newClient(StrategyMeshdfu)
	data := testBLOB(20000, 6)
	var r runResult
	f.start(c, Transfer{ID: fakeID, Size: 20000, Data: bytes.NewReader(data), Targets: f.addrs(), Group: fakeGroup}, &r)
	f.runUntil(func() bool { return c.State() == ClientBlock && c.passNext > 3 }, time.Hour)
	if err := c.Cancel(); err != nil {
		t.Fatal(err)
	}
	f.runUntil(func() bool { return r.res != nil }, time.Hour)
	if r.res == nil || !errors.Is(r.res.Err, ErrCanceled) {
		t.Fatalf("result %+v", r.res)
	}
	for _, s := range f.order {
		if s.phase != PhaseInactive {
			t.Fatalf("target %v phase %v", s.addr, s.phase)
		}
	}
	if c.State() != ClientIdle || c.Cancel() == nil {
		t.Fatalf("state %v", c.State())
	}
}

func TestClient_StartErrors(t *testing.T) {
	f := newFakeNet(t, 1, 9)
	c := f.newClient(StrategyMeshdfu)
	d := bytes.NewReader([]byte{1})
	for _, x := range []Transfer{
		{ID: 1, Size: 1, Data: d},
		{ID: 1, Size: 0, Data: d, Targets: []mesh.Address{0x100}},
		{ID: 1, Size: 1, Data: d, Targets: []mesh.Address{0xC000}},
		{ID: 1, Size: 1, Data: d, Targets: []mesh.Address{0x100, 0x100}},
		{ID: 1, Size: 1, Data: d, Targets: []mesh.Address{0x100}, Group: 0x0005},
		{ID: 1, Size: 1, Data: d, Targets: []mesh.Address{0x100}, Group: 0x8005},
	} {
		if err := c.Start(x); err == nil {
			t.Fatalf("Start(%+v) succeeded", x)
		}
	}
	if c.Suspend() == nil || c.Resume() == nil {
		t.Fatal("suspend/resume while idle")
	}
}

func TestStrategy_Arithmetic(t *testing.T) {
	for _, tc := range []struct{ size, segs int }{{1, 1}, {8, 1}, {9, 2}, {17, 2}, {18, 3}, {377, 32}} {
		if got := ChunkSegments(tc.size); got != tc.segs {
			t.Errorf("ChunkSegments(%d) = %d, want %d", tc.size, got, tc.segs)
		}
	}
	if e := ExpectedSends(0.9, 100); math.Abs(e-2.74) > 0.02 {
		t.Errorf("ExpectedSends(0.9, 100) = %v", e)
	}
	if e := ExpectedSends(1, 100); e != 1 {
		t.Errorf("ExpectedSends(1, 100) = %v", e)
	}
	for _, tc := range []struct {
		loss  float64
		n     int
		limit int
		want  uint16
	}{
		{0, 1, 377, 377}, {0, 100, 377, 377}, {0, 100, 200, 200},
		{0.1, 100, 377, 8}, {0.1, 1, 377, 8}, {0.3, 10, 377, 8},
		{0.01, 10, 377, 29},
	} {
		if got := ChooseChunk(tc.loss, tc.n, 32, tc.limit); got != tc.want {
			t.Errorf("ChooseChunk(%v, %d, 32, %d) = %d, want %d", tc.loss, tc.n, tc.limit, got, tc.want)
		}
	}
	if p := estimateLoss(1-math.Pow(0.9, 4), 4); math.Abs(p-0.1) > 1e-9 {
		t.Errorf("estimateLoss = %v", p)
	}
	lim := Limits{MinBlockSizeLog: 6, MaxBlockSizeLog: 20, MaxTotalChunks: 256, MaxChunkSize: 377, MTU: 380}
	s := StrategyMeshdfu
	if lg, err := s.chooseBlockLog(lim, 377*256); err != nil || lg != 16 {
		t.Errorf("chooseBlockLog = %d, %v", lg, err)
	}
	if lg, _ := s.chooseBlockLog(lim, 8*256); lg != 11 {
		t.Errorf("chooseBlockLog(8-octet chunks) = %d, want 11", lg)
	}
	if r := s.passRepeats(0, 1, 256); r != 1 {
		t.Errorf("passRepeats(0) = %d", r)
	}
	if r := s.passRepeats(0.1, 1, 256); r != 3 {
		t.Errorf("passRepeats(0.1, 1, 256) = %d, want 3", r)
	}
	z := StrategyZephyr
	if lg, _ := z.chooseBlockLog(lim, 377*256); lg != 12 {
		t.Errorf("zephyr block log %d", lg)
	}
}

func TestPlanSAR(t *testing.T) {
	const pdu = 25 * time.Millisecond
	cases := []struct {
		name               string
		loss               float64
		n, blockLen        int
		minSize            int
		wantSize           uint16 // 0: any multi-segment chunk
		minFirst, maxFirst int
	}{
		// No loss: the largest chunk, each segment once.
		{"0% 100 targets", 0, 100, 65536, 32, 377, 1, 1},
		// 10 % to 100 targets: every segment repeated so a target misses
		// few chunks of the block (blob-strategy.md, "Repair").
		{"10% 100 targets", 0.1, 100, 65536, 32, 0, 3, 5},
		{"30% 100 targets", 0.3, 100, 65536, 32, 0, 4, 6},
	}
	for _, tc := range cases {
		pl := PlanSAR(tc.loss, tc.n, tc.blockLen, tc.minSize, 377, 32, 6, pdu)
		if (tc.wantSize != 0 && pl.ChunkSize != tc.wantSize) || ChunkSegments(int(pl.ChunkSize)) < 2 {
			t.Errorf("%s: chunk %d, want %d (segmented)", tc.name, pl.ChunkSize, tc.wantSize)
		}
		if pl.FirstPasses < tc.minFirst || pl.FirstPasses > tc.maxFirst || pl.RepairPasses < 1 {
			t.Errorf("%s: passes %d/%d", tc.name, pl.FirstPasses, pl.RepairPasses)
		}
		if pl.Chunks != (tc.blockLen+int(pl.ChunkSize)-1)/int(pl.ChunkSize) || pl.ExpectedTime <= 0 {
			t.Errorf("%s: %+v", tc.name, pl)
		}
	}
	// The planner never picks a chunk below minSize (Max Total Chunks).
	if pl := PlanSAR(0.1, 100, 65536, 41, 377, 32, 6, pdu); pl.ChunkSize < 41 {
		t.Errorf("chunk %d below 41", pl.ChunkSize)
	}
	// A fixed size (minSize = limit) only chooses passes.
	if pl := PlanSAR(0.1, 100, 65536, 185, 185, 32, 6, pdu); pl.ChunkSize != 185 {
		t.Errorf("fixed 185: chunk %d", pl.ChunkSize)
	}
	// estimateLossSAR inverts the miss model m = 1 − (1 − p^s)^k.
	for _, p := range []float64{0.05, 0.1, 0.3} {
		for _, s := range []int{1, 3, 4} {
			k := 10
			m := 1 - math.Pow(1-math.Pow(p, float64(s)), float64(k))
			if got := estimateLossSAR(m, k, s); math.Abs(got-p) > 1e-9 {
				t.Errorf("estimateLossSAR(%v, %d, %d) = %v, want %v", m, k, s, got, p)
			}
		}
	}
	for _, tc := range []struct {
		loss    float64
		n, most int
		want    int
	}{{0, 100, 16, 1}, {0.1, 100, 16, 4}, {0.1, 1, 16, 2}, {0.3, 100, 3, 3}} {
		if got := blindSends(tc.loss, tc.n, tc.most); got != tc.want {
			t.Errorf("blindSends(%v, %d, %d) = %d, want %d", tc.loss, tc.n, tc.most, got, tc.want)
		}
	}
}

// TestRoundChunk: for a thousand targets whose blocks are bounded by Max
// Total Chunks (256, as Zephyr's default), the first chunk grows past the
// one-PDU chunk the loss alone calls for, so that a block holds twice the
// octets and the transfer needs half the Block Get rounds to every
// target; without loss, or with a fixed chunk, nothing changes.
func TestRoundChunk(t *testing.T) {
	const pdu = 25 * time.Millisecond
	lim := Limits{MinBlockSizeLog: 6, MaxBlockSizeLog: 12, MaxTotalChunks: 256, MaxChunkSize: 377, MTU: 380}
	s := StrategyMeshdfu
	from := int(s.chooseChunk(lim, 1, 1000, 0.05))
	got := s.roundChunk(lim, 1000, 0.05, from, pdu)
	logFrom, _ := s.chooseBlockLog(lim, from*s.blockChunks(lim))
	logGot, _ := s.chooseBlockLog(lim, got*s.blockChunks(lim))
	if from != 8 || got <= from || logGot != logFrom+1 {
		t.Errorf("1000 targets at 5 %%: chunk %d (block log %d) from %d (block log %d), want a larger chunk for twice the block", got, logGot, from, logFrom)
	}
	if ChunkEfficiency(ChunkSegments(got), 0.05, 1000) < 0.8*ChunkEfficiency(1, 0.05, 1000) {
		t.Errorf("chunk %d costs much more air than %d", got, from)
	}
	if c := s.roundChunk(lim, 1000, 0, 377, pdu); c != 377 {
		t.Errorf("no loss: chunk %d, want 377", c)
	}
	fixed := StrategyMeshdfu
	fixed.ChunkSize = 8
	if c := fixed.roundChunk(lim, 1000, 0.05, 8, pdu); c != 8 {
		t.Errorf("fixed chunk size: %d, want the one given", c)
	}
	if c := StrategyZephyr.roundChunk(lim, 1000, 0.05, 8, pdu); c != 8 {
		t.Errorf("Zephyr profile: %d, want the one given", c)
	}
	// The loss probe asks a tenth of a large fleet, at least 20, at most 100.
	for n, want := range map[int]int{10: 20, 100: 20, 500: 50, 1000: 100, 5000: 100} {
		if got := probeTargets(n); got != want {
			t.Errorf("probeTargets(%d) = %d, want %d", n, got, want)
		}
	}
}
