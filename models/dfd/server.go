package dfd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfu"
)

// Server defaults.
const (
	// DefaultMaxReceivers is the default Max Distribution Receivers List
	// Size.
	DefaultMaxReceivers = 256
	// DefaultMaxImages is the default Max Firmware Images List Size.
	DefaultMaxImages = 8
	// DefaultMaxImageSize is the default Max Firmware Image Size.
	DefaultMaxImageSize = 1 << 20
	// DefaultUpdateMaxInFlight is how many targets the distributor's
	// Firmware Update Client talks to at once. Measured on sim/fleet with
	// 50 targets over 3 hops at 10 % loss (docs/dfd.md): with 2 or 4
	// segmented Firmware Update Starts (about 10 segments each) in flight,
	// relayed three times, the air saturated and Starts timed out; with 1
	// every target answered.
	DefaultUpdateMaxInFlight = 1
	// DefaultPollInterval is the time between Firmware Update Get rounds
	// while targets verify.
	DefaultPollInterval = 2 * time.Second
	// DefaultVerifyTimeout bounds the wait for targets to leave Verifying
	// Update.
	DefaultVerifyTimeout = 2 * time.Minute
)

// Payload builds the BLOB the targets receive from a stored image: its
// slot (Firmware ID, metadata) and the image octets.
type Payload func(slot fw.SlotInfo, image []byte) ([]byte, error)

// ImageFilePayload is the default Payload: the whole fw.ImageFile
// (Firmware ID, metadata, image, CRC-32C), what a meshdfu target
// (dfu.Firmware) verifies and installs.
func ImageFilePayload(slot fw.SlotInfo, image []byte) ([]byte, error) {
	f := fw.ImageFile{FirmwareID: slot.FirmwareID, Metadata: slot.Metadata, Image: image}
	return f.MarshalBinary()
}

// RawPayload sends the image alone, for targets (Zephyr and others) that
// receive the bare image.
func RawPayload(_ fw.SlotInfo, image []byte) ([]byte, error) { return image, nil }

// ServerConfig configures a Server. Clock and Store are required; zero
// fields take the documented defaults.
type ServerConfig struct {
	Clock  mesh.Clock
	Layer  *access.Layer // nil: set later with SetLayer; nothing is sent before
	Logger *slog.Logger  // nil: discard
	// Rand draws BLOB IDs; nil: a fixed seed.
	Rand *rand.Rand

	// Store holds the Firmware Images List: one slot per image, in the
	// order the store lists them (fw.Store.List).
	Store fw.Store
	// State keeps the receivers, the distribution and each receiver's
	// progress across restarts; nil: a fresh blob.MemoryStateStore.
	State StateStore

	// AppKeyIndex is the AppKey the distributor's Firmware Update and BLOB
	// Transfer Clients use; a Distribution Start naming another index is
	// answered Invalid AppKey Index (the clients are built once, with
	// their model on the element).
	AppKeyIndex uint16
	// Update configures the Firmware Update Client that drives the
	// targets (Clock, Logger, AppKeyIndex and BLOB are filled in);
	// MaxInFlight 0 takes DefaultUpdateMaxInFlight.
	Update dfu.ClientConfig
	// BLOBClient configures the BLOB Transfer Client under it (Clock,
	// Logger and AppKeyIndex are filled in).
	BLOBClient blob.ClientConfig
	// Upload configures the BLOB Transfer Server that receives in-band
	// uploads (Clock, Rand, Logger and Storage are filled in; MaxBLOBSize
	// defaults to MaxImageSize).
	Upload blob.ServerConfig

	// Capabilities.
	MaxReceivers int    // 0: DefaultMaxReceivers (at most 65535)
	MaxImages    int    // 0: DefaultMaxImages
	MaxImageSize uint32 // 0: DefaultMaxImageSize
	// MaxUploadSpace is the Max Upload Space reported; 0: the store's
	// capacity, or MaxImages × MaxImageSize when the store has none.
	MaxUploadSpace uint32

	// OOB runs Check Firmware OOB and Store Firmware OOB; nil: OOB upload
	// is not supported (Upload OOB Start answers URI Not Supported).
	OOB OOB
	// URISchemes are the Supported URI Scheme Names with OOB; nil:
	// SchemeHTTPS.
	URISchemes []byte
	// MaxURILen is the longest Upload URI the server takes, in octets
	// (1..MaxURILen); 0: MaxURILen, all the message can carry. A longer
	// one is answered Internal Error, as Zephyr answers a URI longer than
	// its buffer (docs/dfd.md).
	MaxURILen int

	// Payload builds the BLOB sent to the targets; nil: ImageFilePayload.
	Payload Payload
	// PollInterval and VerifyTimeout pace the verification step; 0:
	// DefaultPollInterval, DefaultVerifyTimeout.
	PollInterval  time.Duration
	VerifyTimeout time.Duration

	// OnPhase runs on every Distribution Phase change.
	OnPhase func(old, new Phase)
	// OnStep runs when the distribution procedure begins a step:
	// "start", "transfer", "verify", "apply", "confirm" (in that order,
	// skipping those with nothing to do) or "cancel".
	OnStep func(step string)
	// OnUploadPhase runs on every Upload Phase change.
	OnUploadPhase func(old, new UploadPhase)
	// OnReceiver runs when a receiver's state changes (phase, failure).
	OnReceiver func(r Receiver)
}

