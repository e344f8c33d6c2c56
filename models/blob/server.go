package blob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// Server defaults (Zephyr Kconfig defaults unless noted; see docs/blob.md).
const (
	DefaultMinBlockSizeLog  = 12         // 4096-octet blocks
	DefaultMaxBlockSizeLog  = 12         // 4096-octet blocks
	DefaultMaxTotalChunks   = 256        // chunks per block
	DefaultMaxBLOBSize      = 512 * 1024 // octets
	DefaultServerMTU        = 380        // largest access message (32 segments, 32-bit TransMIC)
	DefaultPullRequestCount = 4          // chunks per Partial Block Report
	// DefaultReportInterval is T_BPI, the Pull mode report timer.
	DefaultReportInterval = 10 * time.Second
	// MaxPollInterval is T_MBPI, the Maximum BLOB Poll Interval: a Pull mode
	// report timer may not exceed it.
	MaxPollInterval = 30 * time.Second
)

// Server errors.
var (
	// ErrServerConfig reports an unusable ServerConfig.
	ErrServerConfig = errors.New("blob: bad server config")
	// ErrServerBusy reports a Prepare while a transfer is running.
	ErrServerBusy = errors.New("blob: server busy")
	// ErrServerIdle reports a Cancel without a transfer.
	ErrServerIdle = errors.New("blob: no transfer")
)

// ServerTransfer describes the transfer a Server receives, as Transfer Start
// set it up.
type ServerTransfer struct {
	ID           uint64
	Size         uint32
	BlockSizeLog uint8
	Mode         TransferMode
	MTU          uint16       // Transfer MTU Size: min(client's, server's)
	Client       mesh.Address // source of the accepted Transfer Start
}

// Blocks returns the number of blocks of the BLOB.
func (t ServerTransfer) Blocks() int { return BlockCount(t.Size, t.BlockSizeLog) }

// ServerConfig configures a Server. Zero fields take the documented
// defaults; Clock and Storage are required.
type ServerConfig struct {
	Clock   mesh.Clock   // required
	Storage Storage      // required: where BLOB data goes
	State   StateStore   // nil: state is not persisted
	Rand    *rand.Rand   // response delays; nil: a fixed seed
	Logger  *slog.Logger // nil: discard

	// Capabilities, reported in BLOB Information Status.
	MinBlockSizeLog uint8          // 0: DefaultMinBlockSizeLog
	MaxBlockSizeLog uint8          // 0: DefaultMaxBlockSizeLog
	MaxTotalChunks  uint16         // 0: DefaultMaxTotalChunks (at most MaxBlockStatusChunks)
	MaxChunkSize    uint16         // 0: MTU − 3 (the largest chunk a Chunk Transfer of MTU octets holds)
	MaxBLOBSize     uint32         // 0: DefaultMaxBLOBSize
	MTU             uint16         // Server MTU Size; 0: DefaultServerMTU
	Modes           SupportedModes // 0: Push and Pull

	// PullRequestCount is how many chunks one Partial Block Report asks
	// for; 0: DefaultPullRequestCount.
	PullRequestCount int
	// ReportInterval is T_BPI, the Pull mode report timer; 0:
	// DefaultReportInterval, at most MaxPollInterval.
	ReportInterval time.Duration
	// PullWaitForTimer makes a Pull mode server send its next report only
	// when the report timer fires, as Zephyr does. By default the next
	// report leaves as soon as the chunks of the previous one arrived.
	PullWaitForTimer bool

	// LPN, on a Low Power node, is the node's Low Power feature: the
	// server then supports Pull mode only (unless Modes says otherwise),
	// caps Max Chunk Size and the chunks per report to the Friend Queue
	// granted, and polls the Friend during a transfer (server_lpn.go;
	// docs/friend-lpn.md "Pull BLOB sizing"). A PullRequestCount set
	// explicitly is then an upper bound. nil on other nodes.
	LPN LowPower
	// LPNQueueReserve is how many Friend Queue entries requested chunks
	// leave free; 0: DefaultLPNQueueReserve; negative: none (Zephyr).
	LPNQueueReserve int
	// LPNPollInterval is the poll period while requested chunks are due,
	// LPNIdlePollInterval in the other phases of a transfer; 0: the
	// defaults; negative: no periodic poll (only the one after each
	// report, as Zephyr). At most MaxPollInterval.
	LPNPollInterval, LPNIdlePollInterval time.Duration

	// OnStart runs when a Transfer Start is about to be accepted; an error
	// refuses it with Internal Error (the transfer is cancelled).
	OnStart func(t ServerTransfer) error
	// OnBlockComplete runs after block has been received and synced.
	OnBlockComplete func(id uint64, block int)
	// OnComplete runs when the whole BLOB has been received and synced.
	OnComplete func(id uint64)
	// OnSuspended runs when the inactivity timer suspends the transfer.
	OnSuspended func(id uint64)
	// OnResume runs when a suspended transfer resumes.
	OnResume func(id uint64)
	// OnCancel runs when the transfer ends without completing: Transfer
	// Cancel, a local Cancel, a timeout in Waiting for Transfer Start, or a
	// storage failure (err is then non-nil).
	OnCancel func(id uint64, err error)
	// OnPhase runs on every phase change.
	OnPhase func(old, new Phase)
}

