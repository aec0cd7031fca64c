package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/client"
	"github.com/cortex-db/cortex/internal/e2e"
)

// front is an HTTP server in front of a real cortex serve: it forwards
// every request, and can lose the answer of chosen requests (forwarded,
// acted on by the server, then the connection closed without an answer),
// as a network failure does. It records what it forwarded.
type front struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy
	base  string

	mu sync.Mutex
	// lose reports whether to lose this request's answer.
	lose     func(r *http.Request) bool
	requests []seen
	// first503 is closed when the server first answers 503.
	first503 chan struct{}
	once503  sync.Once
}

type seen struct {
	method, path, idempotencyKey, lastEventID string
	status                                    int
}

func newFront(t *testing.T, backend string) *front {
	u, _ := url.Parse(backend)
	f := &front{proxy: httputil.NewSingleHostReverseProxy(u), base: backend, first503: make(chan struct{})}
	f.proxy.FlushInterval = -1 // event streams
	f.proxy.ModifyResponse = func(res *http.Response) error {
		if res.StatusCode == http.StatusServiceUnavailable {
			f.once503.Do(func() { close(f.first503) })
		}
		return nil
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *front) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	lose := f.lose != nil && f.lose(r)
	i := len(f.requests)
	f.requests = append(f.requests, seen{method: r.Method, path: r.URL.Path, idempotencyKey: r.Header.Get("Idempotency-Key"), lastEventID: r.Header.Get("Last-Event-ID")})
	f.mu.Unlock()
	if !lose {
		rec := &statusRecorder{ResponseWriter: w}
		f.proxy.ServeHTTP(rec, r)
		f.mu.Lock()
		f.requests[i].status = rec.status
		f.mu.Unlock()
		return
	}
	// Forward it, let the server act on it, then drop the connection.
	req, _ := http.NewRequest(r.Method, f.base+r.URL.RequestURI(), r.Body)
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		f.mu.Lock()
		f.requests[i].status = res.StatusCode
		f.mu.Unlock()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func (f *front) seen(method, pathSuffix string) []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seen
	for _, s := range f.requests {
		if s.method == method && strings.HasSuffix(s.path, pathSuffix) {
			out = append(out, s)
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestClient_RetryLostAnswer: an append whose answer is lost after the
// server applied it is sent again with its Idempotency-Key, and the server
// answers the first result: one snapshot, not two. Without keys the client
// does not retry (the append may have been applied, and was); neither does
// a create without an id.
func TestClient_RetryLostAnswer(t *testing.T) {
	engines(t, func(t *testing.T, s *e2e.Server) {
		ctx := context.Background()
		direct := newClient(t, s.Base)
		if _, _, err := direct.PutSession(ctx, "r", client.SessionInput{}); err != nil {
			t.Fatal(err)
		}
		f := newFront(t, s.Base)
		lost := 0
		f.lose = func(r *http.Request) bool {
			if r.Method == http.MethodPost && lost == 0 {
				lost++
				return true
			}
			return false
		}
		c := newClient(t, f.srv.URL, client.WithRetry(client.RetryPolicy{MinBackoff: time.Millisecond}))
		res, err := c.Append(ctx, "r", client.AppendInput{State: map[string]int{"step": 1}})
		if err != nil || res.Version != 1 || !res.Replayed {
			t.Fatalf("append after a lost answer: %+v %v", res, err)
		}
		sent := f.seen("POST", "/snapshots")
		if len(sent) != 2 || sent[0].idempotencyKey == "" || sent[0].idempotencyKey != sent[1].idempotencyKey || sent[0].status != 201 {
			t.Fatalf("the front saw %+v: want the append twice with one key, the first applied", sent)
		}
		if sess, err := direct.GetSession(ctx, "r"); err != nil || sess.Version != 1 || sess.SnapshotCount != 1 {
			t.Fatalf("after the retry: %+v %v, want exactly one snapshot", sess, err)
		}
		// A batch: each item's key replays.
		lost = 0
		out, err := c.AppendBatch(ctx, []client.BatchItem{{SessionID: "r", AppendInput: client.AppendInput{State: 2}}, {SessionID: "r", AppendInput: client.AppendInput{State: 3}}})
		if err != nil || len(out) != 2 || out[1].Version != 3 {
			t.Fatalf("batch after a lost answer: %+v %v", out, err)
		}
		if sess, _ := direct.GetSession(ctx, "r"); sess.Version != 3 {
			t.Fatalf("after the batch's retry: version %d, want 3", sess.Version)
		}

		// Without keys: no retry; the server did apply it.
		lost = 0
		nokeys := newClient(t, f.srv.URL, client.WithIdempotencyKeys(false), client.WithRetry(client.RetryPolicy{MinBackoff: time.Millisecond}))
		before := len(f.seen("POST", "/snapshots"))
		if _, err := nokeys.Append(ctx, "r", client.AppendInput{State: 4}); err == nil || client.StatusOf(err) != 0 {
			t.Fatalf("append without a key after a lost answer: %v, want the network error", err)
		}
		if n := len(f.seen("POST", "/snapshots")) - before; n != 1 {
			t.Fatalf("the front saw %d appends without a key, want 1 (no retry)", n)
		}
		if sess, _ := direct.GetSession(ctx, "r"); sess.Version != 4 {
			t.Fatalf("version %d: the lost append was applied", sess.Version)
		}
		// A create without an id is not retried either.
		lost = 0
		if _, err := c.CreateSession(ctx, client.SessionInput{}); err == nil {
			t.Fatal("create after a lost answer: no error")
		}
		if n := len(f.seen("POST", "/v1/sessions")); n != 1 {
			t.Fatalf("the front saw %d creates, want 1", n)
		}
	})
}

// TestClient_Retry503: a real limit, --max-watchers 1, answers a second
// long poll 503 with Retry-After; the client waits and retries, and gets
// its answer once the slot is free. With the slot held, it gives up after
// MaxAttempts, and never waits past its context's deadline.
func TestClient_Retry503(t *testing.T) {
	s := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), "--api-token", token, "--max-watchers", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := newClient(t, s.Base)
	if _, _, err := direct.PutSession(ctx, "w", client.SessionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Append(ctx, "w", client.AppendInput{State: 1}); err != nil {
		t.Fatal(err)
	}
	// hold takes the only watcher slot with an event stream until release
	// is called.
	hold := func() (release func()) {
		wctx, wcancel := context.WithCancel(ctx)
		started := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, err := range direct.Watch(wctx, "w", client.WatchOptions{}) {
				if err != nil {
					return
				}
				select {
				case <-started:
				default:
					close(started)
				}
			}
		}()
		<-started
		return func() { wcancel(); <-done }
	}

	release := hold()
	f := newFront(t, s.Base)
	c := newClient(t, f.srv.URL)
	type answer struct {
		snap client.Snapshot
		err  error
		took time.Duration
	}
	got := make(chan answer, 1)
	go func() {
		start := time.Now()
		snap, _, err := c.WaitLatest(ctx, "w", 0, time.Minute)
		got <- answer{snap, err, time.Since(start)}
	}()
	<-f.first503 // the event: the server refused the long poll
	release()
	a := <-got
	if a.err != nil || a.snap.Version != 1 {
		t.Fatalf("long poll after a 503: %+v %v", a.snap, a.err)
	}
	polls := f.seen("GET", "/snapshots/latest")
	if len(polls) < 2 || polls[0].status != http.StatusServiceUnavailable || polls[len(polls)-1].status != http.StatusOK {
		t.Fatalf("the front saw %+v: want a 503, then a 200", polls)
	}
	if a.took < 900*time.Millisecond {
		t.Fatalf("answered after %v: the retry did not wait for Retry-After (1 s)", a.took)
	}

	// Held throughout: MaxAttempts tries, then the 503 as an *Error.
	release = hold()
	defer release()
	f2 := newFront(t, s.Base)
	c2 := newClient(t, f2.srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 2}))
	_, _, err := c2.WaitLatest(ctx, "w", 0, time.Minute)
	var ce *client.Error
	if !client.IsUnavailable(err) || !errors.As(err, &ce) || ce.Slug() != "too-many-watchers" || ce.RetryAfter != time.Second {
		t.Fatalf("with the slot held: %#v", err)
	}
	if n := len(f2.seen("GET", "/snapshots/latest")); n != 2 {
		t.Fatalf("the front saw %d long polls, want MaxAttempts = 2", n)
	}
	// A deadline shorter than Retry-After: no retry, the deadline's error.
	short, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	f3 := newFront(t, s.Base)
	c3 := newClient(t, f3.srv.URL)
	_, _, err = c3.WaitLatest(short, "w", 0, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || !client.IsUnavailable(err) {
		t.Fatalf("with a short deadline: %v", err)
	}
	if n := len(f3.seen("GET", "/snapshots/latest")); n != 1 {
		t.Fatalf("the front saw %d long polls under a 300 ms deadline, want 1", n)
	}
}

// TestClient_WatchReconnects: when the stream breaks, Watch reconnects
// with Last-Event-ID and goes on from the last version: every snapshot
// event once, in order.
func TestClient_WatchReconnects(t *testing.T) {
	engines(t, func(t *testing.T, s *e2e.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		direct := newClient(t, s.Base)
		if _, _, err := direct.PutSession(ctx, "w", client.SessionInput{}); err != nil {
			t.Fatal(err)
		}
		f := newFront(t, s.Base)
		c := newClient(t, f.srv.URL, client.WithRetry(client.RetryPolicy{MinBackoff: time.Millisecond}))
		if _, err := direct.Append(ctx, "w", client.AppendInput{State: 1}); err != nil {
			t.Fatal(err)
		}
		var versions []int64
		for ev, err := range c.Watch(ctx, "w", client.WatchOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != client.EventSnapshot {
				continue
			}
			v := ev.Snapshot.Version
			versions = append(versions, v)
			switch v {
			case 1:
				direct.Append(ctx, "w", client.AppendInput{State: 2})
			case 2:
				f.srv.CloseClientConnections() // the stream breaks
				direct.Append(ctx, "w", client.AppendInput{State: 3})
				direct.Append(ctx, "w", client.AppendInput{State: 4})
			case 4:
				direct.DeleteSession(ctx, "w")
			}
		}
		if !slices.Equal(versions, []int64{1, 2, 3, 4}) {
			t.Fatalf("versions %v, want 1 2 3 4 once each", versions)
		}
		streams := f.seen("GET", "/events")
		if len(streams) < 2 || streams[0].lastEventID != "0" || streams[len(streams)-1].lastEventID != "2" {
			t.Fatalf("streams %+v: want a reconnect with Last-Event-ID 2", streams)
		}
	})
}
