package blob

import (
	"fmt"
	"log/slog"

	"github.com/meshdfu/meshdfu/mesh/access"
)

func (s *Server) handleBlockStart(ctx *access.Context, p []byte) {
	var m BlockStart
	if err := m.Unmarshal(p); err != nil {
		s.drop(OpBlockStart, err)
		return
	}
	st := s.blockStartStatus(&m)
	if st == StatusSuccess {
		st = s.startBlock(&m)
	} else if s.phase != PhaseInactive && s.phase != PhaseWaitingForStart && s.phase != PhaseComplete {
		s.armRxTimer() // any Block Start of the client shows it is alive
	}
	s.respond(ctx, s.blockStatus(st))
}

// blockStartStatus decides the answer to Block Start m from the state
// alone, in the order of blob.md §11.2 (Zephyr handle_block_start): Wrong
// Phase before a transfer, Success for a repeat of the open block and Wrong
// Phase for another one, Invalid Block Number, then Invalid Chunk Size for
// 0, above Max Chunk Size or Transfer MTU − 3, or for more chunks per
// (full-size) block than Max Total Chunks or a Block Status bit field of
// the Transfer MTU can hold.
func (s *Server) blockStartStatus(m *BlockStart) Status {
	switch {
	case s.phase == PhaseInactive || s.phase == PhaseWaitingForStart:
		return StatusWrongPhase
	case s.phase == PhaseWaitingForChunk:
		if m.BlockNumber != s.block || m.ChunkSize != s.chunkSize {
			return StatusWrongPhase
		}
		return StatusSuccess
	case int(m.BlockNumber) >= s.blocks.Len():
		return StatusInvalidBlockNumber
	}
	mtu := int(s.xfer.MTU)
	full := min(uint64(s.xfer.Size), BlockSize(s.xfer.BlockSizeLog))
	if m.ChunkSize == 0 || m.ChunkSize > s.maxChunkSize() || int(m.ChunkSize) > mtu-3 {
		return StatusInvalidChunkSize
	}
	if n := (full + uint64(m.ChunkSize) - 1) / uint64(m.ChunkSize); n > uint64(s.cfg.MaxTotalChunks) || n > uint64(8*(mtu-6)) {
		return StatusInvalidChunkSize
	}
	return StatusSuccess
}

// startBlock applies an accepted Block Start.
func (s *Server) startBlock(m *BlockStart) Status {
	if s.phase == PhaseWaitingForChunk {
		s.armRxTimer()
		return StatusSuccess // repeat of the open block
	}
	s.block, s.chunkSize = m.BlockNumber, m.ChunkSize
	s.blockLen = BlockLen(s.xfer.Size, s.xfer.BlockSizeLog, int(m.BlockNumber))
	s.chunkCount = ChunkCount(s.blockLen, m.ChunkSize)
	if s.phase == PhaseComplete || !s.blocks.Has(int(m.BlockNumber)) {
		// Already received: report no chunks missing, phase unchanged.
		s.missing.Reset(s.chunkCount)
		if s.phase == PhaseComplete {
			s.stopTimers() // the client is past the end-of-transfer reports
		} else {
			s.armRxTimer()
		}
		return StatusSuccess
	}
	resumed := s.phase == PhaseSuspended
	s.missing.Reset(s.chunkCount)
	s.missing.Fill()
	s.armRxTimer()
	s.setPhase(PhaseWaitingForChunk)
	if resumed {
		s.save()
		if s.cfg.OnResume != nil {
			s.cfg.OnResume(s.id)
		}
	}
	if s.xfer.Mode == ModePull {
		s.startPull()
	}
	s.debug("block start", slog.Int("block", int(s.block)), slog.Int("chunks", s.chunkCount))
	return StatusSuccess
}

func (s *Server) handleBlockGet(ctx *access.Context, p []byte) {
	var m BlockGet
	if err := m.Unmarshal(p); err != nil {
		s.drop(OpBlockGet, err)
		return
	}
	s.respond(ctx, s.blockStatus(s.blockGetStatus()))
}

// blockGetStatus: Success while a transfer runs or is Complete,
// Information Unavailable when Suspended, Wrong Phase before a transfer.
func (s *Server) blockGetStatus() Status {
	switch s.phase {
	case PhaseWaitingForBlock, PhaseWaitingForChunk, PhaseComplete:
		return StatusSuccess
	case PhaseSuspended:
		return StatusInformationUnavailable
	}
	return StatusWrongPhase
}

