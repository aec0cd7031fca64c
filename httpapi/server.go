package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cortex-db/cortex/httpapi/ui"
	"github.com/cortex-db/cortex/state"
)

// Body limits beyond the state itself.
const (
	// BodyOverhead is what an append body may carry beside its state
	// (metadata, field names, whitespace).
	BodyOverhead = 64 << 10
	// DefaultMaxBatchBytes bounds a batch request's body when
	// Config.MaxBatchBytes is zero.
	DefaultMaxBatchBytes = 32 << 20
	// maxSmallBody bounds bodies that carry no state (sessions, admin).
	maxSmallBody = 64 << 10
)

// Config configures a Server. Store is required; every other zero field
// means the default named beside it.
type Config struct {
	// Store is the repository served (required).
	Store state.Store
	// Ops serves /v1/admin and /readyz; nil answers the admin routes with
	// 501 and makes /readyz probe the store with a one-row list.
	Ops Ops
	// APIToken, when set, is required as a bearer token on /v1 routes.
	APIToken string
	// AdminToken, when set, is required as a bearer token on /v1/admin
	// routes; when empty they take APIToken. See the package doc.
	AdminToken string
	// MaxStateBytes is the store's state limit, used to size the body
	// limit of appends (default state.DefaultMaxStateBytes). Keep it equal
	// to the store's: the store enforces the limit, this only bounds reads.
	MaxStateBytes int
	// MaxMetadataBytes is the store's metadata limit, used to size the
	// body limits of appends and session writes (default
	// state.DefaultMaxMetadataBytes). Keep it equal to the store's.
	MaxMetadataBytes int
	// MaxBatchBytes bounds a batch request's body (default
	// DefaultMaxBatchBytes).
	MaxBatchBytes int64
	// AllowedHosts are the Host names, besides loopback ones, that routes
	// without a token answer; "*" allows any. By default those routes
	// answer only localhost, 127.0.0.0/8 and [::1], which keeps web pages
	// from reaching a token-less local server through DNS rebinding. Name
	// the hosts of a token-less server on a trusted network here (cortex
	// serve --allow-host). Names compare without case and port.
	AllowedHosts []string
	// BackupDir is the only folder admin backups are written to; empty
	// answers POST /v1/admin/backup with 501.
	BackupDir string
	// DefaultTTL, when > 0, is the TTL of sessions created without
	// ttl_seconds (POST /v1/sessions, and PUT of a new session).
	DefaultTTL time.Duration
	// Logger receives one line per request (DEBUG when it succeeded or was
	// refused with a 4xx, WARN for a 5xx), the errors behind 5xx answers,
	// and an INFO summary of the refused requests by status at most once
	// per RefusalSummaryInterval; nil discards them.
	Logger *slog.Logger
	// MaxWatchers bounds the open event streams and long polls together
	// (default DefaultMaxWatchers); past it they get 503.
	MaxWatchers int
	// Heartbeat is the interval of an event stream's comment lines
	// (default DefaultHeartbeat), which keep proxies from closing an idle
	// stream.
	Heartbeat time.Duration
	// StreamWriteTimeout bounds each write of an event stream (default
	// DefaultStreamWriteTimeout): a client that reads nothing for that long
	// is dropped. Streams are not bound by the server's WriteTimeout.
	StreamWriteTimeout time.Duration
	// RefusalSummaryInterval is the least time between two summaries of
	// refused requests (default DefaultRefusalSummaryInterval, a minute).
	RefusalSummaryInterval time.Duration
	// MaxInflightBytes is the server-wide budget of bytes in flight:
	// request bodies being read and answers being built, each request
	// charged its bound before its body is read (default
	// DefaultMaxInflightBytes, 256 MiB; negative: no budget). A request
	// that does not fit waits up to InflightWait, then is answered 503
	// with Retry-After. /metrics, /healthz and /readyz are not charged.
	MaxInflightBytes int64
	// InflightWait is the longest wait for room in the budget (default
	// DefaultInflightWait).
	InflightWait time.Duration
	// OnStorageFull, when set, is called when a request fails with
	// state.ErrStorageFull (507); it reports whether it just freed room
	// (cortex serve releases its disk reserve). DELETE of a session and a
	// checkpoint are then tried once more, so that an operator can free
	// space through the API on a full disk.
	OnStorageFull func() bool
	// Registry receives the HTTP metrics and is served on /metrics; nil
	// makes a private one. Register the storage collectors (NewCollector)
	// on it too.
	Registry *prometheus.Registry
}

