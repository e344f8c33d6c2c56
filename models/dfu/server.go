package dfu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
)

// Errors a ServerConfig.Prepare hook returns to pick the status of a
// refused Firmware Update Start (Zephyr bt_mesh_dfu_srv_cb.start: -ENOMEM,
// -EBUSY, -EALREADY). Any other error answers Internal Error.
var (
	// ErrInsufficientResources answers Insufficient Resources.
	ErrInsufficientResources = errors.New("dfu: insufficient resources")
	// ErrTemporarilyUnavailable answers Temporarily Unavailable.
	ErrTemporarilyUnavailable = errors.New("dfu: temporarily unavailable")
	// ErrAlreadyReceived accepts the Start but skips the BLOB transfer:
	// the target already holds the image and goes to Verifying Update.
	ErrAlreadyReceived = errors.New("dfu: image already received")
)

// DefaultVerifyDelay is how long a server stays in Verifying Update before
// it runs the Verify hook, so clients can observe the phase.
const DefaultVerifyDelay = 100 * time.Millisecond

// ServerConfig configures a Server. Clock and Images are required; the
// hooks are optional and run on the node's executor.
type ServerConfig struct {
	Clock  mesh.Clock
	Layer  *access.Layer // nil: set later with SetLayer; nothing is sent before
	Logger *slog.Logger  // nil: discard

	// Images is the Firmware Information List (at least one entry, at
	// most 255): one entry per independently updatable image. An
	// application that applied an update passes the new list when it
	// builds the Server again after its reboot.
	Images []FirmwareInformation

	// BLOB configures the BLOB Transfer Server the Firmware Update Server
	// extends; its Clock, Rand and Logger default to this config's. Its
	// OnStart, OnComplete, OnSuspended, OnResume and OnCancel callbacks
	// are kept and called after the Server's own handling.
	BLOB blob.ServerConfig

	// State keeps the update state (phase, Start parameters, image index)
	// across reboots; nil: a fresh blob.MemoryStateStore (not persisted).
	// Use another store than BLOB.State.
	State blob.StateStore

	// Check is the metadata check (Metadata Check and Start): it returns
	// the Additional Information of applying the image with metadata to
	// image index, or an error for Metadata Check Failed. nil: every
	// metadata passes with InfoNoChange.
	Check func(index uint8, metadata []byte) (AdditionalInfo, error)
	// Prepare readies storage for an accepted Start. Its error picks the
	// answer: ErrInsufficientResources, ErrTemporarilyUnavailable,
	// ErrAlreadyReceived (skip the transfer), anything else Internal
	// Error. nil: always ready.
	Prepare func(index uint8, metadata []byte, blobID uint64) error
	// Verify checks the received image after the transfer: nil for
	// Verification Succeeded, an error (the reason, see VerifyError) for
	// Verification Failed. nil hook: every image is good.
	Verify func(index uint8, metadata []byte, blobID uint64) error
	// VerifyDelay is the time spent in Verifying Update before Verify
	// runs; 0: DefaultVerifyDelay, negative: none.
	VerifyDelay time.Duration
	// Apply installs the verified image after the Applying Update status
	// has been sent. It returns the new Firmware ID of the image (nil:
	// unchanged), which the Server puts in its Firmware Information List,
	// or an error if installation failed. Either way the phase returns to
	// Idle (MshDFU §6.1.2.3). nil: nothing is installed.
	Apply func(index uint8, metadata []byte, blobID uint64) (newFirmwareID []byte, err error)
	// OnApplied runs after a successful Apply updated the list; the
	// application persists the list, swaps its composition data when
	// info says so, and reboots the node.
	OnApplied func(index uint8, info AdditionalInfo, images []FirmwareInformation)
	// OnPhase runs on every Update Phase change.
	OnPhase func(old, new Phase)
}

// ServerStats counts what a Server answered.
type ServerStats struct {
	Requests uint64 // requests answered
	Silent   uint64 // requests not answered (Information Get while Applying)
	Dropped  uint64 // requests that failed to decode
	Saves    uint64 // state records written
	Verified uint64 // verifications that succeeded
	Rejected uint64 // verifications that failed
	Applied  uint64 // Apply hooks that succeeded
}

