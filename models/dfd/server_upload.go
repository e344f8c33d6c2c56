package dfd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/fw/https"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
)

// OOB runs the Check Firmware OOB and Store Firmware OOB procedures for a
// Distribution Server (MshDFU; for https: URIs the Firmware Check and
// Retrieval over HTTPS of package fw/https). Network work happens off the
// node's executor; an implementation calls done on the executor (it posts
// it there), exactly once, unless cancel was called first.
//
// Errors wrap the fw/https sentinels, which the server maps to status codes
// (docs/dfd.md): https.ErrURIUnreachable → URI Unreachable,
// https.ErrNewFirmwareNotAvailable → New Firmware Not Available, and so on.
type OOB interface {
	// Check asks uri whether newer firmware exists for currentFWID.
	Check(uri string, currentFWID []byte, done func(https.CheckResult, error)) (cancel func())
	// Retrieve fetches the firmware want names for currentFWID, at most
	// maxSize octets: open is called once (possibly on another goroutine;
	// it only touches the fw.Store, which is safe for concurrent use) with
	// the firmware's Firmware ID, metadata and size and returns where the
	// image goes.
	Retrieve(uri string, currentFWID []byte, want https.CheckResult, maxSize int64,
		open func(https.Firmware) (io.Writer, error), done func(https.Firmware, error)) (cancel func())
}

// upload is the Upload state of the server.
type upload struct {
	phase  UploadPhase
	oob    bool
	fwid   []byte // the image's Firmware ID (for OOB, the new one once known)
	params UploadStart
	slot   string
	w      fw.SlotWriter

	// OOB
	uri      string
	current  []byte
	checking bool
	oobCtx   access.Context
	cancel   func()
	gen      uint64
	written  *atomic.Int64 // octets retrieved so far (written off the executor)
	size     int64
}

func (s *Server) setUploadPhase(p UploadPhase) {
	if p == s.up.phase {
		return
	}
	old := s.up.phase
	s.up.phase = p
	s.log.Info("dfd: server: upload phase", slog.String("from", old.String()), slog.String("phase", p.String()))
	if s.cfg.OnUploadPhase != nil {
		s.cfg.OnUploadPhase(old, p)
	}
}

// UploadPhase returns the Upload Phase.
func (s *Server) UploadPhase() UploadPhase { return s.up.phase }

func (s *Server) newUploadServer() error {
	bc := s.cfg.Upload
	bc.Clock, bc.Logger, bc.Storage = s.cfg.Clock, s.cfg.Logger, uploadStorage{s}
	if bc.Rand == nil {
		bc.Rand = s.rng
	}
	if bc.MaxBLOBSize == 0 {
		bc.MaxBLOBSize = s.cfg.MaxImageSize
	}
	bc.State = nil // an upload does not survive a restart: the client uploads again
	bc.OnComplete = func(id uint64) { s.uploadDone(id, nil) }
	bc.OnSuspended = func(id uint64) { s.uploadDone(id, errors.New("upload timed out")) }
	bc.OnCancel = func(id uint64, err error) {
		if err == nil {
			err = errors.New("upload cancelled")
		}
		s.uploadDone(id, err)
	}
	var err error
	s.usrv, err = blob.NewServer(bc)
	if err != nil {
		return fmt.Errorf("dfd: server: upload BLOB server: %w", err)
	}
	return nil
}

// uploadStorage gives the upload's BLOB server the slot writer.
type uploadStorage struct{ s *Server }

func (u uploadStorage) Open(id uint64, size uint32, resume bool) (blob.Writer, error) {
	up := &u.s.up
	switch {
	case up.w == nil || up.oob || up.params.BLOBID != id:
		return nil, fmt.Errorf("dfd: no upload for BLOB %016x", id)
	case resume:
		return nil, errors.New("dfd: an upload does not resume after a restart")
	case int64(size) != up.w.Size():
		return nil, fmt.Errorf("dfd: BLOB of %d octets, upload announced %d", size, up.w.Size())
	}
	return slotBLOB{up.w}, nil
}

type slotBLOB struct{ w fw.SlotWriter }

func (b slotBLOB) WriteAt(p []byte, off int64) (int, error) { return b.w.WriteAt(p, off) }
func (slotBLOB) Sync() error                                { return nil }
func (slotBLOB) Close() error                               { return nil }

func (s *Server) uploadDone(id uint64, err error) {
	up := &s.up
	if up.oob || up.phase != UploadTransferActive || up.params.BLOBID != id || up.w == nil {
		return
	}
	if err == nil {
		err = up.w.Commit()
	}
	if err != nil {
		s.log.Warn("dfd: server: upload failed", slog.Any("err", err))
		s.setUploadPhase(UploadTransferError) // the slot is released at the next upload
		return
	}
	up.w = nil
	s.setUploadPhase(UploadTransferSuccess)
}

