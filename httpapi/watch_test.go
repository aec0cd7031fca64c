package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/state"
)

// sse is one Server-Sent Event, or a comment line (Comment set).
type sse struct {
	ID, Event, Data, Comment string
}

// sseStream reads events from an event stream.
type sseStream struct {
	t   *testing.T
	res *http.Response
	rd  *bufio.Reader
}

// openSSE opens GET path as an event stream; hdr are "Name: value".
func openSSE(t *testing.T, srv *httptest.Server, path string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	return &sseStream{t: t, res: res, rd: bufio.NewReader(res.Body)}
}

// next reads the next event or comment; io.EOF at the end of the stream.
func (s *sseStream) next() (sse, error) {
	var ev sse
	seen := false
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if seen {
				return ev, nil
			}
			continue
		}
		seen = true
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "":
			ev.Comment = v
			// A comment stands alone in this server's streams.
		case "id":
			ev.ID = v
		case "event":
			ev.Event = v
		case "data":
			ev.Data += v
		}
	}
}

// event returns the next event that is not a comment or a retry line.
func (s *sseStream) event() sse {
	s.t.Helper()
	for {
		ev, err := s.next()
		if err != nil {
			s.t.Fatalf("read event: %v", err)
		}
		if ev.Event != "" {
			return ev
		}
	}
}

func wantSnapshotEvent(t *testing.T, ev sse, version int64, withState string) state.Snapshot {
	t.Helper()
	if ev.Event != "snapshot" {
		t.Fatalf("event %+v, want a snapshot", ev)
	}
	var sn state.Snapshot
	if err := json.Unmarshal([]byte(ev.Data), &sn); err != nil {
		t.Fatalf("snapshot event data %q: %v", ev.Data, err)
	}
	if sn.Version != version || ev.ID != strconv.FormatInt(version, 10) {
		t.Fatalf("snapshot event id %q, version %d; want %d", ev.ID, sn.Version, version)
	}
	if string(sn.State) != withState {
		t.Fatalf("snapshot event state %q, want %q", sn.State, withState)
	}
	return sn
}

