package blob

import (
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// A BLOB Transfer Server on a Low Power node (docs/friend-lpn.md, "Pull
// BLOB sizing"). Everything addressed to an LPN waits in its Friend Queue
// until the LPN polls, and a queue that overflows loses the oldest
// entries, so the server sizes Pull mode to the queue its Friend granted
// and polls the Friend itself while a transfer runs:
//
//   - Max Chunk Size (Information Status, Block Start) is capped so one
//     Chunk Transfer fits the queue beside the reserve: a chunk of k
//     segments occupies k queue entries (the Friend stores the segments
//     once it has them all), so k ≤ QueueSize − LPNQueueReserve.
//   - A Partial Block Report (and the Block Status answering Block Start
//     or Block Get) asks for ⌊(QueueSize − LPNQueueReserve) / k⌋ chunks,
//     at least 1, at most PullRequestCount when that was set.
//   - Right after a report the server polls (Zephyr blob_srv.c does the
//     same), then every LPNPollInterval while requested chunks are due,
//     and every LPNIdlePollInterval in the other phases of a transfer, so
//     acknowledged requests (Transfer Start, Block Start, Transfer Get)
//     are answered within seconds. Both are at most T_MBPI (30 s, the
//     Maximum BLOB Poll Interval an LPN receiving a BLOB must keep).

// LowPower is what a Server on a Low Power node needs of the node's Low
// Power feature; *friend.LPN has both methods (mesh/node: Node.LPN()).
type LowPower interface {
	// QueueSize returns the Friend Queue size the Friend granted (Lower
	// Transport PDUs), or 0 without a friendship.
	QueueSize() int
	// Poll asks the Friend for stored messages now.
	Poll() error
}

// Low Power defaults (docs/friend-lpn.md, "Pull BLOB sizing").
const (
	// DefaultLPNQueueReserve is how many Friend Queue entries requested
	// chunks leave free: one for a Friend Update (IV Index or Key Refresh
	// change, never evicted) and one for a Segment Acknowledgment or a
	// short request (a repeated Block Start, a Transfer Get) arriving in
	// the same poll cycle.
	DefaultLPNQueueReserve = 2
	// DefaultLPNPollInterval is the poll period while requested chunks
	// are due.
	DefaultLPNPollInterval = 500 * time.Millisecond
	// DefaultLPNIdlePollInterval is the poll period in the other phases
	// of a transfer (Waiting for Transfer Start, Waiting for Next Block,
	// a complete Pull transfer still reporting).
	DefaultLPNIdlePollInterval = 2 * time.Second
	// LPNFallbackQueue is the Friend Queue assumed while the LPN has no
	// friendship: 2^3, the least an LPN with the default criteria accepts.
	LPNFallbackQueue = 8
)

// lpnState is the Low Power part of a Server.
type lpnState struct {
	maxRequest int  // PullRequestCount as configured; 0: bounded by the queue only
	soon       bool // a request was answered: the client's next one follows shortly
	timer      mesh.Timer
	gen        uint64
}

// LPNRequestCount returns how many chunks of k segments one Partial Block
// Report asks of a server on an LPN whose Friend granted queue entries,
// keeping reserve entries free: ⌊(queue − reserve) / k⌋, at least 1, at
// most limit when limit > 0.
func LPNRequestCount(queue, reserve, k, limit int) int {
	n := (queue - max(reserve, 0)) / max(k, 1)
	if limit > 0 {
		n = min(n, limit)
	}
	return max(n, 1)
}

// LPNMaxChunkSize returns the largest Chunk Size whose Chunk Transfer fits
// in queue − reserve Friend Queue entries (12·k − 7 octets for k segments,
// 8 for an unsegmented one), at most limit.
func LPNMaxChunkSize(queue, reserve int, limit uint16) uint16 {
	k := max(queue-max(reserve, 0), 1)
	return uint16(min(chunkForSegments(min(k, 32)), int(limit)))
}

// lpnQueue returns the granted Friend Queue, or LPNFallbackQueue without a
// friendship.
func (s *Server) lpnQueue() int {
	if q := s.cfg.LPN.QueueSize(); q > 0 {
		return q
	}
	return LPNFallbackQueue
}

// maxChunkSize is the Max Chunk Size the server accepts now.
func (s *Server) maxChunkSize() uint16 {
	if s.cfg.LPN == nil {
		return s.cfg.MaxChunkSize
	}
	return max(LPNMaxChunkSize(s.lpnQueue(), s.cfg.LPNQueueReserve, s.cfg.MaxChunkSize), MinChunkSize)
}

// pullRequestCount is how many chunks a report or a Pull mode Block
// Status asks for.
func (s *Server) pullRequestCount() int {
	if s.cfg.LPN == nil {
		return s.cfg.PullRequestCount
	}
	k := 1
	if s.chunkSize != notSet {
		k = ChunkSegments(int(s.chunkSize))
	}
	return LPNRequestCount(s.lpnQueue(), s.cfg.LPNQueueReserve, k, s.lpn.maxRequest)
}

// lpnPollNow polls the Friend (after a report: the requested chunks
// follow) and restarts the poll period from now.
func (s *Server) lpnPollNow() {
	if s.cfg.LPN == nil {
		return
	}
	s.lpnPoll()
	s.lpnSchedule(true)
}

func (s *Server) lpnPoll() {
	s.stats.Polls++
	if err := s.cfg.LPN.Poll(); err != nil {
		s.stats.PollErrors++ // no friendship: the LPN is looking for one
		s.debug("poll", slog.Any("err", err))
	}
}

// lpnAnswered notes an answer to a client's request: the next request
// (Block Start after Transfer Start, chunks after Block Start) follows
// within a round trip, so the next poll comes after the short period.
func (s *Server) lpnAnswered() {
	if s.cfg.LPN == nil || s.cfg.LPNPollInterval <= 0 || s.lpnInterval() <= 0 {
		return
	}
	s.lpn.soon = true
	s.lpnSchedule(true)
}

// lpnInterval is the poll period of the current phase, 0 for none.
func (s *Server) lpnInterval() time.Duration {
	if s.lpn.soon && s.phase >= PhaseWaitingForStart && s.phase <= PhaseWaitingForChunk {
		return s.cfg.LPNPollInterval
	}
	switch s.phase {
	case PhaseWaitingForChunk:
		if s.xfer.Mode == ModePull && !s.asked.Empty() {
			return s.cfg.LPNPollInterval
		}
		return s.cfg.LPNIdlePollInterval
	case PhaseWaitingForStart, PhaseWaitingForBlock:
		return s.cfg.LPNIdlePollInterval
	case PhaseComplete:
		if s.lingered {
			return s.cfg.LPNIdlePollInterval
		}
	}
	return 0
}

// lpnSchedule arms the poll timer for the current phase; restart replaces
// a running timer, otherwise a running one is kept (so frequent events do
// not push the next poll away).
func (s *Server) lpnSchedule(restart bool) {
	if s.cfg.LPN == nil {
		return
	}
	d := s.lpnInterval()
	if d <= 0 {
		s.lpnStop()
		return
	}
	if s.lpn.timer != nil && !restart {
		return
	}
	s.lpnStop()
	gen := s.lpn.gen
	s.lpn.timer = s.cfg.Clock.AfterFunc(d, func() {
		if gen != s.lpn.gen {
			return
		}
		s.lpn.timer = nil
		s.lpn.soon = false
		if s.lpnInterval() > 0 {
			s.lpnPoll()
		}
		s.lpnSchedule(false)
	})
}

func (s *Server) lpnStop() {
	s.lpn.gen++
	if s.lpn.timer != nil {
		s.lpn.timer.Stop()
		s.lpn.timer = nil
	}
}