// Server is the HTTP API: an http.Handler. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	// mux holds the routes as registered; it tells unmatched requests
	// 404 from 405 and redirects. router holds the same routes, each
	// wrapped in its *route, and a catch-all: ServeHTTP matches a request
	// once, through router (route.go).
	mux, router *http.ServeMux
	metrics     *httpMetrics
	// refusals sums up the 4xx answers in the log.
	refusals *refusalLog
	// inflight is the budget of bytes in flight; nil without one.
	inflight *inflight
	// crossOrigin refuses state-changing browser requests from other
	// origins (CSRF): a form or fetch on any web page could otherwise
	// POST to a token-less local server.
	crossOrigin *http.CrossOriginProtection

	// Watchers (watch.go).
	watchers     atomic.Int64
	watchMetrics watchMetrics
	closingCtx   context.Context // cancelled by CloseStreams
	stopStreams  context.CancelFunc

	// appended and reads count for HTTPStats (consolestats.go).
	appended, reads atomic.Int64

	// patterns are the mux patterns registered, in order (openapi.go).
	patterns []string
	// queries are the query rules of the OpenAPI document's operations,
	// by pattern (query.go).
	queries map[string]*queryRule
	// unmatchedRoute stands for the requests no route matches, in the
	// metrics and the log (route.go).
	unmatchedRoute *route
	// apiHash and adminHash are the tokens' SHA-256 (auth.go).
	apiHash, adminHash [32]byte
}

// New builds a Server from cfg. It fails when Store is nil or the metrics
// cannot be registered (a Registry already holding them).
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: Config.Store is required")
	}
	if cfg.MaxStateBytes <= 0 {
		cfg.MaxStateBytes = state.DefaultMaxStateBytes
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = state.DefaultMaxMetadataBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxWatchers <= 0 {
		cfg.MaxWatchers = DefaultMaxWatchers
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = DefaultStreamWriteTimeout
	}
	if cfg.MaxInflightBytes == 0 {
		cfg.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if cfg.InflightWait <= 0 {
		cfg.InflightWait = DefaultInflightWait
	}
	m, err := newHTTPMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("httpapi: register metrics: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), router: http.NewServeMux(), metrics: m,
		crossOrigin: http.NewCrossOriginProtection(),
		refusals:    newRefusalLog(cfg.Logger, cfg.RefusalSummaryInterval)}
	s.closingCtx, s.stopStreams = context.WithCancel(context.Background())
	if err := s.registerWatchMetrics(); err != nil {
		return nil, fmt.Errorf("httpapi: register metrics: %w", err)
	}
	if cfg.MaxInflightBytes > 0 {
		s.inflight = newInflight(cfg.MaxInflightBytes)
		if err := m.registerInflight(cfg.Registry, s.inflight); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	qs, err := queryRules()
	if err != nil {
		return nil, err
	}
	s.queries = qs
	s.unmatchedRoute = s.newRoute("", nil)
	s.tokenHashes()
	s.routes()
	return s, nil
}

// routes registers every route of the v1 API table.
func (s *Server) routes() {
	m := patternMux{s}
	m.HandleFunc("GET /v1/openapi.json", s.openAPI) // openapi.go
	m.HandleFunc("POST /v1/sessions", s.createSession)
	m.HandleFunc("GET /v1/sessions", s.listSessions)
	m.HandleFunc("PUT /v1/sessions/{id}", s.putSession)
	m.HandleFunc("GET /v1/sessions/{id}", s.getSession)
	m.HandleFunc("DELETE /v1/sessions/{id}", s.deleteSession)
	m.HandleFunc("POST /v1/sessions/{id}/touch", s.touchSession)
	m.HandleFunc("POST /v1/sessions/{id}/fork", s.forkSession)
	m.HandleFunc("POST /v1/sessions/{id}/snapshots", s.appendSnapshot)
	m.HandleFunc("GET /v1/sessions/{id}/snapshots", s.history)
	m.HandleFunc("GET /v1/sessions/{id}/snapshots/latest", s.latestSnapshot)
	m.HandleFunc("GET /v1/sessions/{id}/events", s.events)
	m.HandleFunc("GET /v1/sessions/{id}/snapshots/by-key/{key}", s.snapshotByKey)
	m.HandleFunc("GET /v1/sessions/{id}/snapshots/{version}", s.getSnapshot)
	// The colon is literal in a ServeMux pattern: "snapshots:batch" is one
	// path segment, matched exactly (also when the client escapes it as
	// %3A, since patterns match the unescaped path).
	m.HandleFunc("POST /v1/snapshots:batch", s.appendBatch)

	m.HandleFunc("GET /v1/admin/stats", s.adminStats)
	m.HandleFunc("GET /v1/admin/health", s.adminHealth)
	m.HandleFunc("POST /v1/admin/checkpoint", s.adminCheckpoint)
	m.HandleFunc("POST /v1/admin/backup", s.adminBackup)
	m.HandleFunc("POST /v1/admin/explain", s.adminExplain)
	m.HandleFunc("POST /v1/admin/integrity", s.adminIntegrityStart) // integrity.go
	m.HandleFunc("GET /v1/admin/integrity/{id}", s.adminIntegrityJob)
	m.HandleFunc("DELETE /v1/admin/integrity/{id}", s.adminIntegrityCancel)

	// The operations console: static files (httpapi/ui).
	m.Handle("GET /ui/", ui.Handler("/ui/"))
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})

	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	// Whatever no route matches (404, 405, the mux's redirects): the least
	// specific pattern, so every route above wins over it.
	s.router.HandleFunc("/", s.unmatched)
}

