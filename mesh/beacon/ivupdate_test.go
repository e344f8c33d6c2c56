package beacon

import (
	"errors"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh/faketime"
)

const hour = time.Hour

// ivHarness wires an IVUpdate to a fake clock and records its callbacks.
type ivHarness struct {
	clk      *faketime.Clock
	u        *IVUpdate
	changes  []IVState
	seqReset int
	pending  bool
}

func newIV(t *testing.T, st IVState, test bool) *ivHarness {
	t.Helper()
	h := &ivHarness{clk: faketime.New()}
	if st.Since.IsZero() {
		st.Since = h.clk.Now()
	}
	u, err := NewIVUpdate(IVUpdateConfig{
		Clock:           h.clk,
		State:           st,
		TestMode:        test,
		OnChange:        func(s IVState) { h.changes = append(h.changes, s) },
		ResetSeq:        func() { h.seqReset++ },
		TransferPending: func() bool { return h.pending },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.u = u
	return h
}

func (h *ivHarness) expect(t *testing.T, index uint32, updating bool) {
	t.Helper()
	if st := h.u.State(); st.Index != index || st.Updating != updating {
		t.Fatalf("state %v, want 0x%08x updating=%v", st, index, updating)
	}
}

func TestIVUpdate_Config(t *testing.T) {
	if _, err := NewIVUpdate(IVUpdateConfig{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil clock: %v", err)
	}
	if _, err := NewIVUpdate(IVUpdateConfig{Clock: faketime.New(), State: IVState{Updating: true}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("updating at 0: %v", err)
	}
	u, err := NewIVUpdate(IVUpdateConfig{Clock: faketime.New(), State: IVState{Index: 5}})
	if err != nil || !u.State().Since.Equal(faketime.Epoch) {
		t.Fatalf("zero Since not filled: %v %v", u.State(), err)
	}
}

func TestIVUpdate_Indexes(t *testing.T) {
	h := newIV(t, IVState{Index: 0x12345678}, false)
	if h.u.TxIndex() != 0x12345678 || h.u.RxIndex(0) != 0x12345678 || h.u.RxIndex(1) != 0x12345677 {
		t.Fatalf("normal: tx %x rx0 %x rx1 %x", h.u.TxIndex(), h.u.RxIndex(0), h.u.RxIndex(1))
	}
	if h.u.Flags(true) != FlagKeyRefresh {
		t.Fatalf("flags %v", h.u.Flags(true))
	}
	h = newIV(t, IVState{Index: 0x12345679, Updating: true}, false)
	if h.u.TxIndex() != 0x12345678 || h.u.RxIndex(1) != 0x12345679 || h.u.RxIndex(0) != 0x12345678 {
		t.Fatalf("in progress: tx %x rx0 %x rx1 %x", h.u.TxIndex(), h.u.RxIndex(0), h.u.RxIndex(1))
	}
	if h.u.Flags(false) != FlagIVUpdate || !h.u.Updating() || h.u.Index() != 0x12345679 {
		t.Fatalf("flags %v", h.u.Flags(false))
	}
}

// TestIVUpdate_Beacons is the receive table: state and age, beacon, outcome.
func TestIVUpdate_Beacons(t *testing.T) {
	const n = 100
	cases := []struct {
		name      string
		st        IVState
		age       time.Duration
		test      bool
		iv        uint32
		flag      bool
		primary   bool
		want      IVOutcome
		wantIndex uint32
		wantUpd   bool
		wantReset int
	}{
		{"not primary", IVState{Index: n}, 100 * hour, false, n + 1, true, false, IVIgnored, n, false, 0},
		{"below known", IVState{Index: n}, 100 * hour, false, n - 1, false, true, IVIgnored, n, false, 0},
		{"above known+42", IVState{Index: n}, 100 * hour, false, n + 43, false, true, IVIgnored, n, false, 0},
		{"same, normal", IVState{Index: n}, 1 * hour, false, n, false, true, IVNoChange, n, false, 0},
		{"same, in progress", IVState{Index: n, Updating: true}, 1 * hour, false, n, true, true, IVNoChange, n, true, 0},
		{"late ivu beacon for completed IV", IVState{Index: n}, 1 * hour, false, n, true, true, IVNoChange, n, false, 0},
		{"follow into update", IVState{Index: n}, 96 * hour, false, n + 1, true, true, IVEnteredUpdate, n + 1, true, 0},
		{"follow into update too soon", IVState{Index: n}, 95 * hour, false, n + 1, true, true, IVTooSoon, n, false, 0},
		{"follow into update, test mode", IVState{Index: n}, 0, true, n + 1, true, true, IVEnteredUpdate, n + 1, true, 0},
		{"follow into update after recovery", IVState{Index: n, NoMinimum: true}, 1 * hour, false, n + 1, true, true, IVEnteredUpdate, n + 1, true, 0},
		{"follow to normal, test mode", IVState{Index: n, Updating: true}, 1 * hour, true, n, false, true, IVEnteredNormal, n, false, 1},
		{"own timer left at 96 h before the beacon", IVState{Index: n, Updating: true}, 96 * hour, false, n, false, true, IVNoChange, n, false, 1},
		{"follow to normal too soon", IVState{Index: n, Updating: true}, 50 * hour, false, n, false, true, IVTooSoon, n, true, 0},
		{"follow to normal, provisioned in progress", ProvisionedState(n, true, faketime.Epoch), 1 * hour, false, n, false, true, IVEnteredNormal, n, false, 1},
		// Recovery table (§3.11.6).
		{"recovery: normal, +1, flag 0", IVState{Index: n}, 1 * hour, false, n + 1, false, true, IVRecovered, n + 1, false, 1},
		{"recovery: in progress, +1, flag 0", IVState{Index: n, Updating: true}, 1 * hour, false, n + 1, false, true, IVRecovered, n + 1, false, 1},
		{"recovery: in progress, +1, flag 1", IVState{Index: n, Updating: true}, 1 * hour, false, n + 1, true, true, IVRecovered, n + 1, true, 1},
		{"recovery: normal, +2, flag 1", IVState{Index: n}, 1 * hour, false, n + 2, true, true, IVRecovered, n + 2, true, 1},
		{"recovery: normal, +42, flag 0", IVState{Index: n}, 1 * hour, false, n + 42, false, true, IVRecovered, n + 42, false, 1},
		{"recovery: within 192 h of the last", IVState{Index: n, LastRecovery: faketime.Epoch}, 191 * hour, false, n + 5, false, true, IVTooSoon, n, false, 0},
		{"recovery: 192 h after the last", IVState{Index: n, LastRecovery: faketime.Epoch}, 192 * hour, false, n + 5, false, true, IVRecovered, n + 5, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newIV(t, c.st, c.test)
			h.clk.AdvanceTo(faketime.Epoch.Add(c.age))
			before := len(h.changes)
			got := h.u.OnBeacon(c.iv, c.flag, c.primary)
			if got != c.want {
				t.Fatalf("outcome %v, want %v", got, c.want)
			}
			h.expect(t, c.wantIndex, c.wantUpd)
			if h.seqReset != c.wantReset {
				t.Errorf("SEQ resets %d, want %d", h.seqReset, c.wantReset)
			}
			changed := got == IVEnteredUpdate || got == IVEnteredNormal || got == IVRecovered
			if (len(h.changes) > before) != changed {
				t.Errorf("OnChange calls %d for outcome %v", len(h.changes)-before, got)
			}
			if changed && !h.u.State().Since.Equal(h.clk.Now()) {
				t.Errorf("Since %v, want now %v", h.u.State().Since, h.clk.Now())
			}
			if got == IVRecovered && (!h.u.State().NoMinimum || !h.u.State().LastRecovery.Equal(h.clk.Now())) {
				t.Errorf("recovery state %+v", h.u.State())
			}
		})
	}
}

func TestIVUpdate_OverflowRange(t *testing.T) {
	h := newIV(t, IVState{Index: 0xFFFFFFF0}, false)
	if got := h.u.OnBeacon(0x0000000A, false, true); got != IVIgnored {
		t.Fatalf("wrapped IV: %v", got)
	}
	h = newIV(t, IVState{Index: ^uint32(0)}, false)
	h.clk.Advance(100 * hour)
	if err := h.u.Start(); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("start at max IV: %v", err)
	}
}

// TestIVUpdate_FullCycle drives a node through a self-started update over
// virtual hours: 96 h minimum in Normal, 96 h In Progress, then Normal.
func TestIVUpdate_FullCycle(t *testing.T) {
	h := newIV(t, IVState{Index: 7}, false)
	if err := h.u.Start(); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("start at 0 h: %v", err)
	}
	h.clk.Advance(96 * hour)
	if err := h.u.Start(); err != nil {
		t.Fatal(err)
	}
	h.expect(t, 8, true)
	if err := h.u.Start(); err != nil { // no-op when in progress
		t.Fatal(err)
	}
	if err := h.u.Finish(); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("finish at 0 h: %v", err)
	}
	h.clk.Advance(95 * hour)
	h.expect(t, 8, true)
	h.clk.Advance(1 * hour) // 96 h: the timer returns to Normal
	h.expect(t, 8, false)
	if h.seqReset != 1 {
		t.Fatalf("SEQ resets %d, want 1", h.seqReset)
	}
	if len(h.changes) != 2 || h.changes[1].Updating || !h.changes[1].Since.Equal(h.clk.Now()) {
		t.Fatalf("changes %v", h.changes)
	}
	// Not more than one start per 192 h: Normal must last 96 h again.
	h.clk.Advance(95 * hour)
	if err := h.u.Start(); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("second start 191 h after the first: %v", err)
	}
	h.clk.Advance(1 * hour)
	if err := h.u.Start(); err != nil {
		t.Fatalf("second start 192 h after the first: %v", err)
	}
	if err := h.u.Finish(); err != nil { // no-op check: too soon returns error
		if !errors.Is(err, ErrTooSoon) {
			t.Fatal(err)
		}
	}
	if h.clk.Pending() != 1 {
		t.Fatalf("%d timers pending, want 1", h.clk.Pending())
	}
	h.u.Stop()
	if h.clk.Pending() != 0 {
		t.Fatalf("%d timers pending after Stop", h.clk.Pending())
	}
}