// Receiver is one entry of the Distribution Receivers List with what the
// distributor knows of it.
type Receiver struct {
	Address        mesh.Address
	ImageIndex     uint8
	Phase          dfu.Phase   // Retrieved Update Phase
	UpdateStatus   dfu.Status  // last Firmware Update status from the target
	TransferStatus blob.Status // last BLOB Transfer status from the target
	Progress       uint8       // BLOB transfer progress, percent
	BlocksDone     int
	Blocks         int
	AdditionalInfo dfu.AdditionalInfo
	// Failed is set once the receiver left the distribution; Reason says
	// why (the step and the target's answer, or the silence).
	Failed bool
	Reason string
}

type receiver struct {
	Receiver
	err error
}

// ServerStats counts what a Server did.
type ServerStats struct {
	Requests uint64 // requests answered
	Dropped  uint64 // requests that failed to decode
	Saves    uint64 // state records written
	Restored bool   // the state came from the StateStore
}

// Server is the Firmware Distribution Server model (SIG model 0x1404) of a
// distributor, with the BLOB Transfer Server it extends (in-band uploads)
// and its own Firmware Update Client and BLOB Transfer Client (the
// distribution). Add Models() to one element; a self-update target (a
// dfu.Server) goes on another element of the same node. The Distribution
// Phase moves as Phase's diagram shows, the Upload Phase as UploadPhase's.
//
// Call every method on the node's executor.
type Server struct {
	cfg   ServerConfig
	log   *slog.Logger
	clk   mesh.Clock
	rng   *rand.Rand
	model *access.Model
	layer *access.Layer

	ucli *dfu.Client
	bcli *blob.Client
	usrv *blob.Server
	base blob.Strategy

	receivers []*receiver
	phase     Phase
	dist      *distRecord
	run       *distRun
	gen       uint64
	pending   bool // a restored distribution waits for SetLayer

	up    upload
	stats ServerStats

	// reply answers a request; tests replace it.
	reply func(ctx *access.Context, m access.Message)
}