// uploadStatus is the Upload Status of the current state.
func (s *Server) uploadStatus(st Status) *UploadStatus {
	up := &s.up
	m := &UploadStatus{Status: st, Phase: up.phase}
	if up.phase == UploadIdle || len(up.fwid) == 0 {
		return m
	}
	m.Details, m.OOB, m.FirmwareID = true, up.oob, up.fwid
	switch {
	case up.phase == UploadTransferSuccess:
		m.Progress = 100
	case up.oob && up.written != nil && up.size > 0:
		m.Progress = uint8(min(100, 100*up.written.Load()/up.size))
	case !up.oob:
		if done, total := s.usrv.Progress(); total > 0 {
			m.Progress = uint8(100 * done / total)
		}
	}
	return m
}

func (s *Server) uploadBusy() bool {
	return s.up.phase == UploadTransferActive || s.up.checking
}

// releaseUpload drops a reserved, uncommitted slot.
func (s *Server) releaseUpload() {
	up := &s.up
	if up.cancel != nil {
		up.cancel()
		up.cancel = nil
	}
	up.gen++
	if up.w != nil {
		_ = up.w.Abort()
		up.w = nil
	}
	up.checking = false
}

// uploadStart answers Upload Start (Store Firmware, docs/dfd.md; Zephyr
// handle_upload_start).
func (s *Server) uploadStart(m *UploadStart) *UploadStatus {
	up := &s.up
	if m.Size > s.cfg.MaxImageSize || m.Size == 0 {
		return s.uploadStatus(StatusInsufficientResources)
	}
	same := !up.oob && bytes.Equal(up.params.FirmwareID, m.FirmwareID) && bytes.Equal(up.params.Metadata, m.Metadata) &&
		up.params.BLOBID == m.BLOBID && up.params.TTL == m.TTL && up.params.TimeoutBase == m.TimeoutBase && up.params.Size == m.Size
	if s.uploadBusy() {
		if same {
			return s.uploadStatus(StatusSuccess)
		}
		return s.uploadStatus(StatusBusyWithUpload)
	}
	if same && up.phase == UploadTransferError && up.w != nil && s.usrv.Phase() == blob.PhaseSuspended {
		s.setUploadPhase(UploadTransferActive) // resumes: the client's Transfer Start continues the BLOB
		return s.uploadStatus(StatusSuccess)
	}
	s.releaseUpload()
	if _, _, ok := s.findImage(m.FirmwareID); ok {
		// Already stored: nothing to transfer (Zephyr).
		up.oob, up.fwid, up.params = false, m.FirmwareID, *m
		s.setUploadPhase(UploadTransferSuccess)
		return s.uploadStatus(StatusSuccess)
	}
	if len(s.cfg.Store.List()) >= s.cfg.MaxImages || int64(m.Size) > s.cfg.Store.Free() {
		return s.uploadStatus(StatusInsufficientResources)
	}
	name := SlotName(m.FirmwareID)
	w, err := s.cfg.Store.BeginWrite(name, m.FirmwareID, m.Metadata, int64(m.Size))
	if err != nil {
		s.log.Warn("dfd: server: upload slot", slog.Any("err", err))
		if errors.Is(err, fw.ErrNoSpace) {
			return s.uploadStatus(StatusInsufficientResources)
		}
		return s.uploadStatus(StatusInternalError)
	}
	if err := s.usrv.Prepare(m.BLOBID, m.TTL, m.TimeoutBase); err != nil {
		_ = w.Abort()
		s.log.Warn("dfd: server: upload BLOB server", slog.Any("err", err))
		return s.uploadStatus(StatusInternalError)
	}
	*up = upload{phase: up.phase, params: *m, fwid: m.FirmwareID, slot: name, w: w, gen: up.gen}
	s.setUploadPhase(UploadTransferActive)
	return s.uploadStatus(StatusSuccess)
}

// uploadCancel answers Upload Cancel.
func (s *Server) uploadCancel() *UploadStatus {
	if s.up.phase == UploadTransferActive && !s.up.oob && s.usrv.Phase() != blob.PhaseInactive {
		s.up.phase = UploadIdle // so OnCancel does not record an error
		_ = s.usrv.Cancel()
	}
	s.releaseUpload()
	s.setUploadPhase(UploadIdle)
	return s.uploadStatus(StatusSuccess)
}

// oobStatus maps an OOB error to its status code (docs/dfd.md).
func oobStatus(err error) Status {
	switch {
	case errors.Is(err, https.ErrScheme):
		return StatusURINotSupported
	case errors.Is(err, https.ErrURIMalformed):
		return StatusURIMalformed
	case errors.Is(err, https.ErrURIUnreachable), errors.Is(err, https.ErrManifest):
		return StatusURIUnreachable
	case errors.Is(err, https.ErrNewFirmwareNotAvailable):
		return StatusNewFirmwareNotAvailable
	case errors.Is(err, https.ErrTooLarge), errors.Is(err, fw.ErrNoSpace):
		return StatusInsufficientResources
	}
	return StatusInternalError
}

