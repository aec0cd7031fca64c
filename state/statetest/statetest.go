package statetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// NewStoreFunc returns a fresh, empty store with opts, closed at t's cleanup.
type NewStoreFunc func(t *testing.T, opts state.Options) state.Store

// Run runs the conformance suite against the stores newStore returns. Each
// subtest gets its own store. It is safe to call from several top-level
// tests, not concurrently on the same t.
func Run(t *testing.T, newStore func(t *testing.T, opts state.Options) state.Store) {
	h := &harness{newStore: newStore}
	t.Run("Sessions", func(t *testing.T) { h.runSessions(t) })
	t.Run("List", func(t *testing.T) { h.runList(t) })
	t.Run("Snapshots", func(t *testing.T) { h.runSnapshots(t) })
	t.Run("Concurrency", func(t *testing.T) { h.runConcurrency(t) })
	t.Run("Batch", func(t *testing.T) { h.runBatch(t) })
	t.Run("History", func(t *testing.T) { h.runHistory(t) })
	t.Run("Fork", func(t *testing.T) { h.runFork(t) })
	t.Run("Prune", func(t *testing.T) { h.runPrune(t) })
	t.Run("Expire", func(t *testing.T) { h.runExpire(t) })
	t.Run("Absent", func(t *testing.T) { h.runAbsent(t) })
	t.Run("Lifecycle", func(t *testing.T) { h.runLifecycle(t) })
	t.Run("TimeNeverGoesBack", func(t *testing.T) { h.runTimeNeverGoesBack(t) })
	t.Run("Hardening", func(t *testing.T) { h.runHardening(t) })
	t.Run("Watch", func(t *testing.T) { h.runWatch(t) })
	t.Run("Search", func(t *testing.T) { h.runSearch(t) })
	t.Run("Keys", func(t *testing.T) { h.runKeys(t) })
	t.Run("HistoryFilter", func(t *testing.T) { h.runHistoryFilter(t) })
	t.Run("Messages", func(t *testing.T) { h.runMessages(t) })
}

type harness struct {
	newStore NewStoreFunc
}

// Clock is the suite's injectable clock: every reading moves it forward by
// one microsecond, so successive operations get distinct, ordered times
// that microsecond-precision backends store exactly; Advance jumps ahead.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed, microsecond-aligned UTC instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)}
}

// Now returns the current reading and ticks one microsecond.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Peek returns the current reading without ticking.
func (c *Clock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

var bg = context.Background()

// store returns a fresh store with the suite's clock and default limits.
func (h *harness) store(t *testing.T) (state.Store, *Clock) {
	t.Helper()
	c := NewClock()
	return h.newStore(t, state.Options{Now: c.Now}), c
}

func js(s string) json.RawMessage { return json.RawMessage(s) }

func dur(d time.Duration) *time.Duration { return &d }

func i64(v int64) *int64 { return &v }

func mustCreate(t *testing.T, s state.Store, id string) state.Session {
	t.Helper()
	sess, err := s.CreateSession(bg, state.SessionInput{ID: id})
	if err != nil {
		t.Fatalf("CreateSession(%q): %v", id, err)
	}
	return sess
}

func mustGet(t *testing.T, s state.Store, id string) state.Session {
	t.Helper()
	sess, err := s.GetSession(bg, id)
	if err != nil {
		t.Fatalf("GetSession(%q): %v", id, err)
	}
	return sess
}

func mustAppend(t *testing.T, s state.Store, id string, st string) state.AppendResult {
	t.Helper()
	r, err := s.AppendSnapshot(bg, id, state.AppendInput{State: js(st)})
	if err != nil {
		t.Fatalf("AppendSnapshot(%q): %v", id, err)
	}
	return r
}

// appendN appends n snapshots {"n":1} … {"n":n} (offset by the session's
// current version is the caller's business).
func appendN(t *testing.T, s state.Store, id string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		mustAppend(t, s, id, fmt.Sprintf(`{"n":%d}`, i))
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func wantJSON(t *testing.T, got []byte, want string, what string) {
	t.Helper()
	if !jsonEqual(got, []byte(want)) {
		t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

func wantUTC(t *testing.T, tm time.Time, what string) {
	t.Helper()
	if tm.IsZero() {
		t.Fatalf("%s is zero", what)
	}
	if tm.Location() != time.UTC {
		t.Fatalf("%s = %v: location %v, want UTC", what, tm, tm.Location())
	}
}

func wantTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// sameSession compares two sessions by value (times with Equal, JSON by value).
func sameSession(t *testing.T, got, want state.Session, what string) {
	t.Helper()
	if got.ID != want.ID || got.Version != want.Version || got.SnapshotCount != want.SnapshotCount || got.TTL != want.TTL {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
	wantTime(t, got.CreatedAt, want.CreatedAt, what+" CreatedAt")
	wantTime(t, got.LastActive, want.LastActive, what+" LastActive")
	if (got.ExpiresAt == nil) != (want.ExpiresAt == nil) {
		t.Fatalf("%s ExpiresAt = %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	}
	if got.ExpiresAt != nil {
		wantTime(t, *got.ExpiresAt, *want.ExpiresAt, what+" ExpiresAt")
	}
	wantJSON(t, got.Metadata, string(want.Metadata), what+" Metadata")
}

// historyVersions reads a session's whole history and returns its versions,
// newest first.
func historyVersions(t *testing.T, s state.Store, id string) []int64 {
	t.Helper()
	var vs []int64
	opts := state.HistoryOptions{Limit: state.MaxLimit}
	for {
		p, err := s.History(bg, id, opts)
		if err != nil {
			t.Fatalf("History(%q): %v", id, err)
		}
		for _, sn := range p.Snapshots {
			vs = append(vs, sn.Version)
		}
		if p.NextCursor == "" {
			return vs
		}
		opts.Cursor = p.NextCursor
	}
}

func wantVersions(t *testing.T, got []int64, want ...int64) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("versions = %v, want %v", got, want)
	}
}

// descending returns hi, hi-1, …, lo.
func descending(hi, lo int64) []int64 {
	var vs []int64
	for v := hi; v >= lo; v-- {
		vs = append(vs, v)
	}
	return vs
}
