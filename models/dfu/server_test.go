package dfu

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/blob"
)

var errBadMetadata = errors.New("bad metadata")

// srvHarness is a Server whose answers are captured instead of sent.
type srvHarness struct {
	t       *testing.T
	clk     *faketime.Clock
	srv     *Server
	state   *blob.MemoryStateStore
	answers []access.Message
	dones   []func(error)
	prepare error
	verify  error
	applied [][]byte
}

var testImages = []FirmwareInformation{
	{FirmwareID: oldFWID, UpdateURI: uri},
	{FirmwareID: hx("59 00 0a"), UpdateURI: ""},
}

func newHarness(t *testing.T, state *blob.MemoryStateStore) *srvHarness {
	t.Helper()
	h := &srvHarness{t: t, clk: faketime.New(), state: state}
	if h.state == nil {
		h.state = &blob.MemoryStateStore{}
	}
	h.build()
	return h
}

func (h *srvHarness) build() {
	h.t.Helper()
	srv, err := NewServer(ServerConfig{
		Clock:  h.clk,
		Images: testImages,
		BLOB:   blob.ServerConfig{Storage: &blob.MemoryStorage{}},
		State:  h.state,
		Check: func(index uint8, metadata []byte) (AdditionalInfo, error) {
			if bytes.Equal(metadata, []byte("bad")) {
				return 0, errBadMetadata
			}
			if bytes.Equal(metadata, []byte("comp")) {
				return InfoCompositionChange, nil
			}
			return InfoNoChange, nil
		},
		Prepare: func(uint8, []byte, uint64) error { return h.prepare },
		Verify:  func(uint8, []byte, uint64) error { return h.verify },
		Apply: func(index uint8, metadata []byte, id uint64) ([]byte, error) {
			h.applied = append(h.applied, metadata)
			return newFWID, nil
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	srv.reply = func(ctx *access.Context, m access.Message, done func(error)) {
		h.answers = append(h.answers, m)
		h.dones = append(h.dones, done)
	}
	h.srv = srv
}

// ask sends m and returns the one answer (nil when silent).
func (h *srvHarness) ask(m access.Message) access.Message {
	h.t.Helper()
	n := len(h.answers)
	h.srv.Receive(&access.Context{Src: 0x0001, Dst: 0x0100}, m)
	switch len(h.answers) - n {
	case 0:
		return nil
	case 1:
		return h.answers[n]
	}
	h.t.Fatalf("%d answers", len(h.answers)-n)
	return nil
}

func (h *srvHarness) askStatus(m access.Message) *UpdateStatus {
	h.t.Helper()
	st, ok := h.ask(m).(*UpdateStatus)
	if !ok {
		h.t.Fatalf("%s: no Update Status", opName(m.Opcode()))
	}
	return st
}

// the Start every phase was entered with.
func startParams() *UpdateStart {
	return &UpdateStart{TTL: 5, TimeoutBase: 3, BLOBID: id64, ImageIndex: 0, Metadata: []byte("meta")}
}

// enter puts the server in phase p as a real run would: Start, then the
// BLOB events and hooks.
func (h *srvHarness) enter(p Phase) {
	h.t.Helper()
	if p == PhaseIdle {
		return
	}
	if st := h.askStatus(startParams()); st.Status != StatusSuccess || st.Phase != PhaseTransferActive {
		h.t.Fatalf("start: %+v", st)
	}
	switch p {
	case PhaseTransferError:
		h.srv.blobFailed(id64, "test")
	case PhaseVerifyingUpdate:
		h.srv.blobComplete(id64)
	case PhaseVerificationSucceeded, PhaseApplyingUpdate:
		h.srv.blobComplete(id64)
		h.clk.Advance(time.Second)
		if p == PhaseApplyingUpdate {
			h.askStatus(&UpdateApply{}) // its done is never called here
		}
	case PhaseVerificationFailed:
		h.verify = errors.New("bad image")
		h.srv.blobComplete(id64)
		h.clk.Advance(time.Second)
		h.verify = nil
	}
	if h.srv.Phase() != p {
		h.t.Fatalf("entered %s, want %s", h.srv.Phase(), p)
	}
}

var allPhases = []Phase{
	PhaseIdle, PhaseTransferError, PhaseTransferActive, PhaseVerifyingUpdate,
	PhaseVerificationSucceeded, PhaseVerificationFailed, PhaseApplyingUpdate,
}

type answer struct {
	st    Status
	phase Phase
}

// TestServer_StatusTable answers every request in every phase (the answer
// matrix of docs/dfu.md §8.1).
func TestServer_StatusTable(t *testing.T) {
	t.Parallel()
	I, TE, TA, VU, VS, VF, AU := PhaseIdle, PhaseTransferError, PhaseTransferActive, PhaseVerifyingUpdate,
		PhaseVerificationSucceeded, PhaseVerificationFailed, PhaseApplyingUpdate
	ok, wp := StatusSuccess, StatusWrongPhase
	newStart := &UpdateStart{TTL: 7, TimeoutBase: 3, BLOBID: 0xAAAA, ImageIndex: 1, Metadata: []byte("comp")}
	badIndex := &UpdateStart{TTL: 7, TimeoutBase: 3, BLOBID: 0xAAAA, ImageIndex: 2}
	badMeta := &UpdateStart{TTL: 7, TimeoutBase: 3, BLOBID: 0xAAAA, ImageIndex: 1, Metadata: []byte("bad")}
	otherTTL := startParams()
	otherTTL.TTL = 6
	noMeta := startParams()
	noMeta.Metadata = nil

	tests := []struct {
		name string
		req  access.Message
		want map[Phase]answer
	}{
		{"Get", &UpdateGet{}, map[Phase]answer{
			I: {ok, I}, TE: {ok, TE}, TA: {ok, TA}, VU: {ok, VU}, VS: {ok, VS}, VF: {ok, VF}, AU: {ok, AU}}},
		{"Start same parameters", startParams(), map[Phase]answer{
			I: {ok, TA}, TE: {ok, TA}, TA: {ok, TA}, VU: {ok, VU}, VS: {ok, VS}, VF: {ok, TA}, AU: {ok, AU}}},
		{"Start other parameters", newStart, map[Phase]answer{
			I: {ok, TA}, TE: {ok, TA}, TA: {wp, TA}, VU: {wp, VU}, VS: {wp, VS}, VF: {ok, TA}, AU: {wp, AU}}},
		{"Start other TTL only", otherTTL, map[Phase]answer{
			I: {ok, TA}, TE: {ok, TA}, TA: {wp, TA}, VU: {wp, VU}, VS: {wp, VS}, VF: {ok, TA}, AU: {wp, AU}}},
		{"Start without the metadata", noMeta, map[Phase]answer{
			I: {ok, TA}, TE: {ok, TA}, TA: {wp, TA}, VU: {wp, VU}, VS: {wp, VS}, VF: {ok, TA}, AU: {wp, AU}}},
		{"Start wrong index", badIndex, map[Phase]answer{
			I: {StatusWrongFirmwareIndex, I}, TE: {StatusWrongFirmwareIndex, TE}, TA: {wp, TA}, VU: {wp, VU},
			VS: {wp, VS}, VF: {StatusWrongFirmwareIndex, VF}, AU: {wp, AU}}},
		{"Start metadata rejected", badMeta, map[Phase]answer{
			I: {StatusMetadataCheckFailed, I}, TE: {StatusMetadataCheckFailed, TE}, TA: {wp, TA}, VU: {wp, VU},
			VS: {wp, VS}, VF: {StatusMetadataCheckFailed, VF}, AU: {wp, AU}}},
		{"Cancel", &UpdateCancel{}, map[Phase]answer{
			I: {ok, I}, TE: {ok, I}, TA: {ok, I}, VU: {ok, I}, VS: {ok, I}, VF: {ok, I}, AU: {ok, I}}},
		{"Apply", &UpdateApply{}, map[Phase]answer{
			I: {wp, I}, TE: {wp, TE}, TA: {wp, TA}, VU: {wp, VU}, VS: {ok, AU}, VF: {wp, VF}, AU: {ok, AU}}},
	}
	for _, tc := range tests {
		for _, p := range allPhases {
			t.Run(fmt.Sprintf("%s/%s", tc.name, p), func(t *testing.T) {
				h := newHarness(t, nil)
				h.enter(p)
				st := h.askStatus(tc.req)
				want := tc.want[p]
				if st.Status != want.st || st.Phase != want.phase || h.srv.Phase() != want.phase {
					t.Fatalf("answer %s/%s (server %s), want %s/%s", st.Status, st.Phase, h.srv.Phase(), want.st, want.phase)
				}
				if st.Details != (st.Phase != PhaseIdle) {
					t.Fatalf("optional block present=%t in %s", st.Details, st.Phase)
				}
				if st.Details && tc.req.Opcode() == OpUpdateStart && st.Status == StatusSuccess {
					if m := tc.req.(*UpdateStart); st.Phase == PhaseTransferActive &&
						(st.BLOBID != m.BLOBID || st.TTL != m.TTL || st.ImageIndex != m.ImageIndex || st.TimeoutBase != m.TimeoutBase) {
						t.Fatalf("status %+v does not echo %+v", st, m)
					}
				}
				if _, err := access.Marshal(st); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestServer_StartPrepareErrors maps the Prepare hook's errors to status
// codes.
func TestServer_StartPrepareErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err   error
		want  Status
		phase Phase
	}{
		{ErrInsufficientResources, StatusInsufficientResources, PhaseIdle},
		{fmt.Errorf("flash full: %w", ErrInsufficientResources), StatusInsufficientResources, PhaseIdle},
		{ErrTemporarilyUnavailable, StatusTemporarilyUnavailable, PhaseIdle},
		{errors.New("flash broke"), StatusInternalError, PhaseIdle},
		{ErrAlreadyReceived, StatusSuccess, PhaseVerifyingUpdate},
	}
	for _, tc := range tests {
		h := newHarness(t, nil)
		h.prepare = tc.err
		st := h.askStatus(startParams())
		if st.Status != tc.want || st.Phase != tc.phase {
			t.Errorf("%v: %s/%s, want %s/%s", tc.err, st.Status, st.Phase, tc.want, tc.phase)
		}
		if tc.phase == PhaseVerifyingUpdate {
			h.clk.Advance(time.Second)
			if h.srv.Phase() != PhaseVerificationSucceeded {
				t.Errorf("already received: %s after verify", h.srv.Phase())
			}
			if h.srv.BLOB().Phase() != blob.PhaseInactive {
				t.Errorf("BLOB server armed for an image already there")
			}
		}
	}
}

func TestServer_BLOBTransferBusy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	if err := h.srv.BLOB().Prepare(0x5555, 5, 1); err != nil { // someone else's transfer
		t.Fatal(err)
	}
	if st := h.askStatus(startParams()); st.Status != StatusBLOBTransferBusy || st.Phase != PhaseIdle {
		t.Fatalf("%s/%s, want BLOB Transfer Busy/Idle", st.Status, st.Phase)
	}
}

func TestServer_MetadataCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    *MetadataCheck
		want MetadataStatus
	}{
		{&MetadataCheck{0, []byte("meta")}, MetadataStatus{StatusSuccess, InfoNoChange, 0}},
		{&MetadataCheck{1, []byte("comp")}, MetadataStatus{StatusSuccess, InfoCompositionChange, 1}},
		{&MetadataCheck{1, []byte("bad")}, MetadataStatus{StatusMetadataCheckFailed, InfoNoChange, 1}},
		{&MetadataCheck{2, []byte("comp")}, MetadataStatus{StatusWrongFirmwareIndex, InfoNoChange, 2}},
		{&MetadataCheck{ImageIndex: 0}, MetadataStatus{StatusSuccess, InfoNoChange, 0}},
	}
	for _, p := range allPhases {
		h := newHarness(t, nil)
		h.enter(p)
		for _, tc := range tests {
			got, ok := h.ask(tc.m).(*MetadataStatus)
			if !ok || *got != tc.want {
				t.Errorf("%s: check %+v = %+v, want %+v", p, tc.m, got, tc.want)
			}
		}
		if h.srv.Phase() != p {
			t.Errorf("metadata check moved %s to %s", p, h.srv.Phase())
		}
	}
}

func TestServer_InformationGet(t *testing.T) {
	t.Parallel()
	big := make([]FirmwareInformation, 5)
	for i := range big {
		big[i] = FirmwareInformation{FirmwareID: bytes.Repeat([]byte{byte(i)}, MaxFirmwareIDLen), UpdateURI: string(bytes.Repeat([]byte{'a' + byte(i)}, 100))}
	}
	srv, err := NewServer(ServerConfig{Clock: faketime.New(), Images: big, BLOB: blob.ServerConfig{Storage: &blob.MemoryStorage{}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		first, limit uint8
		want         []int
	}{
		{0, 0, nil},
		{0, 1, []int{0}},
		{0, 255, []int{0}}, // 210 octets each: only one fits
		{3, 1, []int{3}},
		{4, 9, []int{4}},
		{5, 9, nil},
		{200, 9, nil},
	}
	for _, tc := range tests {
		st := srv.answerInformationGet(&InformationGet{tc.first, tc.limit})
		if st.ListCount != 5 || st.FirstIndex != tc.first || len(st.Entries) != len(tc.want) {
			t.Fatalf("get %d/%d: %d entries, want %v", tc.first, tc.limit, len(st.Entries), tc.want)
		}
		for i, w := range tc.want {
			if !st.Entries[i].Equal(&big[w]) {
				t.Errorf("get %d/%d: entry %d is not image %d", tc.first, tc.limit, i, w)
			}
		}
		if b, err := access.Marshal(st); err != nil || len(b) > access.MaxMessageSize {
			t.Errorf("get %d/%d: %d octets, %v", tc.first, tc.limit, len(b), err)
		}
	}
	h := newHarness(t, nil)
	st := h.ask(&InformationGet{0, 10}).(*InformationStatus)
	if st.ListCount != 2 || len(st.Entries) != 2 || !st.Entries[1].Equal(&testImages[1]) {
		t.Fatalf("%+v", st)
	}
	h.enter(PhaseApplyingUpdate)
	if a := h.ask(&InformationGet{0, 10}); a != nil {
		t.Fatalf("answered %+v while applying", a)
	}
}

// TestServer_VerifyAndApply runs a whole update: transfer end,
// verification, Apply after the status went out, new Firmware ID.
func TestServer_VerifyAndApply(t *testing.T) {
	t.Parallel()
	var phases []Phase
	h := newHarness(t, nil)
	h.srv.cfg.OnPhase = func(_, p Phase) { phases = append(phases, p) }
	var appliedImages []FirmwareInformation
	h.srv.cfg.OnApplied = func(idx uint8, info AdditionalInfo, imgs []FirmwareInformation) { appliedImages = imgs }

	h.askStatus(startParams())
	h.srv.blobComplete(0x9999) // another BLOB: ignored
	if h.srv.Phase() != PhaseTransferActive {
		t.Fatal(h.srv.Phase())
	}
	h.srv.blobComplete(id64)
	if st := h.askStatus(&UpdateGet{}); st.Phase != PhaseVerifyingUpdate {
		t.Fatalf("after the transfer: %s", st.Phase)
	}
	h.clk.Advance(DefaultVerifyDelay)
	if h.srv.Phase() != PhaseVerificationSucceeded {
		t.Fatal(h.srv.Phase())
	}
	h.askStatus(&UpdateApply{})
	if len(h.applied) != 0 {
		t.Fatal("applied before the status was sent")
	}
	h.askStatus(&UpdateApply{}) // a retried Apply: Success, Applying Update again
	h.dones[len(h.dones)-2](nil)
	if len(h.applied) != 1 || h.srv.Phase() != PhaseIdle {
		t.Fatalf("applied %d, phase %s", len(h.applied), h.srv.Phase())
	}
	if !bytes.Equal(h.srv.Images()[0].FirmwareID, newFWID) || appliedImages[0].UpdateURI != uri {
		t.Fatalf("images after apply: %+v", h.srv.Images())
	}
	want := []Phase{PhaseTransferActive, PhaseVerifyingUpdate, PhaseVerificationSucceeded, PhaseApplyingUpdate, PhaseIdle}
	if fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	if st := h.askStatus(&UpdateApply{}); st.Status != StatusWrongPhase || st.Phase != PhaseIdle || st.Details {
		t.Fatalf("apply after apply: %+v", st)
	}
	if h.state.Saves == 0 {
		t.Fatal("nothing saved")
	}
	if b, _ := h.state.LoadState(); b != nil {
		t.Fatalf("state left after apply: %x", b)
	}
}

func TestServer_VerificationFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.verify = fmt.Errorf("hash: %w", errBadMetadata)
	h.askStatus(startParams())
	h.srv.blobComplete(id64)
	h.clk.Advance(time.Second)
	if h.srv.Phase() != PhaseVerificationFailed || !errors.Is(h.srv.VerifyError(), errBadMetadata) {
		t.Fatalf("%s, %v", h.srv.Phase(), h.srv.VerifyError())
	}
	// A new Start is accepted from Verification Failed.
	h.verify = nil
	if st := h.askStatus(startParams()); st.Status != StatusSuccess || st.Phase != PhaseTransferActive || h.srv.VerifyError() != nil {
		t.Fatalf("%+v, %v", st, h.srv.VerifyError())
	}
}

// TestServer_CancelDuringVerify: a Cancel while verifying leaves Idle and
// the verification never lands.
func TestServer_CancelDuringVerify(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.enter(PhaseVerifyingUpdate)
	h.askStatus(&UpdateCancel{})
	h.clk.Advance(time.Minute)
	if h.srv.Phase() != PhaseIdle || h.srv.Stats().Verified != 0 {
		t.Fatalf("%s, %+v", h.srv.Phase(), h.srv.Stats())
	}
}

func TestServer_TransferErrorResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.askStatus(startParams())
	// The BLOB server's inactivity timer: 10 s × (3 + 1).
	h.clk.Advance(41 * time.Second)
	if h.srv.Phase() != PhaseTransferError {
		t.Fatalf("after the BLOB timeout: %s (BLOB %s)", h.srv.Phase(), h.srv.BLOB().Phase())
	}
	if st := h.askStatus(&UpdateGet{}); st.Phase != PhaseTransferError || !st.Details || st.BLOBID != id64 {
		t.Fatalf("%+v", st)
	}
	if st := h.askStatus(startParams()); st.Status != StatusSuccess || st.Phase != PhaseTransferActive {
		t.Fatalf("resume: %+v", st)
	}
	// The BLOB server had given up waiting for Transfer Start (Inactive):
	// it waits for it again, so the resumed transfer can start.
	if p := h.srv.BLOB().Phase(); p != blob.PhaseWaitingForStart {
		t.Errorf("BLOB server after the resume: %s, want Waiting for Transfer Start", p)
	}
}

// TestServer_Reboot restores every phase from the saved state.
func TestServer_Reboot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		before       Phase
		verifyAfter  error
		afterRestore Phase // right after NewServer
		settled      Phase // after the verification delay
	}{
		{PhaseIdle, nil, PhaseIdle, PhaseIdle},
		{PhaseTransferActive, nil, PhaseTransferError, PhaseTransferError},
		{PhaseTransferError, nil, PhaseTransferError, PhaseTransferError},
		{PhaseVerifyingUpdate, nil, PhaseVerifyingUpdate, PhaseVerificationSucceeded},
		{PhaseVerifyingUpdate, errors.New("image lost"), PhaseVerifyingUpdate, PhaseVerificationFailed},
		{PhaseVerificationSucceeded, nil, PhaseVerifyingUpdate, PhaseVerificationSucceeded},
		{PhaseVerificationSucceeded, errors.New("image lost"), PhaseVerifyingUpdate, PhaseVerificationFailed},
		{PhaseVerificationFailed, nil, PhaseVerificationFailed, PhaseVerificationFailed},
		{PhaseApplyingUpdate, nil, PhaseIdle, PhaseIdle},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.before, tc.verifyAfter), func(t *testing.T) {
			h := newHarness(t, nil)
			h.enter(tc.before)
			h.verify = tc.verifyAfter
			h.build() // reboot: same state store, new server
			if h.srv.Phase() != tc.afterRestore {
				t.Fatalf("restored %s, want %s", h.srv.Phase(), tc.afterRestore)
			}
			h.clk.Advance(time.Second)
			if h.srv.Phase() != tc.settled {
				t.Fatalf("settled %s, want %s", h.srv.Phase(), tc.settled)
			}
			if len(h.applied) != 0 {
				t.Fatal("a reboot applied an image")
			}
			if tc.settled != PhaseIdle {
				st := h.srv.Update()
				if st.BLOBID != id64 || st.TTL != 5 || st.TimeoutBase != 3 || string(h.srv.Metadata()) != "meta" {
					t.Fatalf("parameters lost: %+v", st)
				}
			}
			if tc.settled == PhaseTransferError {
				if st := h.askStatus(startParams()); st.Status != StatusSuccess || st.Phase != PhaseTransferActive {
					t.Fatalf("resume after reboot: %+v", st)
				}
			}
		})
	}
}

