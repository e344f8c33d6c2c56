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
//   - A batch of requested chunks may take at most half the room beside
//     the reserve, ⌊(QueueSize − LPNQueueReserve) / 2⌋ entries (a chunk
//     of k segments occupies k entries: the Friend stores the segments
//     once it has them all). The LPN's radio is on in its receive
//     windows, so it may complete a chunk from segments it hears directly
//     while the Friend still holds their copies; the next batch must fit
//     beside such a stale batch.
//   - Max Chunk Size (Information Status, Block Start) is capped so one
//     Chunk Transfer fits that room: k ≤ ⌊(QueueSize − LPNQueueReserve) / 2⌋.
//   - A Partial Block Report (and the Block Status answering Block Start
//     or Block Get) asks for ⌊room / k⌋ chunks, at least 1, at most
//     PullRequestCount when that was set.
//   - After a report the server polls (at once, as Zephyr blob_srv.c,
//     when it asks for nothing; LPNPollInterval later when it asks for
//     chunks, see lpnReported), then every LPNPollInterval while
//     requested chunks are due,
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
	// change, never evicted) and one for the PDU delivered last, which the
	// Friend keeps until the next Poll acknowledges it. Short messages (a
	// repeated Block Start, a Transfer Get, a Segment Acknowledgment) fit
	// in the half of the rest a batch leaves free.
	DefaultLPNQueueReserve = 2
	// DefaultLPNPollInterval is the poll period while requested chunks
	// are due. Each poll opens a receive window, so the period trades
	// radio-on time against latency; the transfer is paced by the
	// client's unicast air time, not by it (64 KiB to 8 LPNs: 500 ms
	// took 1h12m with 15m51s radio on per LPN, 1 s 1h09m with 11m05s,
	// docs/benchmarks.md).
	DefaultLPNPollInterval = time.Second
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

// LPNRoom returns the Friend Queue entries one batch of requested chunks
// may take when the Friend granted queue entries and reserve of them stay
// free: half of the rest (at least 1), so a batch fits beside a stale
// copy of the previous one. A negative reserve means Zephyr's rule: the
// whole queue.
func LPNRoom(queue, reserve int) int {
	if reserve < 0 {
		return max(queue, 1)
	}
	return max((queue-reserve)/2, 1)
}

// LPNRequestCount returns how many chunks of k segments one Partial Block
// Report asks of a server on an LPN: ⌊LPNRoom(queue, reserve) / k⌋, at
// least 1, at most limit when limit > 0.
func LPNRequestCount(queue, reserve, k, limit int) int {
	n := LPNRoom(queue, reserve) / max(k, 1)
	if limit > 0 {
		n = min(n, limit)
	}
	return max(n, 1)
}

// LPNMaxChunkSize returns the largest Chunk Size whose Chunk Transfer fits
// in LPNRoom(queue, reserve) entries (12·k − 7 octets for k segments, 8
// for an unsegmented one), at most limit.
func LPNMaxChunkSize(queue, reserve int, limit uint16) uint16 {
	k := LPNRoom(queue, reserve)
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

// lpnReported runs after a report. A report that asks for nothing (the
// block is done), or one under Zephyr's timing (no periodic polls), is
// followed by a Poll at once, as Zephyr blob_srv.c does. A report that
// asks for chunks is followed by a Poll one LPNPollInterval later, once the
// chunks had time to reach the Friend: a Poll at once opens a receive
// window while their segments are on the air, and a segment heard directly
// arrives before the Friend's copies of the earlier ones, which the
// transport's replay protection then rejects (docs/friend-lpn.md).
func (s *Server) lpnReported(asked int) {
	if s.cfg.LPN == nil {
		return
	}
	if asked == 0 || s.cfg.LPNPollInterval < 0 {
		s.lpnPoll()
	}
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
