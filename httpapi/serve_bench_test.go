package httpapi_test

import (
	"bytes"
	"context"
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
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "cortex.db"), sqlitestore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := httpapi.New(httpapi.Config{
		Store:    st,
		Registry: prometheus.NewRegistry(),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%04d", i)
		if _, err := st.CreateSession(context.Background(), state.SessionInput{ID: ids[i]}); err != nil {
			b.Fatal(err)
		}
	}
	body := []byte(`{"state":{"data":"` + strings.Repeat("x", 490) + `"}}`)
	for _, c := range []struct {
		name, ct string
		want     int
	}{
		{"append", "application/json", http.StatusCreated},
		{"415", "text/plain", http.StatusUnsupportedMediaType},
	} {
		b.Run(c.name, func(b *testing.B) {
			reqs := make([]*http.Request, len(ids))
			for i, id := range ids {
				req, err := http.NewRequest("POST", "http://127.0.0.1:8080/v1/sessions/"+id+"/snapshots", nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", c.ct)
				req.RemoteAddr = "127.0.0.1:40000"
				req.ContentLength = int64(len(body))
				reqs[i] = req
			}
			rd := bytes.NewReader(body)
			rc := io.NopCloser(rd)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := reqs[i%len(reqs)]
				rd.Reset(body)
				req.Body = rc
				clear(w.h)
				w.status = 0
				s.ServeHTTP(w, req)
				if w.status != c.want {
					b.Fatalf("status %d, want %d", w.status, c.want)
				}
			}
		})
	}
}
