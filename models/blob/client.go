package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/crypto"
	"github.com/meshdfu/meshdfu/mesh/transport"
)

// Client errors.
var (
	// ErrBusy reports a Start while a transfer runs, or a Resume that has
	// nothing suspended.
	ErrBusy = errors.New("blob: client busy")
	// ErrNotRunning reports Suspend or Cancel with no transfer.
	ErrNotRunning = errors.New("blob: no transfer")
	// ErrTargetTimeout is wrapped by a LostError of a target that did not
	// answer.
	ErrTargetTimeout = errors.New("blob: target timed out")
	// ErrTargetStatus is wrapped by a LostError of a target that answered
	// a status other than the one the procedure needs.
	ErrTargetStatus = errors.New("blob: target answered an error status")
	// ErrAllTargetsLost ends a transfer that has no target left.
	ErrAllTargetsLost = errors.New("blob: every target lost")
	// ErrCanceled ends a transfer the caller cancelled.
	ErrCanceled = errors.New("blob: transfer cancelled")
	// ErrNoCommonParameters reports targets whose capabilities leave no
	// block size, chunk size or mode in common.
	ErrNoCommonParameters = errors.New("blob: no transfer parameters fit every target")
)

// LostError is why a target left a transfer: the step, and either the
// number of sends it ignored or the status it answered.
type LostError struct {
	Target   mesh.Address
	Step     string // "Information Get", "Transfer Start", "Block Start", "Block Get", "Chunk Transfer", "Transfer Get", "capabilities"
	Timeout  bool   // no answer after Attempts sends
	Attempts int
	Status   Status // the status answered, when not Timeout
	Phase    Phase  // the phase reported, when the phase was wrong
	Detail   string // what was wrong when Status is Success
}

// Error reads "target 0x0102: Transfer Status: Wrong Phase" or "target
// 0x0102: Block Get: no answer after 5 tries".
func (e *LostError) Error() string {
	switch {
	case e.Timeout:
		return fmt.Sprintf("target %v: %s: no answer after %d tries", e.Target, e.Step, e.Attempts)
	case e.Detail != "":
		return fmt.Sprintf("target %v: %s: %s", e.Target, e.Step, e.Detail)
	}
	return fmt.Sprintf("target %v: %s: %s", e.Target, e.Step, e.Status)
}

// Unwrap returns ErrTargetTimeout or ErrTargetStatus.
func (e *LostError) Unwrap() error {
	if e.Timeout {
		return ErrTargetTimeout
	}
	return ErrTargetStatus
}

// ClientConfig configures a Client. Clock is required; Layer may be given
// later with SetLayer (a node's access layer exists only once its models
// are built), but before Start.
type ClientConfig struct {
	Layer  *access.Layer
	Clock  mesh.Clock
	Logger *slog.Logger // nil: discard

	AppKeyIndex uint16 // the AppKey every target has bound to its server
	TTL         uint8  // 0: access.DefaultTTL
	// TimeoutBase is the Timeout Base (10 s units) the targets' servers
	// were given; the client timeout is 10 s·(TimeoutBase+2) + 100 ms·TTL
	// (blob.md §10).
	TimeoutBase uint16
	// MTU is the Client MTU Size sent in Transfer Start; 0: 380.
	MTU uint16
	// Strategy is how to move the data; a zero Strategy (empty Name)
	// takes StrategyMeshdfu.
	Strategy Strategy
	// TxBacklog, if set, returns the number of PDUs queued on the node's
	// advertiser (the simulator's NodeMetrics.QueueLen); the client then
	// holds chunks while it exceeds Strategy.MaxBacklog.
	TxBacklog func() int
	// MaxRxMessages is how many segmented messages the client's node
	// reassembles at once (node.Config.MaxRxMessages; 0: the transport's
	// DefaultMaxRxMessages). Queries whose answers are segmented go to
	// at most Strategy.QueryWindow targets at a time, and at most this
	// many; Strategy.MaxRxMessages is the capacity the strategy was
	// designed for.
	MaxRxMessages int
	// SAR, if set, is the client node's SAR Transmitter (a
	// *transport.Layer): the client then sets its Multicast
	// Retransmissions Count for each block sent to a group, so every
	// segment of a chunk is repeated with the same SeqAuth (a target
	// completes a chunk from segments of different passes), and restores
	// the state it found when the transfer ends.
	SAR SARControl
}

// Transfer is one BLOB transfer to a set of targets.
type Transfer struct {
	ID   uint64
	Size uint32
	Data io.ReaderAt // read by chunk, possibly repeatedly and out of order
	// Mode is ModePush or ModePull; ModeNone picks Push when every target
	// supports it, else Pull. Targets that support only the other mode (a
	// Low Power node supports Pull only) get their own Transfer Start in
	// that mode and are served by unicast beside the others
	// (client_mixed.go).
	Mode TransferMode
	// Targets are the servers' unicast addresses.
	Targets []mesh.Address
	// Group is a group address every target's server subscribes to, or
	// unassigned to address each target by unicast. For a virtual address
	// set Label (Group is then computed).
	Group mesh.Address
	Label *[16]byte

	Callbacks Callbacks
}

// Callbacks report a transfer's events on the node's executor. All are
// optional. State changes are complete before a callback runs, so a
// callback may call Suspend, Cancel or Start.
type Callbacks struct {
	// OnCapabilities reports the intersection of the targets' limits and
	// the parameters chosen.
	OnCapabilities func(lim Limits, blockSizeLog uint8, mode TransferMode)
	// OnProgress reports a target's progress when it confirms chunks or a
	// block.
	OnProgress func(p TargetProgress)
	// OnTargetLost reports a target that left the transfer and why.
	OnTargetLost func(err *LostError)
	// OnBlockDone reports a block every remaining target holds.
	OnBlockDone func(block int)
	// OnSuspended reports that the transfer stopped because every
	// remaining target timed out (or the caller suspended it); Resume
	// continues it.
	OnSuspended func()
	// OnEnd reports the end: res.Err is nil when at least one target
	// confirmed the whole BLOB.
	OnEnd func(res Result)
}

// TargetProgress is one target's confirmed progress.
type TargetProgress struct {
	Target      mesh.Address
	Blocks      int // blocks of the BLOB
	BlocksDone  int // blocks the target confirmed
	Block       int // current block, −1 when none
	Chunks      int // chunks of the current block
	ChunksDone  int // chunks of the current block the target confirmed
	OctetsDone  uint64
	Complete    bool // confirmed the whole BLOB (Transfer Get: Complete)
	Lost        *LostError
	LastContact time.Time
}

// Result is the outcome of a transfer.
type Result struct {
	Err       error
	Completed []mesh.Address
	Lost      []*LostError
	Duration  time.Duration
	Stats     ClientStats
}

