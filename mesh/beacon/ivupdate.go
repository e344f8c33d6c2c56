package beacon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
)

// IV Update timing (Mesh Protocol v1.1 §3.11.5 and §3.11.6; fact sheet §8).
const (
	// IVUMinDuration is the minimum time in Normal before an IV Update may
	// start, and in In Progress before returning to Normal (zephyr
	// BT_MESH_IVU_MIN_HOURS = 96).
	IVUMinDuration = 96 * time.Hour
	// IVUMaxInProgress bounds the In Progress state: it must end before 144 h.
	IVUMaxInProgress = 144 * time.Hour
	// IVRecoveryInterval is the period within which at most one IV Index
	// Recovery may run (192 h).
	IVRecoveryInterval = 192 * time.Hour
	// IVRecoveryLimit is how far above the known IV Index a beacon may be
	// and still be accepted (known + 42, about 48 weeks).
	IVRecoveryLimit = 42
	// DefaultSeqThreshold is the SEQ above which a node in Normal starts an
	// IV Update (half the 24-bit space, as Zephyr's default
	// CONFIG_BT_MESH_IV_UPDATE_SEQ_LIMIT 0x800000), leaving ample room for
	// the 96 h the update takes.
	DefaultSeqThreshold = 0x800000

	// ivuDeferRetry is how often a deferred return to Normal is retried
	// when the node does not call TransferDone.
	ivuDeferRetry = time.Minute
	// ivuForceNormal is when a deferred return to Normal happens even with
	// a transfer pending: one hour inside the 144 h limit.
	ivuForceNormal = IVUMaxInProgress - time.Hour
)

// IVState is the node's IV Index state, persisted by the node (through
// IVUpdateConfig.OnChange) and given back at start-up.
type IVState struct {
	// Index is the current IV Index (during In Progress, the new one).
	Index uint32
	// Updating is the IV Update flag: true while In Progress.
	Updating bool
	// Since is when the current state (Index, Updating) was entered.
	Since time.Time
	// NoMinimum lifts the 96 h minimum for the next beacon-driven
	// transition: set after an IV Index Recovery, and for a node
	// provisioned while the network was In Progress (§3.11.5).
	NoMinimum bool
	// LastRecovery is when the last IV Index Recovery completed (zero:
	// never); another may run only IVRecoveryInterval later.
	LastRecovery time.Time
}

// ProvisionedState is the state of a node just provisioned at now with the
// IV Index and IV Update flag of the Provisioning Data: one provisioned
// during In Progress is not bound by the 96 h minimum; one provisioned in
// Normal stays Normal for at least 96 h.
func ProvisionedState(index uint32, updating bool, now time.Time) IVState {
	return IVState{Index: index, Updating: updating, Since: now, NoMinimum: updating}
}

// String prints "0x12345678 normal since …" for logs.
func (s IVState) String() string {
	mode := "normal"
	if s.Updating {
		mode = "in-progress"
	}
	return fmt.Sprintf("0x%08x %s since %s", s.Index, mode, s.Since.Format(time.RFC3339))
}

// IVOutcome says what a beacon or local trigger did to the IV Update state.
type IVOutcome uint8

// IV outcomes.
const (
	IVIgnored       IVOutcome = iota // not from the primary subnet, or IV Index out of range
	IVNoChange                       // consistent with the current state
	IVTooSoon                        // a transition the 96 h or 192 h rules forbid now
	IVDeferred                       // return to Normal deferred: segmented transfer pending
	IVEnteredUpdate                  // Normal → In Progress (IV Index + 1)
	IVEnteredNormal                  // In Progress → Normal (SEQ reset)
	IVRecovered                      // IV Index Recovery: took the beacon's IV Index and flag
)

// String names the outcome.
func (o IVOutcome) String() string {
	switch o {
	case IVIgnored:
		return "ignored"
	case IVNoChange:
		return "no-change"
	case IVTooSoon:
		return "too-soon"
	case IVDeferred:
		return "deferred"
	case IVEnteredUpdate:
		return "entered-update"
	case IVEnteredNormal:
		return "entered-normal"
	case IVRecovered:
		return "recovered"
	}
	return fmt.Sprintf("IVOutcome(%d)", uint8(o))
}

