package dfd

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/blob"
)

// The status tables of the Distribution Server: one row per (phase,
// request), each on a fresh server brought to the phase, with the status
// answered and the phase after. Expected values come from
// shared/spec/dfu.md; each row group names its table or section.

// ---- distribution ----

var tableStart = Start{AppKeyIndex: 1, TTL: 5, TimeoutBase: 3, TransferMode: blob.ModePush, Policy: PolicyVerifyOnly, ImageIndex: 0, Multicast: 0xC000}

// distRequest names a request of the distribution table.
type distRequest int

const (
	dGet distRequest = iota
	dStartSame
	dStartOther
	dSuspend
	dCancel
	dApply
	dReceiversAdd
	dReceiversDeleteAll
	dReceiversGet
	dFirmwareGet
	dFirmwareGetByIndex
	dFirmwareDelete
	dFirmwareDeleteAll
	dCapabilitiesGet
)

func (r distRequest) String() string {
	return [...]string{"Get", "Start (same)", "Start (other)", "Suspend", "Cancel", "Apply", "Receivers Add",
		"Receivers Delete All", "Receivers Get", "Firmware Get", "Firmware Get By Index", "Firmware Delete",
		"Firmware Delete All", "Capabilities Get"}[r]
}

func (r distRequest) message() access.Message {
	switch r {
	case dGet:
		return &Get{}
	case dStartSame:
		s := tableStart
		return &s
	case dStartOther:
		s := tableStart
		s.ImageIndex = 1 // another image: other parameters
		return &s
	case dSuspend:
		return &Suspend{}
	case dCancel:
		return &Cancel{}
	case dApply:
		return &Apply{}
	case dReceiversAdd:
		return &ReceiversAdd{Entries: []ReceiverEntry{{0x0101, 0}}}
	case dReceiversDeleteAll:
		return &ReceiversDeleteAll{}
	case dReceiversGet:
		return &ReceiversGet{FirstIndex: 0, EntriesLimit: 5}
	case dFirmwareGet:
		return &FirmwareGet{FirmwareID: newFWID}
	case dFirmwareGetByIndex:
		return &FirmwareGetByIndex{Index: 1}
	case dFirmwareDelete:
		return &FirmwareDelete{FirmwareID: newFWID}
	case dFirmwareDeleteAll:
		return &FirmwareDeleteAll{}
	}
	return &CapabilitiesGet{}
}

