package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of Config.
const (
	// DefaultPollInterval is how often the event stream reads the
	// distributor's state while someone listens.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultRequestTimeout bounds one Backend call of an API request.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultKeepAlive is the interval of SSE comment lines that keep idle
	// connections (and proxies) open.
	DefaultKeepAlive = 15 * time.Second
	// DefaultMaxImageSize bounds the body of POST /api/images.
	DefaultMaxImageSize = 4 << 20
)

// ErrTokenRequired reports a listen address that other hosts can reach
// while no token was given.
var ErrTokenRequired = errors.New("web: a token is required when listening on a non-loopback address")

// Config configures a Server. Backend is required; zero fields take the
// documented defaults.
type Config struct {
	Backend Backend
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every /api and /metrics request. Without a token the server only
	// answers requests whose Host is a loopback name (localhost, 127.0.0.1,
	// [::1]), which defeats DNS rebinding; see CheckListen.
	Token  string
	Logger *slog.Logger // nil: discard

	PollInterval   time.Duration // 0: DefaultPollInterval
	RequestTimeout time.Duration // 0: DefaultRequestTimeout
	KeepAlive      time.Duration // 0: DefaultKeepAlive
	MaxImageSize   int64         // 0: DefaultMaxImageSize
}

// Server is the distributor's HTTP API, event stream, metrics and
// dashboard: an http.Handler. Run feeds the event stream.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	hub     *hub
	metrics http.Handler
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("web: Config needs a Backend")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.MaxImageSize <= 0 {
		cfg.MaxImageSize = DefaultMaxImageSize
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.hub = newHub(cfg.Backend, cfg.Logger, cfg.RequestTimeout)
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(cfg.Backend, cfg.RequestTimeout), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)})
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	b := s.cfg.Backend
	allowed := map[string][]string{}
	api := func(method, path string, h http.HandlerFunc) {
		allowed[path] = append(allowed[path], method)
		s.mux.Handle(method+" "+path, s.guard(h))
	}
	api("GET", "/api/status", s.getStatus)
	api("GET", "/api/receivers", s.getReceivers)
	api("POST", "/api/receivers", s.postReceivers)
	api("DELETE", "/api/receivers", s.deleteReceivers)
	api("GET", "/api/images", s.getImages)
	api("POST", "/api/images", s.postImage)
	api("DELETE", "/api/images", s.deleteImages)
	api("DELETE", "/api/images/{index}", s.deleteImage)
	api("POST", "/api/start", s.postStart)
	api("POST", "/api/suspend", s.action("suspend", b.Suspend))
	api("POST", "/api/resume", s.action("resume", b.Resume))
	api("POST", "/api/cancel", s.action("cancel", b.Cancel))
	api("POST", "/api/apply", s.action("apply", b.Apply))
	api("GET", "/api/events", s.events)
	s.mux.Handle("/api/", s.guard(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if strings.HasPrefix(path, "/api/images/") {
			path = "/api/images/{index}"
		}
		if m, ok := allowed[path]; ok {
			w.Header().Set("Allow", strings.Join(m, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: method not allowed (use %s)", r.Method, r.URL.Path, strings.Join(m, " or ")))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("no API endpoint %s %s (see docs/distributor.md)", r.Method, r.URL.Path))
	}))
	s.mux.Handle("GET /metrics", s.guard(s.metrics.ServeHTTP))
	s.mux.Handle("GET /{$}", s.hostOnly(http.HandlerFunc(s.dashboard)))
	s.mux.Handle("GET /static/", s.hostOnly(http.HandlerFunc(s.static)))
}

// ServeHTTP serves the API, the event stream, /metrics and the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// Run feeds the event stream until ctx ends: while a client listens it
// reads the distributor's state every PollInterval and sends what
// changed.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.hub.closeAll()
			return nil
		case <-t.C:
			if s.hub.listeners() > 0 {
				s.hub.refresh(ctx)
			}
		}
	}
}

// guard checks the token (or, without one, the loopback Host) and, for
// requests that change state, the Origin.
func (s *Server) guard(h http.HandlerFunc) http.Handler {
	return s.hostOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="meshdfu distributor"`)
				writeError(w, http.StatusUnauthorized, errors.New("missing or wrong token: send the header \"Authorization: Bearer TOKEN\" with the distributor's --token"))
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
				writeError(w, http.StatusForbidden, fmt.Errorf("cross-origin request from %s refused", o))
				return
			}
		}
		h(w, r)
	}))
}

// hostOnly refuses, when no token is set, requests whose Host is not a
// loopback name: a page on another site cannot reach the distributor
// through a DNS name that resolves to 127.0.0.1.
func (s *Server) hostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" && !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q refused: without --token the distributor answers only to localhost, 127.0.0.1 or [::1]", r.Host))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen reports whether a server may listen on addr (HOST:PORT)
// with token: an address other hosts can reach (any interface, a LAN
// address, a name) needs a token (ErrTokenRequired).
func CheckListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web: listen address %q: want HOST:PORT, e.g. 127.0.0.1:8080", addr)
	}
	if token != "" || loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w (%s): give --token, or listen on 127.0.0.1", ErrTokenRequired, addr)
}

// call runs a Backend call with the request timeout.
func (s *Server) call(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}