// IVUpdateConfig configures an IVUpdate. Zero fields take the documented
// defaults.
type IVUpdateConfig struct {
	Clock  mesh.Clock   // required
	Logger *slog.Logger // nil: discard
	// State is the persisted state; a zero Since means "entered now".
	State IVState
	// TestMode is IV Update test mode: it removes the 96 h minimums
	// (beacons are followed at once; Start and Finish act at once).
	TestMode bool
	// SeqThreshold is the SEQ at which SeqUsed starts an IV Update;
	// 0: DefaultSeqThreshold.
	SeqThreshold uint32
	// OnChange is called after every state change, for the node to persist
	// it (and refresh its beacons). Optional.
	OnChange func(IVState)
	// ResetSeq sets the SEQ of every element to 0. It is called on the
	// return to Normal and on IV Index Recovery, before OnChange. Optional.
	ResetSeq func()
	// TransferPending reports whether an outgoing segmented transfer is in
	// progress; the return to Normal waits for it (call TransferDone when
	// it ends). Optional: nil means never.
	TransferPending func() bool
}

// IVUpdate is the IV Update procedure and IV Index Recovery of a node (Mesh
// Protocol v1.1 §3.11.5, §3.11.6). It decides which IV Index the node uses,
// follows authenticated beacons of the primary subnet, starts an update when
// SEQ runs high, and returns to Normal after 96 h In Progress.
//
//	          Start / SEQ threshold / beacon (IV+1, flag 1), after ≥ 96 h
//	Normal n ──────────────────────────────────────────────▶ In Progress n+1
//	   ▲                                                            │
//	   └───────── after ≥ 96 h (< 144 h), or beacon (IV, flag 0); ──┘
//	              deferred while a segmented transfer is pending; SEQ := 0
//
//	either ── beacon IV in (n, n+42], not a plain follow ──▶ recovery: take IV and flag, SEQ := 0
//
// Call every method on the node's executor.
type IVUpdate struct {
	clk        mesh.Clock
	log        *slog.Logger
	cfg        IVUpdateConfig
	st         IVState
	wantStart  bool // SEQ passed the threshold: start as soon as allowed
	leaveDefer bool // return to Normal deferred by a pending transfer
	timer      mesh.Timer
	timerGen   uint64
}

// NewIVUpdate returns the machine in cfg.State and arms its timer.
func NewIVUpdate(cfg IVUpdateConfig) (*IVUpdate, error) {
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: IVUpdateConfig.Clock is nil", ErrConfig)
	}
	if cfg.State.Updating && cfg.State.Index == 0 {
		return nil, fmt.Errorf("%w: IV Update in progress with IV Index 0", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SeqThreshold == 0 {
		cfg.SeqThreshold = DefaultSeqThreshold
	}
	u := &IVUpdate{clk: cfg.Clock, log: cfg.Logger, cfg: cfg, st: cfg.State}
	if u.st.Since.IsZero() {
		u.st.Since = u.clk.Now()
	}
	u.arm()
	return u, nil
}

// State returns the current state.
func (u *IVUpdate) State() IVState { return u.st }

// Index returns the current IV Index.
func (u *IVUpdate) Index() uint32 { return u.st.Index }

// Updating reports the IV Update flag (In Progress).
func (u *IVUpdate) Updating() bool { return u.st.Updating }

// TxIndex returns the IV Index to transmit with: the current one in Normal,
// current − 1 In Progress.
func (u *IVUpdate) TxIndex() uint32 {
	if u.st.Updating {
		return u.st.Index - 1
	}
	return u.st.Index
}

// RxIndex returns the IV Index a received Network PDU with IVI bit ivi
// (0 or 1) was sent with: the current one if its LSB matches, else
// current − 1.
func (u *IVUpdate) RxIndex(ivi uint8) uint32 {
	if uint32(ivi&1) == u.st.Index&1 {
		return u.st.Index
	}
	return u.st.Index - 1
}

// Flags returns the beacon Flags for a subnet with the given Key Refresh flag.
func (u *IVUpdate) Flags(keyRefresh bool) Flags { return MakeFlags(keyRefresh, u.st.Updating) }

// SetTestMode turns IV Update test mode on or off.
func (u *IVUpdate) SetTestMode(on bool) {
	u.cfg.TestMode = on
	u.arm()
}

// Stop cancels the machine's timer; the state stays readable.
func (u *IVUpdate) Stop() {
	u.timerGen++
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
	}
}