// distServer is a server with one receiver (0x0100) and two images
// (curFWID at index 0, newFWID at index 1), brought to phase p.
//
// Idle, Transfer Active (Start) and Canceling Update (Start, Cancel) and
// Applying Update (Apply from Transfer Success) are reached with
// requests. The others are where the procedure ends or pauses, which needs
// targets answering (the sim tests, TestSim_SuspendResumeCancel for a
// suspension of a live BLOB transfer): here a real Start runs, then its
// pass is stopped (halt) and the phase set as the procedure sets it
// (stepVerify: Transfer Success; finish: Completed or Failed; the BLOB
// client's OnSuspended: Transfer Suspended), as TestServer_
// DistributionStatusTable does.
func distServer(t *testing.T, p Phase) *srvHarness {
	t.Helper()
	h := newSrv(t, ServerConfig{AppKeyIndex: 1})
	for i, id := range [][]byte{curFWID, newFWID} {
		if err := h.store.Put(SlotName(id), id, nil, []byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.ask(&ReceiversAdd{Entries: []ReceiverEntry{{0x0100, 0}}}).(*ReceiversStatus); st.Status != StatusSuccess {
		t.Fatalf("add: %+v", st)
	}
	if p == PhaseIdle {
		return h
	}
	s := tableStart
	if st := h.dist(&s); st.Status != StatusSuccess || st.Phase != PhaseTransferActive {
		t.Fatalf("start: %+v", st)
	}
	switch p {
	case PhaseCancelingUpdate:
		h.dist(&Cancel{})
	case PhaseTransferSuccess, PhaseCompleted, PhaseFailed, PhaseTransferSuspended:
		h.srv.halt()
		h.srv.setPhase(p)
	case PhaseApplyingUpdate:
		h.srv.halt()
		h.srv.setPhase(PhaseTransferSuccess)
		h.dist(&Apply{})
	}
	if got := h.srv.Phase(); got != p {
		t.Fatalf("reached %v, want %v", got, p)
	}
	h.out = nil
	return h
}

// answerStatus returns the status of an answer; Receivers List and
// Capabilities Status have none (Success), ok is false for them.
func answerStatus(m access.Message) (st Status, count int, ok bool) {
	switch m := m.(type) {
	case *DistributionStatus:
		return m.Status, -1, true
	case *ReceiversStatus:
		return m.Status, int(m.Count), true
	case *FirmwareStatus:
		return m.Status, int(m.EntryCount), true
	case *UploadStatus:
		return m.Status, -1, true
	case *ReceiversList:
		return StatusSuccess, int(m.Count), false
	case *CapabilitiesStatus:
		return StatusSuccess, int(m.MaxReceivers), false
	}
	panic(fmt.Sprintf("unexpected answer %T", m))
}

const anyCount = -1

// TestServer_DistributionPhaseTable: every distribution request in every
// Distribution Phase (Table FS-5a).
func TestServer_DistributionPhaseTable(t *testing.T) {
	const (
		ok    = StatusSuccess
		wrong = StatusWrongPhase
		busy  = StatusBusyWithDistribution
	)
	var (
		idle = PhaseIdle
		ta   = PhaseTransferActive
		ts   = PhaseTransferSuccess
		au   = PhaseApplyingUpdate
		done = PhaseCompleted
		fail = PhaseFailed
		cu   = PhaseCancelingUpdate
		susp = PhaseTransferSuspended
	)
	cases := []struct {
		phase Phase
		req   distRequest
		want  Status
		after Phase
		count int // Receivers / Firmware Status count, Receivers List count; anyCount: not checked
	}{
		// §8.3 "Distribution Get": Success and the current phase.
		{idle, dGet, ok, idle, anyCount},
		{ta, dGet, ok, ta, anyCount},
		{ts, dGet, ok, ts, anyCount},
		{au, dGet, ok, au, anyCount},
		{done, dGet, ok, done, anyCount},
		{fail, dGet, ok, fail, anyCount},
		{cu, dGet, ok, cu, anyCount},
		{susp, dGet, ok, susp, anyCount},

		// §8.3 answer matrix, "Start (same params)" column.
		{idle, dStartSame, ok, ta, anyCount},
		{ta, dStartSame, ok, ta, anyCount},
		{ts, dStartSame, ok, ts, anyCount},
		{au, dStartSame, ok, au, anyCount},
		{done, dStartSame, ok, done, anyCount},
		{fail, dStartSame, ok, ta, anyCount}, // new distribution
		{cu, dStartSame, busy, cu, anyCount},
		{susp, dStartSame, ok, ta, anyCount}, // resume

		// §8.3 answer matrix, "Start (other params)" column.
		{idle, dStartOther, ok, ta, anyCount},
		{ta, dStartOther, busy, ta, anyCount},
		{ts, dStartOther, busy, ts, anyCount},
		{au, dStartOther, busy, au, anyCount},
		{done, dStartOther, ok, ta, anyCount}, // new distribution (Zephyr)
		{fail, dStartOther, ok, ta, anyCount},
		{cu, dStartOther, busy, cu, anyCount},
		{susp, dStartOther, busy, susp, anyCount},

		// §8.3 answer matrix, "Suspend" column. In Transfer Active the
		// harness is in the Start step (no BLOB transfer yet): the
		// matrix's "or Suspend Failed".
		{idle, dSuspend, wrong, idle, anyCount},
		{ta, dSuspend, StatusSuspendFailed, ta, anyCount},
		{ts, dSuspend, wrong, ts, anyCount}, // PTS SR/FD/BV-58
		{au, dSuspend, wrong, au, anyCount},
		{done, dSuspend, wrong, done, anyCount},
		{fail, dSuspend, wrong, fail, anyCount},
		{cu, dSuspend, wrong, cu, anyCount},
		{susp, dSuspend, ok, susp, anyCount},

		// §8.3 answer matrix, "Cancel" column (and "Distribution Cancel":
		// from Applying Update only the Canceling Update status is sent,
		// docs/dfd.md).
		{idle, dCancel, ok, idle, anyCount},
		{ta, dCancel, ok, cu, anyCount},
		{ts, dCancel, ok, cu, anyCount},
		{au, dCancel, ok, cu, anyCount},
		{done, dCancel, ok, idle, anyCount}, // PTS FD/BV-35
		{fail, dCancel, ok, idle, anyCount},
		{cu, dCancel, ok, cu, anyCount},
		{susp, dCancel, ok, cu, anyCount},

		// §8.3 answer matrix, "Apply" column.
		{idle, dApply, wrong, idle, anyCount},
		{ta, dApply, wrong, ta, anyCount},
		{ts, dApply, ok, au, anyCount},
		{au, dApply, ok, au, anyCount},
		{done, dApply, ok, done, anyCount},
		{fail, dApply, wrong, fail, anyCount},
		{cu, dApply, wrong, cu, anyCount},
		{susp, dApply, wrong, susp, anyCount},

		// §8.3 "Receivers Add": Busy With Distribution while a
		// procedure runs (Transfer Active, Suspended, Applying,
		// Canceling; docs/dfd.md), else added.
		{idle, dReceiversAdd, ok, idle, 2},
		{ta, dReceiversAdd, busy, ta, 1},
		{ts, dReceiversAdd, ok, ts, 2},
		{au, dReceiversAdd, busy, au, 1},
		{done, dReceiversAdd, ok, done, 2},
		{fail, dReceiversAdd, ok, fail, 2},
		{cu, dReceiversAdd, busy, cu, 1},
		{susp, dReceiversAdd, busy, susp, 1},

		// §8.3 "Receivers Delete All": as Receivers Add.
		{idle, dReceiversDeleteAll, ok, idle, 0},
		{ta, dReceiversDeleteAll, busy, ta, 1},
		{ts, dReceiversDeleteAll, ok, ts, 0},
		{au, dReceiversDeleteAll, busy, au, 1},
		{done, dReceiversDeleteAll, ok, done, 0},
		{fail, dReceiversDeleteAll, ok, fail, 0},
		{cu, dReceiversDeleteAll, busy, cu, 1},
		{susp, dReceiversDeleteAll, busy, susp, 1},

		// §8.3 "Receivers Get": the list page in every phase.
		{idle, dReceiversGet, ok, idle, 1},
		{ta, dReceiversGet, ok, ta, 1},
		{ts, dReceiversGet, ok, ts, 1},
		{au, dReceiversGet, ok, au, 1},
		{done, dReceiversGet, ok, done, 1},
		{fail, dReceiversGet, ok, fail, 1},
		{cu, dReceiversGet, ok, cu, 1},
		{susp, dReceiversGet, ok, susp, 1},

		// §5.21 table, "Firmware Get" found: Success in every phase.
		{idle, dFirmwareGet, ok, idle, 2},
		{ta, dFirmwareGet, ok, ta, 2},
		{ts, dFirmwareGet, ok, ts, 2},
		{au, dFirmwareGet, ok, au, 2},
		{done, dFirmwareGet, ok, done, 2},
		{fail, dFirmwareGet, ok, fail, 2},
		{cu, dFirmwareGet, ok, cu, 2},
		{susp, dFirmwareGet, ok, susp, 2},

		// §5.21 table, "Get By Index" found.
		{idle, dFirmwareGetByIndex, ok, idle, 2},
		{ta, dFirmwareGetByIndex, ok, ta, 2},
		{ts, dFirmwareGetByIndex, ok, ts, 2},
		{au, dFirmwareGetByIndex, ok, au, 2},
		{done, dFirmwareGetByIndex, ok, done, 2},
		{fail, dFirmwareGetByIndex, ok, fail, 2},
		{cu, dFirmwareGetByIndex, ok, cu, 2},
		{susp, dFirmwareGetByIndex, ok, susp, 2},

		// §5.21 table and §8.3 last paragraph: Delete and Delete All
		// are Busy With Distribution whenever the phase is not Idle.
		{idle, dFirmwareDelete, ok, idle, 1},
		{ta, dFirmwareDelete, busy, ta, 2},
		{ts, dFirmwareDelete, busy, ts, 2},
		{au, dFirmwareDelete, busy, au, 2},
		{done, dFirmwareDelete, busy, done, 2},
		{fail, dFirmwareDelete, busy, fail, 2},
		{cu, dFirmwareDelete, busy, cu, 2},
		{susp, dFirmwareDelete, busy, susp, 2},

		{idle, dFirmwareDeleteAll, ok, idle, 0},
		{ta, dFirmwareDeleteAll, busy, ta, 2},
		{ts, dFirmwareDeleteAll, busy, ts, 2},
		{au, dFirmwareDeleteAll, busy, au, 2},
		{done, dFirmwareDeleteAll, busy, done, 2},
		{fail, dFirmwareDeleteAll, busy, fail, 2},
		{cu, dFirmwareDeleteAll, busy, cu, 2},
		{susp, dFirmwareDeleteAll, busy, susp, 2},

		// §8.3 "Capabilities Get": static limits in every phase (count:
		// Max Distribution Receivers List Size).
		{idle, dCapabilitiesGet, ok, idle, DefaultMaxReceivers},
		{ta, dCapabilitiesGet, ok, ta, DefaultMaxReceivers},
		{ts, dCapabilitiesGet, ok, ts, DefaultMaxReceivers},
		{au, dCapabilitiesGet, ok, au, DefaultMaxReceivers},
		{done, dCapabilitiesGet, ok, done, DefaultMaxReceivers},
		{fail, dCapabilitiesGet, ok, fail, DefaultMaxReceivers},
		{cu, dCapabilitiesGet, ok, cu, DefaultMaxReceivers},
		{susp, dCapabilitiesGet, ok, susp, DefaultMaxReceivers},
	}
	seen := map[[2]int]bool{}
	for _, tc := range cases {
		seen[[2]int{int(tc.phase), int(tc.req)}] = true
		t.Run(fmt.Sprintf("%v/%v", tc.phase, tc.req), func(t *testing.T) {
			h := distServer(t, tc.phase)
			got := h.ask(tc.req.message())
			st, count, _ := answerStatus(got)
			if st != tc.want || h.srv.Phase() != tc.after {
				t.Fatalf("%v, phase after %v; want %v, %v (%+v)", st, h.srv.Phase(), tc.want, tc.after, got)
			}
			if tc.count != anyCount && count != tc.count {
				t.Errorf("count %d, want %d (%+v)", count, tc.count, got)
			}
			if ds, ok := got.(*DistributionStatus); ok {
				// §5.11: the optional block iff the phase is not Idle.
				if ds.Phase != tc.after || ds.Details != (tc.after != PhaseIdle) {
					t.Errorf("status %+v, want phase %v", ds, tc.after)
				}
				if tc.req == dStartOther && st == StatusSuccess && ds.ImageIndex != 1 {
					t.Errorf("new distribution reports image %d", ds.ImageIndex)
				}
			}
			if fs, ok := got.(*FirmwareStatus); ok && st == StatusSuccess {
				switch tc.req {
				case dFirmwareGet, dFirmwareGetByIndex:
					if fs.Index != 1 || string(fs.FirmwareID) != string(newFWID) {
						t.Errorf("firmware %+v", fs)
					}
				}
			}
		})
	}
	for p := PhaseIdle; p <= PhaseTransferSuspended; p++ {
		for r := dGet; r <= dCapabilitiesGet; r++ {
			if !seen[[2]int{int(p), int(r)}] {
				t.Errorf("no row for %v / %v", p, r)
			}
		}
	}
}

// ---- upload ----

// failOOB answers every Check with err after a second of virtual time,
// posted on the node's clock as an OOB must.
type failOOB struct {
	clk *faketime.Clock
	err error
}

func (o failOOB) Check(_ string, _ []byte, done func(https.CheckResult, error)) func() {
	tm := o.clk.AfterFunc(time.Second, func() { done(https.CheckResult{}, o.err) })
	return func() { tm.Stop() }
}

func (failOOB) Retrieve(string, []byte, https.CheckResult, int64, func(https.Firmware) (io.Writer, error), func(https.Firmware, error)) func() {
	return func() {}
}

type uploadRequest int

const (
	uGet uploadRequest = iota
	uStartSame
	uStartOther
	uStartTooLarge
	uStartStoreFull
	uOOBScheme
	uOOBTooLong
	uOOBUnreachable
	uCancel
)

func (r uploadRequest) String() string {
	return [...]string{"Upload Get", "Upload Start (same)", "Upload Start (other)", "Upload Start (too large)",
		"Upload Start (store full)", "Upload OOB Start (ftp:)", "Upload OOB Start (FWID too long)",
		"Upload OOB Start (unreachable)", "Upload Cancel"}[r]
}

var (
	tableUpload   = UploadStart{TTL: 5, TimeoutBase: 3, BLOBID: 7, Size: 500, FirmwareID: newFWID}
	tableKnown    = UploadStart{TTL: 5, TimeoutBase: 3, BLOBID: 7, Size: 500, FirmwareID: curFWID} // already stored
	fillerFWID    = []byte{0x59, 0x00, 0x01, 0x00, 0x09, 0x00}
	unstoredFWID  = []byte{0x59, 0x00, 0x01, 0x00, 0x0A, 0x00}
	tableMaxImage = uint32(1000)
)

// sameUpload is the Upload Start that brought the server to phase p
// (Idle: the first one).
func sameUpload(p UploadPhase) UploadStart {
	if p == UploadTransferSuccess {
		return tableKnown
	}
	return tableUpload
}

// uploadServer is a server with curFWID stored (MaxImages 2, Max Firmware
// Image Size 1000, an OOB whose check fails with URI unreachable), brought
// to Upload Phase p with requests: Transfer Active by an in-band Upload
// Start, Transfer Error by that upload's BLOB server giving up (no
// Transfer Start within 10·(Timeout Base + 1) s), Transfer Success by an
// Upload Start for the stored image (§8.4, [ZEPHYR] shortcut).
func uploadServer(t *testing.T, p UploadPhase) (*srvHarness, *faketime.Clock) {
	t.Helper()
	clk := faketime.New()
	h := newSrv(t, ServerConfig{Clock: clk, MaxImageSize: tableMaxImage, MaxImages: 2,
		OOB: failOOB{clk: clk, err: fmt.Errorf("test: %w", https.ErrURIUnreachable)}})
	if err := h.store.Put(SlotName(curFWID), curFWID, nil, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	switch p {
	case UploadTransferActive, UploadTransferError:
		u := tableUpload
		h.ask(&u)
		if p == UploadTransferError {
			clk.Advance(10*time.Second*time.Duration(tableUpload.TimeoutBase+1) + time.Second)
		}
	case UploadTransferSuccess:
		u := tableKnown
		h.ask(&u)
	}
	if got := h.srv.UploadPhase(); got != p {
		t.Fatalf("reached %v, want %v", got, p)
	}
	h.out = nil
	return h, clk
}

// TestServer_UploadPhaseTable: every upload request in every Upload Phase
// (Table FS-5b).
func TestServer_UploadPhaseTable(t *testing.T) {
	const (
		ok   = StatusSuccess
		busy = StatusBusyWithUpload
		res  = StatusInsufficientResources
		none = Status(0xFF) // no answer: the decoder drops the request
	)
	var (
		idle = UploadIdle
		ta   = UploadTransferActive
		te   = UploadTransferError
		ts   = UploadTransferSuccess
	)
	cases := []struct {
		phase UploadPhase
		req   uploadRequest
		want  Status
		after UploadPhase
	}{
		// §8.4 "Upload Get": Success, the phase (optional block iff not
		// Idle, §5.16).
		{idle, uGet, ok, idle},
		{ta, uGet, ok, ta},
		{te, uGet, ok, te},
		{ts, uGet, ok, ts},

		// §8.4 distributor side: identical parameters while active →
		// Success; the same Upload Start after Transfer Error starts
		// (resumes) the upload; for a stored FWID → Transfer Success.
		{idle, uStartSame, ok, ta},
		{ta, uStartSame, ok, ta},
		{te, uStartSame, ok, ta},
		{ts, uStartSame, ok, ts},

		// §8.4: different parameters while active → Busy With Upload,
		// otherwise a new upload.
		{idle, uStartOther, ok, ta},
		{ta, uStartOther, busy, ta},
		{te, uStartOther, ok, ta},
		{ts, uStartOther, ok, ta},

		// §8.4: Size > Max Firmware Image Size → Insufficient Resources,
		// checked first (Zephyr order).
		{idle, uStartTooLarge, res, idle},
		{ta, uStartTooLarge, res, ta},
		{te, uStartTooLarge, res, te},
		{ts, uStartTooLarge, res, ts},

		// §8.4: no free slot → Insufficient Resources; while active the
		// busy check comes first.
		{idle, uStartStoreFull, res, idle},
		{ta, uStartStoreFull, busy, ta},
		{te, uStartStoreFull, res, te},
		{ts, uStartStoreFull, res, ts},

		// §8.5 step 2: another upload active → Busy With Upload; scheme
		// not supported → URI Not Supported (the phase is kept).
		{idle, uOOBScheme, StatusURINotSupported, idle},
		{ta, uOOBScheme, busy, ta},
		{te, uOOBScheme, StatusURINotSupported, te},
		{ts, uOOBScheme, StatusURINotSupported, ts},

		// §5.14 / docs/dfd.md: an FWID over 108 octets is rejected by the
		// decoder (Zephyr: Internal Error); nothing changes.
		{idle, uOOBTooLong, none, idle},
		{ta, uOOBTooLong, none, ta},
		{te, uOOBTooLong, none, te},
		{ts, uOOBTooLong, none, ts},

		// §8.5 step 3: server unreachable → URI Unreachable, Idle,
		// answered after the check; busy first.
		{idle, uOOBUnreachable, StatusURIUnreachable, idle},
		{ta, uOOBUnreachable, busy, ta},
		{te, uOOBUnreachable, StatusURIUnreachable, idle},
		{ts, uOOBUnreachable, StatusURIUnreachable, idle},

		// §8.4 "Upload Cancel": phase := Idle, Success.
		{idle, uCancel, ok, idle},
		{ta, uCancel, ok, idle},
		{te, uCancel, ok, idle},
		{ts, uCancel, ok, idle},
	}
	seen := map[[2]int]bool{}
	for _, tc := range cases {
		seen[[2]int{int(tc.phase), int(tc.req)}] = true
		t.Run(fmt.Sprintf("%v/%v", tc.phase, tc.req), func(t *testing.T) {
			h, clk := uploadServer(t, tc.phase)
			ctx := &access.Context{Src: 0x0001, Dst: 0x0002}
			dropped := h.srv.Stats().Dropped
			switch tc.req {
			case uGet:
				h.srv.Receive(ctx, &UploadGet{})
			case uStartSame:
				u := sameUpload(tc.phase)
				h.srv.Receive(ctx, &u)
			case uStartOther:
				u := tableUpload
				u.BLOBID = 8
				if tc.phase == UploadTransferSuccess {
					u = tableUpload // an image not stored yet
				}
				h.srv.Receive(ctx, &u)
			case uStartTooLarge:
				u := sameUpload(tc.phase)
				u.Size = tableMaxImage + 1
				h.srv.Receive(ctx, &u)
			case uStartStoreFull:
				if err := h.store.Put(SlotName(fillerFWID), fillerFWID, nil, []byte{9}); err != nil {
					t.Fatal(err)
				}
				u := tableUpload
				u.BLOBID, u.FirmwareID = 9, unstoredFWID
				h.srv.Receive(ctx, &u)
			case uOOBScheme:
				h.srv.Receive(ctx, &UploadOOBStart{URI: "ftp://fw.example/dfu", FirmwareID: curFWID})
			case uOOBTooLong:
				uri := "https://fw.example/dfu"
				p := append([]byte{byte(len(uri))}, uri...)
				p = append(p, make([]byte, MaxFirmwareIDLen+1)...)
				h.srv.handle(OpUploadOOBStart)(ctx, p)
			case uOOBUnreachable:
				h.srv.Receive(ctx, &UploadOOBStart{URI: "https://fw.example/dfu", FirmwareID: curFWID})
			case uCancel:
				h.srv.Receive(ctx, &UploadCancel{})
			}
			clk.Advance(2 * time.Second) // an OOB check ends
			if tc.want == none {
				if len(h.out) != 0 || h.srv.Stats().Dropped != dropped+1 || h.srv.UploadPhase() != tc.after {
					t.Fatalf("answers %v, dropped %d, phase %v", h.out, h.srv.Stats().Dropped-dropped, h.srv.UploadPhase())
				}
				return
			}
			if len(h.out) != 1 {
				t.Fatalf("%d answers", len(h.out))
			}
			got := h.out[0].(*UploadStatus)
			if got.Status != tc.want || got.Phase != tc.after || h.srv.UploadPhase() != tc.after {
				t.Fatalf("%v/%v, phase after %v; want %v, %v (%+v)", got.Status, got.Phase, h.srv.UploadPhase(), tc.want, tc.after, got)
			}
			// §5.16: the optional block iff the phase is not Idle.
			if got.Details != (tc.after != UploadIdle) {
				t.Errorf("details %v in %v", got.Details, tc.after)
			}
			if tc.after == UploadTransferSuccess && got.Progress != 100 {
				t.Errorf("progress %d in Transfer Success", got.Progress)
			}
		})
	}
	for p := UploadIdle; p <= UploadTransferSuccess; p++ {
		for r := uGet; r <= uCancel; r++ {
			if !seen[[2]int{int(p), int(r)}] {
				t.Errorf("no row for %v / %v", p, r)
			}
		}
	}
}
