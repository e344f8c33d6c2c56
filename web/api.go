package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meshdfu/meshdfu/fw"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/models/blob"
	"github.com/meshdfu/meshdfu/models/dfd"
)

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	// Status is the Distribution Server's status name when it refused
	// ("Busy With Distribution", "Receivers List Empty", ...).
	Status string `json:"status,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	body := apiError{Error: err.Error()}
	var se *dfd.StatusError
	if errors.As(err, &se) {
		body.Status = se.Status.String()
	}
	writeJSON(w, code, body)
}

// fail answers a Backend error with the status it calls for.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var se *dfd.StatusError
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &se):
		code = http.StatusConflict
		err = fmt.Errorf("%s: the distributor answered %s", op, se.Status)
		err = &statusErr{msg: err.Error(), se: se}
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
		err = fmt.Errorf("%s: the distributor did not answer in time: %w", op, err)
	case r.Context().Err() != nil:
		return // the client left
	}
	if code >= 500 {
		s.log.Warn("web: api", "op", op, "err", err)
	}
	writeError(w, code, err)
}

// statusErr keeps the dfd status for writeError while the message names
// the operation.
type statusErr struct {
	msg string
	se  *dfd.StatusError
}

func (e *statusErr) Error() string { return e.msg }
func (e *statusErr) Unwrap() error { return e.se }

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusBadRequest, fmt.Errorf(format, args...))
}

// decodeBody decodes a JSON body strictly into v; an empty body leaves v
// as it is when allowEmpty.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		badRequest(w, "reading the body: %v", err)
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return true
		}
		badRequest(w, "a JSON body is required")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "bad JSON body: %v", err)
		return false
	}
	if dec.More() {
		badRequest(w, "bad JSON body: more than one value")
		return false
	}
	return true
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) (*Snapshot, bool) {
	ctx, cancel := s.call(r)
	defer cancel()
	snap, err := s.cfg.Backend.Snapshot(ctx)
	if err != nil {
		s.fail(w, r, "status", err)
		return nil, false
	}
	return snap, true
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if snap, ok := s.snapshot(w, r); ok {
		writeJSON(w, http.StatusOK, NewStatus(snap))
	}
}

func (s *Server) getReceivers(w http.ResponseWriter, r *http.Request) {
	if snap, ok := s.snapshot(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"receivers": NewStatus(snap).Receivers})
	}
}

func (s *Server) getImages(w http.ResponseWriter, r *http.Request) {
	if snap, ok := s.snapshot(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"images": NewStatus(snap).Images})
	}
}

// ReceiversRequest is the JSON body of POST /api/receivers.
type ReceiversRequest struct {
	Receivers []ReceiverRequest `json:"receivers"`
}

// ReceiverRequest is one receiver to add: its unicast address ("0x0003")
// and the index of its firmware image to update (default 0).
type ReceiverRequest struct {
	Address    string `json:"address"`
	ImageIndex *int   `json:"image_index,omitempty"`
}

// ParseAddress reads a 16-bit address in hex, with or without 0x.
func ParseAddress(s string) (mesh.Address, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X"), 16, 16)
	if err != nil {
		return 0, fmt.Errorf("address %q: want 16-bit hex such as 0x0003", s)
	}
	return mesh.Address(v), nil
}

func (s *Server) postReceivers(w http.ResponseWriter, r *http.Request) {
	var req ReceiversRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	if len(req.Receivers) == 0 {
		badRequest(w, `no receivers: send {"receivers":[{"address":"0x0003","image_index":0}]}`)
		return
	}
	entries := make([]dfd.ReceiverEntry, 0, len(req.Receivers))
	for _, rr := range req.Receivers {
		a, err := ParseAddress(rr.Address)
		if err != nil {
			badRequest(w, "receiver %v", err)
			return
		}
		if !a.IsUnicast() {
			badRequest(w, "receiver %v is not a unicast address", a)
			return
		}
		idx := 0
		if rr.ImageIndex != nil {
			idx = *rr.ImageIndex
		}
		if idx < 0 || idx > 255 {
			badRequest(w, "receiver %v: image_index %d, want 0..255", a, idx)
			return
		}
		entries = append(entries, dfd.ReceiverEntry{Address: a, ImageIndex: uint8(idx)})
	}
	ctx, cancel := s.call(r)
	defer cancel()
	if err := s.cfg.Backend.AddReceivers(ctx, entries); err != nil {
		s.fail(w, r, "add receivers", err)
		return
	}
	s.after(w, r, http.StatusOK)
}

func (s *Server) deleteReceivers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.call(r)
	defer cancel()
	if err := s.cfg.Backend.DeleteReceivers(ctx); err != nil {
		s.fail(w, r, "delete receivers", err)
		return
	}
	s.after(w, r, http.StatusOK)
}

// after answers a successful change with the new status and lets the
// event stream send what changed now.
func (s *Server) after(w http.ResponseWriter, r *http.Request, code int) {
	s.hub.poke()
	if snap, ok := s.snapshot(w, r); ok {
		writeJSON(w, code, NewStatus(snap))
	}
}

// countingReader counts the octets read and reports progress.
type countingReader struct {
	r      io.Reader
	n      atomic.Int64
	report func(n int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.report(c.n.Add(int64(n)))
	}
	return n, err
}

// postImage stores an image file (meshdfu firmware pack) sent as the body,
// raw (application/octet-stream) or as the first file of a multipart form.
func (s *Server) postImage(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxImageSize)
	var src io.Reader = body
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			badRequest(w, "multipart body: %v", err)
			return
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				badRequest(w, "multipart body without a file part: %v", err)
				return
			}
			if p.FileName() != "" {
				src = p
				break
			}
		}
	}
	total := r.ContentLength
	var last time.Time
	cr := &countingReader{r: src, report: func(n int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || n == total {
			last = now
			s.hub.publish("upload", httpUpload(dfd.UploadTransferActive, n, total))
		}
	}}
	f, err := fw.ReadImageFile(cr)
	if err != nil {
		s.hub.publish("upload", httpUpload(dfd.UploadTransferError, cr.n.Load(), total))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("image file larger than %d octets", s.cfg.MaxImageSize))
			return
		}
		badRequest(w, "not a meshdfu image file (make one with meshdfu firmware pack): %v", err)
		return
	}
	if _, err := fw.ParseMetadata(f.Metadata); err != nil {
		s.hub.publish("upload", httpUpload(dfd.UploadTransferError, cr.n.Load(), total))
		badRequest(w, "image file metadata: %v", err)
		return
	}
	ctx, cancel := s.call(r)
	defer cancel()
	index, err := s.cfg.Backend.AddImage(ctx, f)
	if err != nil {
		s.hub.publish("upload", httpUpload(dfd.UploadTransferError, cr.n.Load(), total))
		s.fail(w, r, "store image", err)
		return
	}
	done := httpUpload(dfd.UploadTransferSuccess, cr.n.Load(), cr.n.Load())
	done.FirmwareID, done.Progress = hexOrEmpty(f.FirmwareID), 100
	s.hub.publish("upload", done)
	s.hub.poke()
	snap, ok := s.snapshot(w, r)
	if !ok {
		return
	}
	st := NewStatus(snap)
	for _, im := range st.Images {
		if im.Index == index {
			writeJSON(w, http.StatusCreated, im)
			return
		}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"index": index, "firmware_id": hexOrEmpty(f.FirmwareID)})
}

func httpUpload(p dfd.UploadPhase, n, total int64) Upload {
	u := Upload{Phase: p.String(), PhaseCode: int(p), Source: "http", Octets: n}
	if total > 0 {
		u.Total = total
		u.Progress = int(min(100, 100*n/total))
	}
	return u
}

func (s *Server) deleteImages(w http.ResponseWriter, r *http.Request) {
	s.removeImage(w, r, -1)
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 || i > 0xFFFE {
		badRequest(w, "image index %q: want a number 0..65534", r.PathValue("index"))
		return
	}
	s.removeImage(w, r, i)
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request, i int) {
	ctx, cancel := s.call(r)
	defer cancel()
	if err := s.cfg.Backend.DeleteImage(ctx, i); err != nil {
		s.fail(w, r, "delete image", err)
		return
	}
	s.after(w, r, http.StatusOK)
}

// StartBody is the JSON body of POST /api/start; every field is
// optional.
type StartBody struct {
	ImageIndex  *int    `json:"image_index,omitempty"`  // default 0
	Group       *string `json:"group,omitempty"`        // "0xC000", or "" / "unicast" (default)
	TTL         *int    `json:"ttl,omitempty"`          // 0..127, or 255 for the Default TTL (default)
	TimeoutBase *int    `json:"timeout_base,omitempty"` // default DefaultTimeoutBase
	Mode        *string `json:"mode,omitempty"`         // push, pull, auto (default)
	Policy      *string `json:"policy,omitempty"`       // verify, apply (default)
	AppKeyIndex *int    `json:"app_key_index,omitempty"`
}

// DefaultTimeoutBase is the Distribution Timeout Base of a Start that
// gives none: the targets wait 10 s × (2 + 1) for the next BLOB message.
const DefaultTimeoutBase = 2

// StartRequest checks b and returns the request it describes.
func (b *StartBody) StartRequest() (StartRequest, error) {
	req := StartRequest{TTL: access.DefaultTTL, TimeoutBase: DefaultTimeoutBase, Policy: dfd.PolicyVerifyAndApply}
	if b.ImageIndex != nil {
		if *b.ImageIndex < 0 || *b.ImageIndex > 0xFFFE {
			return req, fmt.Errorf("image_index %d: want 0..65534", *b.ImageIndex)
		}
		req.ImageIndex = uint16(*b.ImageIndex)
	}
	if b.Group != nil && *b.Group != "" && *b.Group != "unicast" {
		g, err := ParseAddress(*b.Group)
		if err != nil {
			return req, fmt.Errorf("group: %w", err)
		}
		if !g.IsGroup() && !g.IsVirtual() {
			return req, fmt.Errorf("group %v: want a group address (0xC000..0xFFFF) or \"unicast\"", g)
		}
		req.Group = g
	}
	if b.TTL != nil {
		if t := *b.TTL; t < 0 || (t > int(access.MaxTTL) && t != int(access.DefaultTTL)) {
			return req, fmt.Errorf("ttl %d: want 0..127, or 255 for the Default TTL", t)
		}
		req.TTL = uint8(*b.TTL)
	}
	if b.TimeoutBase != nil {
		if *b.TimeoutBase < 0 || *b.TimeoutBase > 0xFFFF {
			return req, fmt.Errorf("timeout_base %d: want 0..65535", *b.TimeoutBase)
		}
		req.TimeoutBase = uint16(*b.TimeoutBase)
	}
	if b.Mode != nil {
		switch strings.ToLower(*b.Mode) {
		case "push":
			req.Mode = blob.ModePush
		case "pull":
			req.Mode = blob.ModePull
		case "auto", "":
			req.Mode = blob.ModeNone
		default:
			return req, fmt.Errorf("mode %q: want push, pull or auto", *b.Mode)
		}
	}
	if b.Policy != nil {
		switch strings.ToLower(*b.Policy) {
		case "verify", "verify-only":
			req.Policy = dfd.PolicyVerifyOnly
		case "apply", "verify-and-apply":
			req.Policy = dfd.PolicyVerifyAndApply
		default:
			return req, fmt.Errorf("policy %q: want verify or apply", *b.Policy)
		}
	}
	if b.AppKeyIndex != nil {
		if *b.AppKeyIndex < 0 || *b.AppKeyIndex > 0xFFF {
			return req, fmt.Errorf("app_key_index %d: want 0..4095", *b.AppKeyIndex)
		}
		req.AppKeyIndex = uint16(*b.AppKeyIndex)
	}
	return req, nil
}

func (s *Server) postStart(w http.ResponseWriter, r *http.Request) {
	var body StartBody
	if !decodeBody(w, r, &body, true) {
		return
	}
	req, err := body.StartRequest()
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	ctx, cancel := s.call(r)
	defer cancel()
	if err := s.cfg.Backend.Start(ctx, req); err != nil {
		s.fail(w, r, "start", err)
		return
	}
	s.after(w, r, http.StatusOK)
}

// action serves a POST without a body that runs one Backend call.
func (s *Server) action(op string, f func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := s.call(r)
		defer cancel()
		if err := f(ctx); err != nil {
			s.fail(w, r, op, err)
			return
		}
		s.after(w, r, http.StatusOK)
	}
}
