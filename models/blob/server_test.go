package blob

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

const (
	testID     = uint64(0x1122334455667788)
	testClient = mesh.Address(0x0001)
	testSize   = 300 // 5 blocks of 64 octets (the last 44) at log 6
	testLog    = 6
	testChunk  = 16 // 4 chunks per full block
)

// sent is one message a test server sent.
type sent struct {
	ctx access.Context
	op  access.Opcode
	msg access.Message
}

type serverRig struct {
	t     *testing.T
	clk   *faketime.Clock
	srv   *Server
	store *MemoryStorage
	state *MemoryStateStore
	cfg   ServerConfig
	out   []sent
	blob  []byte
}

func testServerConfig(clk mesh.Clock, store Storage, state StateStore) ServerConfig {
	return ServerConfig{Clock: clk, Storage: store, State: state, MinBlockSizeLog: 6, MaxBlockSizeLog: 8,
		MaxTotalChunks: 64, MaxChunkSize: 100, MaxBLOBSize: 1 << 20}
}

func newServerRig(t *testing.T, edit func(*ServerConfig)) *serverRig {
	t.Helper()
	r := &serverRig{t: t, clk: faketime.New(), store: &MemoryStorage{}, state: &MemoryStateStore{}}
	r.cfg = testServerConfig(r.clk, r.store, r.state)
	if edit != nil {
		edit(&r.cfg)
	}
	r.blob = make([]byte, testSize)
	for i := range r.blob {
		r.blob[i] = byte(i*7 + 3)
	}
	r.boot()
	return r
}