func (c *ServerConfig) withDefaults() {
	if c.MinBlockSizeLog == 0 {
		c.MinBlockSizeLog = DefaultMinBlockSizeLog
	}
	if c.MaxBlockSizeLog == 0 {
		c.MaxBlockSizeLog = DefaultMaxBlockSizeLog
	}
	if c.MaxTotalChunks == 0 {
		c.MaxTotalChunks = DefaultMaxTotalChunks
	}
	if c.MTU == 0 {
		c.MTU = DefaultServerMTU
	}
	if c.MaxChunkSize == 0 {
		c.MaxChunkSize = c.MTU - 3
	}
	if c.MaxBLOBSize == 0 {
		c.MaxBLOBSize = DefaultMaxBLOBSize
	}
	if c.Modes == 0 {
		c.Modes = SupportPush | SupportPull
		if c.LPN != nil {
			c.Modes = SupportPull // MshMBT: Pull mode serves Low Power nodes
		}
	}
	if c.LPNQueueReserve == 0 {
		c.LPNQueueReserve = DefaultLPNQueueReserve
	}
	if c.LPNPollInterval == 0 {
		c.LPNPollInterval = DefaultLPNPollInterval
	}
	if c.LPNIdlePollInterval == 0 {
		c.LPNIdlePollInterval = DefaultLPNIdlePollInterval
	}
	if c.PullRequestCount == 0 {
		c.PullRequestCount = DefaultPullRequestCount
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = DefaultReportInterval
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(0x1400, 0x1400))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *ServerConfig) validate() error {
	switch {
	case c.Clock == nil || c.Storage == nil:
		return fmt.Errorf("%w: Clock and Storage are required", ErrServerConfig)
	case c.MinBlockSizeLog < MinBlockSizeLog || c.MaxBlockSizeLog > MaxBlockSizeLog || c.MinBlockSizeLog > c.MaxBlockSizeLog:
		return fmt.Errorf("%w: block size log %d–%d", ErrServerConfig, c.MinBlockSizeLog, c.MaxBlockSizeLog)
	case c.MaxTotalChunks > MaxBlockStatusChunks:
		return fmt.Errorf("%w: max total chunks %d above %d", ErrServerConfig, c.MaxTotalChunks, MaxBlockStatusChunks)
	case c.MTU < MinMTU || c.MTU > access.MaxMessageSize:
		return fmt.Errorf("%w: MTU %d", ErrServerConfig, c.MTU)
	case c.MaxChunkSize < 1 || c.MaxChunkSize > MaxChunkSize:
		return fmt.Errorf("%w: max chunk size %d", ErrServerConfig, c.MaxChunkSize)
	case c.Modes&supportRFU != 0:
		return fmt.Errorf("%w: modes %s", ErrServerConfig, c.Modes)
	case c.PullRequestCount < 1 || c.ReportInterval < time.Second || c.ReportInterval > MaxPollInterval:
		return fmt.Errorf("%w: pull request count %d, report interval %v", ErrServerConfig, c.PullRequestCount, c.ReportInterval)
	case c.LPNPollInterval > MaxPollInterval || c.LPNIdlePollInterval > MaxPollInterval:
		return fmt.Errorf("%w: LPN poll intervals %v, %v above T_MBPI %v", ErrServerConfig, c.LPNPollInterval, c.LPNIdlePollInterval, MaxPollInterval)
	}
	return nil
}