// ClientStats counts what a transfer sent.
type ClientStats struct {
	Requests     uint64 // acknowledged-message attempts (one group send or one round of unicasts)
	Chunks       uint64 // Chunk Transfer messages handed to the transport
	ChunkOctets  uint64 // chunk data octets sent (with repeats)
	RepairPasses uint64 // passes after the first of a block
	Rechunks     uint64 // blocks restarted with a smaller chunk
	Adopted      uint64 // blocks restarted with the Chunk Size a target had open (adoptOpenBlock)
	KeepAlives   uint64 // chunks sent only to keep the servers of an open block from suspending
	Answers      uint64 // status messages received from targets
	LateStarts   uint64 // targets sent Transfer Start again after missing a blind one
}

// ClientState is the procedure step of a Client.
//
//	Idle → Capabilities → Starting → Block (Block Start, Send Data,
//	Determine Block Status … per block) → Confirming → Idle
//	any → Suspended (caller, or every target timed out) → Starting (Resume)
//	any → Cancelling → Idle
type ClientState uint8

// Client states.
const (
	ClientIdle ClientState = iota
	ClientCapabilities
	ClientStarting
	ClientBlock
	ClientConfirming
	ClientSuspended
	ClientCancelling
)

// String names the state.
func (s ClientState) String() string {
	return [...]string{"Idle", "Capabilities", "Starting", "Block", "Confirming", "Suspended", "Cancelling"}[s]
}

// cliTarget is the client's bookkeeping of one target.
type cliTarget struct {
	addr    mesh.Address
	lost    *LostError
	caps    *InformationStatus
	contact time.Time

	needBlocks ChunkSet // blocks the target reported not received (Len 0: all)
	blocksDone int
	octetsDone uint64

	// current block
	blockDone   bool
	deferSize   uint16 // sits the current block out (deferOpenBlock): the Chunk Size it holds it open with, or deferAny
	deferred    int    // 1 + the block it last sat out
	started     bool   // answered Block Start for the current block
	needStart   bool   // must be sent Block Start again (suspended, rebooted)
	missing     ChunkSet
	sentRepair  ChunkSet // chunks it missed that the last repair pass sent (Len 0: none)
	reported    bool     // answered the last Block Get with a usable list
	pullReq     []uint16
	pullSent    []uint16
	pullTimer   mesh.Timer
	pullGen     uint64
	pullTries   int
	pullPending bool // has requests not yet sent

	complete bool
	// unconfirmed: Transfer Start went to it blind (BlindTransferStart)
	// and no Transfer Status came back yet; a Wrong Phase answer to a
	// Block Start or Block Get then means it missed the Transfer Start.
	unconfirmed bool
	needXfer    bool // must be sent Transfer Start (acknowledged) before its Block Start

	unreported bool // lost to silence, OnTargetLost not called yet (lose)

	hops int          // hops from the client, from its answers' TTL (0: unknown)
	rtt  rttEstimator // its unicast round trips
}

// relayedUnicastSegments caps the chunk of a unicast block to targets
// behind relays. The transport repairs a unicast chunk segment by segment
// (SAR), but over relays a loss burst outlasts a segment's retransmissions
// and the whole message fails: 32-segment chunks to a target 3 hops away
// at 30 % bursty loss failed with 27 to 31 segments acknowledged, most
// of the time. 8 segments carry 89 octets (93 % of them data).
const relayedUnicastSegments = 8

// pullMinLoss is the smallest loss a Pull-mode group transfer sizes its
// chunks for.
const pullMinLoss = 0.05

// Client is the BLOB Transfer Client model (SIG model 0x1401). Add
// Client.Model() to an element; call every method on the node's executor.
type Client struct {
	cfg   ClientConfig
	strat Strategy
	log   *slog.Logger
	clk   mesh.Clock
	model *access.Model

	state   ClientState
	xfer    Transfer
	group   mesh.Address
	label   *[16]byte
	targets []*cliTarget
	byAddr  map[mesh.Address]*cliTarget
	lim     Limits
	mode    TransferMode
	log2    uint8
	blocks  int
	started time.Time
	stats   ClientStats
	gen     uint64 // bumped on every stop, so stale timers do nothing
	rts     []*roundtrip
	hopsMax int       // the farthest target heard, in hops (0: none yet)
	airNext time.Time // network air booked until (transfers over relays)

	mixed *mixedState // targets of another mode (client_mixed.go)

	// block state
	block     int
	chunkSize uint16
	nChunks   int
	blockLen  int
	multicast bool
	loss      float64
	firstPass bool
	pipelined bool                      // the block's data did not wait for Block Start's answers
	repeats   int                       // sends of the current pass still to start
	passes    int                       // sends of the block's first pass
	sarFirst  int                       // SAR passes of each chunk in the first pass (0: no SAR repetition)
	sarRepair int                       // SAR passes of each chunk in repair passes
	measured  bool                      // the block's first pass gave a loss estimate (updateLoss)
	badRepair int                       // repair passes in a row the median target mostly missed
	sarSaved  *transport.SARTransmitter // the node's SAR state before the client changed it
	early     int                       // 1 + the block whose first pass was confirmed with Transfer Get
	pass      ChunkSet
	passNext  int
	inflight  int
	sendTimer mesh.Timer
	sending   bool
	sentShort bool   // the current block's last chunk, shorter than the others, went out
	adopt     uint16 // Chunk Size the next startBlock takes (adoptOpenBlock; 0: choose)
	adopted   int    // 1 + the block restarted by adoptOpenBlock

	reportArmed  bool       // a reportLost is due after the current event
	keepTimer    mesh.Timer // keep-alive check of the open block (client_keepalive.go)
	keepInflight int        // keep-alive chunks the transport still carries
	keepNext     int        // 1 + the block startBlock waits to start for them
	lastChunk    time.Time  // when the client last sent a chunk
	lastLoss     float64    // the loss estimate the last transfer ended with
	startRT      *roundtrip
	fresh        bool // a first Start, not a Resume: Transfer Start may go blind
	buf          []byte
	chunk        ChunkTransfer

	// loss probe: first unicast sends of Information Get and their answers
	probeSent, probeAnswered int

	// decode scratch
	tStatus TransferStatus
	bStatus BlockStatus
	report  PartialBlockReport
	info    InformationStatus
}

// NewClient returns a Client; add its Model to the initiator's element.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Clock == nil {
		return nil, errors.New("blob: ClientConfig needs a Clock")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL == 0 {
		cfg.TTL = access.DefaultTTL
	}
	if cfg.MTU == 0 {
		cfg.MTU = access.MaxMessageSize
	}
	if cfg.Strategy.Name == "" {
		cfg.Strategy = StrategyMeshdfu
	}
	if err := cfg.Strategy.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, strat: cfg.Strategy, log: cfg.Logger, clk: cfg.Clock, byAddr: map[mesh.Address]*cliTarget{}}
	c.model = &access.Model{ID: ClientModelID, Ops: []access.Op{
		{Opcode: OpTransferStatus, Len: access.LenMin(2), Handler: c.onTransferStatus},
		{Opcode: OpBlockStatus, Len: access.LenMin(5), Handler: c.onBlockStatus},
		{Opcode: OpPartialBlockReport, Handler: c.onPartialBlockReport},
		{Opcode: OpInformationStatus, Len: access.LenExact(13), Handler: c.onInformationStatus},
	}}
	return c, nil
}

