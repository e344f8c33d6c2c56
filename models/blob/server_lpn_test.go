package blob

import (
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// fakeLPN is a Low Power feature with a settable queue that records the
// time of every Poll.
type fakeLPN struct {
	clk   mesh.Clock
	queue int
	polls []time.Time
}

func (l *fakeLPN) QueueSize() int { return l.queue }
func (l *fakeLPN) Poll() error {
	l.polls = append(l.polls, l.clk.Now())
	if l.queue == 0 {
		return fmt.Errorf("no friend")
	}
	return nil
}

func (l *fakeLPN) take() int { n := len(l.polls); l.polls = l.polls[:0]; return n }

func TestLPNRequestCount(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ queue, reserve, k, limit, want int }{
		{16, 2, 7, 0, 1},    // the largest chunk the room takes: one at a time
		{16, 2, 14, 0, 1},   // a chunk larger than the room: still 1
		{16, 2, 2, 0, 3},    // (16 − 2) / 2 = 7 entries: three 2-segment chunks
		{16, 2, 1, 0, 7},    // unsegmented chunks
		{16, 2, 1, 4, 4},    // bounded by PullRequestCount
		{16, -1, 4, 4, 4},   // Zephyr: queue / k, no reserve, no halving
		{16, -1, 14, 4, 1},  // Zephyr with a 14-segment chunk
		{8, 2, 3, 0, 1},     // the default minimum queue
		{255, 2, 32, 0, 3},  // a big Friend: 126 entries
		{2, 2, 1, 0, 1},     // no room at all: 1
		{16, 2, 0, 0, 7},    // k 0 counts as 1
		{128, 2, 3, 16, 16}, // Zephyr's range cap
	} {
		if got := LPNRequestCount(c.queue, c.reserve, c.k, c.limit); got != c.want {
			t.Errorf("LPNRequestCount(%d, %d, %d, %d) = %d, want %d", c.queue, c.reserve, c.k, c.limit, got, c.want)
		}
	}
	for _, c := range []struct {
		queue, reserve int
		limit, want    uint16
	}{
		{16, 2, 377, 77}, // 7 segments
		{8, 2, 377, 29},  // 3 segments
		{4, 2, 377, 8},   // 1 entry: unsegmented
		{3, 2, 377, 8},
		{16, -1, 377, 185}, // Zephyr: the whole queue
		{255, 2, 377, 377}, // 32 segments at most
		{16, 2, 50, 50},    // the configured maximum
	} {
		if got := LPNMaxChunkSize(c.queue, c.reserve, c.limit); got != c.want {
			t.Errorf("LPNMaxChunkSize(%d, %d, %d) = %d, want %d", c.queue, c.reserve, c.limit, got, c.want)
		}
		if k := ChunkSegments(int(LPNMaxChunkSize(c.queue, c.reserve, 377))); k > LPNRoom(c.queue, c.reserve) {
			t.Errorf("queue %d reserve %d: chunk of %d segments does not fit %d entries", c.queue, c.reserve, k, LPNRoom(c.queue, c.reserve))
		}
	}
}

// TestServer_LPNCapabilities: an LPN supports Pull only and caps Max Chunk
// Size to its Friend Queue; Block Start above the cap is refused.
func TestServer_LPNCapabilities(t *testing.T) {
	t.Parallel()
	var lpn *fakeLPN
	r := newServerRig(t, func(c *ServerConfig) {
		lpn = &fakeLPN{clk: c.Clock, queue: 8}
		c.LPN, c.MaxChunkSize = lpn, 377
		c.MaxTotalChunks = 256
	})
	_, m := r.status(&InformationGet{})
	is := m.(*InformationStatus)
	if is.Modes != SupportPull || is.MaxChunkSize != 29 {
		t.Fatalf("LPN capabilities %+v, want Pull only and Max Chunk Size 29", is)
	}
	lpn.queue = 0 // no friendship: the least queue an LPN accepts
	if _, m = r.status(&InformationGet{}); m.(*InformationStatus).MaxChunkSize != 29 {
		t.Errorf("without a friendship: %+v", m)
	}
	lpn.queue = 16
	if _, m = r.status(&InformationGet{}); m.(*InformationStatus).MaxChunkSize != 77 {
		t.Errorf("queue 16: %+v", m)
	}
	r.to(PhaseWaitingForBlock, true)
	if st, _ := r.status(&BlockStart{0, 89}); st != StatusInvalidChunkSize {
		t.Errorf("Block Start with an 8-segment chunk: %s", st)
	}
	if st, _ := r.status(&BlockStart{0, 29}); st != StatusSuccess {
		t.Errorf("Block Start with 29-octet chunks: %s", st)
	}
	if st, _ := r.status(start(ModePush)); st != StatusWrongPhase {
		t.Errorf("Push start on a started Pull transfer: %s", st)
	}
	p := newServerRig(t, func(c *ServerConfig) { c.LPN = &fakeLPN{clk: c.Clock, queue: 16} })
	p.to(PhaseWaitingForStart, false)
	if st, _ := p.status(start(ModePush)); st != StatusUnsupportedTransferMode {
		t.Errorf("Push to an LPN: %s", st)
	}
	both := newServerRig(t, func(c *ServerConfig) { c.LPN, c.Modes = &fakeLPN{clk: c.Clock, queue: 16}, SupportPush|SupportPull })
	if _, m = both.status(&InformationGet{}); m.(*InformationStatus).Modes != SupportPush|SupportPull {
		t.Errorf("explicit Modes on an LPN: %+v", m)
	}
}

