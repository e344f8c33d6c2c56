package blob

import (
	"log/slog"

	"github.com/meshdfu/meshdfu/mesh/access"
)

// Pull BLOB Transfer mode, server side: the server paces the transfer
// with Partial Block Reports, unicast to the client of the Transfer Start
// with its AppKey and the Transfer TTL (Zephyr block_report).
//
// The Block Status answering Block Start already asks for the first
// PullRequestCount chunks. The report timer (T_BPI, ReportInterval) is
// re-armed on Block Start, on every valid chunk and after every report;
// when it fires in Waiting for Next Block, Waiting for Next Chunk (or
// Complete, until the client shows it knows) the server sends a report of
// the chunks still missing, so a lost request or lost chunks are asked
// for again. Unless PullWaitForTimer is set, the next report also leaves
// as soon as every chunk of the previous one arrived.

// startPull begins the pull of the open block: the Block Status asks for
// the first chunks.
func (s *Server) startPull() {
	s.asked.Reset(s.chunkCount)
	for _, c := range s.missing.AppendList(s.list[:0], s.pullRequestCount()) {
		s.asked.Set(int(c))
	}
	s.armReportTimer()
	s.lpnSchedule(true) // chunks are due: the busy poll period
}

// pullChunk notes the arrival of chunk idx of the open block.
func (s *Server) pullChunk(idx int) {
	s.asked.Clear(idx)
	if s.asked.Empty() && !s.cfg.PullWaitForTimer {
		s.sendReport()
		return
	}
	s.armReportTimer()
}

// sendReport sends a Partial Block Report of the chunks still missing
// (empty when the block is done) and re-arms the report timer while the
// inactivity timer runs.
func (s *Server) sendReport() {
	s.list = s.list[:0]
	if s.phase == PhaseWaitingForChunk {
		s.list = s.missing.AppendList(s.list, s.pullRequestCount())
	}
	s.asked.Reset(s.chunkCount)
	for _, c := range s.list {
		s.asked.Set(int(c))
	}
	ctx := access.Context{Dst: s.xfer.Client, AppKeyIndex: s.appKey, NetKeyIndex: s.netKey, TTL: s.ttl}
	s.stats.Reports++
	s.debug("report", slog.Int("block", int(s.block)), slog.Int("chunks", len(s.list)))
	s.out(&ctx, &PartialBlockReport{EncodedMissing: s.list})
	if s.rxTimer != nil {
		s.armReportTimer()
	}
	s.lpnReported(len(s.list)) // on an LPN: the requested chunks wait at the Friend
}

func (s *Server) armReportTimer() {
	s.stopReportTimer()
	gen := s.reportGen
	s.reportTimer = s.cfg.Clock.AfterFunc(s.cfg.ReportInterval, func() {
		if gen == s.reportGen {
			s.reportTimer = nil
			s.onReportTimer()
		}
	})
}

func (s *Server) stopReportTimer() {
	s.reportGen++
	if s.reportTimer != nil {
		s.reportTimer.Stop()
		s.reportTimer = nil
	}
}

func (s *Server) onReportTimer() {
	switch {
	case s.phase == PhaseWaitingForBlock || s.phase == PhaseWaitingForChunk:
	case s.phase == PhaseComplete && s.lingered:
	default:
		return
	}
	s.sendReport()
}