// ServerStats counts what a Server did.
type ServerStats struct {
	Requests        uint64 // acknowledged requests answered
	Dropped         uint64 // messages that failed to decode
	Chunks          uint64 // new chunks written
	DuplicateChunks uint64 // valid chunks already received
	RejectedChunks  uint64 // chunks in the wrong phase, out of range or of the wrong size
	WriteErrors     uint64 // chunk writes or syncs that failed
	Reports         uint64 // Partial Block Reports sent
	Polls           uint64 // Friend Polls asked of the Low Power feature (ServerConfig.LPN)
	PollErrors      uint64 // of which refused (no friendship)
	Saves           uint64 // state records written
}

// Server is the BLOB Transfer Server model (SIG model 0x1400). Add
// Model() to an element, give it the node's access layer with SetLayer,
// then Prepare it for a BLOB ID before a client starts the transfer.
//
// Phases (MshMBT v1.0 Transfer Phase; Zephyr blob_srv.c):
//
//	Inactive ──Prepare──▶ Waiting for Transfer Start ──Transfer Start──▶ Waiting for Next Block
//	Waiting for Next Block ──Block Start (block missing)──▶ Waiting for Next Chunk
//	Waiting for Next Chunk ──last chunk──▶ Waiting for Next Block, or Complete after the last block
//	Waiting for Next Block/Chunk ──inactivity timeout──▶ Suspended
//	Waiting for Transfer Start ──inactivity timeout──▶ Inactive
//	Suspended ──Transfer Start (same parameters)──▶ Waiting for Next Block
//	Suspended ──Block Start (block missing)──▶ Waiting for Next Chunk
//	any ──Transfer Cancel (same ID) or Cancel──▶ Inactive
//
// Call every method on the node's executor.
type Server struct {
	cfg   ServerConfig
	log   *slog.Logger
	model *access.Model
	layer *access.Layer
	// out sends a message now with ctx; tests replace it.
	out func(ctx *access.Context, m access.Message)

	phase       Phase
	id          uint64
	ttl         uint8
	timeoutBase uint16
	xfer        ServerTransfer
	appKey      uint16
	netKey      uint16
	blocks      ChunkSet // Blocks Not Received
	writer      Writer
	// refused is the BLOB ID whose Transfer Start storage or the owner
	// refused (Internal Error, then Inactive); 0: none.
	refused uint64

	// The current block (number 0xFFFF until a Block Start).
	block      uint16
	chunkSize  uint16
	blockLen   int
	chunkCount int
	missing    ChunkSet

	// Pull mode: chunks asked for in the last report, still missing.
	asked    ChunkSet
	lingered bool // Complete in Pull mode, still sending empty reports

	lpn lpnState // on a Low Power node (server_lpn.go)

	rxTimer     mesh.Timer
	rxGen       uint64
	reportTimer mesh.Timer
	reportGen   uint64

	chunk ChunkTransfer // reused decode buffer
	list  []uint16      // reused report list
	stats ServerStats
}

const notSet = 0xffff

