package blob

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
)

// A fake server driver for client procedure tests: the client runs on a
// real access layer whose Send hands each message to fake targets, which
// answer through the same layer after a delay. The fake targets follow the
// server rules of blob.md §11 closely enough to drive every client step,
// and can be told to stay silent, answer a chosen status, or lose
// messages.

const (
	fakeClientAddr = mesh.Address(0x0001)
	fakeGroup      = mesh.Address(0xC100)
	fakeID         = uint64(0x1122334455667788)
)

type fakeSrv struct {
	addr     mesh.Address
	caps     InformationStatus
	silent   bool
	override map[access.Opcode]Status // request opcode → status to answer
	loss     float64                  // per received message
	pullReq  int                      // chunks per Partial Block Report
	dropBad  bool                     // drop chunks of the wrong length, as a real server, instead of failing the test

	phase     Phase
	mode      TransferMode
	id        uint64
	size      uint32
	log2      uint8
	blocks    ChunkSet // not received
	block     int
	chunkSize uint16
	missing   ChunkSet
	asked     []uint16 // pull: last request
	data      []byte
	got       int // messages received
}

func newFakeSrv(addr mesh.Address) *fakeSrv {
	return &fakeSrv{addr: addr, phase: PhaseWaitingForStart, id: fakeID, block: -1, pullReq: 4,
		caps: InformationStatus{MinBlockSizeLog: 6, MaxBlockSizeLog: 16, MaxTotalChunks: 2048, MaxChunkSize: 377,
			MaxBLOBSize: 1 << 20, MTU: 380, Modes: SupportPush | SupportPull}}
}

type fakeNet struct {
	t       *testing.T
	clk     *faketime.Clock
	rnd     *rand.Rand
	layer   *access.Layer
	srv     map[mesh.Address]*fakeSrv
	order   []*fakeSrv
	sent    int // messages the client sent
	maxLate time.Duration
	recvTTL uint8 // TTL the client receives answers with (0: 5, a target behind relays)
	// before, when set, sees every message a fake target receives before
	// the target handles it (to change the target's state as time would).
	before func(s *fakeSrv, m access.Message)
}