// ServeHTTP routes r, checks its credentials, and records its metrics and
// log line. The request is matched once, by router, whose route wrappers
// (route.ServeHTTP) run the checks before the route's handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := newStatusWriter(w)
	defer func() {
		if sw.budget != nil {
			sw.budget.release(sw.charged)
			sw.budget = nil
		}
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			if !sw.wroteHeader {
				problem(sw, http.StatusInternalServerError, "internal", "Internal server error", "the server failed to answer; the error is in its log")
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if sw.clientGone {
			status = StatusClientClosedRequest
		}
		d := time.Since(start)
		rt := sw.route
		if rt == nil {
			rt = s.unmatchedRoute
		}
		rt.observe(status, d)
		s.countRead(r, rt.pattern, status)
		// A line per successful request would be the bulk of the log
		// (at 15k requests/s, 13 GB an hour), so those are DEBUG; the
		// metrics count them. Refused requests are DEBUG too (a client
		// retrying a bad request would flood the log), summed up at INFO
		// once a minute by refusalLog; failures are WARN.
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelWarn
		case status >= 400 && status < 500:
			s.refusals.add(status)
		}
		if s.log.Enabled(r.Context(), level) {
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", rt.name),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			)
		}
		sw.free()
	}()

	if r.URL.Path != cleanPath(r.URL.Path) {
		// The mux's redirect of a path that is not clean.
		s.unmatched(sw, r)
		return
	}
	s.router.ServeHTTP(sw, r)
}

// guard runs ServeHTTP's checks of a matched request: cross-origin,
// credentials, the admin routes' write deadline, and the in-flight charge,
// which it records in sw. It reports whether the request may proceed; when
// not, it has answered.
func (s *Server) guard(sw *statusWriter, r *http.Request, pattern string) bool {
	if err := s.crossOrigin.Check(r); err != nil || (isAPI(r.URL.Path) && r.Header.Get("Sec-Fetch-Site") == "cross-site") {
		// Reads too: no page of another site has a use for this API (it
		// answers no CORS), and a GET of /v1/admin/health?integrity=full
		// reads the whole database.
		problem(sw, http.StatusForbidden, "cross-origin", "Forbidden",
			"a browser request from another origin may not change anything here; call the API from a program or a page of the same origin")
		return false
	}
	if !s.authorize(sw, r) {
		return false
	}
	if isAdmin(r.URL.Path) {
		// A backup or a full integrity check takes as long as it takes:
		// no write deadline (the server's WriteTimeout) for admin routes.
		// An error means the server set none.
		_ = http.NewResponseController(sw).SetWriteDeadline(time.Time{})
	}
	// Event streams and long polls are watchers, bounded by MaxWatchers,
	// not by the bytes-in-flight budget: a stream would hold its charge for
	// its whole life. A long poll charges its answer once it has one.
	if isAPI(r.URL.Path) && !isWatch(r, pattern) {
		got, ok := s.charge(sw, r, s.requestCost(r, pattern))
		if !ok {
			return false
		}
		// Given back by ServeHTTP after the handler; the stats answer
		// leaves it out of the bytes in flight it reports
		// (consolestats.go).
		sw.charged, sw.budget = got, s.inflight
	}
	return true
}

