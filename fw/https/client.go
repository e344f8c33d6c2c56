package https

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshdfu/meshdfu/fw"
)

// Request paths and limits (dfu.md §9).
const (
	// MaxURILen is the longest Update or Upload URI in octets: the URI
	// length fields are one octet (dfu.md §5.14, §10).
	MaxURILen = 255
	// CheckPath and RetrievePath are appended to the URI, followed by
	// "?cfwid=" and the current Firmware ID in hex (dfu.md §9.1, §9.2).
	CheckPath    = "/check"
	RetrievePath = "/get"
)

// Defaults for the zero fields of Config.
const (
	DefaultConnectTimeout = 15 * time.Second
	DefaultHeaderTimeout  = 30 * time.Second
	DefaultStallTimeout   = 60 * time.Second
	DefaultTimeout        = 30 * time.Minute
	DefaultMaxRedirects   = 5
)

// Config configures a Client. Zero fields take the documented defaults. A
// Config must not change once NewClient has it.
type Config struct {
	// RootCAs are the certificate authorities the client trusts. nil: the
	// system's roots.
	RootCAs *x509.CertPool
	// CAFile names a PEM file of further CA certificates, e.g. the
	// certificate "meshdfu updateserver --self-signed" writes. They are
	// added to RootCAs (or to the system's roots when RootCAs is nil).
	CAFile string
	// ConnectTimeout bounds the TCP connect and the TLS handshake, each
	// (0: DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response headers after the
	// request is sent (0: DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// StallTimeout bounds the wait for the next octet of a body
	// (0: DefaultStallTimeout).
	StallTimeout time.Duration
	// Timeout bounds a whole Check or Retrieve, body included
	// (0: DefaultTimeout).
	Timeout time.Duration
	// MaxRedirects is how many redirects a request follows
	// (0: DefaultMaxRedirects; negative: none). Each must stay on https.
	MaxRedirects int
	// Logger receives a debug line per request (nil: discard).
	Logger *slog.Logger
}

// Client runs Firmware Check and Firmware Retrieval over HTTPS. TLS is
// always verified. A Client is safe for concurrent use; it holds idle
// connections until CloseIdleConnections.
type Client struct {
	cfg Config
	hc  *http.Client
	tr  *http.Transport
	log *slog.Logger
	now func() time.Time // wall clock, for request logs
}

// NewClient returns a Client for cfg. It fails when CAFile cannot be read
// or holds no certificate.
func NewClient(cfg Config) (*Client, error) {
	cfg.withDefaults()
	pool := cfg.RootCAs
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("https: CA file: %w", err)
		}
		if pool != nil {
			pool = pool.Clone()
		} else if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("https: CA file %s: no PEM certificate", cfg.CAFile)
		}
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
	}
	c := &Client{cfg: cfg, tr: tr, log: cfg.Logger, now: time.Now}
	c.hc = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c, nil
}

func (c *Config) withDefaults() {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = DefaultMaxRedirects
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// CloseIdleConnections closes connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.tr.CloseIdleConnections() }

// checkRedirect refuses a redirect off https before it is followed, so no
// request ever leaves in clear text.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if !strings.EqualFold(req.URL.Scheme, "https") {
		return fmt.Errorf("%w: redirect to %s", ErrScheme, req.URL.Redacted())
	}
	if max(c.cfg.MaxRedirects, 0) < len(via) {
		return fmt.Errorf("%w: more than %d redirects", ErrURIUnreachable, max(c.cfg.MaxRedirects, 0))
	}
	return nil
}

