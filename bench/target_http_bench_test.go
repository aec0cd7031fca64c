package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/bench"
)

// cannedTransport answers every request at once with a recorded answer of
// cortex serve for its route, so that a benchmark measures the load
// generator's own cost per operation (building the request, reading and
// decoding the answer), without a server or a network.
type cannedTransport struct{ append, latest, history []byte }

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	status, body := http.StatusOK, c.history
	switch {
	case r.Method == http.MethodPost:
		status, body = http.StatusCreated, c.append
	case strings.HasSuffix(r.URL.Path, "/latest"):
		body = c.latest
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// BenchmarkHTTPTarget is the load generator's cost per operation of
// `cortex bench --mode http` (512-byte states, history pages of 20).
func BenchmarkHTTPTarget(b *testing.B) {
	state := `{"pad":"` + strings.Repeat("x", 500) + `"}`
	snap := func(v int, withState bool) string {
		s := fmt.Sprintf(`{"session_id":"bench-000042","version":%d,"created_at":"2026-12-05T10:00:00.123456789Z",`, v)
		if withState {
			s += `"state":` + state + `,`
		}
		return s + `"metadata":{},"size_bytes":512}`
	}
	var page []string
	for v := 40; v > 20; v-- {
		page = append(page, snap(v, false))
	}
	ct := cannedTransport{
		append:  []byte(`{"session_id":"bench-000042","version":41,"created_at":"2026-12-05T10:00:00.123456789Z","size_bytes":512}` + "\n"),
		latest:  []byte(snap(40, true) + "\n"),
		history: []byte(`{"snapshots":[` + strings.Join(page, ",") + `],"next_cursor":"aDE6MjA"}` + "\n"),
	}
	t, err := bench.NewHTTPTarget("http://127.0.0.1:1", bench.HTTPOptions{Client: &http.Client{Transport: ct}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st := []byte(state)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := t.Append(ctx, "bench-000042", st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("latest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := t.Latest(ctx, "bench-000042"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("history", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := t.History(ctx, "bench-000042", 20); err != nil {
				b.Fatal(err)
			}
		}
	})
}