// NewServer returns a Server. When cfg.State holds a record, the Server
// comes back with its receivers, its distribution and each receiver's
// progress; a distribution that was running continues once the Server
// has its access layer (SetLayer), from where the targets stopped.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Clock == nil || cfg.Store == nil {
		return nil, fmt.Errorf("%w: ServerConfig needs a Clock and a Store", ErrConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(0x0dfd, 1))
	}
	if cfg.State == nil {
		cfg.State = &blob.MemoryStateStore{}
	}
	if cfg.MaxReceivers <= 0 {
		cfg.MaxReceivers = DefaultMaxReceivers
	}
	cfg.MaxReceivers = min(cfg.MaxReceivers, math.MaxUint16)
	if cfg.MaxImages <= 0 {
		cfg.MaxImages = DefaultMaxImages
	}
	if cfg.MaxImageSize == 0 {
		cfg.MaxImageSize = DefaultMaxImageSize
	}
	if cfg.MaxUploadSpace == 0 {
		if c := cfg.Store.Capacity(); c > 0 {
			cfg.MaxUploadSpace = uint32(min(c, math.MaxUint32))
		} else {
			cfg.MaxUploadSpace = uint32(min(uint64(cfg.MaxImages)*uint64(cfg.MaxImageSize), math.MaxUint32))
		}
	}
	if cfg.URISchemes == nil {
		cfg.URISchemes = []byte{SchemeHTTPS}
	}
	if cfg.MaxURILen <= 0 || cfg.MaxURILen > MaxURILen {
		cfg.MaxURILen = MaxURILen
	}
	if cfg.Payload == nil {
		cfg.Payload = ImageFilePayload
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	s := &Server{cfg: cfg, log: cfg.Logger, clk: cfg.Clock, rng: cfg.Rand, layer: cfg.Layer}
	s.reply = s.send

	bc := cfg.BLOBClient
	bc.Clock, bc.Logger, bc.AppKeyIndex, bc.Layer = cfg.Clock, cfg.Logger, cfg.AppKeyIndex, cfg.Layer
	var err error
	if s.bcli, err = blob.NewClient(bc); err != nil {
		return nil, fmt.Errorf("dfd: server: %w", err)
	}
	s.base = s.bcli.Strategy()
	uc := cfg.Update
	uc.Clock, uc.Logger, uc.AppKeyIndex, uc.BLOB, uc.Layer = cfg.Clock, cfg.Logger, cfg.AppKeyIndex, s.bcli, cfg.Layer
	if uc.MaxInFlight == 0 {
		uc.MaxInFlight = DefaultUpdateMaxInFlight
	}
	// The Firmware Update requests cross the same relays as the BLOB
	// transfer: the same assumptions about them.
	if uc.PDUInterval == 0 {
		uc.PDUInterval = s.base.PDUInterval
	}
	if uc.RelayTransmissions == 0 {
		uc.RelayTransmissions = s.base.RelayTransmissions
	}
	if uc.RelayLoad == 0 {
		uc.RelayLoad = s.base.RelayLoad
	}
	if s.ucli, err = dfu.NewClient(uc); err != nil {
		return nil, fmt.Errorf("dfd: server: %w", err)
	}
	if err := s.newUploadServer(); err != nil {
		return nil, err
	}

	s.model = &access.Model{ID: ServerModelID, NoPublication: true}
	for _, op := range []access.Opcode{
		OpReceiversAdd, OpReceiversDeleteAll, OpReceiversGet, OpCapabilitiesGet, OpGet, OpStart,
		OpSuspend, OpCancel, OpApply, OpUploadGet, OpUploadStart, OpUploadOOBStart, OpUploadCancel,
		OpFirmwareGet, OpFirmwareGetByIndex, OpFirmwareDelete, OpFirmwareDeleteAll,
	} {
		s.model.Ops = append(s.model.Ops, access.Op{Opcode: op, Handler: s.handle(op)})
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	return s, nil
}

// Model returns the Firmware Distribution Server model.
func (s *Server) Model() *access.Model { return s.model }

// Models returns the models to add to the distributor's element: the
// Firmware Distribution Server, the BLOB Transfer Server it extends, and
// the Firmware Update Client and BLOB Transfer Client it drives.
func (s *Server) Models() []*access.Model {
	return []*access.Model{s.model, s.usrv.Model(), s.ucli.Model(), s.bcli.Model()}
}

// UpdateClient returns the distributor's Firmware Update Client.
func (s *Server) UpdateClient() *dfu.Client { return s.ucli }

// BLOBClient returns the distributor's BLOB Transfer Client.
func (s *Server) BLOBClient() *blob.Client { return s.bcli }

// UploadServer returns the BLOB Transfer Server that receives uploads.
func (s *Server) UploadServer() *blob.Server { return s.usrv }

// SetLayer gives the Server (and its clients and upload server) the access
// layer its models were added to. A restored distribution continues then.
func (s *Server) SetLayer(l *access.Layer) {
	s.layer = l
	s.ucli.SetLayer(l)
	s.bcli.SetLayer(l)
	s.usrv.SetLayer(l)
	if s.pending {
		s.pending = false
		gen := s.gen
		s.clk.AfterFunc(0, func() {
			if gen == s.gen {
				s.continueRestored()
			}
		})
	}
}

// Phase returns the Distribution Phase.
func (s *Server) Phase() Phase { return s.phase }

// Stats returns the counters.
func (s *Server) Stats() ServerStats { return s.stats }

// Receivers returns a snapshot of the Distribution Receivers List.
func (s *Server) Receivers() []Receiver {
	out := make([]Receiver, len(s.receivers))
	for i, r := range s.receivers {
		out[i] = r.Receiver
	}
	return out
}

// Images returns the Firmware Images List: the committed slots of the
// store, in their order (the index of a slot is its position).
func (s *Server) Images() []fw.SlotInfo { return s.cfg.Store.List() }

// SlotName is the store slot an image with Firmware ID fwid goes to.
func SlotName(fwid []byte) string {
	h := sha256.Sum256(fwid)
	return "fw-" + hex.EncodeToString(h[:8])
}

func (s *Server) findImage(fwid []byte) (int, fw.SlotInfo, bool) {
	for i, in := range s.cfg.Store.List() {
		if bytes.Equal(in.FirmwareID, fwid) {
			return i, in, true
		}
	}
	return NotListed, fw.SlotInfo{}, false
}

// ---- receive ----

func (s *Server) handle(op access.Opcode) access.Handler {
	return func(ctx *access.Context, p []byte) {
		m := NewMessage(op)
		if err := m.Unmarshal(p); err != nil {
			s.stats.Dropped++
			if s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("dfd: server: drop", slog.Any("src", ctx.Src), slog.String("opcode", opName(op)), slog.Any("err", err))
			}
			return
		}
		s.Receive(ctx, m)
	}
}

