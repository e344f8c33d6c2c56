package https

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"path"
	"time"
)

// HandlerConfig configures NewHandler. The zero value is usable.
type HandlerConfig struct {
	// ProductOctets is how many octets of version information, after the
	// Company ID, name the product and must match for an image to update
	// a device (see Newest). 0: any image of the same company and
	// Firmware ID length.
	ProductOctets int
	// Logger gets one line per request (nil: discard).
	Logger *slog.Logger
	// Now is the wall clock for request durations (nil: time.Now).
	Now func() time.Time
}

// NewHandler returns the update server's handler: Firmware Check and
// Firmware Retrieval over HTTPS (dfu.md §9) for the images of src.
//
//	GET …/check?cfwid=HEX  200 application/json, the manifest (CheckResult)
//	GET …/get?cfwid=HEX    200 application/gzip, the archive (WriteArchive)
//
// Any path ending in /check or /get is served, so the Update URI may have a
// path of its own. HEX is the device's current Firmware ID (either case).
// The image offered is Newest(images, cfwid, cfg.ProductOctets); when there
// is none the answer is 404. A bad cfwid is 400, other paths 404, methods
// other than GET and HEAD 405.
func NewHandler(src Source, cfg HandlerConfig) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &handler{src: src, cfg: cfg}
}

type handler struct {
	src Source
	cfg HandlerConfig
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	rw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr}
	defer func() {
		attrs = append(attrs, "status", rw.status, "bytes", rw.n, "elapsed", h.cfg.Now().Sub(start))
		h.cfg.Logger.Info("request", attrs...)
	}()
	op := path.Base(r.URL.Path)
	if op != "check" && op != "get" {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()["cfwid"]
	if len(q) != 1 {
		http.Error(rw, "want exactly one cfwid parameter", http.StatusBadRequest)
		return
	}
	cur, err := ParseFWID(q[0])
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	attrs = append(attrs, "cfwid", FormatFWID(cur))
	images, err := h.src.List()
	if err != nil {
		h.cfg.Logger.Error("listing images", "err", err)
		http.Error(rw, "cannot list images", http.StatusInternalServerError)
		return
	}
	sel, ok := Newest(images, cur, h.cfg.ProductOctets)
	if !ok {
		http.Error(rw, "no newer firmware for "+FormatFWID(cur), http.StatusNotFound)
		return
	}
	attrs = append(attrs, "fwid", FormatFWID(sel.FirmwareID))
	rw.Header().Set("Cache-Control", "no-store")
	if op == "check" {
		b, err := json.Marshal(CheckResult{FirmwareID: sel.FirmwareID, DFUChainSize: 1, Size: sel.Size})
		if err != nil {
			http.Error(rw, "bad image", http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(append(b, '\n'))
		return
	}
	img, err := h.src.Open(sel.FirmwareID)
	if err != nil {
		h.cfg.Logger.Error("opening image", "fwid", FormatFWID(sel.FirmwareID), "err", err)
		http.Error(rw, "cannot open image", http.StatusInternalServerError)
		return
	}
	defer img.Close()
	rw.Header().Set("Content-Type", ArchiveContentType)
	rw.Header().Set("Content-Disposition", `attachment; filename="`+FormatFWID(sel.FirmwareID)+`.tar.gz"`)
	if r.Method == http.MethodHead {
		return
	}
	// Buffer small archives so they go out with a Content-Length.
	var buf bytes.Buffer
	if sel.Size <= 1<<20 {
		if err := WriteArchive(&buf, sel, img); err != nil {
			h.cfg.Logger.Error("writing archive", "fwid", FormatFWID(sel.FirmwareID), "err", err)
			http.Error(rw, "cannot read image", http.StatusInternalServerError)
			return
		}
		rw.Write(buf.Bytes())
		return
	}
	if err := WriteArchive(rw, sel, img); err != nil {
		// The status is sent; abort the connection so the client sees a
		// broken body, not a short one.
		attrs = append(attrs, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// countingWriter records the status and the body octets of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wrote {
		c.status, c.wrote = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.wrote = true
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
