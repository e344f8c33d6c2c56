package dfd

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/mesh"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/faketime"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// srvHarness is a Server without a network: answers are captured.
type srvHarness struct {
	t     *testing.T
	srv   *Server
	store *fw.MemStore
	state *blob.MemoryStateStore
	out   []access.Message
}

func newSrv(t *testing.T, cfg ServerConfig) *srvHarness {
	t.Helper()
	h := &srvHarness{t: t, store: fw.NewMemStore(0), state: &blob.MemoryStateStore{}}
	if cfg.Store == nil {
		cfg.Store = h.store
	}
	if cfg.Clock == nil {
		cfg.Clock = faketime.New()
	}
	cfg.State = h.state
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A layer that swallows what the clients send, so procedures wait
	// for answers instead of failing.
	clk := faketime.New()
	l, err := access.New(access.Config{Clock: clk, Rand: rand.New(rand.NewPCG(1, 2)), Primary: func() mesh.Address { return 0x0002 },
		Send: func(*access.Context, []byte, func(error)) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddElement(0, s.Models()...); err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Models() {
		_ = m.Bind(cfg.AppKeyIndex)
	}
	s.SetLayer(l)
	s.SetTestReply(func(m access.Message) { h.out = append(h.out, m) })
	h.srv = s
	return h
}

func (h *srvHarness) ask(m access.Message) access.Message {
	h.t.Helper()
	n := len(h.out)
	h.srv.Receive(&access.Context{Src: 0x0001, Dst: 0x0002}, m)
	if len(h.out) != n+1 {
		h.t.Fatalf("%T: %d answers", m, len(h.out)-n)
	}
	return h.out[n]
}

func (h *srvHarness) dist(m access.Message) *DistributionStatus {
	h.t.Helper()
	return h.ask(m).(*DistributionStatus)
}

func TestServer_ReceiversAndCapabilities(t *testing.T) {
	h := newSrv(t, ServerConfig{MaxReceivers: 3})
	st := h.ask(&ReceiversAdd{Entries: []ReceiverEntry{{0x0100, 0}, {0xC000, 0}, {0x0101, 1}, {0x0100, 2}}}).(*ReceiversStatus)
	if st.Status != StatusSuccess || st.Count != 2 || h.srv.Receivers()[0].ImageIndex != 2 {
		t.Fatalf("add: %+v %+v", st, h.srv.Receivers())
	}
	st = h.ask(&ReceiversAdd{Entries: []ReceiverEntry{{0x0102, 0}, {0x0103, 0}}}).(*ReceiversStatus)
	if st.Status != StatusInsufficientResources || st.Count != 3 {
		t.Fatalf("overflow: %+v", st)
	}
	l := h.ask(&ReceiversGet{FirstIndex: 1, EntriesLimit: 5}).(*ReceiversList)
	if l.Count != 3 || l.FirstIndex != 1 || len(l.Entries) != 2 || l.Entries[0].Address != 0x0101 || l.Entries[0].Phase != dfu.PhaseUnknown {
		t.Fatalf("get: %+v", l)
	}
	if l := h.ask(&ReceiversGet{FirstIndex: 7, EntriesLimit: 5}).(*ReceiversList); len(l.Entries) != 0 || l.Count != 3 {
		t.Fatalf("past the end: %+v", l)
	}
	c := h.ask(&CapabilitiesGet{}).(*CapabilitiesStatus)
	if c.MaxReceivers != 3 || c.MaxImages != DefaultMaxImages || c.OOBSupported || c.RemainingUploadSpace != c.MaxUploadSpace {
		t.Fatalf("capabilities %+v", c)
	}
	if st := h.ask(&ReceiversDeleteAll{}).(*ReceiversStatus); st.Status != StatusSuccess || st.Count != 0 {
		t.Fatalf("delete all: %+v", st)
	}
}

func TestServer_Firmware(t *testing.T) {
	h := newSrv(t, ServerConfig{})
	for i, id := range [][]byte{curFWID, newFWID} {
		if err := h.store.Put(SlotName(id), id, nil, []byte{byte(i), 1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		req  access.Message
		want FirmwareStatus
	}{
		{&FirmwareGet{FirmwareID: newFWID}, FirmwareStatus{StatusSuccess, 2, 1, newFWID}},
		{&FirmwareGet{FirmwareID: []byte{1, 2, 3}}, FirmwareStatus{StatusFirmwareNotFound, 2, NotListed, []byte{1, 2, 3}}},
		{&FirmwareGetByIndex{Index: 0}, FirmwareStatus{StatusSuccess, 2, 0, curFWID}},
		{&FirmwareGetByIndex{Index: 5}, FirmwareStatus{StatusFirmwareNotFound, 2, 5, nil}},
		{&FirmwareDelete{FirmwareID: curFWID}, FirmwareStatus{StatusSuccess, 1, NotListed, curFWID}},
		{&FirmwareGetByIndex{Index: 0}, FirmwareStatus{StatusSuccess, 1, 0, newFWID}},
		{&FirmwareDelete{FirmwareID: curFWID}, FirmwareStatus{StatusSuccess, 1, NotListed, curFWID}},
		{&FirmwareDeleteAll{}, FirmwareStatus{StatusSuccess, 0, NotListed, nil}},
	}
	for i, tc := range cases {
		got := h.ask(tc.req).(*FirmwareStatus)
		if got.Status != tc.want.Status || got.EntryCount != tc.want.EntryCount || got.Index != tc.want.Index || string(got.FirmwareID) != string(tc.want.FirmwareID) {
			t.Errorf("%d %T: %+v, want %+v", i, tc.req, got, tc.want)
		}
	}
}

// TestServer_DistributionStatusTable: the answers of Start, Suspend,
// Cancel and Apply before and after validation, per phase (docs/dfd.md).
func TestServer_DistributionStatusTable(t *testing.T) {
	h := newSrv(t, ServerConfig{AppKeyIndex: 1})
	start := Start{AppKeyIndex: 1, TTL: 5, TimeoutBase: 3, TransferMode: blob.ModePush, Policy: PolicyVerifyOnly, Multicast: 0xC000}
	s := start
	if st := h.dist(&s); st.Status != StatusReceiversListEmpty || st.Phase != PhaseIdle || st.Details {
		t.Fatalf("empty list: %+v", st)
	}
	h.ask(&ReceiversAdd{Entries: []ReceiverEntry{{0x0100, 0}}})
	s.AppKeyIndex = 2
	if st := h.dist(&s); st.Status != StatusInvalidAppKeyIndex {
		t.Fatalf("appkey: %+v", st)
	}
	s = start
	if st := h.dist(&s); st.Status != StatusFirmwareNotFound {
		t.Fatalf("no image: %+v", st)
	}
	if err := h.store.Put(SlotName(newFWID), newFWID, nil, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []access.Message{&Suspend{}, &Apply{}} {
		if st := h.dist(m); st.Status != StatusWrongPhase || st.Phase != PhaseIdle {
			t.Fatalf("%T in Idle: %+v", m, st)
		}
	}
	if st := h.dist(&Cancel{}); st.Status != StatusSuccess || st.Phase != PhaseIdle {
		t.Fatalf("cancel in Idle: %+v", st)
	}
	s = start
	st := h.dist(&s)
	if st.Status != StatusSuccess || st.Phase != PhaseTransferActive || !st.Details || st.Multicast != 0xC000 || st.AppKeyIndex != 1 {
		t.Fatalf("start: %+v", st)
	}
	if st := h.dist(&s); st.Status != StatusSuccess || st.Phase != PhaseTransferActive {
		t.Fatalf("same start: %+v", st)
	}
	other := start
	other.TTL = 6
	if st := h.dist(&other); st.Status != StatusBusyWithDistribution {
		t.Fatalf("other start: %+v", st)
	}
	if st := h.dist(&Apply{}); st.Status != StatusWrongPhase {
		t.Fatalf("apply in Transfer Active: %+v", st)
	}
	if st := h.dist(&Suspend{}); st.Status != StatusSuspendFailed {
		t.Fatalf("suspend before the BLOB transfer: %+v", st)
	}
	if st := h.ask(&ReceiversAdd{Entries: []ReceiverEntry{{0x0105, 0}}}).(*ReceiversStatus); st.Status != StatusBusyWithDistribution {
		t.Fatalf("add while busy: %+v", st)
	}
	if st := h.ask(&FirmwareDeleteAll{}).(*FirmwareStatus); st.Status != StatusBusyWithDistribution {
		t.Fatalf("delete all while busy: %+v", st)
	}
	if st := h.dist(&Cancel{}); st.Status != StatusSuccess || st.Phase != PhaseCancelingUpdate {
		t.Fatalf("cancel: %+v", st)
	}
	if st := h.dist(&s); st.Status != StatusBusyWithDistribution || st.Phase != PhaseCancelingUpdate {
		t.Fatalf("start while canceling: %+v", st)
	}
	if st := h.dist(&Cancel{}); st.Status != StatusSuccess || st.Phase != PhaseCancelingUpdate {
		t.Fatalf("second cancel: %+v", st)
	}
	// Completed and Failed go Idle on Cancel; Transfer Success takes Apply.
	for _, p := range []Phase{PhaseCompleted, PhaseFailed} {
		h.srv.halt()
		h.srv.phase = p
		if st := h.dist(&Suspend{}); st.Status != StatusWrongPhase {
			t.Fatalf("suspend in %v: %+v", p, st)
		}
		if st := h.dist(&Cancel{}); st.Status != StatusSuccess || st.Phase != PhaseIdle || st.Details {
			t.Fatalf("cancel in %v: %+v", p, st)
		}
	}
	h.srv.phase = PhaseTransferSuccess
	if st := h.dist(&Suspend{}); st.Status != StatusWrongPhase {
		t.Fatalf("suspend in Transfer Success: %+v", st)
	}
	if st := h.dist(&Apply{}); st.Status != StatusSuccess || st.Phase != PhaseApplyingUpdate {
		t.Fatalf("apply: %+v", st)
	}
	if st := h.dist(&Apply{}); st.Status != StatusSuccess || st.Phase != PhaseApplyingUpdate {
		t.Fatalf("apply again: %+v", st)
	}
}

func TestServer_UploadStatusTable(t *testing.T) {
	h := newSrv(t, ServerConfig{MaxImageSize: 1000, MaxImages: 1})
	up := UploadStart{TTL: 5, TimeoutBase: 3, BLOBID: 7, Size: 500, FirmwareID: newFWID}
	big := up
	big.Size = 1001
	if st := h.ask(&big).(*UploadStatus); st.Status != StatusInsufficientResources || st.Phase != UploadIdle {
		t.Fatalf("too big: %+v", st)
	}
	u := up
	if st := h.ask(&u).(*UploadStatus); st.Status != StatusSuccess || st.Phase != UploadTransferActive || !st.Details || st.OOB {
		t.Fatalf("start: %+v", st)
	}
	if st := h.ask(&u).(*UploadStatus); st.Status != StatusSuccess {
		t.Fatalf("same start: %+v", st)
	}
	other := up
	other.BLOBID = 8
	if st := h.ask(&other).(*UploadStatus); st.Status != StatusBusyWithUpload {
		t.Fatalf("other start: %+v", st)
	}
	if st := h.ask(&UploadOOBStart{URI: "https://x.example", FirmwareID: curFWID}).(*UploadStatus); st.Status != StatusBusyWithUpload {
		t.Fatalf("OOB while busy: %+v", st)
	}
	if st := h.ask(&UploadCancel{}).(*UploadStatus); st.Status != StatusSuccess || st.Phase != UploadIdle {
		t.Fatalf("cancel: %+v", st)
	}
	if st := h.ask(&UploadOOBStart{URI: "https://x.example", FirmwareID: curFWID}).(*UploadStatus); st.Status != StatusURINotSupported {
		t.Fatalf("OOB without support: %+v", st)
	}
	if err := h.store.Put(SlotName(curFWID), curFWID, nil, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if st := h.ask(&u).(*UploadStatus); st.Status != StatusInsufficientResources {
		t.Fatalf("list full: %+v", st)
	}
	known := up
	known.FirmwareID = curFWID
	if st := h.ask(&known).(*UploadStatus); st.Status != StatusSuccess || st.Phase != UploadTransferSuccess || st.Progress != 100 {
		t.Fatalf("already stored: %+v", st)
	}
}

// Upload URIs at and past the lengths the distributor takes: the longest
// the message carries (255 octets) reaches the check whole; one past a
// configured MaxURILen is answered Internal Error (as Zephyr answers a URI
// longer than its buffer) and nothing is checked or kept; a URI Length
// octet that promises more than the message holds is dropped unanswered.
func TestServer_OOBURILength(t *testing.T) {
	uriOf := func(n int) string {
		const head = "https://fw.example/"
		return head + strings.Repeat("a", n-len(head))
	}
	t.Run("255 octets, default limit", func(t *testing.T) {
		var uris []string
		h := newSrv(t, ServerConfig{OOB: recOOB{&uris}})
		uri := uriOf(MaxURILen)
		h.srv.Receive(&access.Context{Src: 0x0001, Dst: 0x0002}, &UploadOOBStart{URI: uri, FirmwareID: curFWID})
		if len(h.out) != 0 || len(uris) != 1 || uris[0] != uri {
			t.Fatalf("answers %v, checked %d URIs (want the 255-octet one, answered after the check)", h.out, len(uris))
		}
		if _, err := (&UploadOOBStart{URI: uri + "a", FirmwareID: curFWID}).Marshal(); err == nil {
			t.Fatal("a 256-octet URI was encoded")
		}
	})
	t.Run("past MaxURILen", func(t *testing.T) {
		var uris []string
		h := newSrv(t, ServerConfig{OOB: recOOB{&uris}, MaxURILen: 64})
		st := h.ask(&UploadOOBStart{URI: uriOf(65), FirmwareID: curFWID}).(*UploadStatus)
		if st.Status != StatusInternalError || st.Phase != UploadIdle || h.srv.UploadPhase() != UploadIdle || len(uris) != 0 {
			t.Fatalf("65-octet URI with MaxURILen 64: %+v, %d checks", st, len(uris))
		}
		if st := h.ask(&UploadGet{}).(*UploadStatus); st.Status != StatusSuccess || st.Phase != UploadIdle || st.Details {
			t.Fatalf("after the refusal: %+v", st)
		}
		h.srv.Receive(&access.Context{Src: 0x0001, Dst: 0x0002}, &UploadOOBStart{URI: uriOf(64), FirmwareID: curFWID})
		if len(uris) != 1 || uris[0] != uriOf(64) {
			t.Fatalf("64-octet URI: checked %q", uris)
		}
	})
	t.Run("length octet past the message", func(t *testing.T) {
		var uris []string
		h := newSrv(t, ServerConfig{OOB: recOOB{&uris}})
		uri := uriOf(100)
		p := append([]byte{255}, uri...) // promises 255 octets, holds 100 and no FWID
		dropped := h.srv.Stats().Dropped
		h.srv.handle(OpUploadOOBStart)(&access.Context{Src: 0x0001, Dst: 0x0002}, p)
		if len(h.out) != 0 || len(uris) != 0 || h.srv.Stats().Dropped != dropped+1 || h.srv.UploadPhase() != UploadIdle {
			t.Fatalf("answers %v, checks %d, dropped %d", h.out, len(uris), h.srv.Stats().Dropped-dropped)
		}
	})
}

func TestServer_OOBURIChecks(t *testing.T) {
	h := newSrv(t, ServerConfig{OOB: nopOOB{}})
	for uri, want := range map[string]Status{
		"http://x.example/dfu": StatusURINotSupported,
		"ftp://x.example":      StatusURINotSupported,
		"nocolon":              StatusURIMalformed,
		"https://":             StatusURIMalformed,
		"https://x.example?q":  StatusURIMalformed,
	} {
		if st := h.ask(&UploadOOBStart{URI: uri, FirmwareID: curFWID}).(*UploadStatus); st.Status != want {
			t.Errorf("%q: %v, want %v", uri, st.Status, want)
		}
	}
	if c := h.ask(&CapabilitiesGet{}).(*CapabilitiesStatus); !c.OOBSupported || string(c.URISchemes) != string([]byte{SchemeHTTPS}) {
		t.Fatalf("capabilities %+v", c)
	}
}