// boot (re)builds the server from its stores, as after a reboot.
func (r *serverRig) boot() {
	r.t.Helper()
	srv, err := NewServer(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	srv.out = func(ctx *access.Context, m access.Message) {
		b, err := m.AppendBinary(nil)
		if err != nil {
			r.t.Fatalf("server sent unencodable %s: %v", m.Opcode(), err)
		}
		d := NewMessage(m.Opcode())
		if err := d.Unmarshal(b); err != nil {
			r.t.Fatalf("server sent undecodable %s %x: %v", m.Opcode(), b, err)
		}
		r.out = append(r.out, sent{*ctx, m.Opcode(), d})
	}
	r.srv = srv
}

// call delivers m to the server's handler from the client and returns what
// the server sent within 600 ms.
func (r *serverRig) call(m access.Message) []sent {
	r.t.Helper()
	p, err := m.AppendBinary(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.callRaw(m.Opcode(), p)
}

func (r *serverRig) callRaw(op access.Opcode, p []byte) []sent {
	r.t.Helper()
	r.out = nil
	for _, o := range r.srv.Model().Ops {
		if o.Opcode == op {
			if o.Len.OK(len(p)) {
				o.Handler(&access.Context{Src: testClient, Dst: 0x0100, AppKeyIndex: 3, RecvTTL: 5}, p)
			}
			r.clk.Advance(600 * time.Millisecond)
			return r.out
		}
	}
	r.t.Fatalf("no handler for %s", op)
	return nil
}

// status calls m and returns the one status it was answered with.
func (r *serverRig) status(m access.Message) (Status, access.Message) {
	r.t.Helper()
	out := r.call(m)
	for _, o := range out {
		switch v := o.msg.(type) {
		case *TransferStatus:
			return v.Status, v
		case *BlockStatus:
			return v.Status, v
		case *InformationStatus:
			return StatusSuccess, v
		}
	}
	r.t.Fatalf("%s: no status answer, got %v", m.Opcode(), out)
	return 0, nil
}

func (r *serverRig) chunk(block, chunk int) *ChunkTransfer {
	bl := BlockLen(testSize, testLog, block)
	off := int(BlockOffset(testLog, block)) + chunk*testChunk
	return &ChunkTransfer{Number: uint16(chunk), Data: r.blob[off : off+ChunkLen(bl, testChunk, chunk)]}
}

func start(mode TransferMode) *TransferStart {
	return &TransferStart{Mode: mode, ID: testID, Size: testSize, BlockSizeLog: testLog, MTU: 380}
}

// to drives a fresh server into phase p (Push mode unless pull).
func (r *serverRig) to(p Phase, pull bool) {
	r.t.Helper()
	mode := ModePush
	if pull {
		mode = ModePull
	}
	if p == PhaseInactive {
		return
	}
	if err := r.srv.Prepare(testID, 4, 0); err != nil {
		r.t.Fatal(err)
	}
	if p == PhaseWaitingForStart {
		return
	}
	if st, _ := r.status(start(mode)); st != StatusSuccess {
		r.t.Fatalf("start: %s", st)
	}
	switch p {
	case PhaseWaitingForChunk:
		r.status(&BlockStart{1, testChunk})
	case PhaseSuspended:
		r.status(&BlockStart{1, testChunk})
		r.clk.Advance(r.srv.rxTimeout())
	case PhaseComplete:
		for b := range 5 {
			r.status(&BlockStart{uint16(b), testChunk})
			for c := range ChunkCount(BlockLen(testSize, testLog, b), testChunk) {
				r.call(r.chunk(b, c))
			}
		}
	}
	if r.srv.Phase() != p {
		r.t.Fatalf("driving to %s: in %s", p, r.srv.Phase())
	}
}

var allPhases = []Phase{PhaseInactive, PhaseWaitingForStart, PhaseWaitingForBlock, PhaseWaitingForChunk, PhaseComplete, PhaseSuspended}

// TestServer_StatusCodes answers every request in every phase and checks
// the status and the phase after.
func TestServer_StatusCodes(t *testing.T) {
	t.Parallel()
	type row struct {
		name  string
		msg   access.Message
		want  map[Phase]Status
		after map[Phase]Phase // phases that change
	}
	all := func(st Status) map[Phase]Status {
		m := map[Phase]Status{}
		for _, p := range allPhases {
			m[p] = st
		}
		return m
	}
	with := func(m map[Phase]Status, kv ...any) map[Phase]Status {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(Phase)] = kv[i+1].(Status)
		}
		return m
	}
	wrongPhaseBefore := func(rest Status) map[Phase]Status {
		return with(all(rest), PhaseInactive, StatusWrongPhase)
	}
	other := func(f func(*TransferStart)) *TransferStart { m := start(ModePush); f(m); return m }
	rows := []row{
		{"Transfer Get", &TransferGet{}, all(StatusSuccess), nil},
		{"Transfer Start", start(ModePush), wrongPhaseBefore(StatusSuccess),
			map[Phase]Phase{PhaseWaitingForStart: PhaseWaitingForBlock, PhaseSuspended: PhaseWaitingForBlock}},
		{"Transfer Start wrong ID", other(func(m *TransferStart) { m.ID++ }), wrongPhaseBefore(StatusWrongBLOBID), nil},
		{"Transfer Start other mode", other(func(m *TransferStart) { m.Mode = ModePull }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusSuccess),
			map[Phase]Phase{PhaseWaitingForStart: PhaseWaitingForBlock}},
		{"Transfer Start other size", other(func(m *TransferStart) { m.Size++ }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusSuccess),
			map[Phase]Phase{PhaseWaitingForStart: PhaseWaitingForBlock}},
		{"Transfer Start smaller MTU", other(func(m *TransferStart) { m.MTU = 100 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusSuccess),
			map[Phase]Phase{PhaseWaitingForStart: PhaseWaitingForBlock}},
		{"Transfer Start too large", other(func(m *TransferStart) { m.Size = 1<<20 + 1 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusBLOBTooLarge), nil},
		{"Transfer Start block too small", other(func(m *TransferStart) { m.BlockSizeLog = 5 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusInvalidBlockSize), nil},
		{"Transfer Start block too large", other(func(m *TransferStart) { m.BlockSizeLog = 9 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusInvalidBlockSize), nil},
		{"Transfer Start too many blocks", other(func(m *TransferStart) { m.Size = 64 * 3000 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusInvalidParameter), nil},
		{"Transfer Start blocks beyond the MTU", other(func(m *TransferStart) { m.Size = 64 * 24; m.MTU = 21 }),
			with(wrongPhaseBefore(StatusWrongPhase), PhaseWaitingForStart, StatusInvalidParameter), nil},
		{"Transfer Cancel", &TransferCancel{testID}, all(StatusSuccess),
			map[Phase]Phase{PhaseWaitingForStart: PhaseInactive, PhaseWaitingForBlock: PhaseInactive, PhaseWaitingForChunk: PhaseInactive,
				PhaseComplete: PhaseInactive, PhaseSuspended: PhaseInactive}},
		{"Transfer Cancel wrong ID", &TransferCancel{testID + 1}, with(all(StatusWrongBLOBID), PhaseInactive, StatusSuccess), nil},
		{"Block Get", &BlockGet{}, with(all(StatusSuccess), PhaseInactive, StatusWrongPhase, PhaseWaitingForStart, StatusWrongPhase,
			PhaseSuspended, StatusInformationUnavailable), nil},
		{"Block Start", &BlockStart{0, testChunk}, with(all(StatusSuccess), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase, PhaseWaitingForChunk, StatusWrongPhase),
			map[Phase]Phase{PhaseWaitingForBlock: PhaseWaitingForChunk, PhaseSuspended: PhaseWaitingForChunk}},
		{"Block Start open block again", &BlockStart{1, testChunk}, with(all(StatusSuccess), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase),
			map[Phase]Phase{PhaseWaitingForBlock: PhaseWaitingForChunk, PhaseSuspended: PhaseWaitingForChunk}},
		{"Block Start invalid number", &BlockStart{5, testChunk}, with(all(StatusInvalidBlockNumber), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase, PhaseWaitingForChunk, StatusWrongPhase), nil},
		{"Block Start chunk size 0", &BlockStart{0, 0}, with(all(StatusInvalidChunkSize), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase, PhaseWaitingForChunk, StatusWrongPhase), nil},
		{"Block Start chunk above max", &BlockStart{0, 101}, with(all(StatusInvalidChunkSize), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase, PhaseWaitingForChunk, StatusWrongPhase), nil},
		{"Block Start too many chunks", &BlockStart{0, 1}, with(all(StatusSuccess), PhaseInactive, StatusWrongPhase,
			PhaseWaitingForStart, StatusWrongPhase, PhaseWaitingForChunk, StatusWrongPhase),
			map[Phase]Phase{PhaseWaitingForBlock: PhaseWaitingForChunk, PhaseSuspended: PhaseWaitingForChunk}},
	}
	// 64 chunks of 1 octet fit Max Total Chunks 64; lower it for the
	// "too many" case below.
	for _, pull := range []bool{false, true} {
		for _, rw := range rows {
			for _, p := range allPhases {
				t.Run(fmt.Sprintf("%s/%s/pull=%t", rw.name, p, pull), func(t *testing.T) {
					r := newServerRig(t, nil)
					r.to(p, pull)
					msg := rw.msg
					if ts, ok := msg.(*TransferStart); ok && pull { // the same row, mirrored
						c := *ts
						c.Mode ^= ModePush | ModePull
						msg = &c
					}
					st, _ := r.status(msg)
					if st != rw.want[p] {
						t.Errorf("status %s, want %s", st, rw.want[p])
					}
					want := p
					if a, ok := rw.after[p]; ok {
						want = a
					}
					if r.srv.Phase() != want {
						t.Errorf("phase after %s, want %s", r.srv.Phase(), want)
					}
				})
			}
		}
	}
	t.Run("too many chunks", func(t *testing.T) {
		r := newServerRig(t, func(c *ServerConfig) { c.MaxTotalChunks = 63 })
		r.to(PhaseWaitingForBlock, false)
		if st, _ := r.status(&BlockStart{0, 1}); st != StatusInvalidChunkSize {
			t.Errorf("64 chunks with Max Total Chunks 63: %s", st)
		}
		if st, _ := r.status(&BlockStart{0, 2}); st != StatusSuccess {
			t.Errorf("32 chunks: %s", st)
		}
	})
	t.Run("chunk above transfer MTU", func(t *testing.T) {
		r := newServerRig(t, nil)
		r.srv.Prepare(testID, 4, 0)
		m := start(ModePush)
		m.MTU = 50
		r.status(m)
		if st, _ := r.status(&BlockStart{0, 48}); st != StatusInvalidChunkSize {
			t.Errorf("chunk 48 with MTU 50: %s", st)
		}
		if st, _ := r.status(&BlockStart{0, 47}); st != StatusSuccess {
			t.Errorf("chunk 47 with MTU 50: %s", st)
		}
	})
	t.Run("unsupported mode", func(t *testing.T) {
		r := newServerRig(t, func(c *ServerConfig) { c.Modes = SupportPush })
		r.srv.Prepare(testID, 4, 0)
		if st, _ := r.status(start(ModePull)); st != StatusUnsupportedTransferMode {
			t.Errorf("pull to a push-only server: %s", st)
		}
	})
	t.Run("storage refuses", func(t *testing.T) {
		r := newServerRig(t, func(c *ServerConfig) {
			c.OnStart = func(ServerTransfer) error { return errors.New("no room") }
		})
		r.srv.Prepare(testID, 4, 0)
		if st, _ := r.status(start(ModePush)); st != StatusInternalError || r.srv.Phase() != PhaseInactive {
			t.Errorf("refused start: %s in %s", st, r.srv.Phase())
		}
		// A client that missed the answer sends the same Transfer Start
		// again: it gets the same refusal, not Wrong Phase.
		if st, _ := r.status(start(ModePush)); st != StatusInternalError || r.srv.Phase() != PhaseInactive {
			t.Errorf("repeated refused start: %s in %s", st, r.srv.Phase())
		}
		other := start(ModePush)
		other.ID++
		if st, _ := r.status(other); st != StatusWrongPhase {
			t.Errorf("another BLOB ID while Inactive: %s, want Wrong Phase", st)
		}
		// Prepared again, the server tries its storage again.
		r.srv.Prepare(testID, 4, 0)
		if r.srv.Phase() != PhaseWaitingForStart {
			t.Errorf("prepared after a refusal: %s", r.srv.Phase())
		}
	})
}

// TestServer_TransferStartModeDropped checks that Transfer Mode 0b00 and
// 0b11 get no answer.
func TestServer_TransferStartModeDropped(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil)
	r.to(PhaseWaitingForStart, false)
	p, _ := start(ModePush).Marshal()
	for _, first := range []byte{0x00, 0xc0, 0x41} {
		p[0] = first
		if out := r.callRaw(OpTransferStart, p); len(out) != 0 {
			t.Errorf("mode octet %02x answered: %v", first, out)
		}
	}
	if r.srv.Stats().Dropped != 3 {
		t.Errorf("dropped %d", r.srv.Stats().Dropped)
	}
}

// TestServer_StatusForms checks the Transfer Status forms per phase and
// the Block Status formats (blob.md §4.4, §11.2).
func TestServer_StatusForms(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil)
	_, m := r.status(&TransferGet{})
	if ts := m.(*TransferStatus); ts.HasID || ts.Mode != ModeNone {
		t.Errorf("Inactive: %+v", ts)
	}
	if _, m := r.status(&BlockGet{}); m.(*BlockStatus).BlockNumber != 0xffff || m.(*BlockStatus).ChunkSize != 0xffff {
		t.Errorf("Block Get before start: %+v", m)
	}
	r.srv.Prepare(testID, 4, 0)
	_, m = r.status(&TransferCancel{1})
	if ts := m.(*TransferStatus); !ts.HasID || ts.HasSize || ts.ID != testID || ts.Status != StatusWrongBLOBID {
		t.Errorf("Waiting for Transfer Start: %+v", ts)
	}
	_, m = r.status(start(ModePush))
	if ts := m.(*TransferStatus); !ts.HasSize || ts.BlocksNotReceived.Count() != 5 || ts.Mode != ModePush || ts.MTU != 380 {
		t.Errorf("started: %+v", ts)
	}
	_, m = r.status(&BlockStart{4, testChunk})
	if bs := m.(*BlockStatus); bs.Format != FormatAllMissing || bs.BlockNumber != 4 {
		t.Errorf("block start: %+v", bs)
	}
	r.call(r.chunk(4, 1))
	_, m = r.status(&BlockGet{})
	if bs := m.(*BlockStatus); bs.Format != FormatSomeMissing || string(bs.Missing.BitField()) != "\x05" {
		t.Errorf("some missing: %+v", bs)
	}
	for _, c := range []int{0, 2} {
		r.call(r.chunk(4, c))
	}
	if r.srv.Phase() != PhaseWaitingForBlock {
		t.Fatalf("after block 4: %s", r.srv.Phase())
	}
	_, m = r.status(&BlockGet{})
	if bs := m.(*BlockStatus); bs.Format != FormatNoneMissing {
		t.Errorf("none missing: %+v", bs)
	}
	_, m = r.status(&BlockStart{4, 8})
	if bs := m.(*BlockStatus); bs.Format != FormatNoneMissing || bs.ChunkSize != 8 || r.srv.Phase() != PhaseWaitingForBlock {
		t.Errorf("block start of a received block: %+v in %s", bs, r.srv.Phase())
	}
	_, m = r.status(&TransferGet{})
	if ts := m.(*TransferStatus); string(ts.BlocksNotReceived.BitField()) != "\x0f" {
		t.Errorf("blocks not received %x", ts.BlocksNotReceived.BitField())
	}
	if d, n := r.srv.Progress(); d != 1 || n != 5 {
		t.Errorf("progress %d/%d", d, n)
	}
}

// TestServer_Chunks checks chunk acceptance: phase, range, exact size,
// duplicates, and that data lands at its offset.
func TestServer_Chunks(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil)
	r.to(PhaseWaitingForBlock, false)
	r.call(r.chunk(0, 0)) // no open block
	r.status(&BlockStart{4, testChunk})
	last := r.chunk(4, 2)
	r.call(&ChunkTransfer{Number: 3, Data: last.Data[:12]}) // block 4 has 3 chunks of 16, 16, 12
	r.call(&ChunkTransfer{Number: 2, Data: last.Data[:11]})
	r.call(&ChunkTransfer{Number: 1, Data: append(r.chunk(4, 1).Data, 0)})
	r.call(r.chunk(4, 0))
	r.call(r.chunk(4, 0))
	st := r.srv.Stats()
	if st.RejectedChunks != 4 || st.Chunks != 1 || st.DuplicateChunks != 1 {
		t.Errorf("stats %+v", st)
	}
	r.call(r.chunk(4, 1))
	r.call(last)
	if got := r.store.Data(testID)[256:300]; !bytes.Equal(got, r.blob[256:300]) {
		t.Errorf("block 4 data %x", got)
	}
}

// TestServer_Timeouts checks the inactivity timer: 10·(base+1) s from the
// last activity; Waiting for Transfer Start ends Inactive, a running
// transfer is Suspended and resumes.
func TestServer_Timeouts(t *testing.T) {
	t.Parallel()
	var events []string
	r := newServerRig(t, func(c *ServerConfig) {
		c.OnSuspended = func(uint64) { events = append(events, "suspended") }
		c.OnResume = func(uint64) { events = append(events, "resume") }
		c.OnCancel = func(uint64, error) { events = append(events, "cancel") }
	})
	r.srv.Prepare(testID, 4, 1)
	r.clk.Advance(19 * time.Second)
	if r.srv.Phase() != PhaseWaitingForStart {
		t.Fatal("timed out early")
	}
	r.clk.Advance(time.Second)
	if r.srv.Phase() != PhaseInactive {
		t.Fatalf("Waiting for Transfer Start after 20 s: %s", r.srv.Phase())
	}
	r.srv.Prepare(testID, 4, 0)
	r.status(start(ModePush))
	r.clk.Advance(9 * time.Second)
	r.status(&BlockStart{0, testChunk}) // activity restarts the timer
	r.clk.Advance(9 * time.Second)
	r.call(r.chunk(0, 0))
	r.clk.Advance(9 * time.Second)
	if r.srv.Phase() != PhaseWaitingForChunk {
		t.Fatalf("suspended despite activity: %s", r.srv.Phase())
	}
	r.clk.Advance(2 * time.Second)
	if r.srv.Phase() != PhaseSuspended {
		t.Fatalf("after 10 s idle: %s", r.srv.Phase())
	}
	if st, _ := r.status(&BlockGet{}); st != StatusInformationUnavailable {
		t.Errorf("Block Get while suspended: %s", st)
	}
	r.call(r.chunk(0, 1)) // dropped: no open block
	r.status(start(ModePush))
	if r.srv.Phase() != PhaseWaitingForBlock {
		t.Fatalf("resume: %s", r.srv.Phase())
	}
	if fmt.Sprint(events) != "[cancel suspended resume]" {
		t.Errorf("events %v", events)
	}
	// Pull mode waits at least T_BPI + 1 s.
	r2 := newServerRig(t, func(c *ServerConfig) { c.ReportInterval = 20 * time.Second })
	r2.to(PhaseWaitingForBlock, true)
	if d := r2.srv.rxTimeout(); d != 21*time.Second {
		t.Errorf("pull timeout %v", d)
	}
}

// TestServer_Pull checks the report rules of Pull mode.
func TestServer_Pull(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, func(c *ServerConfig) { c.PullRequestCount = 2 })
	r.to(PhaseWaitingForBlock, true)
	_, m := r.status(&BlockStart{0, testChunk})
	if bs := m.(*BlockStatus); bs.Format != FormatEncodedList || fmt.Sprint(bs.EncodedMissing) != "[0 1]" {
		t.Fatalf("pull block status %+v", bs)
	}
	reports := func(out []sent) (r []string) {
		for _, o := range out {
			if o.op == OpPartialBlockReport {
				if o.ctx.Dst != testClient || o.ctx.AppKeyIndex != 3 || o.ctx.TTL != 4 {
					t.Errorf("report context %+v", o.ctx)
				}
				r = append(r, fmt.Sprint(o.msg.(*PartialBlockReport).EncodedMissing))
			}
		}
		return r
	}
	if got := reports(r.call(r.chunk(0, 0))); got != nil {
		t.Errorf("report before the batch is done: %v", got)
	}
	if got := reports(r.call(r.chunk(0, 1))); fmt.Sprint(got) != "[[2 3]]" {
		t.Errorf("next request %v", got)
	}
	// Lost chunks: the report timer asks again.
	r.out = nil
	r.clk.Advance(DefaultReportInterval)
	if got := reports(r.out); fmt.Sprint(got) != "[[2 3]]" {
		t.Errorf("repeat %v", got)
	}
	r.call(r.chunk(0, 3))
	if got := reports(r.call(r.chunk(0, 2))); fmt.Sprint(got) != "[[]]" {
		t.Errorf("block end report %v", got)
	}
	// Through the last block: Complete, empty reports until Transfer Get.
	for b := 1; b < 5; b++ {
		r.status(&BlockStart{uint16(b), testChunk})
		for c := range ChunkCount(BlockLen(testSize, testLog, b), testChunk) {
			r.call(r.chunk(b, c))
		}
	}
	if r.srv.Phase() != PhaseComplete {
		t.Fatalf("phase %s", r.srv.Phase())
	}
	r.out = nil
	r.clk.Advance(DefaultReportInterval)
	if got := reports(r.out); fmt.Sprint(got) != "[[]]" {
		t.Errorf("end-of-transfer report %v", got)
	}
	r.status(&TransferGet{})
	r.out = nil
	r.clk.Advance(time.Minute)
	if len(r.out) != 0 {
		t.Errorf("reports after Transfer Get: %v", r.out)
	}
	if !bytes.Equal(r.store.Data(testID), r.blob) {
		t.Error("data differs")
	}
	// PullWaitForTimer: the next batch only on the timer.
	z := newServerRig(t, func(c *ServerConfig) { c.PullRequestCount = 2; c.PullWaitForTimer = true })
	z.to(PhaseWaitingForBlock, true)
	z.status(&BlockStart{0, testChunk})
	z.call(z.chunk(0, 0))
	if got := reports(z.call(z.chunk(0, 1))); got != nil {
		t.Errorf("Zephyr pacing sent %v at once", got)
	}
}

// TestServer_Reboot rebuilds the server from its stores mid-transfer.
func TestServer_Reboot(t *testing.T) {
	t.Parallel()
	r := newServerRig(t, nil)
	r.to(PhaseWaitingForBlock, false)
	r.status(&BlockStart{0, testChunk})
	for c := range 4 {
		r.call(r.chunk(0, c))
	}
	r.status(&BlockStart{1, testChunk})
	r.call(r.chunk(1, 0))
	saves := r.state.Saves
	r.boot() // reboot mid-block
	if r.srv.Phase() != PhaseSuspended {
		t.Fatalf("after reboot: %s", r.srv.Phase())
	}
	if d, n := r.srv.Progress(); d != 1 || n != 5 {
		t.Fatalf("progress after reboot %d/%d", d, n)
	}
	if tr, ok := r.srv.Transfer(); !ok || tr.Client != testClient || tr.Mode != ModePush || tr.MTU != 380 {
		t.Fatalf("transfer after reboot %+v", tr)
	}
	if st, _ := r.status(start(ModePush)); st != StatusSuccess || r.srv.Phase() != PhaseWaitingForBlock {
		t.Fatalf("resume: %s %s", st, r.srv.Phase())
	}
	_, m := r.status(&BlockStart{0, testChunk})
	if m.(*BlockStatus).Format != FormatNoneMissing {
		t.Errorf("block 0 after reboot %+v", m)
	}
	for b := 1; b < 5; b++ {
		r.status(&BlockStart{uint16(b), testChunk})
		for c := range ChunkCount(BlockLen(testSize, testLog, b), testChunk) {
			r.call(r.chunk(b, c))
		}
	}
	if r.srv.Phase() != PhaseComplete || !bytes.Equal(r.store.Data(testID), r.blob) {
		t.Fatalf("phase %s, data equal %t", r.srv.Phase(), bytes.Equal(r.store.Data(testID), r.blob))
	}
	if r.state.Saves <= saves {
		t.Error("no saves after reboot")
	}
	// Complete survives a reboot; Cancel erases the record.
	r.boot()
	if r.srv.Phase() != PhaseComplete {
		t.Errorf("complete after reboot: %s", r.srv.Phase())
	}
	r.status(&TransferCancel{testID})
	r.boot()
	if r.srv.Phase() != PhaseInactive {
		t.Errorf("cancelled after reboot: %s", r.srv.Phase())
	}
	// Storage that lost the data abandons the recovered transfer.
	r2 := newServerRig(t, nil)
	r2.to(PhaseWaitingForChunk, false)
	r2.cfg.Storage = &MemoryStorage{}
	r2.boot()
	if r2.srv.Phase() != PhaseInactive {
		t.Errorf("reboot without data: %s", r2.srv.Phase())
	}
	// A corrupt record is discarded.
	r2.state.SaveState([]byte{1, 2, 3})
	r2.boot()
	if r2.srv.Phase() != PhaseInactive {
		t.Errorf("corrupt record: %s", r2.srv.Phase())
	}
}

func TestServer_ConfigAndPrepare(t *testing.T) {
	t.Parallel()
	clk := faketime.New()
	if _, err := NewServer(ServerConfig{}); !errors.Is(err, ErrServerConfig) {
		t.Errorf("empty config: %v", err)
	}
	for _, c := range []ServerConfig{
		{MinBlockSizeLog: 5}, {MaxBlockSizeLog: 0x21}, {MaxTotalChunks: MaxBlockStatusChunks + 1},
		{MTU: 19}, {MaxChunkSize: 378}, {Modes: 4}, {ReportInterval: 31 * time.Second},
	} {
		c.Clock, c.Storage = clk, &MemoryStorage{}
		if _, err := NewServer(c); !errors.Is(err, ErrServerConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	r := newServerRig(t, nil)
	if caps := r.srv.Capabilities(); caps.Validate() != nil || caps.MTU != 380 || caps.Modes != SupportPush|SupportPull {
		t.Errorf("capabilities %+v", caps)
	}
	if _, m := r.status(&InformationGet{}); *m.(*InformationStatus) != r.srv.Capabilities() {
		t.Errorf("information status %+v", m)
	}
	if err := r.srv.Cancel(); !errors.Is(err, ErrServerIdle) {
		t.Errorf("cancel idle: %v", err)
	}
	r.to(PhaseWaitingForChunk, false)
	if err := r.srv.Prepare(testID, 4, 0); !errors.Is(err, ErrServerBusy) {
		t.Errorf("prepare while busy: %v", err)
	}
	if err := r.srv.Cancel(); err != nil || r.srv.Phase() != PhaseInactive {
		t.Errorf("cancel: %v %s", err, r.srv.Phase())
	}
}