// NewServer returns a Server. When cfg.State holds a transfer saved before
// a reboot, the Server comes back with it: Suspended if it was running
// (its storage reopened with resume), Complete or Waiting for Transfer
// Start as it was.
func NewServer(cfg ServerConfig) (*Server, error) {
	maxRequest := cfg.PullRequestCount
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, block: notSet, chunkSize: notSet, ttl: access.DefaultTTL}
	s.lpn.maxRequest = maxRequest
	s.out = s.send
	s.model = &access.Model{
		ID: ServerModelID,
		Ops: []access.Op{
			{Opcode: OpTransferGet, Len: access.LenExact(0), Handler: s.handleTransferGet},
			{Opcode: OpTransferStart, Len: access.LenExact(transferStartLen), Handler: s.handleTransferStart},
			{Opcode: OpTransferCancel, Len: access.LenExact(8), Handler: s.handleTransferCancel},
			{Opcode: OpBlockGet, Len: access.LenExact(0), Handler: s.handleBlockGet},
			{Opcode: OpBlockStart, Len: access.LenExact(4), Handler: s.handleBlockStart},
			{Opcode: OpChunkTransfer, Len: access.LenRange(3, 2+MaxChunkSize), Handler: s.handleChunk},
			{Opcode: OpInformationGet, Len: access.LenExact(0), Handler: s.handleInformationGet},
		},
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	return s, nil
}

// Model returns the access model to add to an element.
func (s *Server) Model() *access.Model { return s.model }

// SetLayer gives the Server the access layer its model was added to; it
// sends nothing before.
func (s *Server) SetLayer(l *access.Layer) { s.layer = l }

// Phase returns the Transfer Phase.
func (s *Server) Phase() Phase { return s.phase }

// Transfer returns the running (or suspended, or complete) transfer; ok
// is false before a Transfer Start was accepted.
func (s *Server) Transfer() (t ServerTransfer, ok bool) {
	return s.xfer, s.phase >= PhaseWaitingForBlock
}