// Receive handles a decoded request from ctx.Src and sends the answer
// (Upload OOB Start is answered once the OOB check ends). It is what the
// access handlers call; tests call it directly.
func (s *Server) Receive(ctx *access.Context, m access.Message) {
	var resp access.Message
	switch m := m.(type) {
	case *ReceiversAdd:
		resp = s.receiversAdd(m)
	case *ReceiversDeleteAll:
		resp = s.receiversDeleteAll()
	case *ReceiversGet:
		resp = s.receiversGet(m)
	case *CapabilitiesGet:
		resp = s.capabilities()
	case *Get:
		resp = s.status(StatusSuccess)
	case *Start:
		resp = s.start(m)
	case *Suspend:
		resp = s.suspend()
	case *Cancel:
		resp = s.cancel(ctx)
	case *Apply:
		resp = s.apply()
	case *UploadGet:
		resp = s.uploadStatus(StatusSuccess)
	case *UploadStart:
		resp = s.uploadStart(m)
	case *UploadOOBStart:
		st := s.uploadOOBStart(ctx, m)
		if st == nil {
			return // answered when the OOB check ends
		}
		resp = st
	case *UploadCancel:
		resp = s.uploadCancel()
	case *FirmwareGet:
		resp = s.firmwareGet(m)
	case *FirmwareGetByIndex:
		resp = s.firmwareGetByIndex(m)
	case *FirmwareDelete:
		resp = s.firmwareDelete(m)
	case *FirmwareDeleteAll:
		resp = s.firmwareDeleteAll()
	default:
		return
	}
	if resp != nil {
		s.stats.Requests++
		s.reply(ctx, resp)
	}
}

func (s *Server) send(ctx *access.Context, m access.Message) {
	if s.layer == nil {
		return
	}
	if err := s.layer.Reply(s.model, ctx, m, nil); err != nil {
		s.log.Warn("dfd: server: reply", slog.Any("dst", ctx.Src), slog.Any("err", err))
	}
}

// ---- receivers ----

