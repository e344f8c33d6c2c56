package blob

import (
	"fmt"
	"math"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Strategy is how a Client moves a BLOB: block and chunk sizes, pacing,
// addressing, retries and repair. The BLOB Transfer protocol fixes the
// messages; everything here is the sender's choice, and it decides the
// speed (docs/blob-strategy.md gives the reasoning and the measurements).
//
// A Strategy also documents the node settings it was designed for
// (NetworkTransmit, SAR, TargetSARRx): a model cannot change its node, so
// the caller applies them with ApplyTransport and ApplyNetwork on the
// client's node (and TargetSARRx on the targets', if it configures them).
//
// The zero Strategy is not usable; start from StrategyMeshdfu or
// StrategyZephyr and change fields.
type Strategy struct {
	// Name labels the strategy in logs and benchmark tables.
	Name string

	// BlockSizeLog is the Block Size Log to use; 0 picks the largest the
	// targets allow, capped at MaxBlockSizeLog. Either way the block is
	// kept small enough for the smallest chunk the strategy may use:
	// 2^log ≤ chunk × Max Total Chunks (MshMBT; blob.md §12.4).
	BlockSizeLog uint8
	// MaxBlockSizeLog caps an automatic BlockSizeLog (0: no cap).
	MaxBlockSizeLog uint8
	// MaxBlockChunks caps the chunks of a block (besides the targets'
	// Max Total Chunks), so that a Block Status listing them stays a few
	// segments long: with many targets the status answers, not the data,
	// become the bottleneck. 0: no cap.
	MaxBlockChunks int

	// ChunkSize is a fixed Chunk Size; 0 chooses one per block with
	// ChooseChunk from the loss estimate and the number of targets.
	ChunkSize uint16
	// MaxChunkSegments caps an automatic chunk at this many segments of
	// its Chunk Transfer message (1–32; 0: 32). A chunk of k segments
	// carries 12·k − 7 octets; an unsegmented one 8.
	MaxChunkSegments int
	// ExpectedLoss is the per-PDU, per-receiver loss the first block is
	// sized for (0 ≤ ExpectedLoss < 1).
	ExpectedLoss float64
	// Adaptive re-estimates the loss from every first pass (the share of
	// chunks each target missed) and sizes the next block's chunks for it.
	Adaptive bool
	// MaxRepeats bounds the blind repetition of a block's first pass to a
	// group: each chunk is sent r times (r ≤ MaxRepeats, the smallest
	// with which a target expects to miss under one chunk of the block),
	// so few targets need a repair round and few long Block Status
	// answers come back. 0 or 1: no repetition.
	MaxRepeats int

	// MaxSARPasses bounds the blind repetition of a segmented group chunk
	// by the transport (SAR Multicast Retransmissions, which repeat every
	// segment with the same SeqAuth, so a target completes a chunk from
	// segments of different passes: it misses a segment sent s times
	// with loss^s). The client picks the passes of a block's first pass
	// and of its repairs, and the chunk size, with PlanSAR; it needs
	// ClientConfig.SAR. 0 or 1: no SAR repetition (MaxRepeats applies).
	MaxSARPasses int

	// PDUInterval is the expected time between two advertising events of
	// the client's node when its queue is never empty: the minimum
	// advertising gap plus the mean random advertising delay (20 ms +
	// 5 ms on the simulated medium). Chunk messages are spaced by their
	// segments × network transmissions × PDUInterval, so the client never
	// feeds the bearer faster than the air drains it. 0: no pacing (send
	// a chunk as soon as the transport took the previous one).
	PDUInterval time.Duration
	// MaxBacklog bounds the bearer queue when ClientConfig.TxBacklog is
	// set: the next chunk waits while more PDUs than this are queued.
	MaxBacklog int

	// UnicastMax: with at most this many targets, data goes unicast even
	// when a group is given, so the transport's SAR acknowledgments repair
	// lost segments (a lost segment of a group message loses the chunk).
	UnicastMax int
	// GroupQueryMin: a group Block Get (or Transfer Get …) is used while
	// at least this many targets must answer; fewer are asked one by one.
	// 0: always the group when there is one.
	GroupQueryMin int
	// QueryWindow bounds how many targets are asked one by one at once
	// when answers are segmented and too many for one group query (at
	// most the client node's reassembly slots,
	// ClientConfig.MaxRxMessages). 0: no bound, and the group is always
	// used when GroupQueryMin allows it. Answers of one PDU are asked in
	// one stream, without a window.
	QueryWindow int
	// MaxRxMessages is the reassembly capacity the strategy expects of
	// the client's node: how many segmented messages its transport takes
	// at once (node.Config.MaxRxMessages, or sim/fleet's NodeConfig). The
	// caller sets it on the node and tells the client
	// (ClientConfig.MaxRxMessages); 0: the transport default, 8. Answers to
	// a query round are segmented (Transfer Status, Information Status, a
	// Block Status with missing chunks), and each takes a slot until it
	// is complete.
	MaxRxMessages int
	// PipelineBlockStart sends a block's chunks right after Block Start
	// instead of waiting for every Block Status; a target that missed the
	// Block Start reports the chunks missing and gets them in repair.
	PipelineBlockStart bool

	// BlindBlockStart sends a block's Block Start to a group of at least
	// GroupQueryMin targets a few times, one reply window apart (enough
	// that every target likely heard one at the estimated loss), and then
	// sends the data without waiting for the silent targets: the Block
	// Get after the pass finds those that missed it.
	BlindBlockStart bool

	// BlindTransferStart, when > 0, sends the first Transfer Start of a
	// push transfer to a group of at least this many neighbours blind
	// (a few sends, one reply window apart) instead of collecting every
	// segmented Transfer Status; a target that missed it is found by its
	// Wrong Phase answer to Block Start or Block Get and then sent
	// Transfer Start acknowledged. 0: always acknowledged.
	BlindTransferStart int

	// ConfirmLastBlock follows the first pass of the last block with
	// Transfer Get instead of Block Get when no loss was seen: the
	// targets that answer Complete need no Block Get round.
	ConfirmLastBlock bool

	// Attempts is how many times an acknowledged message is sent before a
	// silent target is lost (Zephyr: 5).
	Attempts int
	// RetryInterval is the wait for answers after each unicast attempt;
	// GroupRetryInterval after a group attempt (answers to a group come
	// 20–500 ms late, Mesh Protocol §3.7.4.1). 0: the Zephyr rule,
	// ClientTimeout / Attempts. Both grow by PDUInterval per message the
	// attempt queued and AnswerTime per expected answer.
	RetryInterval, GroupRetryInterval time.Duration
	// AnswerTime is the extra wait per target expected to answer.
	AnswerTime time.Duration

	// RelayTransmissions is the Relay Retransmit transmissions the relays
	// between the client and its targets are assumed to use (0:
	// DefaultRelayTransmissions). When answers show targets behind relays
	// (their received TTL), the client books the network's air for every
	// PDU it causes (its own, the answers, the acknowledgments) at
	// RelayTransmissions × PDUInterval / RelayLoad each, because every
	// relay forwards every PDU; and waits for answers at least as long as
	// they need to cross the hops. Applies when PDUInterval and
	// RetryInterval are set.
	RelayTransmissions int
	// RelayLoad is the share of a relay's advertising capacity the
	// transfer plans to use (0: DefaultRelayLoad); the rest is for the
	// relays' other traffic and absorbs collisions between relays.
	RelayLoad float64
	// ScopeTTL sends each message with just the TTL its destination
	// needs once the answers showed how far it is: 0 to a neighbour (not
	// relayed at all; its answers then come with TTL 0 as well), else the
	// hop count + 1. Retries use the full TTL. Applied only while every
	// target is a neighbour: over relays it measured slower.
	ScopeTTL bool

	// PullReportTimeout is how long a Pull-mode target may stay silent
	// after its batch was sent before the batch is sent again (Zephyr:
	// 2·T_MBPI + 7 s = 67 s). meshdfu then asks the target with a Block
	// Get instead of resending: every chunk a server hears, even a
	// duplicate, restarts its report timer T_BPI, so resent chunks would
	// keep a server whose report was lost from ever repeating it.
	PullReportTimeout time.Duration

	// NetworkTransmit is the Network Transmit state the client's node
	// should use during the transfer (ApplyNetwork).
	NetworkTransmit mesh.Transmit
	// SAR is the SAR Transmitter state the client's node should use
	// (ApplyTransport).
	SAR transport.SARTransmitter
	// SARRelayed is the SAR Transmitter state for nodes of a network
	// with relays (ApplyTransportRelayed): segments no faster than a
	// relay forwards them (RelayTransmissions advertising events), and a
	// unicast retransmission timer that grows with the TTL by a relay
	// hop, so segments still queued at a relay are not sent again.
	SARRelayed transport.SARTransmitter
	// TargetSARRx is the SAR Receiver state the strategy assumes on the
	// targets (it decides how fast unicast chunks are acknowledged).
	TargetSARRx transport.SARReceiver
}

// StrategyMeshdfu is meshdfu's strategy: one transmission per PDU paced at
// the air's rate, chunks sized for the loss and the number of receivers,
// the biggest blocks the targets allow, pipelined Block Start, group
// queries with short retry timers and repair of the union of missing
// chunks. See docs/blob-strategy.md.
var StrategyMeshdfu = Strategy{
	Name:               "meshdfu",
	MaxBlockSizeLog:    16,
	MaxBlockChunks:     2048,
	MaxChunkSegments:   32,
	Adaptive:           true,
	MaxRepeats:         4,
	MaxSARPasses:       6,
	PDUInterval:        25 * time.Millisecond,
	MaxBacklog:         4,
	UnicastMax:         1,
	GroupQueryMin:      4,
	QueryWindow:        2,
	PipelineBlockStart: true,
	BlindBlockStart:    true,
	BlindTransferStart: 16,
	ConfirmLastBlock:   true,
	ScopeTTL:           true,
	Attempts:           16,
	RetryInterval:      300 * time.Millisecond,
	GroupRetryInterval: 900 * time.Millisecond,
	AnswerTime:         30 * time.Millisecond,
	PullReportTimeout:  4 * time.Second,
	NetworkTransmit:    mesh.Transmit{Count: 0, IntervalSteps: 1},
	SAR: transport.SARTransmitter{
		SegmentIntervalStep:                        1, // 20 ms: the advertiser's own minimum gap
		UnicastRetransmissionsCount:                7,
		UnicastRetransmissionsWithoutProgressCount: 4,
		UnicastRetransmissionsIntervalStep:         3, // 100 ms
		UnicastRetransmissionsIntervalIncrement:    1,
		MulticastRetransmissionsCount:              0, // repair at the BLOB level instead
		MulticastRetransmissionsIntervalStep:       0,
	},
	SARRelayed: transport.SARTransmitter{
		SegmentIntervalStep:                        7, // 80 ms ≥ a relay's 3 × 25 ms per PDU
		UnicastRetransmissionsCount:                7,
		UnicastRetransmissionsWithoutProgressCount: 4,
		UnicastRetransmissionsIntervalStep:         7, // 200 ms
		UnicastRetransmissionsIntervalIncrement:    3, // + 100 ms per TTL above 1
		MulticastRetransmissionsCount:              0,
		MulticastRetransmissionsIntervalStep:       0,
	},
	TargetSARRx: transport.SARReceiver{
		SegmentsThreshold:                  3,
		AcknowledgmentDelayIncrement:       0,
		AcknowledgmentRetransmissionsCount: 0,
		DiscardTimeout:                     0, // 5 s: free a stale reassembly slot soon
		ReceiverSegmentIntervalStep:        1,
	},
}

// StrategyZephyr reproduces the Zephyr BLOB Transfer Client with its
// defaults (blob.md §10, §12): 4096-octet blocks, the largest chunk the
// targets accept (Zephyr DFU takes the smallest Max Chunk Size), chunks
// sent back to back, Block Get after every pass, 5 attempts spaced by
// ClientTimeout/5, the Mesh Protocol default SAR Transmitter (60 ms
// segment interval, 2 multicast retransmissions 250 ms apart) and
// Zephyr's default Network Transmit (3 transmissions, 20 ms apart).
var StrategyZephyr = Strategy{
	Name:              "zephyr",
	BlockSizeLog:      12,
	MaxChunkSegments:  32,
	Attempts:          5,
	PullReportTimeout: 67 * time.Second,
	NetworkTransmit:   mesh.Transmit{Count: 2, IntervalSteps: 1},
	SAR:               transport.DefaultSARTransmitter,
	TargetSARRx:       transport.DefaultSARReceiver,
}

// SARControl is the SAR Transmitter state of the client's node
// (*transport.Layer has it): the client changes the Multicast
// Retransmissions Count per block (ClientConfig.SAR).
type SARControl interface {
	SARTransmitter() transport.SARTransmitter
	SetSARTransmitter(transport.SARTransmitter) error
}

// ApplyTransport sets the strategy's SAR Transmitter state on the client
// node's transport layer.
func (s *Strategy) ApplyTransport(tr *transport.Layer) error {
	if err := tr.SetSARTransmitter(s.SAR); err != nil {
		return fmt.Errorf("blob: strategy %s: %w", s.Name, err)
	}
	return nil
}

// NetworkTransmitter is what ApplyNetwork needs of a network layer
// (*network.Layer has it).
type NetworkTransmitter interface {
	SetNetworkTransmit(mesh.Transmit)
}

// ApplyNetwork sets the strategy's Network Transmit state.
func (s *Strategy) ApplyNetwork(n NetworkTransmitter) { n.SetNetworkTransmit(s.NetworkTransmit) }

// ApplyTargetTransport sets the SAR Receiver state the strategy assumes on
// a target node's transport layer.
func (s *Strategy) ApplyTargetTransport(tr *transport.Layer) error {
	if err := tr.SetSARReceiver(s.TargetSARRx); err != nil {
		return fmt.Errorf("blob: strategy %s: %w", s.Name, err)
	}
	return nil
}

func (s *Strategy) validate() error {
	switch {
	case s.Attempts < 1:
		return fmt.Errorf("blob: strategy %q: Attempts %d < 1", s.Name, s.Attempts)
	case s.MaxChunkSegments < 0 || s.MaxChunkSegments > 32:
		return fmt.Errorf("blob: strategy %q: MaxChunkSegments %d outside 0–32", s.Name, s.MaxChunkSegments)
	case s.ExpectedLoss < 0 || s.ExpectedLoss >= 1:
		return fmt.Errorf("blob: strategy %q: ExpectedLoss %v outside [0, 1)", s.Name, s.ExpectedLoss)
	case s.BlockSizeLog != 0 && (s.BlockSizeLog < MinBlockSizeLog || s.BlockSizeLog > MaxBlockSizeLog):
		return fmt.Errorf("blob: strategy %q: BlockSizeLog %d", s.Name, s.BlockSizeLog)
	}
	return nil
}

// ChunkSegments returns how many PDUs carry a Chunk Transfer of size octets
// with a 32-bit TransMIC: 1 when it fits unsegmented (≤ 8 octets), else
// ⌈(size + 7) / 12⌉ segments (blob.md §9.2).
func ChunkSegments(size int) int {
	if size <= 8 {
		return 1
	}
	return (size + 7 + 11) / 12
}

// chunkForSegments returns the largest chunk carried by k PDUs: 8 octets
// unsegmented for k = 1 (a one-segment message holds only 5), 12·k − 7
// otherwise.
func chunkForSegments(k int) int {
	if k <= 1 {
		return 8
	}
	return 12*k - 7
}

// ExpectedSends returns the expected number of times a message must be
// sent, without feedback between sends, until every one of n receivers has
// it, when one receiver gets one send with probability q: the mean of the
// largest of n geometric variables, Σ_{m≥0} 1 − (1 − (1−q)^m)^n.
func ExpectedSends(q float64, n int) float64 {
	if n < 1 {
		return 0
	}
	if q >= 1 {
		return 1
	}
	if q <= 0 {
		return math.Inf(1)
	}
	sum := 0.0
	miss := 1.0 // (1−q)^m
	for m := 0; m < 10000; m++ {
		t := 1 - math.Pow(1-miss, float64(n))
		sum += t
		if t < 1e-9 {
			break
		}
		miss *= 1 - q
	}
	return sum
}

// ChunkEfficiency returns the expected share of the PDU payload capacity
// (12 octets per PDU) that carries BLOB data when chunks of k PDUs go to n
// receivers that each lose a PDU with probability loss, and a chunk is
// repeated until all have it (repair of the union of missing chunks).
func ChunkEfficiency(k int, loss float64, n int) float64 {
	q := math.Pow(1-loss, float64(k))
	e := ExpectedSends(q, n)
	return float64(chunkForSegments(k)) / (12 * float64(k) * e)
}

// ChooseChunk returns the Chunk Size that maximizes ChunkEfficiency for n
// group receivers at the given per-PDU loss, among chunks of 1 …
// maxSegments PDUs no larger than limit octets (the targets' Max Chunk
// Size and MTU).
func ChooseChunk(loss float64, n, maxSegments, limit int) uint16 {
	if maxSegments <= 0 || maxSegments > 32 {
		maxSegments = 32
	}
	best, bestEff := 0, -1.0
	for k := 1; k <= maxSegments; k++ {
		size := min(chunkForSegments(k), limit)
		if size < 1 || (k > 1 && size <= chunkForSegments(k-1)) {
			break
		}
		eff := ChunkEfficiency(k, loss, n)
		if eff > bestEff+1e-9 {
			best, bestEff = size, eff
		}
	}
	if best == 0 {
		best = max(1, min(8, limit))
	}
	return uint16(best)
}

// estimateLoss turns the share of chunks of k PDUs a target missed in one
// pass into a per-PDU loss: missed = 1 − (1 − loss)^k.
func estimateLoss(missedShare float64, k int) float64 {
	missedShare = min(max(missedShare, 0), 0.999)
	return 1 - math.Pow(1-missedShare, 1/float64(max(k, 1)))
}

// Limits is the intersection of the targets' capabilities (blob.md §12.3),
// from their BLOB Information Status messages.
type Limits struct {
	MinBlockSizeLog, MaxBlockSizeLog uint8
	MaxTotalChunks                   uint16
	MaxChunkSize                     uint16
	MaxBLOBSize                      uint32
	MTU                              uint16
	Modes                            SupportedModes
}

// blockChunks is the most chunks a block may have: the targets' Max Total
// Chunks, and MaxBlockChunks.
func (s *Strategy) blockChunks(lim Limits) int {
	n := int(lim.MaxTotalChunks)
	if s.MaxBlockChunks > 0 {
		n = min(n, s.MaxBlockChunks)
	}
	return max(n, 1)
}

// SARPlan is how a block goes to a group with SAR repetition: the Chunk
// Size, and how many times the transport sends every segment of a chunk
// in the block's first pass and in each repair pass.
type SARPlan struct {
	ChunkSize     uint16
	FirstPasses   int
	RepairPasses  int
	Chunks        int     // chunks of the block
	ExpectedTime  float64 // seconds, by the model below
	DataPDUs      float64 // expected chunk PDUs sent for the block
	QueryRounds   float64 // expected Block Get rounds
	CompleteShare float64 // share of targets expected to hold the block after the first pass
}

// Costs of one Block Get round in PlanSAR's model, calibrated on the
// simulator (100 targets at 10 % loss, docs/blob-strategy.md): a round
// takes planRoundTime, plus planShortAnswerTime per target asked that
// answers in one PDU, plus planAnswerPDUTime per PDU of every segmented
// answer (its segments share the air with the others' and need the
// client's acknowledgment).
const (
	planRoundTime       = 2.0
	planShortAnswerTime = 0.05
	planAnswerPDUTime   = 0.03
)

// PlanSAR chooses the chunk size and SAR passes that minimize the
// expected time of a block of blockLen octets to n group receivers that
// each lose a PDU with probability loss, with union repair: chunks of k
// segments (2 ≤ k ≤ maxSegments, from minSize to limit octets), each segment sent s1 times in the first pass and s2 times
// in repair passes (1 ≤ s ≤ maxPasses).
//
// A target misses a chunk of k segments sent s times with
// m(s) = 1 − (1 − loss^s)^k (each segment is needed once, from any pass,
// since the passes share the SeqAuth), but a repair is a new message, so
// segments of different passes of Block Status rounds do not combine. The
// model counts the chunk PDUs (first pass, then each chunk again while
// some target misses it) at pduTime each, and every Block Get round: the
// round after the first pass, and one more while some target misses a
// chunk; in each, the targets that miss chunks answer with a Missing
// Chunks bit field of ⌈chunks/8⌉ octets, the others in one PDU.
func PlanSAR(loss float64, n, blockLen, minSize, limit, maxSegments, maxPasses int, pduTime time.Duration) SARPlan {
	if maxSegments <= 0 || maxSegments > 32 {
		maxSegments = 32
	}
	maxPasses = max(maxPasses, 1)
	n = max(n, 1)
	pdu := max(pduTime, time.Millisecond).Seconds()
	best := SARPlan{}
	for k := 2; k <= maxSegments; k++ {
		size := min(chunkForSegments(k), limit)
		if size <= chunkForSegments(k-1) && k > 2 {
			break
		}
		if size < minSize && size < limit {
			continue
		}
		chunks := (blockLen + size - 1) / size
		statusPDUs := float64(msgPDUs(1 + 5 + (chunks+7)/8))
		for s1 := 1; s1 <= maxPasses; s1++ {
			m1 := 1 - math.Pow(1-math.Pow(loss, float64(s1)), float64(k))
			for s2 := 1; s2 <= maxPasses; s2++ {
				q2 := math.Pow(1-math.Pow(loss, float64(s2)), float64(k))
				pl := SARPlan{ChunkSize: uint16(size), FirstPasses: s1, RepairPasses: s2, Chunks: chunks}
				pl.DataPDUs = float64(chunks * k * s1)
				t := float64(chunks*k*s1) * pdu
				miss := m1 // a target's chance to miss a given chunk
				inc := 1 - math.Pow(1-miss, float64(chunks))
				pl.CompleteShare = 1 - inc
				// The round after the first pass: everyone answers.
				round := func(asked, long float64) float64 {
					return planRoundTime + (asked-long)*planShortAnswerTime + long*statusPDUs*planAnswerPDUTime
				}
				t += round(float64(n), float64(n)*inc)
				pl.QueryRounds = 1
				for j := 0; j < 64; j++ {
					more := 1 - math.Pow(1-inc, float64(n)) // some target still incomplete
					if more < 1e-4 {
						break
					}
					sendShare := 1 - math.Pow(1-miss, float64(n)) // chunks some target misses
					pl.DataPDUs += float64(chunks*k*s2) * sendShare
					t += float64(chunks*k*s2) * sendShare * pdu
					miss *= 1 - q2
					asked := float64(n) * inc
					inc = 1 - math.Pow(1-miss, float64(chunks))
					t += more * round(asked, float64(n)*inc)
					pl.QueryRounds += more
				}
				pl.ExpectedTime = t
				if best.ChunkSize == 0 || t < best.ExpectedTime-1e-9 {
					best = pl
				}
			}
		}
	}
	return best
}

// roundChunk is the smallest Chunk Size of a group transfer to n targets
// without SAR repetition, from the chunk the loss calls for (from, as
// ChooseChunk picks it) up: the size that makes the transfer cheapest per
// octet of the BLOB, counting the chunk PDUs (pduTime each, sent
// 1/ChunkEfficiency times) and one Block Get round per block, which asks
// every target (planRoundTime + n·planShortAnswerTime at least). The
// block holds at most Max Total Chunks chunks, so with a thousand targets
// a chunk of two segments, whose blocks hold twice the octets, saves more
// rounds than its repair costs. A fixed Strategy.ChunkSize, or a strategy
// that does not adapt (the Zephyr profile), keeps from.
func (s *Strategy) roundChunk(lim Limits, n int, loss float64, from int, pduTime time.Duration) int {
	limit := lim.chunkLimit()
	if s.ChunkSize != 0 || !s.Adaptive || from >= limit {
		return from
	}
	maxSeg := s.MaxChunkSegments
	if maxSeg <= 0 || maxSeg > 32 {
		maxSeg = 32
	}
	pdu := max(pduTime, time.Millisecond).Seconds()
	round := planRoundTime + float64(n)*planShortAnswerTime
	best, bestCost := from, math.Inf(1)
	for k := ChunkSegments(from); k <= maxSeg; k++ {
		size := max(min(chunkForSegments(k), limit), from)
		if k > ChunkSegments(from) && size <= chunkForSegments(k-1) {
			break
		}
		log2, err := s.chooseBlockLog(lim, size*s.blockChunks(lim))
		if err != nil {
			break
		}
		cost := pdu/(12*ChunkEfficiency(k, loss, n)) + round/float64(uint64(1)<<log2)
		if cost < bestCost-1e-12 {
			best, bestCost = size, cost
		}
	}
	return best
}

// roundChunkMinTargets is the smallest fleet whose first chunk roundChunk
// sizes; smaller fleets keep the chunk the loss calls for (roundChunk was
// measured at 1000 targets only, docs/benchmarks.md).
const roundChunkMinTargets = 200

// passRepeats is how many times a block's first pass goes out: the
// smallest r ≤ MaxRepeats with which one target expects to miss under one
// of the block's chunks, (1 − (1 − loss)^k)^r · chunks < 1.
func (s *Strategy) passRepeats(loss float64, k, chunks int) int {
	miss := 1 - math.Pow(1-loss, float64(k))
	r := 1
	for r < s.MaxRepeats && math.Pow(miss, float64(r))*float64(chunks) >= 1 {
		r++
	}
	return r
}

// chooseBlockLog picks the Block Size Log of a transfer from the limits,
// the strategy and capacity, the largest block the first block's chunks
// may fill (chunk size × chunks per block).
func (s *Strategy) chooseBlockLog(lim Limits, capacity int) (uint8, error) {
	lo, hi := lim.MinBlockSizeLog, lim.MaxBlockSizeLog
	// 2^log ≤ MaxChunkSize × MaxTotalChunks, and ≤ capacity.
	capacity = min(capacity, int(lim.MaxChunkSize)*int(lim.MaxTotalChunks))
	for hi > lo && uint64(1)<<hi > uint64(max(capacity, 1)) {
		hi--
	}
	if s.BlockSizeLog != 0 {
		if s.BlockSizeLog < lo || s.BlockSizeLog > hi {
			// A fixed size the targets cannot take: the nearest one they can.
			return min(max(s.BlockSizeLog, lo), hi), nil
		}
		return s.BlockSizeLog, nil
	}
	if s.MaxBlockSizeLog != 0 && hi > s.MaxBlockSizeLog && s.MaxBlockSizeLog >= lo {
		hi = s.MaxBlockSizeLog
	}
	if hi < lo || hi < MinBlockSizeLog {
		return 0, fmt.Errorf("%w: no Block Size Log fits %d–%d with %d chunks", ErrNoCommonParameters, lo, hi, lim.MaxTotalChunks)
	}
	return hi, nil
}

// chunkLimit is the largest Chunk Size every target accepts: Max Chunk
// Size, the Transfer MTU minus the Chunk Transfer header, and the 377
// octets one access message carries.
func (lim Limits) chunkLimit() int {
	l := min(int(lim.MaxChunkSize), MaxChunkSize)
	if lim.MTU >= 3 {
		l = min(l, int(lim.MTU)-3)
	}
	return l
}

// chooseChunk picks the Chunk Size of a block of blockLen octets for n
// receivers of a group message (n = 1 for unicast, which the transport
// repairs by segment) at the estimated loss.
func (s *Strategy) chooseChunk(lim Limits, blockLen int, n int, loss float64) uint16 {
	limit := lim.chunkLimit()
	var size int
	if s.ChunkSize != 0 {
		size = min(int(s.ChunkSize), limit)
	} else {
		size = int(ChooseChunk(loss, n, s.MaxChunkSegments, limit))
	}
	// The block must not need more chunks than every target can track
	// (and MaxBlockChunks).
	if tc := s.blockChunks(lim); tc > 0 {
		for size < limit && (blockLen+size-1)/size > tc {
			size++
		}
	}
	return uint16(max(size, 1))
}