// Model returns the client's model instance.
func (c *Client) Model() *access.Model { return c.model }

// SetLayer gives the Client the access layer its model was added to.
func (c *Client) SetLayer(l *access.Layer) { c.cfg.Layer = l }

// State returns the procedure step.
func (c *Client) State() ClientState { return c.state }

// Strategy returns the strategy in use.
func (c *Client) Strategy() Strategy { return c.strat }

// SetStrategy replaces the strategy for the next transfer.
func (c *Client) SetStrategy(s Strategy) error {
	if c.state != ClientIdle {
		return ErrBusy
	}
	if err := s.validate(); err != nil {
		return err
	}
	c.strat = s
	return nil
}

// SetTimeoutBase replaces ClientConfig.TimeoutBase for the next transfer:
// the Timeout Base its targets' servers were given (a Firmware
// Distribution Server's Start names one per distribution). The client's
// waits follow it: silence, and the wait for the servers to suspend
// before a block restarts with another chunk size.
func (c *Client) SetTimeoutBase(tb uint16) error {
	if c.state != ClientIdle {
		return ErrBusy
	}
	c.cfg.TimeoutBase = tb
	return nil
}

// clientTimeout is 10 s·(TimeoutBase+2) + 100 ms·TTL (blob.md §10).
func (c *Client) clientTimeout() time.Duration {
	ttl := c.cfg.TTL
	if ttl == access.DefaultTTL {
		ttl = c.cfg.Layer.DefaultTTL()
	}
	return 10*time.Second*time.Duration(int(c.cfg.TimeoutBase)+2) + 100*time.Millisecond*time.Duration(ttl)
}

// Start begins transfer x: Retrieve Capabilities, Transfer Start, the
// blocks, Determine Transfer Status. Results come through x.Callbacks.
func (c *Client) Start(x Transfer) error {
	if c.state != ClientIdle {
		return ErrBusy
	}
	switch {
	case c.cfg.Layer == nil:
		return errors.New("blob: client has no access layer (SetLayer)")
	case len(x.Targets) == 0:
		return errors.New("blob: transfer without targets")
	case x.Size == 0 || x.Data == nil:
		return errors.New("blob: transfer needs Size and Data")
	case x.Mode > ModePull:
		return fmt.Errorf("blob: transfer mode %v", x.Mode)
	}
	group := x.Group
	if x.Label != nil {
		group = mesh.Address(crypto.VirtualAddress(*x.Label))
	}
	if group != mesh.AddrUnassigned && (group.IsUnicast() || (group.IsVirtual() && x.Label == nil)) {
		return fmt.Errorf("blob: %v is not a group or virtual address with its Label UUID", group)
	}
	c.xfer = x
	c.group, c.label = group, x.Label
	c.targets = c.targets[:0]
	clear(c.byAddr)
	for _, a := range x.Targets {
		if !a.IsUnicast() {
			return fmt.Errorf("blob: target %v is not unicast", a)
		}
		if c.byAddr[a] != nil {
			return fmt.Errorf("blob: target %v twice", a)
		}
		t := &cliTarget{addr: a}
		c.targets = append(c.targets, t)
		c.byAddr[a] = t
	}
	c.stats = ClientStats{}
	c.started = c.clk.Now()
	c.loss = c.strat.ExpectedLoss
	if c.strat.Adaptive {
		// The network is the one the last transfer measured: a few
		// targets cannot probe it (a distributor's second transfer to
		// the targets it lost sized 25-segment chunks for 0 % loss at
		// 50 %, and no chunk reached them).
		c.loss = max(c.loss, c.lastLoss)
	}
	c.probeSent, c.probeAnswered = 0, 0
	c.block = -1
	c.lim = Limits{}
	c.hopsMax, c.airNext = 0, time.Time{}
	c.fresh = true
	c.retrieveCapabilities()
	return nil
}

func (c *Client) setState(s ClientState) {
	if c.state != s {
		c.log.Info("blob client: state", "from", c.state.String(), "to", s.String())
	}
	c.state = s
}

func (c *Client) active() []*cliTarget {
	var out []*cliTarget
	for _, t := range c.targets {
		if t.lost == nil {
			out = append(out, t)
		}
	}
	return out
}

// send sends msg to dst (a target, or the transfer's group) with ttl.
func (c *Client) send(dst mesh.Address, ttl uint8, msg access.Message, done func(error)) bool {
	ctx := access.Context{Dst: dst, AppKeyIndex: c.cfg.AppKeyIndex, TTL: ttl}
	if dst.IsVirtual() {
		ctx.Label = c.label
	}
	if err := c.cfg.Layer.Send(c.model, &ctx, msg, done); err != nil {
		c.log.Warn("blob client: send failed", "dst", dst, "opcode", msg.Opcode(), "err", err)
		return false
	}
	return true
}

// lose drops t from the transfer with reason err; the transfer goes on.
func (c *Client) lose(t *cliTarget, err *LostError) {
	if t.lost != nil {
		return
	}
	t.lost = err
	c.stopPullTimer(t)
	c.log.Warn("blob client: target lost", "target", t.addr, "err", err.Error())
	if err.Timeout {
		// When every target left falls silent so, the transfer suspends
		// (checkTargets) and Resume brings them back: their loss was
		// not final, and an owner told of it would have given them up.
		// It is reported once the transfer goes on or ends without them.
		t.unreported = true
		if !c.reportArmed {
			c.reportArmed = true
			c.clk.AfterFunc(0, func() {
				c.reportArmed = false
				if c.state != ClientSuspended {
					c.reportLost()
				}
			})
		}
	} else if f := c.xfer.Callbacks.OnTargetLost; f != nil {
		f(err)
	}
	c.progress(t)
}

// reportLost calls OnTargetLost for the silent targets lose held back.
func (c *Client) reportLost() {
	for _, t := range c.targets {
		if !t.unreported {
			continue
		}
		t.unreported = false
		if f := c.xfer.Callbacks.OnTargetLost; f != nil && t.lost != nil {
			f(t.lost)
		}
	}
}

func (c *Client) loseStatus(t *cliTarget, step string, st Status) {
	c.lose(t, &LostError{Target: t.addr, Step: step, Status: st})
}

func (c *Client) progress(t *cliTarget) {
	if f := c.xfer.Callbacks.OnProgress; f != nil {
		f(c.targetProgress(t))
	}
}

func (c *Client) targetProgress(t *cliTarget) TargetProgress {
	p := TargetProgress{
		Target: t.addr, Blocks: c.blocks, BlocksDone: t.blocksDone, Block: c.block,
		OctetsDone: t.octetsDone, Complete: t.complete, Lost: t.lost, LastContact: t.contact,
	}
	if c.block >= 0 && c.nChunks > 0 {
		p.Chunks = c.nChunks
		switch {
		case t.blockDone:
			p.ChunksDone = c.nChunks
		case t.missing.Len() == c.nChunks:
			p.ChunksDone = c.nChunks - t.missing.Count()
		}
	}
	return p
}