// elapsed returns how long the current state has lasted.
func (u *IVUpdate) elapsed() time.Duration { return u.clk.Now().Sub(u.st.Since) }

// minimumMet reports whether the 96 h minimum of the current state is over
// (or lifted by test mode; NoMinimum lifts it too when fromBeacon).
func (u *IVUpdate) minimumMet(fromBeacon bool) bool {
	return u.cfg.TestMode || (fromBeacon && u.st.NoMinimum) || u.elapsed() >= IVUMinDuration
}

// OnBeacon applies an authenticated Secure Network or Mesh Private beacon
// carrying ivIndex and the IV Update flag. primary says whether it was
// authenticated on the primary subnet (or the node is not a member of the
// primary subnet and it came from one of its subnets); other beacons are
// ignored (§3.11.5).
func (u *IVUpdate) OnBeacon(ivIndex uint32, ivUpdate, primary bool) IVOutcome {
	if !primary {
		return IVIgnored
	}
	cur := uint64(u.st.Index)
	iv := uint64(ivIndex)
	if iv < cur || iv > cur+IVRecoveryLimit {
		u.log.Debug("beacon: IV Index out of range", "iv", ivIndex, "current", u.st.Index)
		return IVIgnored
	}
	// IV Index Recovery (§3.11.6): any jump that is not the plain follow
	// "Normal n, beacon n+1 with flag 1".
	if iv > cur+1 || (iv == cur+1 && (u.st.Updating || !ivUpdate)) {
		return u.recover(ivIndex, ivUpdate)
	}
	switch {
	case iv == cur+1: // Normal, flag 1: follow into In Progress
		if !u.minimumMet(true) {
			return IVTooSoon
		}
		u.enterUpdate("beacon")
		return IVEnteredUpdate
	case u.st.Updating && !ivUpdate: // In Progress, same IV, flag 0: follow back to Normal
		if !u.minimumMet(true) {
			return IVTooSoon
		}
		return u.tryNormal("beacon")
	}
	// Same IV: either the same state, or a late In Progress beacon for the
	// IV we already completed (we never go back).
	return IVNoChange
}

// Start initiates an IV Update (Normal → In Progress, IV Index + 1). Outside
// test mode the node must have been in Normal for 96 h; it returns an error
// wrapping ErrTooSoon otherwise. It does nothing when already In Progress.
func (u *IVUpdate) Start() error {
	if u.st.Updating {
		return nil
	}
	if u.st.Index == ^uint32(0) {
		return fmt.Errorf("%w: IV Index 0x%08x is the last one", ErrTooSoon, u.st.Index)
	}
	if !u.minimumMet(false) {
		return fmt.Errorf("%w: in Normal for %s, need %s", ErrTooSoon, u.elapsed(), IVUMinDuration)
	}
	u.enterUpdate("local")
	return nil
}

// Finish returns from In Progress to Normal (test mode's "Transit to
// Normal" signal). Outside test mode the node must have been In Progress
// for 96 h. With a transfer pending it defers and returns nil; the return
// happens on TransferDone.
func (u *IVUpdate) Finish() error {
	if !u.st.Updating {
		return nil
	}
	if !u.minimumMet(false) {
		return fmt.Errorf("%w: in progress for %s, need %s", ErrTooSoon, u.elapsed(), IVUMinDuration)
	}
	u.tryNormal("local")
	return nil
}

