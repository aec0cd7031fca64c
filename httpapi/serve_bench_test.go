package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// discardWriter is a reusable http.ResponseWriter that keeps nothing but
// the status, so that a benchmark of ServeHTTP counts the server's own
// allocations, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// hotServer is a Server on a real SQLite file with 1,000 sessions, logging
// as cortex serve does (JSON, INFO), and requests for the appends of
// BenchmarkServeHTTP and TestServeHTTP_Allocations: POSTs of a 512-byte
// state with Content-Type ct, one per session, bodies set by serve.
type hotServer struct {
	st   *sqlitestore.Store
	s    *httpapi.Server
	reqs []*http.Request
	body []byte
	rd   *bytes.Reader
	rc   io.ReadCloser
	w    *discardWriter
}

func newHotServer(tb testing.TB, ct string) *hotServer {
	tb.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(tb.TempDir(), "cortex.db"), sqlitestore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	s, err := httpapi.New(httpapi.Config{
		Store:    st,
		Registry: prometheus.NewRegistry(),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	h := &hotServer{st: st, s: s, body: []byte(`{"state":{"data":"` + strings.Repeat("x", 490) + `"}}`), w: &discardWriter{h: http.Header{}}}
	h.rd = bytes.NewReader(h.body)
	h.rc = io.NopCloser(h.rd)
	for i := range 1000 {
		id := fmt.Sprintf("s%04d", i)
		if _, err := st.CreateSession(context.Background(), state.SessionInput{ID: id}); err != nil {
			tb.Fatal(err)
		}
		req, err := http.NewRequest("POST", "http://127.0.0.1:8080/v1/sessions/"+id+"/snapshots", nil)
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		req.RemoteAddr = "127.0.0.1:40000"
		req.ContentLength = int64(len(h.body))
		h.reqs = append(h.reqs, req)
	}
	return h
}

// serve sends the i-th request (round the sessions) and returns its status.
func (h *hotServer) serve(i int) int {
	req := h.reqs[i%len(h.reqs)]
	h.rd.Reset(h.body)
	req.Body = h.rc
	clear(h.w.h)
	h.w.status = 0
	h.s.ServeHTTP(h.w, req)
	return h.w.status
}

// TestServeHTTP_Allocations: the server's own allocations per append
// (those of ServeHTTP less those of the same AppendSnapshot called on the
// store directly) are at most 8, and the cheapest answer (a 415) makes at
// most 20: the hot path has no allocation that a pool or a plain buffer
// spares (before: about 25 of the server's own per append, and 24 per 415;
// BenchmarkServeHTTP). Counts, not timings; the margin is for sync.Pool,
// which drops some items under -race.
func TestServeHTTP_Allocations(t *testing.T) {
	h := newHotServer(t, "application/json")
	ctx := context.Background()
	in := state.AppendInput{State: json.RawMessage(`{"data":"` + strings.Repeat("x", 490) + `"}`)}
	i := 0
	for ; i < 100; i++ { // warm: pools, statement cache, metric series
		if got := h.serve(i); got != http.StatusCreated {
			t.Fatalf("append: status %d", got)
		}
	}
	store := testing.AllocsPerRun(300, func() {
		if _, err := h.st.AppendSnapshot(ctx, fmt.Sprintf("s%04d", i%1000), in); err != nil {
			t.Fatal(err)
		}
		i++
	})
	total := testing.AllocsPerRun(300, func() {
		if got := h.serve(i); got != http.StatusCreated {
			t.Fatalf("append: status %d", got)
		}
		i++
	})
	// The Sprintf of the store's loop is its own allocation, not the
	// store's: the id string.
	own := total - (store - 1)
	t.Logf("append: %.0f allocations per request, %.0f of them the store's", total, store-1)
	if own > 8 {
		t.Errorf("append: the server makes %.0f allocations per request besides the store's, want at most 8", own)
	}

	h = newHotServer(t, "text/plain")
	for i = 0; i < 100; i++ {
		h.serve(i)
	}
	refused := testing.AllocsPerRun(300, func() {
		if got := h.serve(i); got != http.StatusUnsupportedMediaType {
			t.Fatalf("415: status %d", got)
		}
		i++
	})
	t.Logf("415: %.0f allocations per request", refused)
	if refused > 20 {
		t.Errorf("415: %.0f allocations per request, want at most 20", refused)
	}
}

// BenchmarkServeHTTP measures the server's own work per request, without
// net/http's connection handling or a client: ServeHTTP called directly
// with a reused request, on a real SQLite file, request logging on as
// cortex serve has it (JSON, INFO). allocs/op are exact and are the
// figures to compare; "append" includes the store's own allocations
// (BenchmarkAppend in sqlitestore counts those alone), "415" is the
// server's cheapest answer to the same request with a text/plain body.
//
//	go test -run '^$' -bench ServeHTTP -benchmem ./httpapi/
func BenchmarkServeHTTP(b *testing.B) {
	for _, c := range []struct {
		name, ct string
		want     int
	}{
		{"append", "application/json", http.StatusCreated},
		{"415", "text/plain", http.StatusUnsupportedMediaType},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := newHotServer(b, c.ct)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := h.serve(i); got != c.want {
					b.Fatalf("status %d, want %d", got, c.want)
				}
			}
		})
	}
}