// Progress returns a snapshot of every target's progress.
func (c *Client) Progress() []TargetProgress {
	out := make([]TargetProgress, 0, len(c.targets))
	for _, t := range c.targets {
		out = append(out, c.targetProgress(t))
	}
	return append(out, c.mixedProgress()...)
}

// checkTargets ends or suspends the transfer when no target is left; it
// reports whether the transfer goes on.
func (c *Client) checkTargets() bool {
	if len(c.active()) > 0 {
		return true
	}
	allTimeout := true
	for _, t := range c.targets {
		if t.lost != nil && !t.lost.Timeout {
			allTimeout = false
		}
	}
	if allTimeout && c.state != ClientCapabilities {
		c.suspend()
		return false
	}
	c.end(ErrAllTargetsLost)
	return false
}

// halt stops every timer and step of the running transfer.
func (c *Client) halt() {
	c.gen++
	c.stopRoundtrips()
	c.stopSending()
	c.inflight = 0 // the transport's pending done callbacks are stale now
	c.keepInflight, c.keepNext = 0, 0
	c.stopKeepAlive()
	for _, t := range c.targets {
		c.stopPullTimer(t)
	}
}

func (c *Client) end(err error) {
	if c.mixedEnd(&err) {
		return // the pull part still runs
	}
	c.halt()
	c.reportLost()
	c.lastLoss = c.loss
	res := Result{Err: err, Duration: c.clk.Now().Sub(c.started), Stats: c.stats}
	for _, t := range c.targets {
		if t.lost != nil {
			res.Lost = append(res.Lost, t.lost)
		} else if t.complete {
			res.Completed = append(res.Completed, t.addr)
		}
	}
	if err == nil && len(res.Completed) == 0 {
		res.Err = ErrAllTargetsLost
	}
	c.setState(ClientIdle)
	c.log.Info("blob client: end", "completed", len(res.Completed), "lost", len(res.Lost), "err", res.Err)
	if f := c.xfer.Callbacks.OnEnd; f != nil {
		f(res)
	}
}

func (c *Client) suspend() {
	c.halt()
	c.setState(ClientSuspended)
	if f := c.xfer.Callbacks.OnSuspended; f != nil {
		f()
	}
}

// Suspend pauses the transfer; Resume continues it. The targets' servers
// suspend by themselves when their inactivity timer expires.
func (c *Client) Suspend() error {
	switch c.state {
	case ClientIdle, ClientCancelling:
		return ErrNotRunning
	case ClientSuspended:
		return nil
	}
	c.suspend()
	c.mixedSuspend()
	return nil
}

// Resume continues a suspended transfer: targets lost by timeout come
// back, Transfer Start runs again (servers in Suspended resume), and the
// blocks continue from those the targets still miss (blob.md §12.8).
func (c *Client) Resume() error {
	if c.state != ClientSuspended {
		return ErrBusy
	}
	c.mixedResume()
	c.fresh = false
	for _, t := range c.targets {
		if t.lost != nil && t.lost.Timeout {
			t.lost, t.unreported = nil, false
		}
	}
	if c.log2 == 0 {
		c.retrieveCapabilities()
		return nil
	}
	c.transferStart()
	return nil
}

// Cancel stops the transfer and sends Transfer Cancel to the remaining
// targets; OnEnd then reports ErrCanceled.
func (c *Client) Cancel() error {
	switch c.state {
	case ClientIdle:
		return ErrNotRunning
	case ClientCancelling:
		return nil
	}
	c.halt()
	c.setState(ClientCancelling)
	msg := &TransferCancel{ID: c.xfer.ID}
	c.startRoundtrip("Transfer Cancel", msg, OpTransferStatus, c.targets, true,
		func(t *cliTarget, m access.Message) bool { return true },
		func() { c.end(ErrCanceled) })
	return nil
}

// retrieveCapabilities sends Information Get and intersects the answers
// (blob.md §12.3).
func (c *Client) retrieveCapabilities() {
	c.setState(ClientCapabilities)
	c.lim = Limits{}
	for _, t := range c.targets {
		t.caps = nil
	}
	c.startRoundtrip("Information Get", &InformationGet{}, OpInformationStatus, c.targets, true,
		func(t *cliTarget, m access.Message) bool {
			is := *m.(*InformationStatus)
			t.caps = &is
			c.noteProbe(t)
			return true
		}, func() {
			c.splitModes()
			// Intersect in the order of the target list, so earlier
			// targets win a conflict whatever order the answers came in.
			first := true
			for _, t := range c.active() {
				c.intersect(t, t.caps, &first)
			}
			c.onCapabilities()
		})
}

func (c *Client) intersect(t *cliTarget, is *InformationStatus, first *bool) {
	const step = "capabilities"
	if is.MaxBLOBSize < c.xfer.Size {
		c.lose(t, &LostError{Target: t.addr, Step: step, Status: StatusBLOBTooLarge,
			Detail: fmt.Sprintf("BLOB Too Large: Max BLOB Size %d < %d", is.MaxBLOBSize, c.xfer.Size)})
		return
	}
	if *first {
		*first = false
		c.lim = Limits{is.MinBlockSizeLog, is.MaxBlockSizeLog, is.MaxTotalChunks, is.MaxChunkSize, is.MaxBLOBSize, is.MTU, is.Modes}
		return
	}
	l := c.lim
	if l.Modes&is.Modes == 0 {
		c.lose(t, &LostError{Target: t.addr, Step: step, Status: StatusUnsupportedTransferMode,
			Detail: fmt.Sprintf("Unsupported Transfer Mode: supports %v, others %v", is.Modes, l.Modes)})
		return
	}
	lo, hi := max(l.MinBlockSizeLog, is.MinBlockSizeLog), min(l.MaxBlockSizeLog, is.MaxBlockSizeLog)
	if lo > hi {
		c.lose(t, &LostError{Target: t.addr, Step: step, Status: StatusInvalidBlockSize,
			Detail: fmt.Sprintf("Invalid Block Size: block sizes 2^%d–2^%d do not overlap 2^%d–2^%d",
				is.MinBlockSizeLog, is.MaxBlockSizeLog, l.MinBlockSizeLog, l.MaxBlockSizeLog)})
		return
	}
	c.lim = Limits{lo, hi, min(l.MaxTotalChunks, is.MaxTotalChunks), min(l.MaxChunkSize, is.MaxChunkSize),
		min(l.MaxBLOBSize, is.MaxBLOBSize), min(l.MTU, is.MTU), l.Modes & is.Modes}
}

// Limits returns the intersection of the targets' capabilities.
func (c *Client) Limits() Limits { return c.lim }