// Progress returns the blocks received and the block count.
func (s *Server) Progress() (done, total int) {
	if s.phase < PhaseWaitingForBlock {
		return 0, 0
	}
	total = s.blocks.Len()
	return total - s.blocks.Count(), total
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats { return s.stats }

// Capabilities returns the BLOB Information Status the Server answers.
func (s *Server) Capabilities() InformationStatus {
	return InformationStatus{
		MinBlockSizeLog: s.cfg.MinBlockSizeLog, MaxBlockSizeLog: s.cfg.MaxBlockSizeLog,
		MaxTotalChunks: s.cfg.MaxTotalChunks, MaxChunkSize: s.maxChunkSize(),
		MaxBLOBSize: s.cfg.MaxBLOBSize, MTU: s.cfg.MTU, Modes: s.cfg.Modes,
	}
}

// Prepare readies the Server for BLOB id: it enters Waiting for Transfer
// Start, with ttl as the Transfer TTL (access.DefaultTTL: the node's
// Default TTL) and timeoutBase as the Timeout Base of the inactivity timer
// (10·(timeoutBase+1) s). It fails with ErrServerBusy while a transfer runs;
// a Suspended or Complete transfer is abandoned.
func (s *Server) Prepare(id uint64, ttl uint8, timeoutBase uint16) error {
	switch s.phase {
	case PhaseWaitingForStart, PhaseWaitingForBlock, PhaseWaitingForChunk:
		return fmt.Errorf("%w: %s", ErrServerBusy, s.phase)
	}
	s.closeWriter()
	s.stopTimers()
	s.id, s.ttl, s.timeoutBase = id, ttl, timeoutBase
	s.refused = 0
	s.xfer = ServerTransfer{ID: id}
	s.block, s.chunkSize = notSet, notSet
	s.blocks.Reset(0)
	s.armRxTimer()
	s.setPhase(PhaseWaitingForStart)
	s.save()
	return nil
}

// Cancel abandons the transfer locally (Zephyr bt_mesh_blob_srv_cancel):
// the Server becomes Inactive and OnCancel runs.
func (s *Server) Cancel() error {
	if s.phase == PhaseInactive {
		return ErrServerIdle
	}
	s.cancel(nil)
	return nil
}

// rxTimeout returns the inactivity timeout: 10·(Timeout Base + 1) s (Zephyr
// SERVER_TIMEOUT_SECS), and in Pull mode at least T_BPI + 1 s.
func (s *Server) rxTimeout() time.Duration {
	d := 10 * time.Second * time.Duration(int(s.timeoutBase)+1)
	if s.xfer.Mode == ModePull {
		d = max(d, s.cfg.ReportInterval+time.Second)
	}
	return d
}

func (s *Server) armRxTimer() {
	s.stopRxTimer()
	gen := s.rxGen
	s.rxTimer = s.cfg.Clock.AfterFunc(s.rxTimeout(), func() {
		if gen == s.rxGen {
			s.rxTimer = nil
			s.onRxTimeout()
		}
	})
}

func (s *Server) stopRxTimer() {
	s.rxGen++
	if s.rxTimer != nil {
		s.rxTimer.Stop()
		s.rxTimer = nil
	}
}

func (s *Server) stopTimers() {
	s.stopRxTimer()
	s.stopReportTimer()
	s.lingered = false
}

// onRxTimeout is the Receive BLOB Timeout: Waiting for Transfer Start
// ends Inactive, a running transfer is Suspended, and a complete Pull
// transfer stops its end-of-transfer reports.
func (s *Server) onRxTimeout() {
	switch s.phase {
	case PhaseWaitingForStart:
		s.cancel(nil)
	case PhaseWaitingForBlock, PhaseWaitingForChunk:
		s.suspend()
	case PhaseComplete:
		s.stopTimers()
	}
}

func (s *Server) suspend() {
	s.stopTimers()
	s.block, s.chunkSize, s.chunkCount, s.blockLen = notSet, notSet, 0, 0
	s.missing.Reset(0)
	s.setPhase(PhaseSuspended)
	s.save()
	if s.cfg.OnSuspended != nil {
		s.cfg.OnSuspended(s.id)
	}
}

func (s *Server) resume() {
	s.armRxTimer()
	s.setPhase(PhaseWaitingForBlock)
	s.save()
	if s.cfg.OnResume != nil {
		s.cfg.OnResume(s.id)
	}
}

// cancel ends the transfer: Inactive, mode None, state erased.
func (s *Server) cancel(err error) {
	s.stopTimers()
	s.closeWriter()
	s.xfer.Mode = ModeNone
	s.ttl = access.DefaultTTL
	s.block, s.chunkSize, s.chunkCount, s.blockLen = notSet, notSet, 0, 0
	s.missing.Reset(0)
	s.setPhase(PhaseInactive)
	s.save()
	if s.cfg.OnCancel != nil {
		s.cfg.OnCancel(s.id, err)
	}
}

func (s *Server) closeWriter() {
	if s.writer != nil {
		if err := s.writer.Close(); err != nil {
			s.stats.WriteErrors++
			s.log.Warn("blob: server: close storage", slog.Any("err", err))
		}
		s.writer = nil
	}
}

// setPhase is the one place the phase changes.
func (s *Server) setPhase(p Phase) {
	old := s.phase
	if old == p {
		return
	}
	s.phase = p
	s.lpnSchedule(false)
	s.log.Info("blob: server phase", slog.String("phase", p.String()), slog.String("from", old.String()))
	if s.cfg.OnPhase != nil {
		s.cfg.OnPhase(old, p)
	}
}

// ---- sending ----

// rawMessage carries already-encoded parameters, so a response captures
// the state at the time of the request.
type rawMessage struct {
	op     access.Opcode
	params []byte
}

func (m *rawMessage) Opcode() access.Opcode                 { return m.op }
func (m *rawMessage) AppendBinary(b []byte) ([]byte, error) { return append(b, m.params...), nil }
func (m *rawMessage) Unmarshal(p []byte) error              { m.params = append(m.params[:0], p...); return nil }

// respond answers req with m after the random response delay of Mesh
// Protocol v1.1 §3.7.4.1, with TTL = Transfer TTL outside Inactive (Zephyr
// xfer_status_rsp; MshMBT response rules).
func (s *Server) respond(req *access.Context, m access.Message) {
	s.stats.Requests++
	params, err := m.AppendBinary(nil)
	if err != nil {
		s.log.Error("blob: server: encode response", slog.Any("opcode", m.Opcode()), slog.Any("err", err))
		return
	}
	ttl := access.DefaultTTL
	if s.phase != PhaseInactive {
		ttl = s.ttl
	}
	if req.RecvTTL == 0 {
		ttl = 0
	}
	ctx := access.Context{Dst: req.Src, NetKeyIndex: req.NetKeyIndex, AppKeyIndex: req.AppKeyIndex, TTL: ttl}
	maxDelay := access.ReplyDelayMaxUnicast
	if !req.Dst.IsUnicast() {
		maxDelay = access.ReplyDelayMaxGroup
	}
	delay := access.ReplyDelayMin + time.Duration(s.cfg.Rand.Int64N(int64(maxDelay-access.ReplyDelayMin)+1))
	raw := &rawMessage{op: m.Opcode(), params: params}
	s.cfg.Clock.AfterFunc(delay, func() { s.out(&ctx, raw) })
	s.lpnAnswered()
}

func (s *Server) send(ctx *access.Context, m access.Message) {
	if s.layer == nil {
		s.log.Warn("blob: server: no access layer", slog.Any("opcode", m.Opcode()))
		return
	}
	if err := s.layer.Send(s.model, ctx, m, nil); err != nil {
		s.log.Warn("blob: server: send", slog.Any("opcode", m.Opcode()), slog.Any("dst", ctx.Dst), slog.Any("err", err))
	}
}

func (s *Server) debug(msg string, attrs ...slog.Attr) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, "blob: server: "+msg, attrs...)
	}
}