// checkURI validates an Upload URI against the supported schemes.
func (s *Server) checkURI(uri string) Status {
	i := strings.IndexByte(uri, ':')
	if i <= 0 {
		return StatusURIMalformed
	}
	scheme := strings.ToLower(uri[:i])
	code := map[string]byte{"http": SchemeHTTP, "https": SchemeHTTPS}[scheme]
	if code == 0 || !bytes.Contains(s.cfg.URISchemes, []byte{code}) {
		return StatusURINotSupported
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return StatusURIMalformed
	}
	return StatusSuccess
}

// uploadOOBStart handles Upload OOB Start: it validates, then runs Check
// Firmware OOB and answers when the check ends (nil now).
func (s *Server) uploadOOBStart(ctx *access.Context, m *UploadOOBStart) *UploadStatus {
	up := &s.up
	if s.uploadBusy() {
		if up.oob && up.uri == m.URI && bytes.Equal(up.current, m.FirmwareID) {
			if up.checking {
				return nil // answered when the check ends (Zephyr ignores it)
			}
			return s.uploadStatus(StatusSuccess)
		}
		return s.uploadStatus(StatusBusyWithUpload)
	}
	if s.cfg.OOB == nil {
		return s.uploadStatus(StatusURINotSupported)
	}
	if len(m.URI) > s.cfg.MaxURILen {
		s.log.Warn("dfd: server: Upload URI too long", slog.Int("octets", len(m.URI)), slog.Int("max", s.cfg.MaxURILen))
		return s.uploadStatus(StatusInternalError)
	}
	if st := s.checkURI(m.URI); st != StatusSuccess {
		return s.uploadStatus(st)
	}
	if len(s.cfg.Store.List()) >= s.cfg.MaxImages {
		return s.uploadStatus(StatusInsufficientResources)
	}
	s.releaseUpload()
	gen := up.gen
	*up = upload{phase: up.phase, oob: true, uri: m.URI, current: bytes.Clone(m.FirmwareID), checking: true, oobCtx: *ctx, gen: gen}
	up.cancel = s.cfg.OOB.Check(m.URI, m.FirmwareID, func(res https.CheckResult, err error) {
		if up.gen != gen || !up.checking {
			return
		}
		up.checking, up.cancel = false, nil
		s.checked(res, err)
	})
	return nil
}

// checked continues Upload OOB Start after Check Firmware OOB: it answers
// the Upload OOB Start and starts Store Firmware OOB.
func (s *Server) checked(res https.CheckResult, err error) {
	up := &s.up
	ctx := up.oobCtx
	answer := func(st Status) {
		s.stats.Requests++
		s.reply(&ctx, s.uploadStatus(st))
	}
	if err != nil {
		s.log.Warn("dfd: server: OOB check", slog.String("uri", up.uri), slog.Any("err", err))
		up.oob = false
		s.setUploadPhase(UploadIdle)
		answer(oobStatus(err))
		return
	}
	up.fwid = res.FirmwareID
	if _, _, ok := s.findImage(res.FirmwareID); ok {
		s.setUploadPhase(UploadTransferSuccess)
		answer(StatusSuccess)
		return
	}
	room := min(s.cfg.Store.Free(), int64(s.cfg.MaxImageSize))
	if res.Size > room {
		up.oob = false
		s.setUploadPhase(UploadIdle)
		answer(StatusInsufficientResources)
		return
	}
	up.size, up.written = res.Size, new(atomic.Int64)
	s.setUploadPhase(UploadTransferActive)
	answer(StatusSuccess)
	gen := up.gen
	store, written := s.cfg.Store, up.written
	var w fw.SlotWriter // set by open, read on the executor after done
	open := func(f https.Firmware) (io.Writer, error) {
		sw, err := store.BeginWrite(SlotName(f.FirmwareID), f.FirmwareID, f.Metadata, f.Size)
		if err != nil {
			return nil, err
		}
		w = sw
		return &countingWriter{w: sw, n: written}, nil
	}
	up.cancel = s.cfg.OOB.Retrieve(up.uri, up.current, res, room, open, func(f https.Firmware, err error) {
		if up.gen != gen {
			if w != nil {
				_ = w.Abort()
			}
			return
		}
		up.cancel = nil
		if err == nil && w == nil {
			err = errors.New("no image retrieved")
		}
		if err == nil {
			err = w.Commit()
		}
		if err != nil {
			if w != nil {
				_ = w.Abort()
			}
			s.log.Warn("dfd: server: OOB retrieval", slog.String("uri", up.uri), slog.Any("err", err))
			s.setUploadPhase(UploadTransferError)
			return
		}
		up.fwid = f.FirmwareID
		s.setUploadPhase(UploadTransferSuccess)
	})
}

// countingWriter writes a retrieved image sequentially into a slot and
// counts the octets for Upload Status progress.
type countingWriter struct {
	w fw.SlotWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.WriteAt(p, c.n.Load())
	c.n.Add(int64(n))
	return n, err
}