func (c *Client) onCapabilities() {
	if !c.checkTargets() {
		return
	}
	mode := c.xfer.Mode
	switch {
	case mode == ModeNone && c.lim.Modes&SupportPush != 0:
		mode = ModePush
	case mode == ModeNone:
		mode = ModePull
	}
	if !c.lim.Modes.Has(mode) {
		for _, t := range c.active() {
			c.lose(t, &LostError{Target: t.addr, Step: "capabilities", Status: StatusUnsupportedTransferMode,
				Detail: fmt.Sprintf("Unsupported Transfer Mode: %v not in %v", mode, c.lim.Modes)})
		}
		c.end(fmt.Errorf("%w: mode %v", ErrNoCommonParameters, mode))
		return
	}
	c.mode = mode
	c.probeLoss()
	// The block must hold no more chunks than the targets track (and
	// than Strategy.MaxBlockChunks) with the chunk the first block will
	// use.
	n := len(c.active())
	if c.group == mesh.AddrUnassigned || n <= c.strat.UnicastMax {
		n = 1
	}
	loss := c.loss
	if n == 1 {
		loss = 0
	}
	minChunk := int(c.strat.chooseChunk(c.lim, 1, n, loss))
	if n >= roundChunkMinTargets && !c.useSAR(n) {
		// Every block costs a Block Get round to every target.
		minChunk = c.strat.roundChunk(c.lim, n, loss, minChunk, c.pduCost())
	}
	if c.useSAR(n) {
		// SAR repetition makes multi-segment chunks the right size at
		// any loss (PlanSAR); leave room for chunks of 4 segments.
		minChunk = max(minChunk, min(chunkForSegments(sarMinSegments), c.lim.chunkLimit()))
	}
	log2, err := c.strat.chooseBlockLog(c.lim, minChunk*c.strat.blockChunks(c.lim))
	if err != nil {
		c.end(err)
		return
	}
	c.log2 = log2
	c.blocks = BlockCount(c.xfer.Size, log2)
	if f := c.xfer.Callbacks.OnCapabilities; f != nil {
		f(c.lim, log2, mode)
	}
	c.transferStart()
}

// probeLoss takes a loss estimate before Transfer Start fixes the block
// size (which must suit the smallest chunk the loss calls for): the share
// of targets that did not answer the first unicast send of Information Get.
// That request is one PDU; its answer comes back through the transport's
// acknowledged SAR, and with QueryWindow targets asked at a time the
// answers rarely collide. Below probeMinSamples targets, or under 3 %, the
// estimate is noise and Strategy.ExpectedLoss stays, except for a fleet of
// roundChunkMinTargets or more probed with probeMinLarge samples or more:
// there a chunk sized for no loss (32 segments) that meets some loss
// reaches few of the targets, and the probe's estimate is taken as it is
// (at a thousand targets with 5 % loss, 95 answers of 100 read 2.5 %, and
// the 377-octet chunks the loss-free plan chose lost 541 targets).
func (c *Client) probeLoss() {
	const probeMinSamples, probeMinLarge = 10, 50
	if !c.strat.Adaptive || c.probeSent < probeMinSamples {
		return
	}
	// Both the request and the answer cross the link: success ≈ (1 − loss)².
	est := 1 - math.Sqrt(float64(c.probeAnswered)/float64(c.probeSent))
	large := len(c.targets) >= roundChunkMinTargets && c.probeSent >= probeMinLarge
	if est >= 0.03 || (large && est > 0) {
		c.loss = max(c.loss, est)
	}
	c.log.Info("blob client: loss probe", "sent", c.probeSent, "answered", c.probeAnswered, "loss", c.loss)
}

// transferStart sends Transfer Start (blob.md §12.5): acknowledged by
// every target, or blind to a large group (blindTransferStart).
func (c *Client) transferStart() {
	c.setState(ClientStarting)
	proceed := func() {
		if c.checkTargets() {
			c.setState(ClientBlock)
			c.nextBlock(0)
		}
	}
	handle := func(t *cliTarget, m access.Message) bool { return c.onTransferStartStatus(t, m.(*TransferStatus)) }
	if c.blindTransferStart() {
		targets := c.active()
		for _, t := range targets {
			t.unconfirmed = true
		}
		gen := c.gen
		c.startBlindRoundtrip("Transfer Start", c.transferStartMsg(), OpTransferStatus, targets,
			blindSends(c.loss, len(targets), c.strat.Attempts), handle, func() {
				// The answers are segmented: let the targets' SAR
				// retransmissions of those that collided die down before
				// the Block Start and the chunks.
				c.clk.AfterFunc(blindStartQuiet+time.Duration(len(targets))*blindStartQuietPer, func() {
					if gen == c.gen && c.state == ClientStarting {
						proceed()
					}
				})
			})
		return
	}
	c.startRoundtrip("Transfer Start", c.transferStartMsg(), OpTransferStatus, c.targets, true, handle, proceed)
}

func (c *Client) transferStartMsg() *TransferStart {
	return &TransferStart{Mode: c.mode, ID: c.xfer.ID, Size: c.xfer.Size, BlockSizeLog: c.log2, MTU: c.cfg.MTU}
}

// blindStartQuiet is the pause after a blind Transfer Start before the
// first Block Start.
const blindStartQuiet = 300 * time.Millisecond

// blindStartQuietPer is added to blindStartQuiet per target.
const blindStartQuietPer = 3 * time.Millisecond

// blindStartMaxLoss is the highest estimated loss at which Transfer
// Start goes blind. Under loss a target that missed it needs the whole
// block again in repair, and the segmented answers to each blind send,
// with their SAR retransmissions, collide with the next send at the other
// targets (measured on 100 targets at 10 %: 16.0 → 12.3 % of the bound);
// the round it saves is then a small part of the transfer.
const blindStartMaxLoss = 0.02

// blindTransferStart reports whether Transfer Start goes blind to the
// group (Strategy.BlindTransferStart): a first start (not a Resume, whose
// answers tell which blocks the targets hold) of a push transfer to at
// least that many targets, all neighbours, on a link that showed no loss
// worth the name (blindStartMaxLoss). The Transfer Status answers are
// segmented, so collecting them takes a unicast exchange per target (12 s
// for 100); a blind start takes a few reply windows. A target that missed
// every send answers the first Block Start or Block Get with Wrong Phase
// and is then sent Transfer Start acknowledged (afterPass); the final
// Transfer Get checks every target's BLOB ID and phase.
func (c *Client) blindTransferStart() bool {
	n := len(c.active())
	return c.fresh && c.strat.BlindTransferStart > 0 && n >= c.strat.BlindTransferStart && c.loss <= blindStartMaxLoss &&
		c.group != mesh.AddrUnassigned && c.mode == ModePush && !c.multiHop()
}

