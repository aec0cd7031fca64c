package httpapi

import (
	"container/list"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Defaults of the in-flight budget (Config.MaxInflightBytes,
// Config.InflightWait).
const (
	DefaultMaxInflightBytes = 256 << 20
	DefaultInflightWait     = 2 * time.Second
)

// answerItemBytes is what one item of a page without states (a session, a
// snapshot's metadata) is charged: the session body limit, which bounds a
// session's metadata.
const answerItemBytes = maxSmallBody

// inflight is the server-wide budget of bytes in flight: each /v1 request
// is charged, before its body is read, what its body and its answer can
// take at most (requestCost), and waits, first come first served, until
// the budget has room for it; after InflightWait it is answered 503 with
// Retry-After instead. The charge is returned when the handler returns.
type inflight struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters list.List // of *inflightWaiter, oldest first
}

type inflightWaiter struct {
	n     int64
	ready chan struct{}
}

func newInflight(size int64) *inflight { return &inflight{size: size} }

// acquire charges n bytes (at most the whole budget), waiting at most wait;
// it reports whether it did, and the bytes charged (for release).
func (b *inflight) acquire(ctx context.Context, n int64, wait time.Duration) (int64, bool) {
	n = min(max(n, 1), b.size)
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, true
	}
	w := &inflightWaiter{n: n, ready: make(chan struct{})}
	e := b.waiters.PushBack(w)
	b.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return n, true
	case <-ctx.Done():
	case <-t.C:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while giving up: keep it
		return n, true
	default:
	}
	b.waiters.Remove(e)
	b.grant() // the ones behind it may fit now
	return 0, false
}

// release returns n bytes to the budget.
func (b *inflight) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant lets waiters in, in order, while they fit. b.mu is held.
func (b *inflight) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*inflightWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}

// inUse returns the bytes charged now.
func (b *inflight) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// requestCost bounds what a request can hold in memory at once: its body
// twice (the bytes read, and what decoding copies out of them) and its
// answer four times (the rows the driver copies out, the store's values,
// and their encoding as its buffer grows by doubling: measured at about
// five times a 16 MiB page in TestServe_InflightBudgetBoundsRSS).
func (s *Server) requestCost(r *http.Request, pattern string) int64 {
	var body int64
	if r.Body != nil && r.Body != http.NoBody {
		limit := int64(maxSmallBody)
		switch pattern {
		case "POST /v1/sessions/{id}/snapshots":
			limit = int64(s.cfg.MaxStateBytes) + BodyOverhead
		case "POST /v1/snapshots:batch":
			limit = s.cfg.MaxBatchBytes
		}
		body = limit
		if r.ContentLength >= 0 && r.ContentLength < limit {
			body = r.ContentLength
		}
	}
	answer := int64(maxSmallBody)
	var q url.Values
	limit := int64(state.DefaultLimit)
	if r.URL.RawQuery != "" { // most requests have none: no parse, no map
		q = r.URL.Query()
		if n, err := strconv.ParseInt(q.Get("limit"), 10, 64); err == nil && n > 0 && n <= state.MaxLimit {
			limit = n
		}
	}
	// A page holds at most limit items and, past its first item, at most
	// state.MaxPageStateBytes (the page byte budget, which counts metadata
	// too once it is bounded).
	page := func(perItem int64) int64 { return min(limit*perItem, max(state.MaxPageStateBytes, perItem)) }
	switch pattern {
	case "GET /v1/sessions/{id}/snapshots":
		if inc, _ := strconv.ParseBool(q.Get("include_state")); inc {
			answer = page(int64(s.cfg.MaxStateBytes) + answerItemBytes)
		} else {
			answer = page(answerItemBytes)
		}
	case "GET /v1/sessions":
		answer = page(answerItemBytes)
	case "GET /v1/sessions/{id}/snapshots/latest", "GET /v1/sessions/{id}/snapshots/{version}":
		answer = int64(s.cfg.MaxStateBytes) + answerItemBytes
	}
	return 2*body + 4*answer
}