// update is the Server's update state: the Start parameters and the
// phase, as persisted.
type update struct {
	phase       Phase
	ttl         uint8
	timeoutBase uint16
	blobID      uint64
	index       uint8
	info        AdditionalInfo
	metadata    []byte
}

func (u *update) same(m *UpdateStart) bool {
	return u.index == m.ImageIndex && u.blobID == m.BLOBID && u.ttl == m.TTL &&
		u.timeoutBase == m.TimeoutBase && bytes.Equal(u.metadata, m.Metadata)
}

// Server is the Firmware Update Server model (SIG model 0x1402) of a
// target node, with the BLOB Transfer Server (0x1400) it extends. Add both
// Models() to one element. The Update Phase moves as Phase's diagram
// shows; every transition goes through setPhase.
//
// Call every method on the node's executor.
type Server struct {
	cfg    ServerConfig
	log    *slog.Logger
	model  *access.Model
	layer  *access.Layer
	blob   *blob.Server
	images []FirmwareInformation
	up     update
	// reply answers a request; tests replace it.
	reply func(ctx *access.Context, m access.Message, done func(error))

	verifyErr   error
	verifyTimer mesh.Timer
	verifyGen   uint64
	stats       ServerStats
}

// NewServer returns a Server and its BLOB Transfer Server. When cfg.State
// holds an update saved before a reboot, the Server comes back with it
// (MshDFU behaviour as Zephyr dfu_srv.c restores it):
//
//   - Transfer Active becomes Transfer Error; the BLOB server recovers its
//     own part and a Start with the same parameters (or the client's next
//     BLOB message) resumes the transfer;
//   - Verifying Update and Verification Succeeded verify the stored image
//     again, ending Verification Succeeded or Verification Failed;
//   - Applying Update becomes Idle: installation either happened (the
//     application passes the new Images) or did not, never half.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: ServerConfig needs a Clock", ErrConfig)
	}
	if len(cfg.Images) == 0 || len(cfg.Images) > 255 {
		return nil, fmt.Errorf("%w: %d firmware images, want 1 to 255", ErrConfig, len(cfg.Images))
	}
	for i := range cfg.Images {
		if err := cfg.Images[i].check("server"); err != nil {
			return nil, fmt.Errorf("%w: image %d: %w", ErrConfig, i, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.State == nil {
		cfg.State = &blob.MemoryStateStore{}
	}
	if cfg.VerifyDelay == 0 {
		cfg.VerifyDelay = DefaultVerifyDelay
	}
	s := &Server{cfg: cfg, log: cfg.Logger, images: cloneImages(cfg.Images)}
	s.reply = s.send
	s.model = &access.Model{
		ID:            ServerModelID,
		NoPublication: true,
		Ops: []access.Op{
			{Opcode: OpInformationGet, Len: access.LenExact(2), Handler: s.handler(OpInformationGet)},
			{Opcode: OpMetadataCheck, Len: access.LenRange(1, 1+MaxMetadataLen), Handler: s.handler(OpMetadataCheck)},
			{Opcode: OpUpdateGet, Len: access.LenExact(0), Handler: s.handler(OpUpdateGet)},
			{Opcode: OpUpdateStart, Len: access.LenRange(updateStartMin, updateStartMin+MaxMetadataLen), Handler: s.handler(OpUpdateStart)},
			{Opcode: OpUpdateCancel, Len: access.LenExact(0), Handler: s.handler(OpUpdateCancel)},
			{Opcode: OpUpdateApply, Len: access.LenExact(0), Handler: s.handler(OpUpdateApply)},
		},
	}
	// Restore before the BLOB server, whose recovery may call back.
	restored := s.restore()
	bc := cfg.BLOB
	if bc.Clock == nil {
		bc.Clock = cfg.Clock
	}
	if bc.Logger == nil {
		bc.Logger = cfg.Logger
	}
	s.wrapBLOB(&bc)
	b, err := blob.NewServer(bc)
	if err != nil {
		return nil, fmt.Errorf("dfu: server: %w", err)
	}
	s.blob = b
	if cfg.Layer != nil {
		s.SetLayer(cfg.Layer)
	}
	restored()
	return s, nil
}

func cloneImages(in []FirmwareInformation) []FirmwareInformation {
	out := make([]FirmwareInformation, len(in))
	for i, e := range in {
		out[i] = FirmwareInformation{FirmwareID: bytes.Clone(e.FirmwareID), UpdateURI: e.UpdateURI}
	}
	return out
}

// Model returns the Firmware Update Server model.
func (s *Server) Model() *access.Model { return s.model }

// BLOB returns the BLOB Transfer Server underneath.
func (s *Server) BLOB() *blob.Server { return s.blob }

// Models returns the Firmware Update Server and BLOB Transfer Server
// models, to add to one element (the first extends the second).
func (s *Server) Models() []*access.Model { return []*access.Model{s.model, s.blob.Model()} }

// SetLayer gives the Server (and its BLOB server) the access layer its
// models were added to.
func (s *Server) SetLayer(l *access.Layer) {
	s.layer = l
	s.blob.SetLayer(l)
}

// Phase returns the Update Phase.
func (s *Server) Phase() Phase { return s.up.phase }

// Images returns a copy of the Firmware Information List.
func (s *Server) Images() []FirmwareInformation { return cloneImages(s.images) }

// SetImage replaces entry index of the Firmware Information List (for an
// application that installs firmware by other means).
func (s *Server) SetImage(index uint8, e FirmwareInformation) error {
	if int(index) >= len(s.images) {
		return fmt.Errorf("%w: image index %d of %d", ErrConfig, index, len(s.images))
	}
	if err := e.check("server"); err != nil {
		return err
	}
	s.images[index] = FirmwareInformation{FirmwareID: bytes.Clone(e.FirmwareID), UpdateURI: e.UpdateURI}
	return nil
}

// Update returns the Start parameters of the current update as an
// UpdateStatus with Details (what Firmware Update Get answers).
func (s *Server) Update() UpdateStatus { return s.status(StatusSuccess) }

// Metadata returns a copy of the current update's metadata.
func (s *Server) Metadata() []byte { return bytes.Clone(s.up.metadata) }

// VerifyError returns why the last verification failed, or nil.
func (s *Server) VerifyError() error { return s.verifyErr }

// Stats returns the counters.
func (s *Server) Stats() ServerStats { return s.stats }

// ---- receiving ----

func (s *Server) handler(op access.Opcode) access.Handler {
	return func(ctx *access.Context, params []byte) {
		m := NewMessage(op)
		if err := m.Unmarshal(params); err != nil {
			s.stats.Dropped++
			s.log.Debug("dfu: server: drop", slog.Any("src", ctx.Src), slog.Any("opcode", op), slog.Any("err", err))
			return
		}
		s.Receive(ctx, m)
	}
}

// Receive handles a decoded request from ctx.Src and sends the answer. It
// is what the access handlers call; tests call it directly.
func (s *Server) Receive(ctx *access.Context, m access.Message) {
	var (
		resp access.Message
		done func(error)
	)
	switch m := m.(type) {
	case *InformationGet:
		if s.up.phase == PhaseApplyingUpdate {
			// About to reboot: stay silent, as Zephyr does; the client's
			// Confirm step retries.
			s.stats.Silent++
			return
		}
		resp = s.answerInformationGet(m)
	case *MetadataCheck:
		resp = s.answerMetadataCheck(m)
	case *UpdateGet:
		st := s.status(StatusSuccess)
		resp = &st
	case *UpdateStart:
		resp = s.answerStart(m, s.isLocal(ctx.Src))
	case *UpdateCancel:
		resp = s.answerCancel()
	case *UpdateApply:
		resp, done = s.answerApply()
	default:
		return
	}
	s.stats.Requests++
	s.reply(ctx, resp, done)
	if s.up.phase == PhaseVerifyingUpdate && s.verifyTimer == nil {
		s.scheduleVerify()
	}
}

func (s *Server) isLocal(a mesh.Address) bool {
	return s.layer != nil && s.layer.Element(a) != nil
}

func (s *Server) send(ctx *access.Context, m access.Message, done func(error)) {
	if s.layer == nil {
		if done != nil {
			done(nil)
		}
		return
	}
	if err := s.layer.Reply(s.model, ctx, m, done); err != nil {
		s.log.Warn("dfu: server: reply", slog.Any("dst", ctx.Src), slog.Any("err", err))
		if done != nil {
			done(err)
		}
	}
}

// ---- answers: each is a function of the state and the request ----

// answerInformationGet pages the Firmware Information List: entries from
// First Index, at most Entries Limit, stopping before an entry that would
// not fit the access payload.
func (s *Server) answerInformationGet(m *InformationGet) *InformationStatus {
	st := &InformationStatus{ListCount: uint8(len(s.images)), FirstIndex: m.FirstIndex}
	size := 2
	for i := int(m.FirstIndex); i < len(s.images) && len(st.Entries) < int(m.EntriesLimit); i++ {
		if size+s.images[i].Len() > maxParams {
			break
		}
		size += s.images[i].Len()
		st.Entries = append(st.Entries, s.images[i])
	}
	return st
}

// check runs the metadata check for image index.
func (s *Server) check(index uint8, metadata []byte) (Status, AdditionalInfo) {
	if int(index) >= len(s.images) {
		return StatusWrongFirmwareIndex, InfoNoChange
	}
	if s.cfg.Check == nil {
		return StatusSuccess, InfoNoChange
	}
	info, err := s.cfg.Check(index, metadata)
	if err != nil {
		s.log.Info("dfu: server: metadata check failed", slog.Int("index", int(index)), slog.Any("err", err))
		return StatusMetadataCheckFailed, InfoNoChange
	}
	if !info.Valid() {
		s.log.Warn("dfu: server: Check returned RFU additional information", slog.Any("info", info))
		return StatusInternalError, InfoNoChange
	}
	return StatusSuccess, info
}

// answerMetadataCheck does not change the phase.
func (s *Server) answerMetadataCheck(m *MetadataCheck) *MetadataStatus {
	st, info := s.check(m.ImageIndex, m.Metadata)
	return &MetadataStatus{Status: st, AdditionalInfo: info, ImageIndex: m.ImageIndex}
}

// answerStart follows the decision order of the sheet (docs/dfu.md §8.1,
// Zephyr handle_start):
//  1. Transfer Error and the same parameters: resume, Transfer Active;
//  2. a busy phase (Transfer Active, Verifying Update, Verification
//     Succeeded, Applying Update): the same parameters answer Success and
//     change nothing; other parameters answer Wrong Phase;
//  3. otherwise (Idle, Transfer Error with new parameters, Verification
//     Failed): metadata check, Prepare, arm the BLOB server, Transfer
//     Active — or Verifying Update when the image is already there or
//     the Start comes from this node (self-update).
func (s *Server) answerStart(m *UpdateStart, local bool) *UpdateStatus {
	switch s.up.phase {
	case PhaseTransferError:
		if s.up.same(m) {
			// A BLOB server that gave up waiting for Transfer Start (or
			// was cancelled) is Inactive and would answer the resumed
			// transfer's Transfer Start with Wrong Phase: armed again for
			// the same BLOB. A Suspended one resumes by itself.
			if s.blob.Phase() == blob.PhaseInactive {
				if err := s.blob.Prepare(m.BLOBID, m.TTL, m.TimeoutBase); err != nil {
					s.log.Warn("dfu: server: BLOB server busy", slog.Any("err", err))
					return s.statusPtr(StatusBLOBTransferBusy)
				}
			}
			s.setPhase(PhaseTransferActive)
			s.save()
			return s.statusPtr(StatusSuccess)
		}
	case PhaseTransferActive, PhaseVerifyingUpdate, PhaseVerificationSucceeded, PhaseApplyingUpdate:
		if s.up.same(m) {
			return s.statusPtr(StatusSuccess)
		}
		return s.statusPtr(StatusWrongPhase)
	}
	st, info := s.check(m.ImageIndex, m.Metadata)
	if st != StatusSuccess {
		return s.statusPtr(st)
	}
	skip := local
	if s.cfg.Prepare != nil {
		switch err := s.cfg.Prepare(m.ImageIndex, m.Metadata, m.BLOBID); {
		case err == nil:
		case errors.Is(err, ErrAlreadyReceived):
			skip = true
		case errors.Is(err, ErrInsufficientResources):
			return s.statusPtr(StatusInsufficientResources)
		case errors.Is(err, ErrTemporarilyUnavailable):
			return s.statusPtr(StatusTemporarilyUnavailable)
		default:
			s.log.Warn("dfu: server: prepare", slog.Any("err", err))
			return s.statusPtr(StatusInternalError)
		}
	}
	// A new update replaces whatever the previous one left behind.
	if s.blobRunning() {
		if s.up.phase == PhaseIdle {
			// Someone else's transfer runs on our BLOB server.
			return s.statusPtr(StatusBLOBTransferBusy)
		}
		_ = s.blob.Cancel() // what our previous update left running
	}
	s.stopVerify()
	next := update{
		phase: PhaseTransferActive, ttl: m.TTL, timeoutBase: m.TimeoutBase, blobID: m.BLOBID,
		index: m.ImageIndex, info: info, metadata: bytes.Clone(m.Metadata),
	}
	if skip {
		next.phase = PhaseVerifyingUpdate
	} else if err := s.blob.Prepare(m.BLOBID, m.TTL, m.TimeoutBase); err != nil {
		s.log.Warn("dfu: server: BLOB server busy", slog.Any("err", err))
		return s.statusPtr(StatusBLOBTransferBusy)
	}
	s.verifyErr = nil
	old := s.up.phase
	s.up = next
	s.up.phase = old
	s.setPhase(next.phase)
	s.save()
	return s.statusPtr(StatusSuccess)
}

// answerCancel always succeeds: the BLOB reception stops, the update is
// forgotten and the phase is Idle.
func (s *Server) answerCancel() *UpdateStatus {
	if s.up.phase != PhaseIdle {
		s.stopVerify()
		s.setPhase(PhaseIdle)
		s.up = update{}
		s.save()
		if s.blob.Phase() != blob.PhaseInactive {
			_ = s.blob.Cancel()
		}
	}
	return s.statusPtr(StatusSuccess)
}

func (s *Server) blobRunning() bool {
	switch s.blob.Phase() {
	case blob.PhaseWaitingForStart, blob.PhaseWaitingForBlock, blob.PhaseWaitingForChunk:
		return true
	}
	return false
}

// answerApply starts installing from Verification Succeeded; in Applying
// Update it answers Success again; anything else is Wrong Phase. The Apply
// hook runs only after the status has been sent, since it may reboot.
func (s *Server) answerApply() (*UpdateStatus, func(error)) {
	switch s.up.phase {
	case PhaseApplyingUpdate:
		return s.statusPtr(StatusSuccess), nil
	case PhaseVerificationSucceeded:
		s.setPhase(PhaseApplyingUpdate)
		s.save()
		gen := s.verifyGen
		return s.statusPtr(StatusSuccess), func(err error) {
			if err != nil {
				// The client may have received it (a segmented status
				// whose acknowledgment was lost): apply anyway, as
				// Zephyr does for a timeout; a retried Apply gets the
				// Applying Update answer.
				s.log.Info("dfu: server: apply status not confirmed sent", slog.Any("err", err))
			}
			if gen == s.verifyGen && s.up.phase == PhaseApplyingUpdate {
				s.apply()
			}
		}
	}
	return s.statusPtr(StatusWrongPhase), nil
}

func (s *Server) status(st Status) UpdateStatus {
	out := UpdateStatus{Status: st, Phase: s.up.phase}
	if s.up.phase != PhaseIdle {
		out.Details = true
		out.TTL = s.up.ttl
		out.AdditionalInfo = s.up.info
		out.TimeoutBase = s.up.timeoutBase
		out.BLOBID = s.up.blobID
		out.ImageIndex = s.up.index
	}
	return out
}

func (s *Server) statusPtr(st Status) *UpdateStatus {
	out := s.status(st)
	return &out
}

// ---- the procedure underneath ----

func (s *Server) wrapBLOB(bc *blob.ServerConfig) {
	onComplete, onSuspended, onResume, onCancel := bc.OnComplete, bc.OnSuspended, bc.OnResume, bc.OnCancel
	bc.OnComplete = func(id uint64) {
		s.blobComplete(id)
		if onComplete != nil {
			onComplete(id)
		}
	}
	bc.OnSuspended = func(id uint64) {
		s.blobFailed(id, "suspended")
		if onSuspended != nil {
			onSuspended(id)
		}
	}
	bc.OnResume = func(id uint64) {
		if id == s.up.blobID && s.up.phase == PhaseTransferError {
			s.setPhase(PhaseTransferActive)
			s.save()
		}
		if onResume != nil {
			onResume(id)
		}
	}
	bc.OnCancel = func(id uint64, err error) {
		s.blobFailed(id, "cancelled")
		if onCancel != nil {
			onCancel(id, err)
		}
	}
}

// blobComplete: the image is in; verify it (from Transfer Error too: a
// recovered BLOB server may finish after the reboot).
func (s *Server) blobComplete(id uint64) {
	if id != s.up.blobID || (s.up.phase != PhaseTransferActive && s.up.phase != PhaseTransferError) {
		return
	}
	s.setPhase(PhaseVerifyingUpdate)
	s.save()
	s.scheduleVerify()
}

// blobFailed: a suspended or failed transfer is Transfer Error.
func (s *Server) blobFailed(id uint64, why string) {
	if id != s.up.blobID || s.up.phase != PhaseTransferActive {
		return
	}
	s.log.Info("dfu: server: BLOB transfer "+why, slog.Uint64("blob", id))
	s.setPhase(PhaseTransferError)
	s.save()
}

func (s *Server) scheduleVerify() {
	s.stopVerify()
	gen := s.verifyGen
	run := func() {
		if gen != s.verifyGen {
			return
		}
		s.verifyTimer = nil
		s.verify()
	}
	if s.cfg.VerifyDelay < 0 {
		s.verifyTimer = s.cfg.Clock.AfterFunc(0, run)
		return
	}
	s.verifyTimer = s.cfg.Clock.AfterFunc(s.cfg.VerifyDelay, run)
}

func (s *Server) stopVerify() {
	s.verifyGen++
	if s.verifyTimer != nil {
		s.verifyTimer.Stop()
		s.verifyTimer = nil
	}
}

func (s *Server) verify() {
	if s.up.phase != PhaseVerifyingUpdate {
		return
	}
	var err error
	if s.cfg.Verify != nil {
		err = s.cfg.Verify(s.up.index, bytes.Clone(s.up.metadata), s.up.blobID)
	}
	s.verifyErr = err
	if err != nil {
		s.stats.Rejected++
		s.log.Warn("dfu: server: verification failed", slog.Uint64("blob", s.up.blobID), slog.Any("err", err))
		s.setPhase(PhaseVerificationFailed)
	} else {
		s.stats.Verified++
		s.setPhase(PhaseVerificationSucceeded)
	}
	s.save()
}

// apply runs the Apply hook once; the phase returns to Idle whatever it
// returns (MshDFU §6.1.2.3). The state is saved as Applying Update before,
// so a reboot inside the hook restores Idle.
func (s *Server) apply() {
	up := s.up
	var (
		fwid []byte
		err  error
	)
	if s.cfg.Apply != nil {
		fwid, err = s.cfg.Apply(up.index, bytes.Clone(up.metadata), up.blobID)
	}
	if err == nil && fwid != nil {
		if int(up.index) < len(s.images) {
			e := FirmwareInformation{FirmwareID: bytes.Clone(fwid), UpdateURI: s.images[up.index].UpdateURI}
			if cerr := e.check("apply"); cerr != nil {
				err = cerr
			} else {
				s.images[up.index] = e
			}
		}
	}
	if s.up.phase == PhaseApplyingUpdate {
		s.setPhase(PhaseIdle)
		s.up = update{}
		s.save()
	}
	if err != nil {
		s.log.Warn("dfu: server: apply failed", slog.Any("err", err))
		return
	}
	if s.cfg.Apply != nil {
		s.stats.Applied++
		s.log.Info("dfu: server: applied", slog.Int("index", int(up.index)), slog.String("fwid", fmt.Sprintf("%x", fwid)))
		if s.cfg.OnApplied != nil {
			s.cfg.OnApplied(up.index, up.info, s.Images())
		}
	}
}

// setPhase is the one place the Update Phase changes.
func (s *Server) setPhase(p Phase) {
	old := s.up.phase
	if old == p {
		return
	}
	s.up.phase = p
	s.log.Info("dfu: server phase", slog.String("phase", p.String()), slog.String("from", old.String()))
	if s.cfg.OnPhase != nil {
		s.cfg.OnPhase(old, p)
	}
}

// ---- persistence ----

// stateVersion is the first octet of a saved record.
const stateVersion = 1

// encodeState lays out the record:
//
//	version (1) | phase (1) | TTL (1) | Timeout Base (2) | BLOB ID (8) |
//	image index (1) | additional info (1) | metadata length (1) | metadata
func (u *update) encode() []byte {
	b := make([]byte, 0, 16+len(u.metadata))
	b = append(b, stateVersion, byte(u.phase), u.ttl, byte(u.timeoutBase), byte(u.timeoutBase>>8))
	for i := range 8 {
		b = append(b, byte(u.blobID>>(8*i)))
	}
	b = append(b, u.index, byte(u.info), byte(len(u.metadata)))
	return append(b, u.metadata...)
}

func (u *update) decode(b []byte) error {
	if len(b) < 16 || b[0] != stateVersion || int(b[15]) != len(b)-16 {
		return fmt.Errorf("dfu: server: bad state record of %d octets", len(b))
	}
	out := update{phase: Phase(b[1]), ttl: b[2], timeoutBase: uint16(b[3]) | uint16(b[4])<<8,
		index: b[13], info: AdditionalInfo(b[14])}
	for i := range 8 {
		out.blobID |= uint64(b[5+i]) << (8 * i)
	}
	if len(b) > 16 {
		out.metadata = bytes.Clone(b[16:])
	}
	if !out.phase.IsUpdatePhase() || !out.info.Valid() {
		return fmt.Errorf("dfu: server: bad state record: phase %s, info %s", out.phase, out.info)
	}
	*u = out
	return nil
}

func (s *Server) save() {
	var rec []byte
	if s.up.phase != PhaseIdle {
		rec = s.up.encode()
	}
	s.stats.Saves++
	if err := s.cfg.State.SaveState(rec); err != nil {
		s.log.Error("dfu: server: save state", slog.Any("err", err))
	}
}

// restore loads the saved update and returns what to do once the BLOB
// server exists.
func (s *Server) restore() func() {
	nothing := func() {}
	b, err := s.cfg.State.LoadState()
	if err != nil {
		s.log.Error("dfu: server: load state", slog.Any("err", err))
		return nothing
	}
	if b == nil {
		return nothing
	}
	if err := s.up.decode(b); err != nil || int(s.up.index) >= len(s.images) {
		s.log.Warn("dfu: server: discarding saved state", slog.Any("err", err))
		s.up = update{}
		s.save()
		return nothing
	}
	s.log.Info("dfu: server: recovered update", slog.String("phase", s.up.phase.String()))
	switch s.up.phase {
	case PhaseTransferActive:
		s.up.phase = PhaseTransferError
		s.save()
	case PhaseApplyingUpdate:
		s.up = update{}
		s.save()
	case PhaseVerificationSucceeded:
		s.up.phase = PhaseVerifyingUpdate
		s.save()
		return s.scheduleVerify
	case PhaseVerifyingUpdate:
		return s.scheduleVerify
	}
	return func() {
		// The BLOB server could not recover the transfer (its storage
		// lost the data): the transfer cannot resume.
		if s.up.phase == PhaseTransferError && s.blob.Phase() == blob.PhaseInactive {
			s.log.Info("dfu: server: BLOB transfer not recovered")
		}
	}
}