// RequestURL builds the request URL of Firmware Check (path CheckPath) or
// Retrieval (RetrievePath): uri, then path, then "?cfwid=" and the current
// Firmware ID in upper-case hex (dfu.md §9.1). One trailing slash of uri is
// dropped, so ".../fw/" and ".../fw" give the same request. It checks uri
// as an Upload URI: at most MaxURILen octets (ErrURITooLong), UTF-8, scheme
// https (ErrScheme), a host, no user information, query or fragment
// (ErrURIMalformed); and the Firmware ID's length (fw.ErrFirmwareID).
func RequestURL(uri, path string, currentFWID []byte) (string, error) {
	if len(uri) > MaxURILen {
		return "", fmt.Errorf("%w: %d octets, at most %d", ErrURITooLong, len(uri), MaxURILen)
	}
	if !utf8.ValidString(uri) {
		return "", fmt.Errorf("%w: not UTF-8", ErrURIMalformed)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrURIMalformed, err)
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return "", fmt.Errorf("%w: %q", ErrScheme, truncate(u.Scheme))
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%w: no host in %q", ErrURIMalformed, truncate(uri))
	case u.User != nil:
		return "", fmt.Errorf("%w: user information in URI", ErrURIMalformed)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(uri, "?#"):
		return "", fmt.Errorf("%w: query or fragment in %q", ErrURIMalformed, truncate(uri))
	}
	if err := fw.CheckFirmwareID(currentFWID); err != nil {
		return "", fmt.Errorf("https: current Firmware ID: %w", err)
	}
	return strings.TrimSuffix(uri, "/") + path + "?cfwid=" + FormatFWID(currentFWID), nil
}

// Check runs Firmware Check over HTTPS (dfu.md §9.1): GET
// {uri}/check?cfwid={currentFWID}. 200 with a JSON manifest (Content-Type
// application/json) gives the new firmware; 404, or a manifest naming the
// current Firmware ID, is ErrNewFirmwareNotAvailable. Errors wrap one of
// the package's sentinels (docs/https.md maps them to status codes) or
// ctx's error when ctx is cancelled.
func (c *Client) Check(ctx context.Context, uri string, currentFWID []byte) (CheckResult, error) {
	u, err := RequestURL(uri, CheckPath, currentFWID)
	if err != nil {
		return CheckResult{}, err
	}
	rctx, cancel := c.requestContext(ctx)
	defer cancel(nil)
	resp, body, err := c.get(rctx, cancel, u, "check")
	if err != nil {
		return CheckResult{}, c.ctxErr(ctx, err)
	}
	defer resp.Body.Close()
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return CheckResult{}, fmt.Errorf("%w: check: Content-Type %q, want application/json", ErrManifest, truncate(resp.Header.Get("Content-Type")))
	}
	if resp.ContentLength > MaxManifestSize {
		return CheckResult{}, fmt.Errorf("%w: check: manifest of %d octets, at most %d", ErrManifest, resp.ContentLength, MaxManifestSize)
	}
	p, err := io.ReadAll(&boundReader{r: body, left: MaxManifestSize})
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return CheckResult{}, fmt.Errorf("%w: check: manifest longer than %d octets", ErrManifest, MaxManifestSize)
		}
		return CheckResult{}, c.ctxErr(ctx, err)
	}
	res, err := ParseManifest(p)
	if err != nil {
		return CheckResult{}, fmt.Errorf("https: check %s: %w", u, err)
	}
	if string(res.FirmwareID) == string(currentFWID) {
		return CheckResult{}, fmt.Errorf("%w: the server names the current firmware %s", ErrNewFirmwareNotAvailable, FormatFWID(currentFWID))
	}
	return res, nil
}

// Retrieve runs Firmware Retrieval over HTTPS (dfu.md §9.2), GET
// {uri}/get?cfwid={currentFWID}, and streams the image into w. want is the
// Check result (its Firmware ID and size bind the archive; the zero value
// binds nothing) and maxSize the space the image may take, e.g. the
// store's Free(): the image may not exceed min(want.Size, maxSize) octets
// and the body that bound plus ArchiveOverhead (ErrTooLarge). It returns
// the retrieved firmware's Firmware ID, metadata and size. On error,
// discard what reached w.
func (c *Client) Retrieve(ctx context.Context, uri string, currentFWID []byte, want CheckResult, maxSize int64, w io.Writer) (Firmware, error) {
	return c.RetrieveTo(ctx, uri, currentFWID, want, maxSize, func(Firmware) (io.Writer, error) { return w, nil })
}