func TestServer_BadSavedState(t *testing.T) {
	t.Parallel()
	for _, rec := range [][]byte{{9}, {stateVersion, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {stateVersion, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0}} {
		st := &blob.MemoryStateStore{}
		_ = st.SaveState(rec)
		h := newHarness(t, st)
		if h.srv.Phase() != PhaseIdle {
			t.Errorf("record %x restored %s", rec, h.srv.Phase())
		}
	}
}

func TestServer_StateRecordRoundTrip(t *testing.T) {
	t.Parallel()
	u := update{PhaseVerificationFailed, 0xff, 0x1234, id64, 7, InfoUnprovision, []byte{1, 2, 3}}
	var v update
	if err := v.decode(u.encode()); err != nil || fmt.Sprint(u) != fmt.Sprint(v) {
		t.Fatalf("%+v, %v", v, err)
	}
}

func TestServer_SelfUpdateSkipsTransfer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.srv.Receive(&access.Context{Src: 0x0100, Dst: 0x0100}, startParams())
	// No layer: isLocal is false. With a layer the harness of client_test
	// covers it; here check Start from a remote address armed the BLOB.
	if h.srv.BLOB().Phase() != blob.PhaseWaitingForStart {
		t.Fatalf("BLOB %s", h.srv.BLOB().Phase())
	}
}

func TestNewServer_Config(t *testing.T) {
	t.Parallel()
	clk := faketime.New()
	bad := []ServerConfig{
		{Images: testImages},
		{Clock: clk},
		{Clock: clk, Images: []FirmwareInformation{{FirmwareID: []byte{1}}}},
		{Clock: clk, Images: testImages}, // BLOB without Storage
	}
	for i, cfg := range bad {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	srv, err := NewServer(ServerConfig{Clock: clk, Images: testImages, BLOB: blob.ServerConfig{Storage: &blob.MemoryStorage{}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Models()) != 2 || srv.Models()[0].ID != ServerModelID || srv.Models()[1].ID != blob.ServerModelID {
		t.Fatal("models")
	}
	if err := srv.SetImage(2, testImages[0]); err == nil {
		t.Fatal("SetImage out of range")
	}
	if err := srv.SetImage(1, FirmwareInformation{FirmwareID: newFWID}); err != nil || !bytes.Equal(srv.Images()[1].FirmwareID, newFWID) {
		t.Fatal("SetImage", err)
	}
	_ = mesh.AddrUnassigned
}