// SeqUsed tells the machine the highest SEQ the node has used. Once it
// reaches the threshold in Normal, an IV Update starts as soon as the 96 h
// rule allows (at once if it already does).
func (u *IVUpdate) SeqUsed(seq uint32) {
	if u.st.Updating || seq < u.cfg.SeqThreshold || u.wantStart {
		return
	}
	u.log.Info("beacon: SEQ threshold reached, IV Update wanted", "seq", seq)
	u.wantStart = true
	if u.minimumMet(false) {
		u.enterUpdate("seq")
		return
	}
	u.arm()
}

// TransferDone tells the machine the outgoing segmented transfer ended; a
// deferred return to Normal happens now if no other is pending.
func (u *IVUpdate) TransferDone() {
	if u.leaveDefer && u.st.Updating {
		u.tryNormal("transfer-done")
	}
}

func (u *IVUpdate) enterUpdate(why string) {
	u.st = IVState{Index: u.st.Index + 1, Updating: true, Since: u.clk.Now(), LastRecovery: u.st.LastRecovery}
	u.wantStart, u.leaveDefer = false, false
	u.changed("entered IV Update in progress", why)
}

// tryNormal returns to Normal unless a transfer is pending and the 144 h
// limit is not close.
func (u *IVUpdate) tryNormal(why string) IVOutcome {
	if u.cfg.TransferPending != nil && u.cfg.TransferPending() && u.elapsed() < ivuForceNormal {
		if !u.leaveDefer {
			u.log.Info("beacon: return to Normal deferred: segmented transfer pending", "iv", u.st.Index)
		}
		u.leaveDefer = true
		u.arm()
		return IVDeferred
	}
	u.st = IVState{Index: u.st.Index, Since: u.clk.Now(), LastRecovery: u.st.LastRecovery}
	u.leaveDefer = false
	if u.cfg.ResetSeq != nil {
		u.cfg.ResetSeq()
	}
	u.changed("returned to IV Normal operation", why)
	return IVEnteredNormal
}

func (u *IVUpdate) recover(ivIndex uint32, ivUpdate bool) IVOutcome {
	now := u.clk.Now()
	if !u.st.LastRecovery.IsZero() && now.Sub(u.st.LastRecovery) < IVRecoveryInterval {
		u.log.Warn("beacon: IV Index Recovery refused: one ran less than 192 h ago",
			"iv", ivIndex, "current", u.st.Index, "last", u.st.LastRecovery)
		return IVTooSoon
	}
	u.st = IVState{Index: ivIndex, Updating: ivUpdate, Since: now, NoMinimum: true, LastRecovery: now}
	u.wantStart, u.leaveDefer = false, false
	if u.cfg.ResetSeq != nil {
		u.cfg.ResetSeq()
	}
	u.changed("IV Index Recovery", "beacon")
	return IVRecovered
}

func (u *IVUpdate) changed(msg, why string) {
	u.log.Info("beacon: "+msg, "iv", u.st.Index, "updating", u.st.Updating, "cause", why)
	u.arm()
	if u.cfg.OnChange != nil {
		u.cfg.OnChange(u.st)
	}
}

// arm sets the one timer for the next time-driven step: the return to
// Normal 96 h into In Progress (or the retry of a deferred one), or a
// wanted start 96 h into Normal.
func (u *IVUpdate) arm() {
	u.Stop()
	var at time.Time
	switch {
	case u.st.Updating && u.leaveDefer:
		at = u.clk.Now().Add(ivuDeferRetry)
	case u.st.Updating:
		at = u.st.Since.Add(IVUMinDuration)
	case u.wantStart:
		at = u.st.Since.Add(IVUMinDuration)
	default:
		return
	}
	gen := u.timerGen
	u.timer = u.clk.AfterFunc(at.Sub(u.clk.Now()), func() {
		if gen == u.timerGen {
			u.timer = nil
			u.onTimer()
		}
	})
}

func (u *IVUpdate) onTimer() {
	switch {
	case u.st.Updating:
		if u.elapsed() >= IVUMinDuration || u.cfg.TestMode {
			u.tryNormal("timer")
		} else {
			u.arm()
		}
	case u.wantStart:
		if u.minimumMet(false) {
			u.enterUpdate("seq")
		} else {
			u.arm()
		}
	}
}