// isWatch reports whether r is an event stream or a long poll.
func isWatch(r *http.Request, pattern string) bool {
	switch pattern {
	case "GET /v1/sessions/{id}/events":
		return true
	case "GET /v1/sessions/{id}/snapshots/latest":
		return r.URL.Query().Has("wait")
	}
	return false
}

// charge takes n bytes of the in-flight budget, waiting at most
// InflightWait; past it, it answers 503 with Retry-After and reports false.
// The bytes charged (got) go back with s.inflight.release(got). Without a
// budget it charges nothing.
func (s *Server) charge(w http.ResponseWriter, r *http.Request, n int64) (got int64, ok bool) {
	if s.inflight == nil {
		return 0, true
	}
	got, ok = s.inflight.acquire(r.Context(), n, s.cfg.InflightWait)
	if !ok {
		s.metrics.inflightRefused.Inc()
		problem(w, http.StatusServiceUnavailable, "busy", "Server busy",
			fmt.Sprintf("the server is at its budget of %d bytes of requests and answers in flight (--max-inflight-bytes); retry after the Retry-After seconds", s.cfg.MaxInflightBytes))
		return 0, false
	}
	return got, true
}

// unmatched answers a request no route matches with a problem: 404, or 405
// with Allow when the path exists under another method.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		// The mux's own redirect of a path that is not clean ("//",
		// "/./", a trailing slash): kept, with a problem body saying so
		// instead of the mux's HTML.
		loc := rec.header.Get("Location")
		w.Header().Set("Location", loc)
		problem(w, rec.status, "not-canonical-path", "Path not canonical",
			fmt.Sprintf("%s is not the canonical form of this path; send the request to %s", r.URL.Path, loc))
	default:
		problem(w, http.StatusNotFound, "no-route", "Not found",
			fmt.Sprintf("no route %s %s; see the API table in README.md", r.Method, r.URL.Path))
	}
}

// fail answers err as a problem and logs the errors behind 5xx answers.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, conditional bool) {
	p := problemFor(err, conditional)
	if p.Status == http.StatusInsufficientStorage && s.cfg.OnStorageFull != nil {
		s.cfg.OnStorageFull()
	}
	if p.Status == StatusClientClosedRequest {
		if sw, ok := w.(*statusWriter); ok {
			sw.clientGone = true
		}
		// Nobody reads this answer; send something well-formed anyway.
		p.Status = http.StatusServiceUnavailable
	}
	if p.Status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", p.Status),
			slog.String("error", err.Error()),
		)
	}
	writeProblem(w, p)
}

// statusWriter records the status and size of an answer, the route
// matched, and the in-flight charge to give back. ServeHTTP takes one from
// a pool and returns it once the request is answered.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	clientGone  bool
	// route is the route matched (nil: none).
	route *route
	// charged bytes of budget, given back by free.
	charged int64
	budget  *inflight
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func newStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter = w
	return sw
}

// free returns sw to the pool: the request is answered, its handler has
// returned, its charge is given back.
func (sw *statusWriter) free() {
	*sw = statusWriter{}
	statusWriters.Put(sw)
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerRecorder captures the status and headers of the mux's own 404/405
// answers, whose plain-text bodies are replaced by problems.
type headerRecorder struct {
	header http.Header
	status int
}

func (r *headerRecorder) Header() http.Header { return r.header }
func (r *headerRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *headerRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// isAdmin reports whether path is under /v1/admin.
func isAdmin(path string) bool {
	return path == "/v1/admin" || strings.HasPrefix(path, "/v1/admin/")
}

// cleanPath is the path the mux redirects p to (path.Clean, keeping a
// trailing slash), so a request for another path is its redirect.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// freedRoom reports whether err is a full disk for which OnStorageFull just
// freed room, so that the operation is worth one more try.
func (s *Server) freedRoom(err error) bool {
	return errors.Is(err, state.ErrStorageFull) && s.cfg.OnStorageFull != nil && s.cfg.OnStorageFull()
}