// busy reports whether the distribution holds the receivers list (Zephyr
// bt_mesh_dfu_cli_is_busy: a procedure runs).
func (s *Server) busy() bool {
	switch s.phase {
	case PhaseTransferActive, PhaseTransferSuspended, PhaseApplyingUpdate, PhaseCancelingUpdate:
		return true
	}
	return false
}

func (s *Server) receiversAdd(m *ReceiversAdd) *ReceiversStatus {
	if s.busy() {
		return &ReceiversStatus{StatusBusyWithDistribution, uint16(len(s.receivers))}
	}
	st := StatusSuccess
	for _, e := range m.Entries {
		if !e.Address.IsUnicast() {
			continue // skipped, as Zephyr does
		}
		if r := s.receiver(e.Address); r != nil {
			r.ImageIndex = e.ImageIndex
			continue
		}
		if len(s.receivers) >= s.cfg.MaxReceivers {
			st = StatusInsufficientResources // entries before this one stay (Zephyr)
			break
		}
		s.receivers = append(s.receivers, &receiver{Receiver: Receiver{Address: e.Address, ImageIndex: e.ImageIndex, Phase: dfu.PhaseUnknown}})
	}
	s.save()
	return &ReceiversStatus{st, uint16(len(s.receivers))}
}

func (s *Server) receiversDeleteAll() *ReceiversStatus {
	if s.busy() {
		return &ReceiversStatus{StatusBusyWithDistribution, uint16(len(s.receivers))}
	}
	s.receivers = nil
	s.save()
	return &ReceiversStatus{StatusSuccess, 0}
}

func (s *Server) receiver(a mesh.Address) *receiver {
	for _, r := range s.receivers {
		if r.Address == a {
			return r
		}
	}
	return nil
}

func (s *Server) receiversGet(m *ReceiversGet) *ReceiversList {
	l := &ReceiversList{Count: uint16(len(s.receivers)), FirstIndex: m.FirstIndex}
	s.refreshProgress()
	for i := int(m.FirstIndex); i < len(s.receivers) && len(l.Entries) < int(m.EntriesLimit) && len(l.Entries) < MaxReceiversPerList; i++ {
		r := s.receivers[i]
		l.Entries = append(l.Entries, NodeEntry{Address: r.Address, Phase: r.Phase, UpdateStatus: r.UpdateStatus,
			TransferStatus: r.TransferStatus, Progress: r.Progress, ImageIndex: r.ImageIndex})
	}
	return l
}

// ---- capabilities ----

func (s *Server) capabilities() *CapabilitiesStatus {
	free := s.cfg.Store.Free()
	used := s.cfg.Store.Used()
	remaining := max(0, min(free, int64(s.cfg.MaxUploadSpace)-used))
	c := &CapabilitiesStatus{
		MaxReceivers: uint16(s.cfg.MaxReceivers), MaxImages: uint16(min(s.cfg.MaxImages, math.MaxUint16)),
		MaxImageSize: s.cfg.MaxImageSize, MaxUploadSpace: s.cfg.MaxUploadSpace,
		RemainingUploadSpace: uint32(min(remaining, math.MaxUint32)),
	}
	if s.cfg.OOB != nil {
		c.OOBSupported, c.URISchemes = true, bytes.Clone(s.cfg.URISchemes)
	}
	return c
}

// ---- firmware images list ----

func (s *Server) entryCount() uint16 { return uint16(min(len(s.cfg.Store.List()), math.MaxUint16)) }

func (s *Server) firmwareGet(m *FirmwareGet) *FirmwareStatus {
	if i, _, ok := s.findImage(m.FirmwareID); ok {
		return &FirmwareStatus{StatusSuccess, s.entryCount(), uint16(i), m.FirmwareID}
	}
	return &FirmwareStatus{StatusFirmwareNotFound, s.entryCount(), NotListed, m.FirmwareID}
}