// TestServer_LPNPullSizing: the requests fit the Friend Queue for the
// chunk size of the block, the server polls after every report and
// periodically during the transfer, and stops when it ends.
func TestServer_LPNPullSizing(t *testing.T) {
	t.Parallel()
	var lpn *fakeLPN
	r := newServerRig(t, func(c *ServerConfig) {
		lpn = &fakeLPN{clk: c.Clock, queue: 16}
		c.LPN = lpn
	})
	if err := r.srv.Prepare(testID, 4, 0); err != nil {
		t.Fatal(err)
	}
	lpn.take()
	r.clk.Advance(DefaultLPNIdlePollInterval)
	if n := lpn.take(); n != 1 {
		t.Errorf("Waiting for Transfer Start: %d polls in one idle period", n)
	}
	if st, _ := r.status(start(ModePull)); st != StatusSuccess {
		t.Fatal(st)
	}
	// 16-octet chunks are 2 segments: ⌊(16 − 2) / 2 / 2⌋ = 3 chunks per request.
	_, m := r.status(&BlockStart{0, testChunk})
	if bs := m.(*BlockStatus); fmt.Sprint(bs.EncodedMissing) != "[0 1 2]" {
		t.Fatalf("first request %v, want [0 1 2]", bs.EncodedMissing)
	}
	lpn.take()
	r.clk.Advance(2 * DefaultLPNPollInterval)
	if n := lpn.take(); n != 2 {
		t.Errorf("chunks due: %d polls in two poll periods", n)
	}
	r.call(r.chunk(0, 0))
	r.call(r.chunk(0, 1))
	lpn.take()
	out := r.call(r.chunk(0, 2))
	var rep []string
	for _, o := range out {
		if o.op == OpPartialBlockReport {
			rep = append(rep, fmt.Sprint(o.msg.(*PartialBlockReport).EncodedMissing))
		}
	}
	if fmt.Sprint(rep) != "[[3]]" {
		t.Errorf("report %v", rep)
	}
	// The report asked for a chunk: the Poll follows once it had time to
	// reach the Friend (call advanced 600 ms after the report).
	reported := r.clk.Now().Add(-600 * time.Millisecond)
	if d := reported.Add(DefaultLPNPollInterval).Sub(r.clk.Now()); d > 0 {
		r.clk.Advance(d)
	}
	if len(lpn.polls) == 0 || !lpn.polls[0].Equal(reported.Add(DefaultLPNPollInterval)) {
		t.Errorf("no poll LPNPollInterval after the report: %v (now %v)", lpn.polls, r.clk.Now())
	}
	// A larger queue granted later: more chunks per request.
	lpn.queue = 32
	r.call(r.chunk(0, 3))
	_, m = r.status(&BlockStart{1, testChunk})
	if bs := m.(*BlockStatus); fmt.Sprint(bs.EncodedMissing) != "[0 1 2 3]" {
		t.Errorf("queue 32 request %v", bs.EncodedMissing)
	}
	// Suspended: no polls.
	r.clk.Advance(r.srv.rxTimeout())
	if r.srv.Phase() != PhaseSuspended {
		t.Fatalf("phase %s", r.srv.Phase())
	}
	lpn.take()
	r.clk.Advance(time.Minute)
	if n := lpn.take(); n != 0 {
		t.Errorf("%d polls while Suspended", n)
	}
	if s := r.srv.Stats(); s.Polls == 0 || s.PollErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestServer_LPNZephyrProfile: PullRequestCount 4, no reserve, no
// periodic polls: the only poll is the one after each report.
func TestServer_LPNZephyrProfile(t *testing.T) {
	t.Parallel()
	var lpn *fakeLPN
	r := newServerRig(t, func(c *ServerConfig) {
		lpn = &fakeLPN{clk: c.Clock, queue: 16}
		c.LPN, c.PullRequestCount, c.PullWaitForTimer = lpn, 4, true
		c.LPNQueueReserve, c.LPNPollInterval, c.LPNIdlePollInterval = -1, -1, -1
	})
	r.to(PhaseWaitingForBlock, true)
	_, m := r.status(&BlockStart{0, testChunk})
	if bs := m.(*BlockStatus); fmt.Sprint(bs.EncodedMissing) != "[0 1 2 3]" {
		t.Fatalf("request %v", bs.EncodedMissing)
	}
	lpn.take()
	r.clk.Advance(DefaultReportInterval - 601*time.Millisecond) // status() advanced 600 ms
	if n := lpn.take(); n != 0 {
		t.Errorf("%d polls before the report", n)
	}
	r.clk.Advance(time.Millisecond)
	if n := lpn.take(); n != 1 {
		t.Errorf("%d polls with the report", n)
	}
}

func TestServer_LPNConfig(t *testing.T) {
	t.Parallel()
	clk := newServerRig(t, nil).clk
	for _, d := range []time.Duration{MaxPollInterval + time.Millisecond} {
		cfg := testServerConfig(clk, &MemoryStorage{}, nil)
		cfg.LPN, cfg.LPNIdlePollInterval = &fakeLPN{clk: clk}, d
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("idle poll interval %v accepted", d)
		}
	}
}