// onTransferStartStatus takes a target's answer to Transfer Start and
// reports whether it is through the step.
func (c *Client) onTransferStartStatus(t *cliTarget, st *TransferStatus) bool {
	if st.Status != StatusSuccess {
		// The phase tells the owner why: Wrong Phase from an Inactive
		// server is one that gave up waiting for Transfer Start.
		c.lose(t, &LostError{Target: t.addr, Step: "Transfer Status", Status: st.Status, Phase: st.Phase})
		return true
	}
	if st.HasID && st.ID != c.xfer.ID {
		c.lose(t, &LostError{Target: t.addr, Step: "Transfer Status", Status: StatusWrongBLOBID,
			Detail: fmt.Sprintf("BLOB ID %016x, want %016x", st.ID, c.xfer.ID)})
		return true
	}
	switch st.Phase {
	case PhaseWaitingForBlock, PhaseWaitingForChunk, PhaseComplete:
	default:
		return false // Zephyr ignores it; the target times out if it persists
	}
	t.unconfirmed, t.needXfer = false, false
	t.needBlocks = ChunkSet{}
	if st.HasSize && st.BlocksNotReceived.Len() >= c.blocks {
		t.needBlocks = NewChunkSet(c.blocks)
		for b := 0; b < c.blocks; b++ {
			if st.BlocksNotReceived.Has(b) {
				t.needBlocks.Set(b)
			}
		}
		t.blocksDone = c.blocks - t.needBlocks.Count()
	}
	if st.Phase == PhaseComplete {
		t.needBlocks = NewChunkSet(c.blocks)
		t.blocksDone = c.blocks
	}
	t.needStart = false
	return true
}

// missedTransferStart reports whether a Block Status with status st from
// t means t never heard the blind Transfer Start, and marks it so.
func (c *Client) missedTransferStart(t *cliTarget, st Status) bool {
	if !t.unconfirmed || (st != StatusWrongPhase && st != StatusInformationUnavailable) {
		return false
	}
	if !t.needXfer {
		c.stats.LateStarts++
	}
	t.needXfer, t.needStart = true, true
	t.missing = FullChunkSet(c.nChunks)
	return true
}

// needsBlock reports whether t still needs block b.
func (t *cliTarget) needsBlock(b int) bool {
	return t.needBlocks.Len() == 0 || t.needBlocks.Has(b)
}

// nextBlock starts the first block ≥ from that a target still needs, or
// confirms the transfer when there is none.
func (c *Client) nextBlock(from int) {
	// From the start again: a block can go out of turn (jumpToOpenBlock).
	for i := range c.blocks {
		b := (from + i) % c.blocks
		for _, t := range c.active() {
			if t.needsBlock(b) {
				c.startBlock(b)
				return
			}
		}
	}
	c.confirm()
}

// startBlock runs Block Start for block b (blob.md §12.6) and, pipelined
// or after it, Send Data.
func (c *Client) startBlock(b int) {
	if c.keepInflight > 0 {
		c.keepNext = b + 1 // once the keep-alive chunk left (sendKeepAlive)
		return
	}
	c.block = b
	c.blockLen = BlockLen(c.xfer.Size, c.log2, b)
	var need []*cliTarget
	for _, t := range c.active() {
		t.blockDone = !t.needsBlock(b)
		t.started, t.reported, t.needStart, t.deferSize = false, false, false, 0
		t.sentRepair = ChunkSet{}
		t.pullReq, t.pullSent, t.pullTries, t.pullPending = t.pullReq[:0], t.pullSent[:0], 0, false
		if !t.blockDone {
			need = append(need, t)
		}
	}
	c.multicast = c.group != mesh.AddrUnassigned && len(need) > c.strat.UnicastMax
	n, loss := 1, 0.0
	if c.multicast {
		n, loss = len(need), c.loss
		if c.mode == ModePull && c.strat.ChunkSize == 0 {
			// Pull mode cannot restart a block with another chunk size
			// cheaply, and serves Low Power Nodes behind a Friend queue:
			// assume some loss.
			loss = max(loss, pullMinLoss)
		}
	}
	c.chunkSize = c.chooseBlockChunk(n, loss)
	if !c.multicast && c.multiHop() && c.strat.ChunkSize == 0 && ChunkSegments(int(c.chunkSize)) > relayedUnicastSegments {
		s := c.strat
		s.MaxChunkSegments = relayedUnicastSegments
		c.chunkSize = s.chooseChunk(c.lim, c.blockLen, n, loss)
	}
	if c.adopt != 0 {
		c.chunkSize = c.adoptedChunk(n, loss)
	}
	c.nChunks = ChunkCount(c.blockLen, c.chunkSize)
	c.sentShort = false
	for _, t := range need {
		t.missing = FullChunkSet(c.nChunks)
	}
	c.firstPass = true
	c.lastChunk = c.clk.Now()
	c.armKeepAlive()
	c.measured, c.badRepair = false, 0
	c.repeats = 0
	if c.multicast && c.sarFirst == 0 {
		c.repeats = c.strat.passRepeats(c.loss, ChunkSegments(int(c.chunkSize)), c.nChunks) - 1
	}
	c.passes = c.repeats + 1
	c.log.Info("blob client: block", "repeats", c.repeats+1, "sar_passes", c.sarFirst, "sar_repair", c.sarRepair,
		"block", b, "chunk_size", c.chunkSize, "chunks", c.nChunks,
		"targets", len(need), "multicast", c.multicast, "loss", c.loss)
	c.pipelined = false
	c.startRT = c.blockStartRoundtrip(need)
	if c.mode == ModePull {
		return // the answers carry the first requests
	}
	// Pipelining pays with few targets. With many, the retries of Block
	// Start to the few silent ones would be answered while chunks flow,
	// and every answer destroys the segment on air at every other target
	// (a collision), which loses the whole chunk there (with SAR
	// repetition, only that pass's segment: see BlindBlockStart).
	c.pipelined = c.strat.PipelineBlockStart && (!c.multicast || c.strat.GroupQueryMin == 0 || len(need) < c.strat.GroupQueryMin)
	if c.pipelined {
		c.sending = true // hold afterPass until the pass ran
		gen := c.gen
		c.clk.AfterFunc(c.pipelineDelay(len(need)), func() {
			if gen == c.gen && c.state == ClientBlock {
				c.sendPass(FullChunkSet(c.nChunks))
			}
		})
	}
}

// pipelineDelay is how long the first chunk of a pipelined block waits
// after a Block Start to the group: the answers come 20–500 ms later
// (Mesh Protocol §3.7.4.1), and a target transmitting its answer cannot
// receive (half duplex), so chunks sent meanwhile would be lost there and
// would also spoil the loss estimate. Unicast and small groups do not wait.
func (c *Client) pipelineDelay(n int) time.Duration {
	if c.group == mesh.AddrUnassigned || (c.strat.GroupQueryMin > 0 && n < c.strat.GroupQueryMin) {
		return 0
	}
	return access.ReplyDelayMaxGroup + 100*time.Millisecond
}

func (c *Client) blockStartRoundtrip(targets []*cliTarget) *roundtrip {
	msg := &BlockStart{BlockNumber: uint16(c.block), ChunkSize: c.chunkSize}
	gen := c.gen
	handle := func(t *cliTarget, m access.Message) bool { return c.onBlockStartStatus(t, m.(*BlockStatus)) }
	done := func() {
		if gen != c.gen {
			return
		}
		c.startRT = nil
		if !c.checkTargets() {
			return
		}
		switch {
		case c.mode == ModePull:
			c.pullKick()
		case !c.pipelined && c.firstPass && !c.sending:
			c.sendPass(c.unionMissing())
		case !c.sending && c.inflight == 0:
			c.afterPass()
		}
	}
	if c.blindBlockStart(len(targets)) {
		return c.startBlindRoundtrip("Block Start", msg, OpBlockStatus, targets,
			blindSends(c.loss, len(targets), c.strat.Attempts), handle, done)
	}
	return c.startRoundtrip("Block Start", msg, OpBlockStatus, targets, true, handle, done)
}