func TestIVUpdate_TestMode(t *testing.T) {
	h := newIV(t, IVState{Index: 1}, true)
	if err := h.u.Start(); err != nil {
		t.Fatal(err)
	}
	h.expect(t, 2, true)
	if err := h.u.Finish(); err != nil {
		t.Fatal(err)
	}
	h.expect(t, 2, false)
	h.u.SetTestMode(false)
	if err := h.u.Start(); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("start without test mode: %v", err)
	}
	if err := h.u.Finish(); err != nil { // Normal: no-op
		t.Fatal(err)
	}
}

// TestIVUpdate_DeferForTransfer: the return to Normal waits for a pending
// segmented transfer, then happens on TransferDone; a transfer that never
// ends cannot hold In Progress past 144 h.
func TestIVUpdate_DeferForTransfer(t *testing.T) {
	h := newIV(t, IVState{Index: 3, Updating: true}, false)
	h.pending = true
	h.clk.Advance(96 * hour)
	h.expect(t, 3, true)
	if got := h.u.OnBeacon(3, false, true); got != IVDeferred {
		t.Fatalf("beacon while pending: %v", got)
	}
	h.clk.Advance(10 * time.Minute) // retries keep deferring
	h.expect(t, 3, true)
	h.pending = false
	h.u.TransferDone()
	h.expect(t, 3, false)
	if h.seqReset != 1 {
		t.Fatalf("SEQ resets %d", h.seqReset)
	}
	h.u.TransferDone() // no-op in Normal
	h.expect(t, 3, false)

	// Without TransferDone, the minute retry picks it up.
	h = newIV(t, IVState{Index: 3, Updating: true}, false)
	h.pending = true
	h.clk.Advance(100 * hour)
	h.expect(t, 3, true)
	h.pending = false
	h.clk.Advance(time.Minute)
	h.expect(t, 3, false)

	// A transfer pending forever: forced out before 144 h.
	h = newIV(t, IVState{Index: 3, Updating: true}, false)
	h.pending = true
	h.clk.Advance(143*hour + time.Minute)
	h.expect(t, 3, false)
	if el := h.u.State().Since.Sub(faketime.Epoch); el >= IVUMaxInProgress {
		t.Fatalf("left In Progress after %s", el)
	}
}