// RetrieveTo is Retrieve for a destination that needs the Firmware ID,
// metadata and size before the first image octet (a slot store's
// BeginWrite): open is called once with them and returns the writer.
func (c *Client) RetrieveTo(ctx context.Context, uri string, currentFWID []byte, want CheckResult, maxSize int64, open func(Firmware) (io.Writer, error)) (Firmware, error) {
	u, err := RequestURL(uri, RetrievePath, currentFWID)
	if err != nil {
		return Firmware{}, err
	}
	limit := min(maxSize, MaxImageSize)
	if want.Size > 0 {
		limit = min(limit, want.Size)
	}
	if limit < 1 || want.Size > maxSize {
		return Firmware{}, fmt.Errorf("%w: announced %d octets, room for %d", ErrTooLarge, want.Size, max(maxSize, 0))
	}
	rctx, cancel := c.requestContext(ctx)
	defer cancel(nil)
	resp, body, err := c.get(rctx, cancel, u, "get")
	if err != nil {
		return Firmware{}, c.ctxErr(ctx, err)
	}
	defer resp.Body.Close()
	// The body holds the image plus the archive's overhead, compressed:
	// deflate's stored blocks add 5 octets per 65535, gzip 18 more.
	bound := limit + ArchiveOverhead
	bound += bound/8192 + 64
	if resp.ContentLength > bound {
		return Firmware{}, fmt.Errorf("%w: get: Content-Length %d, bound %d", ErrTooLarge, resp.ContentLength, bound)
	}
	f, err := ReadArchive(&boundReader{r: body, left: bound}, want, limit, open)
	if err != nil {
		return Firmware{}, c.ctxErr(ctx, fmt.Errorf("https: get %s: %w", u, err))
	}
	return f, nil
}

// requestContext bounds one request by Config.Timeout; cancel also serves
// the stall timer.
func (c *Client) requestContext(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(c.cfg.Timeout, func() {
		cancel(fmt.Errorf("%w: no answer within %v", ErrURIUnreachable, c.cfg.Timeout))
	})
	return ctx, func(cause error) { t.Stop(); cancel(cause) }
}

// get sends the GET and returns a response with status 200, whose body is
// read through a reader that marks network errors and re-arms the stall
// timer on progress. cancel ends ctx (the stall timer calls it).
func (c *Client) get(ctx context.Context, cancel context.CancelCauseFunc, u, op string) (*http.Response, io.Reader, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrURIMalformed, err)
	}
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Debug("https request failed", "op", op, "url", u, "err", err)
		if errors.Is(err, ErrScheme) || errors.Is(err, ErrURIUnreachable) {
			return nil, nil, fmt.Errorf("https: %s: %w", op, err)
		}
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrURIUnreachable, op, err)
	}
	c.log.Debug("https response", "op", op, "url", u, "status", resp.StatusCode, "elapsed", c.now().Sub(start))
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, nil, fmt.Errorf("%w: %s %s: HTTP 404", ErrNewFirmwareNotAvailable, op, u)
	default:
		resp.Body.Close()
		return nil, nil, fmt.Errorf("%w: %s %s: HTTP %s", ErrURIUnreachable, op, u, truncate(resp.Status))
	}
	d := c.cfg.StallTimeout
	stall := time.AfterFunc(d, func() { cancel(fmt.Errorf("%w: body stalled for %v", ErrURIUnreachable, d)) })
	resp.Body = &stallBody{ReadCloser: resp.Body, stall: stall, d: d}
	return resp, netReader{ctx, resp.Body}, nil
}

// ctxErr reports the caller's cancellation as context.Canceled (an Upload
// Cancel, not a failure of the server). Our own timeouts and the caller's
// deadline stay ErrURIUnreachable.
func (c *Client) ctxErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return err
}

// stallBody re-arms the stall timer on every read.
type stallBody struct {
	io.ReadCloser
	stall *time.Timer
	d     time.Duration
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.stall.Reset(b.d)
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.stall.Stop()
	return b.ReadCloser.Close()
}

// netReader marks errors of the response body (a connection lost or timed
// out mid-body) as ErrURIUnreachable, so the archive reader tells them from
// format errors.
type netReader struct {
	ctx context.Context
	r   io.Reader
}

func (n netReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	// An end of body after the request was cancelled (stall, timeout) is
	// a cut, not the end.
	if err != nil && (err != io.EOF || n.ctx.Err() != nil) {
		if cause := context.Cause(n.ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		if !errors.Is(err, ErrURIUnreachable) {
			err = fmt.Errorf("%w: reading body: %w", ErrURIUnreachable, err)
		}
	}
	return k, err
}