func (c *Client) onBlockStartStatus(t *cliTarget, st *BlockStatus) bool {
	if c.missedTransferStart(t, st.Status) {
		return true
	}
	switch st.Status {
	case StatusSuccess:
	case StatusInformationUnavailable:
		return false // a late answer to a Block Get; Block Start never gets it
	case StatusWrongPhase:
		if st.BlockNumber == uint16(c.block) && st.ChunkSize == c.chunkSize && st.Format != FormatAllMissing {
			// A late answer to the Block Start of another block: a
			// server holding this one open with this size says Success
			// (all chunks missing is also what an Inactive server says).
			return false
		}
		if c.adoptOpenBlock(t, st) || c.jumpToOpenBlock(t, st) || c.deferOpenBlock(t, st) {
			return true
		}
		c.loseStatus(t, "Block Status", st.Status)
		return true
	default:
		c.loseStatus(t, "Block Status", st.Status)
		return true
	}
	if st.BlockNumber != uint16(c.block) || st.ChunkSize != c.chunkSize {
		return false // an answer to something else
	}
	t.started = true
	c.takeBlockStatus(t, st)
	if c.mode == ModePull && !t.blockDone {
		c.pullRequest(t, st.EncodedMissing)
	}
	return true
}

// adoptOpenBlock handles a Wrong Phase answer to Block Start from a target
// whose server has this block open with another Chunk Size: a client that
// lost the target mid-block, or a distributor before its restart, opened
// it, and a server keeps a block's Chunk Size until the block is complete
// or the transfer suspends (blob.md §11.2, Block Start row 3; its Block
// Status names the open block). When no other target needs the block
// (the distributor's second transfer to the targets it lost), the block
// starts again with the target's Chunk Size, once per block, if every
// target accepts that size. With others in the block it does not restart
// it (a blind Block Start to a group collects no answers before the data,
// and after a rechunk a server not yet suspended answers so while the
// others took the new size; adopting its size would lose all of them):
// the target sits the block out, and once the others hold it the block
// starts again for it alone with its size (finishDeferred). Asked Block
// Start meanwhile, its server would keep the block open for ever (any
// Block Start shows the client alive); left alone, it keeps it open
// until the inactivity timer suspends it, and a Suspended server takes
// any size.
// Chunks already sent cannot land in the open block: they have the other
// size, and the server takes a chunk only of the length it expects
// (checked for the block's short last chunk). It reports whether it did.
func (c *Client) adoptOpenBlock(t *cliTarget, st *BlockStatus) bool {
	cs := st.ChunkSize
	if st.BlockNumber != uint16(c.block) || !c.canAdopt(cs) {
		return false
	}
	for _, o := range c.active() {
		if o != t && !o.blockDone {
			return c.deferOpenBlock(t, st)
		}
	}
	c.log.Info("blob client: block open with another chunk size", "target", t.addr, "block", c.block,
		"chunk_size", cs, "was", c.chunkSize)
	c.stats.Adopted++
	c.halt() // the pass and the Block Start step of the old size
	c.adopted, c.adopt = c.block+1, cs
	c.startBlock(c.block)
	return true
}

// canAdopt reports whether the current block may start again with Chunk
// Size cs, which a target's server holds it open with (adoptOpenBlock).
func (c *Client) canAdopt(cs uint16) bool {
	if cs == c.chunkSize || cs == 0 || cs == 0xFFFF || c.mode == ModePull || c.adopted == c.block+1 || c.sentShort {
		return false
	}
	full := int(min(uint64(c.xfer.Size), BlockSize(c.log2))) // a server checks the full block (planSAR)
	n := ChunkCount(c.blockLen, cs)
	return int(cs) <= c.lim.chunkLimit() && ChunkCount(full, cs) <= int(c.lim.MaxTotalChunks) &&
		ChunkLen(c.blockLen, cs, n-1) != int(c.chunkSize)
}

// adoptedChunk is the Chunk Size adoptOpenBlock asked for, with the SAR
// passes planned for it when the block goes to a group.
func (c *Client) adoptedChunk(n int, loss float64) uint16 {
	cs := c.adopt
	c.adopt = 0
	if c.sarFirst > 0 {
		c.sarFirst, c.sarRepair = 0, 0
		if pl := c.planSAR(n, loss, cs); pl.ChunkSize == cs {
			c.sarFirst, c.sarRepair = pl.FirstPasses, pl.RepairPasses
		}
	}
	return cs
}

// takeBlockStatus records what a Block Status says t misses.
func (c *Client) takeBlockStatus(t *cliTarget, st *BlockStatus) {
	switch st.Format {
	case FormatNoneMissing:
		c.markBlockDone(t)
		return
	case FormatEncodedList:
		if c.mode == ModePull {
			if len(st.EncodedMissing) == 0 {
				c.markBlockDone(t)
			}
			return
		}
	}
	var set ChunkSet
	if err := st.MissingChunks(&set, c.nChunks); err != nil {
		set = FullChunkSet(c.nChunks)
	}
	t.missing = set
	t.reported = st.Format == FormatSomeMissing
	c.progress(t)
}

func (c *Client) markBlockDone(t *cliTarget) {
	if t.blockDone {
		return
	}
	t.blockDone = true
	t.missing = NewChunkSet(c.nChunks)
	t.blocksDone++
	t.octetsDone += uint64(c.blockLen)
	if t.needBlocks.Len() == 0 {
		t.needBlocks = FullChunkSet(c.blocks)
	}
	t.needBlocks.Clear(c.block)
	c.stopPullTimer(t)
	c.progress(t)
}

// unionMissing is the union of the chunks the active targets that are not
// done with the block miss.
func (c *Client) unionMissing() ChunkSet {
	u := NewChunkSet(c.nChunks)
	for _, t := range c.active() {
		if !t.blockDone && t.missing.Len() == c.nChunks {
			u.Union(t.missing)
		}
	}
	return u
}

// blockFinished moves on when every active target has the block.
func (c *Client) blockFinished() {
	b := c.block
	if c.finishDeferred() {
		return
	}
	if f := c.xfer.Callbacks.OnBlockDone; f != nil {
		f(b)
	}
	if c.state != ClientBlock {
		return // a callback suspended or cancelled
	}
	c.nextBlock(b + 1)
}