// TestIVUpdate_SeqThreshold: SEQ exhaustion starts an update, at once when
// 96 h in Normal are over, otherwise when they are.
func TestIVUpdate_SeqThreshold(t *testing.T) {
	h := newIV(t, IVState{Index: 9}, false)
	h.u.SeqUsed(DefaultSeqThreshold - 1)
	h.clk.Advance(200 * hour)
	h.expect(t, 9, false)
	h.u.SeqUsed(DefaultSeqThreshold)
	h.expect(t, 10, true)

	h = newIV(t, IVState{Index: 9}, false)
	h.clk.Advance(10 * hour)
	h.u.SeqUsed(DefaultSeqThreshold + 5)
	h.u.SeqUsed(DefaultSeqThreshold + 6) // no second arming
	h.expect(t, 9, false)
	h.clk.Advance(86 * hour)
	h.expect(t, 10, true)
	h.u.SeqUsed(DefaultSeqThreshold + 7) // In Progress: ignored
	h.clk.Advance(96 * hour)
	h.expect(t, 10, false)
	if len(h.changes) != 2 {
		t.Fatalf("changes %v", h.changes)
	}
}

// TestIVUpdate_Restart: a node restored from persisted state keeps the
// timing of the state it was in.
func TestIVUpdate_Restart(t *testing.T) {
	clk := faketime.New()
	clk.Advance(50 * hour)
	u, err := NewIVUpdate(IVUpdateConfig{Clock: clk, State: IVState{Index: 4, Updating: true, Since: faketime.Epoch}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(45 * hour)
	if !u.Updating() {
		t.Fatal("left In Progress before 96 h")
	}
	clk.Advance(1 * hour)
	if u.Updating() {
		t.Fatal("still In Progress at 96 h")
	}
}