// blockStatus builds the Block Status of the current block with status st
// (Zephyr block_status_rsp): Pull mode lists up to PullRequestCount
// missing chunks; Push mode reports all, none or the bit field. Block
// Number and Chunk Size are the current ones (0xFFFF before a Block
// Start), on error answers too.
func (s *Server) blockStatus(st Status) *BlockStatus {
	m := &BlockStatus{Status: st, BlockNumber: s.block, ChunkSize: s.chunkSize}
	missing := 0
	switch s.phase {
	case PhaseInactive, PhaseWaitingForStart:
		missing = s.chunkCount
	case PhaseComplete:
	default:
		missing = s.missing.Count()
	}
	switch {
	case s.xfer.Mode == ModePull && s.phase != PhaseInactive:
		m.Format = FormatEncodedList
		if missing > 0 {
			m.EncodedMissing = s.missing.AppendList(nil, s.pullRequestCount())
		}
	case missing == s.chunkCount:
		m.Format = FormatAllMissing
	case missing == 0:
		m.Format = FormatNoneMissing
	default:
		m.Format = FormatSomeMissing
		m.Missing = s.missing
	}
	return m
}

func (s *Server) handleChunk(ctx *access.Context, p []byte) {
	if err := s.chunk.Unmarshal(p); err != nil {
		s.drop(OpChunkTransfer, err)
		return
	}
	s.receiveChunk(s.chunk.Number, s.chunk.Data)
}

// receiveChunk takes one chunk (MshMBT Chunk Transfer; Zephyr
// handle_chunk): only in Waiting for Next Chunk, for a chunk of the open
// block, of exactly its size. A valid chunk restarts the timers even when
// it is a duplicate, which is not written again.
func (s *Server) receiveChunk(n uint16, data []byte) {
	idx := int(n)
	if s.phase != PhaseWaitingForChunk || idx >= s.chunkCount || len(data) != ChunkLen(s.blockLen, s.chunkSize, idx) {
		s.stats.RejectedChunks++
		s.debug("chunk rejected", slog.Int("chunk", idx), slog.Int("len", len(data)), slog.String("phase", s.phase.String()))
		return
	}
	s.armRxTimer()
	if !s.missing.Has(idx) {
		s.stats.DuplicateChunks++
		if s.xfer.Mode == ModePull {
			s.armReportTimer()
		}
		return
	}
	off := BlockOffset(s.xfer.BlockSizeLog, int(s.block)) + int64(idx)*int64(s.chunkSize)
	if _, err := s.writer.WriteAt(data, off); err != nil {
		s.stats.WriteErrors++
		s.log.Warn("blob: server: write chunk", slog.Int("block", int(s.block)), slog.Int("chunk", idx), slog.Any("err", err))
		return
	}
	s.stats.Chunks++
	s.missing.Clear(idx)
	if !s.missing.Empty() {
		if s.xfer.Mode == ModePull {
			s.pullChunk(idx)
		}
		return
	}
	s.endBlock()
}

// endBlock records the open block as received, once its data is durable.
func (s *Server) endBlock() {
	if err := s.writer.Sync(); err != nil {
		s.stats.WriteErrors++
		s.cancel(fmt.Errorf("blob: server: sync block %d: %w", s.block, err))
		return
	}
	block := int(s.block)
	s.blocks.Clear(block)
	if s.blocks.Empty() {
		s.complete()
	} else {
		s.setPhase(PhaseWaitingForBlock)
	}
	s.save()
	if s.xfer.Mode == ModePull {
		s.sendReport() // empty: the block is done
	}
	if s.cfg.OnBlockComplete != nil {
		s.cfg.OnBlockComplete(s.id, block)
	}
	if s.phase == PhaseComplete && s.cfg.OnComplete != nil {
		s.cfg.OnComplete(s.id)
	}
}

// complete enters Complete. A Pull transfer keeps repeating empty
// reports until the client shows it knows (Transfer Get or Block Start)
// or the inactivity timer runs out (MshMBT §5.2.4 as cited by Zephyr PR
// #63904).
func (s *Server) complete() {
	s.stopTimers()
	s.closeWriter()
	s.setPhase(PhaseComplete)
	if s.xfer.Mode == ModePull {
		s.lingered = true
		s.armRxTimer()
	}
}