func (s *Server) drop(op access.Opcode, err error) {
	s.stats.Dropped++
	s.debug("drop", slog.Any("opcode", op), slog.Any("err", err))
}

// ---- Transfer Get / Start / Cancel, Information Get ----

func (s *Server) handleTransferGet(ctx *access.Context, p []byte) {
	var m TransferGet
	if err := m.Unmarshal(p); err != nil {
		s.drop(OpTransferGet, err)
		return
	}
	if s.phase == PhaseComplete && s.lingered {
		s.stopTimers() // the client knows the transfer is complete
	}
	s.respond(ctx, s.transferStatus(StatusSuccess))
}

// transferStatus builds the Transfer Status of the current state with
// status st: 2 octets when Inactive, 10 in Waiting for Transfer Start,
// every field otherwise (Zephyr xfer_status_rsp).
func (s *Server) transferStatus(st Status) *TransferStatus {
	m := &TransferStatus{Status: st, Mode: s.xfer.Mode, Phase: s.phase}
	if s.phase == PhaseInactive {
		m.Mode = ModeNone
		return m
	}
	m.HasID, m.ID = true, s.id
	if s.phase == PhaseWaitingForStart {
		m.Mode = ModeNone
		return m
	}
	m.HasSize, m.Size, m.BlockSizeLog, m.MTU = true, s.xfer.Size, s.xfer.BlockSizeLog, s.xfer.MTU
	m.BlocksNotReceived = s.blocks
	return m
}

func (s *Server) handleTransferStart(ctx *access.Context, p []byte) {
	var m TransferStart
	if err := m.Unmarshal(p); err != nil {
		// Transfer Mode 0b00 or 0b11 included: ignored without an answer.
		s.drop(OpTransferStart, err)
		return
	}
	st := s.transferStartStatus(&m)
	if st == StatusSuccess {
		st = s.startTransfer(ctx, &m)
	}
	s.respond(ctx, s.transferStatus(st))
}

