package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/state"
)

// Watch defaults (Config fields of the same names).
const (
	// DefaultMaxWatchers bounds the open event streams and long polls.
	DefaultMaxWatchers = 1000
	// DefaultHeartbeat is the interval of an event stream's comment lines.
	DefaultHeartbeat = 15 * time.Second
	// DefaultStreamWriteTimeout bounds each write of an event stream: a
	// reader that takes nothing for that long is dropped.
	DefaultStreamWriteTimeout = 30 * time.Second
	// MaxWait is the longest wait of a long poll.
	MaxWait = 60 * time.Second
)

// watchMetrics count the watchers, for /metrics.
type watchMetrics struct {
	refused prometheus.Counter
	dropped prometheus.Counter
}

func (s *Server) registerWatchMetrics() error {
	s.watchMetrics = watchMetrics{
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cortex_http_watchers_refused_total",
			Help: "Event streams and long polls refused with 503 because --max-watchers were open.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cortex_http_watchers_dropped_total",
			Help: "Event streams ended because a write to the client did not complete within the stream write timeout.",
		}),
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cortex_http_watchers",
		Help: "Open event streams and long polls.",
	}, func() float64 { return float64(s.watchers.Load()) })
	for _, c := range []prometheus.Collector{s.watchMetrics.refused, s.watchMetrics.dropped, open} {
		if err := s.cfg.Registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// CloseStreams ends every event stream with a final "end" event and
// long polls with their answer at once, and refuses new ones: call it when
// the server shuts down (http.Server.RegisterOnShutdown), since
// http.Server.Shutdown waits for requests that a stream never finishes. It
// is idempotent.
func (s *Server) CloseStreams() {
	s.stopStreams()
}

// acquireWatcher takes a watcher slot, or answers 503.
func (s *Server) acquireWatcher(w http.ResponseWriter, r *http.Request) bool {
	if n := s.watchers.Add(1); n > int64(s.cfg.MaxWatchers) {
		s.watchers.Add(-1)
		s.watchMetrics.refused.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		problem(w, http.StatusServiceUnavailable, "too-many-watchers", "Too many watchers",
			fmt.Sprintf("this server already holds its limit of %d event streams and long polls (--max-watchers); retry later, or poll without wait", s.cfg.MaxWatchers))
		return false
	}
	select {
	case <-s.closingCtx.Done():
		s.watchers.Add(-1)
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
		problem(w, http.StatusServiceUnavailable, "shutting-down", "Shutting down", "the server is shutting down; retry against another one or later")
		return false
	default:
	}
	return true
}

// afterVersion reads where a watch resumes: Last-Event-ID (what a browser's
// EventSource sends when it reconnects) or else ?after_version=.
func afterVersion(r *http.Request) (int64, error) {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return 0, badRequest("Last-Event-ID", "want the id of an event this stream sent (a snapshot version), got %q", v)
		}
		return n, nil
	}
	return queryInt(r, "after_version", 0, 1<<62)
}

// events serves GET /v1/sessions/{id}/events: Server-Sent Events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	after, err := afterVersion(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	include, err := queryBool(r, "include_state")
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if !s.acquireWatcher(w, r) {
		return
	}
	defer s.watchers.Add(-1)
	ctx, cancel := s.streamContext(r.Context())
	defer cancel()
	wt, err := s.cfg.Store.Watch(ctx, id, after)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	defer wt.Close()

	rc := http.NewResponseController(w)
	// A stream lasts as long as its client wants: no server WriteTimeout
	// for it. What bounds a stalled reader instead is the deadline set
	// before each write below.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 4096)
	send := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := bw.Write(b); err != nil {
			s.watchMetrics.dropped.Inc()
			return false
		}
		if err := bw.Flush(); err != nil {
			s.watchMetrics.dropped.Inc()
			return false
		}
		if err := rc.Flush(); err != nil {
			s.watchMetrics.dropped.Inc()
			return false
		}
		return true
	}
	// retry: how long a browser waits before it reconnects.
	if !send([]byte("retry: 2000\n\n")) {
		return
	}
	for {
		nctx, ncancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
		ev, err := wt.Next(nctx)
		ncancel()
		switch {
		case err != nil && closing(ctx):
			send([]byte("event: end\ndata: {\"reason\":\"shutdown\"}\n\n"))
			return
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
			continue
		case errors.Is(err, state.ErrWatchEnded):
			return
		case err != nil && ctx.Err() != nil:
			return // the client went away
		case err != nil:
			s.log.LogAttrs(ctx, slog.LevelError, "event stream: read the session", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			send([]byte("event: end\ndata: {\"reason\":\"error\"}\n\n"))
			return
		}
		b, err := s.eventBytes(ctx, ev, include)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			send([]byte("event: end\ndata: {\"reason\":\"error\"}\n\n"))
			return
		}
		if !send(b) {
			return
		}
		if ev.Kind == state.EventDeleted {
			return
		}
	}
}