func newFakeNet(t *testing.T, n int, seed uint64) *fakeNet {
	t.Helper()
	f := &fakeNet{t: t, clk: faketime.New(), rnd: rand.New(rand.NewPCG(seed, 3)), srv: map[mesh.Address]*fakeSrv{}}
	for i := range n {
		s := newFakeSrv(mesh.Address(0x0100 + i))
		f.srv[s.addr] = s
		f.order = append(f.order, s)
	}
	var err error
	f.layer, err = access.New(access.Config{
		Clock: f.clk, Rand: rand.New(rand.NewPCG(seed, 4)),
		Primary: func() mesh.Address { return fakeClientAddr },
		Send:    f.deliver,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeNet) newClient(s Strategy) *Client {
	f.t.Helper()
	c, err := NewClient(ClientConfig{Layer: f.layer, Clock: f.clk, Strategy: s})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.layer.AddElement(0, c.Model()); err != nil {
		f.t.Fatal(err)
	}
	if err := c.Model().Bind(0); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fakeNet) deliver(ctx *access.Context, payload []byte, done func(error)) error {
	f.sent++
	p := bytes.Clone(payload)
	dst := ctx.Dst
	// The time this message occupies the air, as the medium would.
	air := time.Duration(ChunkSegments(len(p)-1)) * 25 * time.Millisecond
	for _, s := range f.order {
		if dst != s.addr && dst != fakeGroup {
			continue
		}
		s := s
		if s.loss > 0 && f.rnd.Float64() < s.loss {
			continue
		}
		f.clk.AfterFunc(air, func() { f.handle(s, p) })
	}
	if done != nil {
		f.clk.AfterFunc(air, func() { done(nil) })
	}
	return nil
}

func (f *fakeNet) reply(s *fakeSrv, m access.Message) {
	if s.silent {
		return
	}
	b, err := access.Marshal(m)
	if err != nil {
		f.t.Fatalf("fake server %v: %v", s.addr, err)
	}
	if s.loss > 0 && f.rnd.Float64() < s.loss {
		return
	}
	d := 20*time.Millisecond + time.Duration(f.rnd.Int64N(int64(80*time.Millisecond)))
	ttl := f.recvTTL
	if ttl == 0 {
		ttl = 5
	}
	f.clk.AfterFunc(d, func() {
		f.layer.Receive(&access.Context{Src: s.addr, Dst: fakeClientAddr, AppKeyIndex: 0, RecvTTL: ttl}, b)
	})
}

// inject hands the client an answer from s at once, ahead of any answer
// the fake target has scheduled (a late answer to an earlier request).
func (f *fakeNet) inject(s *fakeSrv, m access.Message) {
	b, err := access.Marshal(m)
	if err != nil {
		f.t.Fatalf("fake server %v: %v", s.addr, err)
	}
	f.layer.Receive(&access.Context{Src: s.addr, Dst: fakeClientAddr, AppKeyIndex: 0, RecvTTL: 5}, b)
}

func (f *fakeNet) handle(s *fakeSrv, p []byte) {
	s.got++
	op, params, err := access.DecodeOpcode(p)
	if err != nil {
		f.t.Fatal(err)
	}
	m := NewMessage(op)
	if m == nil {
		f.t.Fatalf("opcode %v", op)
	}
	if err := m.Unmarshal(params); err != nil {
		f.t.Fatalf("client sent bad %v: %v", op, err)
	}
	if f.before != nil {
		f.before(s, m)
	}
	if st, ok := s.override[op]; ok {
		switch op {
		case OpBlockStart, OpBlockGet:
			f.reply(s, &BlockStatus{Status: st, BlockNumber: 0xffff, ChunkSize: 0xffff})
		case OpInformationGet:
		default:
			f.reply(s, &TransferStatus{Status: st, Phase: s.phase})
		}
		return
	}
	switch m := m.(type) {
	case *InformationGet:
		f.reply(s, &s.caps)
	case *TransferStart:
		switch {
		case m.ID != s.id:
			f.reply(s, s.status(StatusWrongBLOBID))
		case s.phase == PhaseWaitingForStart:
			s.mode, s.size, s.log2 = m.Mode, m.Size, m.BlockSizeLog
			s.blocks = FullChunkSet(BlockCount(m.Size, m.BlockSizeLog))
			s.data = make([]byte, m.Size)
			s.phase = PhaseWaitingForBlock
			f.reply(s, s.status(StatusSuccess))
		case s.phase == PhaseSuspended:
			s.phase = PhaseWaitingForBlock
			f.reply(s, s.status(StatusSuccess))
		default:
			f.reply(s, s.status(StatusSuccess))
		}
	case *TransferGet:
		f.reply(s, s.status(StatusSuccess))
	case *TransferCancel:
		s.phase, s.mode = PhaseInactive, ModeNone
		f.reply(s, s.status(StatusSuccess))
	case *BlockStart:
		switch s.phase {
		case PhaseWaitingForBlock, PhaseSuspended, PhaseComplete, PhaseWaitingForChunk:
		default:
			f.reply(s, &BlockStatus{Status: StatusWrongPhase, BlockNumber: 0xffff, ChunkSize: 0xffff})
			return
		}
		if s.phase == PhaseWaitingForChunk && (int(m.BlockNumber) != s.block || m.ChunkSize != s.chunkSize) {
			f.reply(s, &BlockStatus{Status: StatusWrongPhase, BlockNumber: uint16(s.block), ChunkSize: s.chunkSize})
			return
		}
		if s.phase != PhaseWaitingForChunk {
			s.block, s.chunkSize = int(m.BlockNumber), m.ChunkSize
			if s.blocks.Has(s.block) {
				s.missing = FullChunkSet(ChunkCount(BlockLen(s.size, s.log2, s.block), s.chunkSize))
				s.phase = PhaseWaitingForChunk
			} else {
				s.missing = NewChunkSet(ChunkCount(BlockLen(s.size, s.log2, s.block), s.chunkSize))
			}
		}
		f.reply(s, s.blockStatus())
	case *BlockGet:
		switch s.phase {
		case PhaseSuspended:
			f.reply(s, &BlockStatus{Status: StatusInformationUnavailable, BlockNumber: uint16(s.block), ChunkSize: s.chunkSize})
		case PhaseInactive, PhaseWaitingForStart:
			f.reply(s, &BlockStatus{Status: StatusWrongPhase, BlockNumber: 0xffff, ChunkSize: 0xffff})
		default:
			f.reply(s, s.blockStatus())
		}
	case *ChunkTransfer:
		if s.phase != PhaseWaitingForChunk || int(m.Number) >= s.missing.Len() {
			return
		}
		bl := BlockLen(s.size, s.log2, s.block)
		if len(m.Data) != ChunkLen(bl, s.chunkSize, int(m.Number)) {
			if s.dropBad {
				return
			}
			f.t.Errorf("chunk %d of %d octets", m.Number, len(m.Data))
			return
		}
		dup := !s.missing.Has(int(m.Number))
		copy(s.data[int(BlockOffset(s.log2, s.block))+int(m.Number)*int(s.chunkSize):], m.Data)
		s.missing.Clear(int(m.Number))
		if dup && s.mode == ModePull {
			// A real server repeats its report on its timer (T_BPI).
			f.reply(s, &PartialBlockReport{EncodedMissing: s.asked})
			return
		}
		if s.missing.Empty() {
			s.blocks.Clear(s.block)
			s.phase = PhaseWaitingForBlock
			if s.blocks.Empty() {
				s.phase = PhaseComplete
			}
			if s.mode == ModePull {
				f.reply(s, &PartialBlockReport{})
			}
			return
		}
		if s.mode == ModePull {
			for _, a := range s.asked {
				if s.missing.Has(int(a)) {
					return // the batch is not complete
				}
			}
			s.asked = s.missing.AppendList(s.asked[:0], s.pullReq)
			f.reply(s, &PartialBlockReport{EncodedMissing: s.asked})
		}
	}
}

func (s *fakeSrv) status(st Status) *TransferStatus {
	m := &TransferStatus{Status: st, Mode: s.mode, Phase: s.phase, HasID: true, ID: s.id}
	if s.phase >= PhaseWaitingForBlock {
		m.HasSize, m.Size, m.BlockSizeLog, m.MTU, m.BlocksNotReceived = true, s.size, s.log2, 380, s.blocks.Clone()
	}
	return m
}

func (s *fakeSrv) blockStatus() *BlockStatus {
	m := &BlockStatus{Status: StatusSuccess, BlockNumber: uint16(s.block), ChunkSize: s.chunkSize}
	switch {
	case s.mode == ModePull:
		m.Format = FormatEncodedList
		s.asked = s.missing.AppendList(s.asked[:0], s.pullReq)
		m.EncodedMissing = append([]uint16(nil), s.asked...)
	case s.phase != PhaseWaitingForChunk || s.missing.Empty():
		m.Format = FormatNoneMissing
	case s.missing.Count() == s.missing.Len():
		m.Format = FormatAllMissing
	default:
		m.Format = FormatSomeMissing
		m.Missing = s.missing.Clone()
	}
	return m
}

// run starts x and runs the clock until OnEnd (or limit); it returns the
// result and the losses reported.
type runResult struct {
	res       *Result
	lost      []*LostError
	blocks    []int
	progress  int
	suspended int
	onBlock   func(b int) // when set, called from OnBlockDone
}

func (f *fakeNet) start(c *Client, x Transfer, r *runResult) {
	f.t.Helper()
	x.Callbacks.OnEnd = func(res Result) { r.res = &res }
	x.Callbacks.OnTargetLost = func(e *LostError) { r.lost = append(r.lost, e) }
	x.Callbacks.OnBlockDone = func(b int) {
		r.blocks = append(r.blocks, b)
		if r.onBlock != nil {
			r.onBlock(b)
		}
	}
	x.Callbacks.OnProgress = func(TargetProgress) { r.progress++ }
	x.Callbacks.OnSuspended = func() { r.suspended++ }
	if err := c.Start(x); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeNet) runUntil(cond func() bool, limit time.Duration) {
	end := f.clk.Now().Add(limit)
	for !cond() && f.clk.Now().Before(end) {
		f.clk.Advance(10 * time.Millisecond)
	}
}

func testBLOB(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (f *fakeNet) addrs() []mesh.Address {
	var a []mesh.Address
	for _, s := range f.order {
		a = append(a, s.addr)
	}
	return a
}