// transferStartStatus decides the answer to Transfer Start m from the
// state alone (no effect), in the order of blob.md §11.2 (Zephyr
// handle_xfer_start): Wrong Phase when Inactive, Wrong BLOB ID, Wrong Phase
// for other parameters of a started transfer, Success for the same ones,
// then Unsupported Transfer Mode, BLOB Too Large, Invalid Block Size, and
// Invalid Parameter for a block count the server cannot report.
func (s *Server) transferStartStatus(m *TransferStart) Status {
	switch {
	case s.phase == PhaseInactive && s.refused != 0 && m.ID == s.refused:
		// A repeat of the Transfer Start it refused (the client missed the
		// answer): the same answer, not Wrong Phase.
		return StatusInternalError
	case s.phase == PhaseInactive:
		return StatusWrongPhase
	case m.ID != s.id:
		return StatusWrongBLOBID
	case s.phase != PhaseWaitingForStart:
		if m.Mode != s.xfer.Mode || m.Size != s.xfer.Size || m.BlockSizeLog != s.xfer.BlockSizeLog || m.MTU < s.xfer.MTU {
			return StatusWrongPhase
		}
		return StatusSuccess
	case !s.cfg.Modes.Has(m.Mode):
		return StatusUnsupportedTransferMode
	case m.Size > s.cfg.MaxBLOBSize:
		return StatusBLOBTooLarge
	case m.BlockSizeLog < s.cfg.MinBlockSizeLog || m.BlockSizeLog > s.cfg.MaxBlockSizeLog:
		return StatusInvalidBlockSize
	}
	// The Transfer Status with Blocks Not Received must fit the Transfer
	// MTU (and a Block Number must fit 16 bits).
	mtu := min(m.MTU, s.cfg.MTU)
	nb := BlockCount(m.Size, m.BlockSizeLog)
	if nb > MaxChunks || 2+17+(nb+7)/8 > int(mtu) {
		return StatusInvalidParameter
	}
	return StatusSuccess
}

// startTransfer applies an accepted Transfer Start: a resume or duplicate
// of the running transfer, or a new transfer. It returns Internal Error
// when storage or the owner refuses.
func (s *Server) startTransfer(ctx *access.Context, m *TransferStart) Status {
	if s.phase != PhaseWaitingForStart {
		if s.phase == PhaseSuspended {
			s.resume()
		}
		return StatusSuccess // duplicate
	}
	t := ServerTransfer{ID: m.ID, Size: m.Size, BlockSizeLog: m.BlockSizeLog, Mode: m.Mode,
		MTU: min(m.MTU, s.cfg.MTU), Client: ctx.Src}
	w, err := s.cfg.Storage.Open(m.ID, m.Size, false)
	if err == nil && s.cfg.OnStart != nil {
		if err = s.cfg.OnStart(t); err != nil && w != nil {
			w.Close()
		}
	}
	if err != nil {
		s.log.Warn("blob: server: transfer refused", slog.Any("err", err))
		s.cancel(fmt.Errorf("blob: server: start: %w", err))
		s.refused = m.ID
		return StatusInternalError
	}
	s.writer = w
	s.xfer = t
	s.appKey, s.netKey = ctx.AppKeyIndex, ctx.NetKeyIndex
	s.blocks = FullChunkSet(t.Blocks())
	s.block, s.chunkSize = notSet, notSet
	s.armRxTimer()
	s.setPhase(PhaseWaitingForBlock)
	if s.blocks.Empty() { // a BLOB of 0 octets is complete at once
		s.complete()
	}
	s.save()
	return StatusSuccess
}

func (s *Server) handleTransferCancel(ctx *access.Context, p []byte) {
	var m TransferCancel
	if err := m.Unmarshal(p); err != nil {
		s.drop(OpTransferCancel, err)
		return
	}
	st := s.transferCancelStatus(&m)
	if st == StatusSuccess && s.phase != PhaseInactive {
		s.cancel(nil)
	}
	s.respond(ctx, s.transferStatus(st))
}

// transferCancelStatus: Success when Inactive (nothing to do) or for the
// current BLOB ID (in any other phase, Complete included), else Wrong BLOB
// ID.
func (s *Server) transferCancelStatus(m *TransferCancel) Status {
	if s.phase != PhaseInactive && m.ID != s.id {
		return StatusWrongBLOBID
	}
	return StatusSuccess
}

func (s *Server) handleInformationGet(ctx *access.Context, p []byte) {
	var m InformationGet
	if err := m.Unmarshal(p); err != nil {
		s.drop(OpInformationGet, err)
		return
	}
	caps := s.Capabilities()
	s.respond(ctx, &caps)
}