var errClosing = errors.New("server shutting down")

// streamContext is r's context, also cancelled, with cause errClosing, by
// CloseStreams.
func (s *Server) streamContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := context.AfterFunc(s.closingCtx, func() { cancel(errClosing) })
	return ctx, func() { stop(); cancel(nil) }
}

func closing(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errClosing) }

// eventBytes renders one event in the text/event-stream format: snapshot
// events carry the version as their id, so that a reconnecting client
// resumes after it.
func (s *Server) eventBytes(ctx context.Context, ev state.Event, include bool) ([]byte, error) {
	var (
		data any
		head string
	)
	switch ev.Kind {
	case state.EventSnapshot:
		sn := *ev.Snapshot
		if include {
			full, err := s.cfg.Store.GetSnapshot(ctx, ev.SessionID, sn.Version)
			switch {
			case err == nil:
				sn.State = full.State
			case errors.Is(err, state.ErrNotFound):
				// Pruned or deleted since: sent without its state.
			default:
				return nil, err
			}
		}
		data = sn
		head = "id: " + strconv.FormatInt(sn.Version, 10) + "\nevent: snapshot\n"
	case state.EventSession:
		data = ev.Session
		head = "event: session\n"
	case state.EventDeleted:
		data = map[string]string{"session_id": ev.SessionID}
		head = "event: deleted\n"
	}
	b, err := marshal(data)
	if err != nil {
		return nil, err
	}
	// marshal ends with a newline; JSON has no other raw newline.
	out := make([]byte, 0, len(head)+len(b)+8)
	out = append(out, head...)
	out = append(out, "data: "...)
	out = append(out, b...)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, '\n'), nil
}

// longPoll answers GET …/snapshots/latest?wait=: the latest snapshot as soon
// as its version is above after_version, else 304 at the deadline.
func (s *Server) longPoll(w http.ResponseWriter, r *http.Request, id, wait string) {
	d, err := parseWait(wait)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	after, err := queryInt(r, "after_version", 0, 1<<62)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if !s.acquireWatcher(w, r) {
		return
	}
	defer s.watchers.Add(-1)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(d + s.cfg.StreamWriteTimeout))
	sctx, scancel := s.streamContext(r.Context())
	defer scancel()
	// Watch first, then read: an append between the two is in the watch.
	// The watch's own read of the session is not bounded by the wait: a
	// slow read under load is not a failure (503) but a late answer.
	wt, err := s.cfg.Store.Watch(sctx, id, after)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	defer wt.Close()
	ctx, cancel := context.WithTimeout(sctx, d)
	defer cancel()
	var current int64
	for {
		ev, err := wt.Next(ctx)
		if err != nil {
			if errors.Is(err, state.ErrWatchEnded) && r.Context().Err() == nil && ctx.Err() == nil {
				s.fail(w, r, fmt.Errorf("session %s: %w", id, state.ErrNotFound), false)
				return
			}
			if r.Context().Err() != nil {
				s.fail(w, r, r.Context().Err(), false)
				return
			}
			// The deadline (or shutdown): nothing newer.
			w.Header().Set("ETag", etag(current))
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		newer := ev.Kind == state.EventSnapshot
		switch ev.Kind {
		case state.EventSession:
			current = ev.Session.Version
			// The session is past after_version: the latest snapshot is
			// the answer, whatever is left of the wait.
			newer = current > after
		case state.EventDeleted:
			s.fail(w, r, fmt.Errorf("session %s: %w", id, state.ErrNotFound), false)
			return
		}
		if newer {
			// The answer counts against the in-flight budget, as a plain
			// read of the latest snapshot does (requestCost).
			got, ok := s.charge(w, r, 4*(int64(s.cfg.MaxStateBytes)+answerItemBytes))
			if !ok {
				return
			}
			if s.inflight != nil {
				defer s.inflight.release(got)
			}
			snap, err := s.cfg.Store.LatestSnapshot(r.Context(), id)
			if err != nil {
				s.fail(w, r, err, false)
				return
			}
			w.Header().Set("ETag", etag(snap.Version))
			writeJSON(w, http.StatusOK, snap)
			return
		}
	}
}

// parseWait reads a long poll's wait: a Go duration ("30s") or seconds
// ("30"), at most MaxWait.
func parseWait(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil || n < 0 || n > int64(MaxWait/time.Second) {
			return 0, badRequest("wait", "want a duration up to %s, such as 30s, got %q", MaxWait, v)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 || d > MaxWait {
		return 0, badRequest("wait", "want a duration from 0s to %s, got %q", MaxWait, v)
	}
	return d, nil
}