func (s *Server) firmwareGetByIndex(m *FirmwareGetByIndex) *FirmwareStatus {
	list := s.cfg.Store.List()
	if int(m.Index) < len(list) {
		return &FirmwareStatus{StatusSuccess, s.entryCount(), m.Index, list[m.Index].FirmwareID}
	}
	return &FirmwareStatus{StatusFirmwareNotFound, s.entryCount(), m.Index, nil}
}

func (s *Server) firmwareDelete(m *FirmwareDelete) *FirmwareStatus {
	if s.phase != PhaseIdle {
		return &FirmwareStatus{StatusBusyWithDistribution, s.entryCount(), NotListed, nil}
	}
	if _, in, ok := s.findImage(m.FirmwareID); ok {
		if err := s.cfg.Store.Delete(in.Name); err != nil {
			s.log.Error("dfd: server: delete image", slog.String("slot", in.Name), slog.Any("err", err))
			return &FirmwareStatus{StatusInternalError, s.entryCount(), NotListed, nil}
		}
	}
	return &FirmwareStatus{StatusSuccess, s.entryCount(), NotListed, m.FirmwareID}
}

func (s *Server) firmwareDeleteAll() *FirmwareStatus {
	if s.phase != PhaseIdle {
		return &FirmwareStatus{StatusBusyWithDistribution, s.entryCount(), NotListed, nil}
	}
	for _, in := range s.cfg.Store.List() {
		if err := s.cfg.Store.Delete(in.Name); err != nil {
			s.log.Error("dfd: server: delete image", slog.String("slot", in.Name), slog.Any("err", err))
			return &FirmwareStatus{StatusInternalError, s.entryCount(), NotListed, nil}
		}
	}
	return &FirmwareStatus{StatusSuccess, 0, NotListed, nil}
}

// ---- persistence ----

func (s *Server) record() stateRecord {
	rec := stateRecord{Version: stateVersion, Phase: s.phase, Dist: s.dist}
	for _, r := range s.receivers {
		rec.Receivers = append(rec.Receivers, receiverRecord{
			Address: r.Address, ImageIndex: r.ImageIndex, Phase: r.Phase, UpdateStatus: r.UpdateStatus,
			TransferStatus: r.TransferStatus, BlocksDone: r.BlocksDone, Blocks: r.Blocks,
			AdditionalInfo: r.AdditionalInfo, Failed: r.Failed, Reason: r.Reason,
		})
	}
	return rec
}

func (s *Server) save() {
	b, err := json.Marshal(s.record())
	if err == nil {
		err = s.cfg.State.SaveState(b)
	}
	if err != nil {
		s.log.Error("dfd: server: save state", slog.Any("err", err))
		return
	}
	s.stats.Saves++
}

func (s *Server) restore() error {
	b, err := s.cfg.State.LoadState()
	if err != nil {
		return fmt.Errorf("dfd: server: load state: %w", err)
	}
	if b == nil {
		return nil
	}
	rec, err := decodeState(b)
	if err != nil {
		return fmt.Errorf("dfd: server: %w", err)
	}
	s.stats.Restored = true
	for _, r := range rec.Receivers {
		rv := &receiver{Receiver: Receiver{Address: r.Address, ImageIndex: r.ImageIndex, Phase: r.Phase,
			UpdateStatus: r.UpdateStatus, TransferStatus: r.TransferStatus, BlocksDone: r.BlocksDone, Blocks: r.Blocks,
			AdditionalInfo: r.AdditionalInfo, Failed: r.Failed, Reason: r.Reason}}
		if rv.Failed {
			rv.err = errors.New(rv.Reason)
		}
		s.receivers = append(s.receivers, rv)
	}
	s.dist, s.phase = rec.Dist, rec.Phase
	switch s.phase {
	case PhaseTransferActive, PhaseApplyingUpdate, PhaseCancelingUpdate:
		s.pending = true
	}
	s.log.Info("dfd: server: restored", slog.String("phase", s.phase.String()), slog.Int("receivers", len(s.receivers)))
	return nil
}

// SetTestReply replaces the sending of answers with f (for tests of the
// server alone, without an access layer).
func (s *Server) SetTestReply(f func(m access.Message)) {
	s.reply = func(_ *access.Context, m access.Message) { f(m) }
}