// jumpToOpenBlock handles a Wrong Phase answer to Block Start from the
// only target in the block whose server holds another block open, one
// it still needs (the first transfer's group Block Start reached a target
// it had lost): that block goes first, with the target's Chunk Size, and
// the client comes back to this one afterwards (nextBlock). It reports
// whether it did.
func (c *Client) jumpToOpenBlock(t *cliTarget, st *BlockStatus) bool {
	ob, cs := int(st.BlockNumber), st.ChunkSize
	if ob == c.block || ob >= c.blocks || !t.needsBlock(ob) || c.mode == ModePull || c.sentShort || c.adopted == ob+1 ||
		cs == 0 || cs == 0xFFFF || int(cs) > c.lim.chunkLimit() {
		return false
	}
	// Chunks of this block already sent must not fit the open block: the
	// server takes a chunk by its number and length alone.
	full := int(min(uint64(c.xfer.Size), BlockSize(c.log2)))
	obLen := BlockLen(c.xfer.Size, c.log2, ob)
	sent := []int{int(c.chunkSize), ChunkLen(c.blockLen, c.chunkSize, ChunkCount(c.blockLen, c.chunkSize)-1)}
	open := []int{int(cs), ChunkLen(obLen, cs, ChunkCount(obLen, cs)-1)}
	if ChunkCount(full, cs) > int(c.lim.MaxTotalChunks) || slices.ContainsFunc(sent, func(l int) bool { return slices.Contains(open, l) }) {
		return false
	}
	for _, o := range c.active() {
		if o != t && !o.blockDone {
			return false
		}
	}
	c.log.Info("blob client: another block open: that one first", "target", t.addr, "block", c.block,
		"open_block", ob, "chunk_size", cs)
	c.stats.Adopted++
	c.halt() // the pass and the Block Start step of this block
	c.adopted, c.adopt = ob+1, cs
	c.startBlock(ob)
	return true
}

// deferAny marks a target that sits the block out (deferOpenBlock) and
// then takes it with any Chunk Size.
const deferAny = 0xFFFF

// deferOpenBlock handles a Wrong Phase answer to Block Start from a
// target whose server holds a block open (this one with another Chunk
// Size, or another one: the first transfer's group Block Start reached
// a target it had lost) while other targets are in the block: the
// target sits the block out, once per block, and gets it alone after
// the others (finishDeferred). Asked Block Start meanwhile, its server
// would keep the block open for ever (any Block Start shows the client
// alive); left alone, it keeps it open until the inactivity timer
// suspends it, and a Suspended server takes any block and size. It
// reports whether it did.
func (c *Client) deferOpenBlock(t *cliTarget, st *BlockStatus) bool {
	if c.mode == ModePull || t.deferred == c.block+1 || st.ChunkSize == 0 || st.ChunkSize == 0xFFFF {
		return false
	}
	others := false
	for _, o := range c.active() {
		if o != t && !o.blockDone {
			others = true
		}
	}
	if !others {
		return false
	}
	t.deferSize, t.deferred, t.blockDone = deferAny, c.block+1, true
	if st.BlockNumber == uint16(c.block) && c.canAdopt(st.ChunkSize) {
		t.deferSize = st.ChunkSize
	}
	c.log.Info("blob client: block open elsewhere: finished after the others", "target", t.addr,
		"block", c.block, "open_block", st.BlockNumber, "chunk_size", st.ChunkSize, "was", c.chunkSize)
	return true
}

// finishDeferred starts the current block again, with the Chunk Size
// they hold it open with, for the targets that sat it out
// (adoptOpenBlock), once the others hold it. It reports whether it did.
func (c *Client) finishDeferred() bool {
	var cs uint16
	for _, t := range c.active() {
		if t.deferSize != 0 && (cs == 0 || cs == deferAny) {
			cs = t.deferSize
		}
	}
	if cs == 0 {
		return false
	}
	c.log.Info("blob client: block again for targets that sat it out", "block", c.block, "chunk_size", cs)
	if cs != deferAny {
		c.stats.Adopted++
		c.adopted, c.adopt = c.block+1, cs
	}
	c.startBlock(c.block)
	return true
}

// confirm sends Transfer Get (blob.md §12.7): every target must report
// Complete.
func (c *Client) confirm() {
	c.setState(ClientConfirming)
	c.block = -1
	var ask []*cliTarget
	for _, t := range c.targets {
		if !t.complete { // not those that already reported Complete (confirmLastBlock)
			ask = append(ask, t)
		}
	}
	c.startRoundtrip("Transfer Get", &TransferGet{}, OpTransferStatus, ask, true,
		func(t *cliTarget, m access.Message) bool {
			st := m.(*TransferStatus)
			switch {
			case st.Status != StatusSuccess:
				c.loseStatus(t, "Transfer Status", st.Status)
			case st.HasID && st.ID != c.xfer.ID:
				c.lose(t, &LostError{Target: t.addr, Step: "Transfer Status", Status: StatusWrongBLOBID,
					Detail: fmt.Sprintf("BLOB ID %016x, want %016x", st.ID, c.xfer.ID)})
			case st.Phase != PhaseComplete:
				c.lose(t, &LostError{Target: t.addr, Step: "Transfer Status", Status: StatusWrongPhase, Phase: st.Phase,
					Detail: fmt.Sprintf("phase %v, want Complete", st.Phase)})
			default:
				t.complete = true
				t.blocksDone = c.blocks
				t.octetsDone = uint64(c.xfer.Size)
				c.progress(t)
			}
			return true
		}, func() {
			if c.checkTargets() {
				c.end(nil)
			}
		})
}

// Receive handlers: decode, find the target, hand to the waiting steps.

func (c *Client) target(ctx *access.Context) *cliTarget {
	t := c.byAddr[ctx.Src]
	if t == nil || c.state == ClientIdle || c.state == ClientSuspended {
		return nil
	}
	t.contact = c.clk.Now()
	c.stats.Answers++
	c.learnHops(t, ctx.RecvTTL)
	return t
}

func (c *Client) dispatch(t *cliTarget, m access.Message) {
	for _, rt := range append([]*roundtrip(nil), c.rts...) {
		if rt.answer(t, m) {
			return
		}
	}
}

func (c *Client) onTransferStatus(ctx *access.Context, p []byte) {
	if err := c.tStatus.Unmarshal(p); err != nil {
		c.debugDrop(ctx, OpTransferStatus, err)
		return
	}
	if t := c.target(ctx); t != nil {
		c.dispatch(t, &c.tStatus)
	}
}

func (c *Client) onBlockStatus(ctx *access.Context, p []byte) {
	if err := c.bStatus.Unmarshal(p); err != nil {
		c.debugDrop(ctx, OpBlockStatus, err)
		return
	}
	if t := c.target(ctx); t != nil {
		c.dispatch(t, &c.bStatus)
	}
}

func (c *Client) onInformationStatus(ctx *access.Context, p []byte) {
	if err := c.info.Unmarshal(p); err != nil {
		c.debugDrop(ctx, OpInformationStatus, err)
		return
	}
	if t := c.target(ctx); t != nil {
		c.dispatch(t, &c.info)
	}
}

func (c *Client) onPartialBlockReport(ctx *access.Context, p []byte) {
	if err := c.report.Unmarshal(p); err != nil {
		c.debugDrop(ctx, OpPartialBlockReport, err)
		return
	}
	if t := c.target(ctx); t != nil && t.lost == nil {
		c.onReport(t, c.report.EncodedMissing)
	}
}

func (c *Client) debugDrop(ctx *access.Context, op access.Opcode, err error) {
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("blob client: drop", "src", ctx.Src, "opcode", op, "err", err)
	}
}