func TestEvents_Stream(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `{"n":1}`)
	st := openSSE(t, e.srv, "/v1/sessions/s/events")
	if ev := st.event(); ev.Event != "session" || !strings.Contains(ev.Data, `"id":"s"`) {
		t.Fatalf("first event %+v, want the session", ev)
	}
	wantSnapshotEvent(t, st.event(), 1, "")
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"n":2},"metadata":{"source":"input"}}`).want(t, http.StatusCreated)
	sn := wantSnapshotEvent(t, st.event(), 2, "")
	if string(sn.Metadata) != `{"source":"input"}` {
		t.Fatalf("snapshot event metadata %s", sn.Metadata)
	}
	e.do("PUT", "/v1/sessions/s", `{"metadata":{"user":"ada"}}`).want(t, http.StatusOK)
	if ev := st.event(); ev.Event != "session" || !strings.Contains(ev.Data, `"user":"ada"`) {
		t.Fatalf("event %+v, want the session's new metadata", ev)
	}
	e.do("DELETE", "/v1/sessions/s", "").want(t, http.StatusNoContent)
	if ev := st.event(); ev.Event != "deleted" {
		t.Fatalf("event %+v, want deleted", ev)
	}
	if _, err := st.next(); err != io.EOF {
		t.Fatalf("after deleted: %v, want the end of the stream", err)
	}
}

func TestEvents_ResumeAndState(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	for i := 0; i < 3; i++ {
		e.mustAppend("s", `"x"`)
	}
	// Last-Event-ID wins over after_version (a browser reconnects with the
	// URL it started with).
	st := openSSE(t, e.srv, "/v1/sessions/s/events?after_version=0&include_state=true", "Last-Event-ID: 2")
	st.event() // session
	wantSnapshotEvent(t, st.event(), 3, `"x"`)
	st2 := openSSE(t, e.srv, "/v1/sessions/s/events?after_version=1")
	st2.event()
	wantSnapshotEvent(t, st2.event(), 2, "")
	wantSnapshotEvent(t, st2.event(), 3, "")

	e.do("GET", "/v1/sessions/s/events?after_version=-1", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions/s/events", "", "Last-Event-ID: x").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions/nope/events", "").want(t, http.StatusNotFound)
}

func TestEvents_HeartbeatShutdownAndNoWriteTimeout(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	cfg := e.cfg
	cfg.Heartbeat = 5 * time.Millisecond
	cfg.Registry = nil
	s, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(apitest.Middleware(t, s))
	// The stream is not bound by the server's write timeout.
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	st := openSSE(t, srv, "/v1/sessions/s/events")
	st.event()
	for {
		ev, err := st.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Comment == "heartbeat" {
			break
		}
	}
	// Past the write timeout (an event: the server's clock says so).
	start := time.Now()
	for time.Since(start) < 100*time.Millisecond {
		if _, err := st.next(); err != nil {
			t.Fatalf("stream under a 50 ms WriteTimeout ended: %v", err)
		}
	}
	e.mustAppend("s", `1`)
	for {
		ev, err := st.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Event == "snapshot" {
			break
		}
	}
	s.CloseStreams()
	for {
		ev, err := st.next()
		if err != nil {
			t.Fatalf("stream ended without its end event: %v", err)
		}
		if ev.Event == "end" {
			if !strings.Contains(ev.Data, "shutdown") {
				t.Fatalf("end event %+v", ev)
			}
			break
		}
	}
	if _, err := st.next(); err != io.EOF {
		t.Fatalf("after end: %v, want EOF", err)
	}
	res, err := srv.Client().Get(srv.URL + "/v1/sessions/s/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream after CloseStreams: %d, want 503", res.StatusCode)
	}
}

func TestEvents_MaxWatchers(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.MaxWatchers = 1 })
	e.mustSession("s")
	st := openSSE(t, e.srv, "/v1/sessions/s/events")
	st.event()
	r := e.do("GET", "/v1/sessions/s/events", "").want(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	e.do("GET", "/v1/sessions/s/snapshots/latest?wait=1s", "").want(t, http.StatusServiceUnavailable)
	m := e.do("GET", "/metrics", "").want(t, http.StatusOK).String()
	for _, want := range []string{"cortex_http_watchers 1", "cortex_http_watchers_refused_total 2"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	st.res.Body.Close()
	// The slot comes back when the stream ends (an event: poll the gauge).
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.do("GET", "/metrics", "").String(), "cortex_http_watchers 0") {
		if time.Now().After(deadline) {
			t.Fatal("the watcher slot did not come back")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLongPoll(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `1`)
	// A version above after_version exists: at once.
	r := e.do("GET", "/v1/sessions/s/snapshots/latest?wait=30s&after_version=0", "").want(t, http.StatusOK)
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", r.Header.Get("ETag"))
	}
	// Nothing newer: 304 at the deadline, with the current ETag.
	r = e.do("GET", "/v1/sessions/s/snapshots/latest?wait=10ms&after_version=1", "").want(t, http.StatusNotModified)
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("304 ETag %q", r.Header.Get("ETag"))
	}
	// An append while it waits answers it.
	got := make(chan resp, 1)
	go func() { got <- e.do("GET", "/v1/sessions/s/snapshots/latest?wait=60s&after_version=1", "") }()
	waitGauge(t, e, "cortex_http_watchers 1")
	e.mustAppend("s", `2`)
	r = <-got
	r.want(t, http.StatusOK)
	var sn state.Snapshot
	r.decode(t, &sn)
	if sn.Version != 2 || string(sn.State) != "2" {
		t.Fatalf("long poll answered %+v", sn)
	}
	e.do("GET", "/v1/sessions/s/snapshots/latest?wait=61s", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions/s/snapshots/latest?wait=soon", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions/nope/snapshots/latest?wait=1s", "").want(t, http.StatusNotFound)
	// A delete while it waits: 404.
	go func() { got <- e.do("GET", "/v1/sessions/s/snapshots/latest?wait=60s&after_version=2", "") }()
	waitGauge(t, e, "cortex_http_watchers 1")
	e.do("DELETE", "/v1/sessions/s", "").want(t, http.StatusNoContent)
	(<-got).want(t, http.StatusNotFound)
}

// waitGauge waits until /metrics shows line.
func waitGauge(t *testing.T, e *env, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.do("GET", "/metrics", "").String(), line+"\n") {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %q", line)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// slowWatch is a store whose watches start slowly, as a session read does
// on a busy PostgreSQL server: its Watch returns only after delay, or
// fails when its context ends first.
type slowWatch struct {
	state.Store
	delay time.Duration
}

func (s slowWatch) Watch(ctx context.Context, id string, after int64) (*state.Watcher, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.delay):
	}
	return s.Store.Watch(ctx, id, after)
}

// A long poll whose watch starts after its wait has run out answers as if
// it had started at once: 304 with the current ETag when nothing is newer,
// the latest snapshot when something is — never a 503 for the wait's own
// deadline (seen under load on PostgreSQL), never a 304 that hides a newer
// snapshot.
func TestLongPoll_SlowWatchStart(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.Store = slowWatch{Store: c.Store, delay: 200 * time.Millisecond} })
	e.mustSession("s")
	e.mustAppend("s", `1`)
	r := e.do("GET", "/v1/sessions/s/snapshots/latest?wait=10ms&after_version=1", "").want(t, http.StatusNotModified)
	if r.Header.Get("ETag") != `"1"` {
		t.Fatalf("304 ETag %q, want \"1\"", r.Header.Get("ETag"))
	}
	r = e.do("GET", "/v1/sessions/s/snapshots/latest?wait=10ms&after_version=0", "").want(t, http.StatusOK)
	var sn state.Snapshot
	r.decode(t, &sn)
	if sn.Version != 1 || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("answered %+v with ETag %q, want version 1", sn, r.Header.Get("ETag"))
	}
}
