package sqlitestore

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openClocked(t *testing.T, cfg Config) (*Store, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	cfg.Options.Now = clock.Now
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

// appendRounds creates sessions and appends rounds snapshots to each, one
// per session in turn (so that consecutive rows of the created_at index
// belong to different sessions, as under many concurrent clients).
func appendRounds(t *testing.T, s *Store, ids []string, rounds int) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if _, err := s.GetSession(ctx, id); err != nil {
			if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range rounds {
		for _, id := range ids {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func sessionIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%03d", i)
	}
	return ids
}

// TestPruneKeepLast_ShortReadTransactions: the first slices of a KeepLast
// pass meet every session for the first time; their cutoffs are looked up
// at most lookupsPerRead to a read transaction (a reader holds the WAL for
// as long as its transaction runs: the 100-235 ms appends at a pass's
// start came from one read transaction of 459 lookups), and the pass
// still removes exactly what KeepLast selects.
func TestPruneKeepLast_ShortReadTransactions(t *testing.T) {
	ctx := context.Background()
	defer func(b time.Duration) { readBudget = b }(readBudget)
	readBudget = time.Hour // only the count bounds a read transaction

	s, _ := openClocked(t, Config{})
	ids := sessionIDs(300)
	appendRounds(t, s, ids, 3)
	n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 1, Limit: 1000})
	if err != nil || n != 600 {
		t.Fatalf("pruned %d, %v; want 600", n, err)
	}
	st := &s.keep.stats
	if got := st.lookups.Load(); got < 300 {
		t.Fatalf("%d cutoff lookups for 300 sessions", got)
	}
	if got := st.maxLookups.Load(); got > 32 {
		t.Fatalf("one read transaction looked up %d cutoffs, want at most 32", got)
	}
	for _, id := range ids {
		if vs := versionsOf(t, s, id); len(vs) != 1 || vs[0] != 3 {
			t.Fatalf("session %s keeps versions %v, want [3]", id, vs)
		}
	}
}

// TestPruneKeepLast_NothingToPrune: a KeepLast pass over a database where
// no session holds more than KeepLast reads the sessions table once and
// not one entry of the snapshots' index (it used to walk the whole index,
// every pass), and runs no write transaction.
func TestPruneKeepLast_NothingToPrune(t *testing.T) {
	ctx := context.Background()
	s, _ := openClocked(t, Config{Slices: SliceConfig{KeepScanRange: 64}})
	ids := sessionIDs(50)
	appendRounds(t, s, ids, 4)
	// A KeepLast 3 walk left part-way (its limit reached): a pass of
	// another KeepLast starts a lap of its own.
	if n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 3, Limit: 10}); err != nil || n != 10 {
		t.Fatalf("keep 3: pruned %d, %v; want its limit 10", n, err)
	}
	st := &s.keep.stats
	entries, sessions := st.entries.Load(), st.sessions.Load()
	commits := commitsOf(t, s)
	res, err := s.PruneSlice(ctx, state.PruneOptions{KeepLast: 4})
	if err != nil || res.More || res.Snapshots != 0 {
		t.Fatalf("slice: %+v, %v; want nothing and no more", res, err)
	}
	if e, n := st.entries.Load()-entries, st.sessions.Load()-sessions; e != 0 || n > 50 {
		t.Fatalf("a pass with nothing to prune read %d index entries and %d sessions rows; want 0 and at most 50", e, n)
	}
	if c := commitsOf(t, s); c != commits {
		t.Fatalf("a pass with nothing to prune committed %d write transactions", c-commits)
	}
	// One more snapshot anywhere, and the walk finds it.
	appendRounds(t, s, ids[40:41], 1)
	if n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 4}); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
}

// TestPruneOlderThan_OnAReader: MaxAge retention finds its victims on a
// reader, by a walk of the created_at index that stops at the cutoff and
// resumes where the last call stopped. Rows appended mid-pass are never
// pruned, nor a session's latest; a row that stops being its session's
// latest behind the walk goes in the next pass, ahead of it in this one. A
// pass with nothing to prune (every old row is its session's latest) reads
// one index entry per session and runs no write transaction (the old way
// searched on the writer, every call).
func TestPruneOlderThan_OnAReader(t *testing.T) {
	ctx := context.Background()
	s, clock := openClocked(t, Config{Slices: SliceConfig{KeepScanRange: 16}})
	ids := sessionIDs(40)
	var even, odd []string
	for i, id := range ids {
		if i%2 == 0 {
			even = append(even, id)
		} else {
			odd = append(odd, id)
		}
	}
	appendRounds(t, s, ids, 1) // version 1 of each, in id order
	clock.Advance(2 * time.Hour)
	appendRounds(t, s, even, 1) // the even sessions' version 1 may go

	opts := state.PruneOptions{OlderThan: time.Hour, Limit: 5}
	pass := func(mid func()) (total int64) {
		t.Helper()
		for calls := 0; ; calls++ {
			if calls > 100 {
				t.Fatal("the MaxAge walk never ends")
			}
			res, err := s.PruneSlice(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			total += res.Snapshots
			if calls == 1 && mid != nil {
				mid()
			}
			if !res.More {
				return total
			}
		}
	}
	// After two calls the walk stands past s018 (ten even sessions'
	// rows removed); then every odd session appends: the old rows of
	// s001-s017 (9) are behind the walk, those of s019-s039 (11) ahead.
	if n := pass(func() { appendRounds(t, s, odd, 1) }); n != 10+10+11 {
		t.Fatalf("first pass pruned %d, want 31", n)
	}
	if n := pass(nil); n != 9 {
		t.Fatalf("second pass pruned %d, want the 9 behind the first one's walk", n)
	}
	for _, id := range ids {
		if vs := versionsOf(t, s, id); len(vs) != 1 || vs[0] != 2 {
			t.Fatalf("session %s keeps %v, want [2]", id, vs)
		}
		sess, err := s.GetSession(ctx, id)
		if err != nil || sess.SnapshotCount != 1 {
			t.Fatalf("session %s: count %d, %v; want 1", id, sess.SnapshotCount, err)
		}
	}

	// No row older than the cutoff: nothing read, nothing written.
	clock.Advance(30 * time.Minute)
	commits := commitsOf(t, s)
	entries := s.keep.stats.entries.Load()
	if n := pass(nil); n != 0 {
		t.Fatalf("pruned %d, want 0", n)
	}
	if read := s.keep.stats.entries.Load() - entries; read != 0 {
		t.Fatalf("a MaxAge pass with no row older than the cutoff read %d index entries", read)
	}
	// Every row old, each its session's latest: one entry per session.
	clock.Advance(time.Hour)
	entries = s.keep.stats.entries.Load()
	if n := pass(nil); n != 0 {
		t.Fatalf("pruned %d, want 0 (every old row is its session's latest)", n)
	}
	if read := s.keep.stats.entries.Load() - entries; read > int64(len(ids)) {
		t.Fatalf("a MaxAge pass with nothing to prune read %d index entries, want at most one per session (%d)", read, len(ids))
	}
	if c := commitsOf(t, s); c != commits {
		t.Fatalf("MaxAge passes with nothing to prune committed %d write transactions, want 0 (victims are found on a reader)", c-commits)
	}
}

// commitsOf is the writer's commit count.
func commitsOf(t *testing.T, s *Store) int64 {
	t.Helper()
	st, err := s.DB().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Writer.Commits
}

// TestPruneKeepLast_FewOverBySession: when the snapshots over KeepLast are
// few among many (the steady state: what was appended since the last
// pass), a lap finds them session by session from the sessions table and
// each such session's oldest rows, reading no entry of the created_at
// index (a walk of the whole index, every pass, is what it replaces);
// it removes exactly them, also across calls cut by the limit.
// With a budget of 1 ns every slice stops after one row, and the next
// carries the lap on from the first row not removed.
func TestPruneKeepLast_FewOverBySession(t *testing.T) {
	for _, budget := range []time.Duration{0, time.Nanosecond} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) { testFewOverBySession(t, budget) })
	}
}

func testFewOverBySession(t *testing.T, budget time.Duration) {
	ctx := context.Background()
	s, _ := openClocked(t, Config{Slices: SliceConfig{KeepScanRange: 64, Budget: budget}})
	ids := sessionIDs(100)
	appendRounds(t, s, ids, 20)       // 2,000 rows, none over 20
	appendRounds(t, s, ids[10:13], 3) // 9 over KeepLast 20, in 3 sessions
	appendRounds(t, s, ids[50:51], 1) // and 1 more
	entries := s.keep.stats.entries.Load()
	var total int64
	for calls := 0; ; calls++ {
		if calls > 40 {
			t.Fatal("the pass never ends")
		}
		n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 20, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < 4 {
			break
		}
	}
	if total != 10 {
		t.Fatalf("pruned %d, want 10", total)
	}
	if read := s.keep.stats.entries.Load() - entries; read != 0 {
		t.Fatalf("the pass read %d created_at index entries for 10 rows over KeepLast among 2,010; want 0 (found by session)", read)
	}
	for i, id := range ids {
		vs := versionsOf(t, s, id)
		latest := int64(20)
		switch {
		case i >= 10 && i < 13:
			latest = 23
		case i == 50:
			latest = 21
		}
		if len(vs) != 20 || vs[0] != latest || vs[len(vs)-1] != latest-19 {
			t.Fatalf("session %s keeps %d versions %d..%d, want 20 from %d", id, len(vs), vs[len(vs)-1], vs[0], latest)
		}
		sess, err := s.GetSession(ctx, id)
		if err != nil || sess.SnapshotCount != 20 {
			t.Fatalf("session %s: count %d, %v", id, sess.SnapshotCount, err)
		}
	}
}

// TestAgeHi: the MaxAge walk's reads end at the cutoff in the index range
// itself (a bound on created_at alone left SQLite reading every newer
// entry to return none: 1.8 s for a pass with nothing to prune at 0.8M).
func TestAgeHi(t *testing.T) {
	const c = 1000
	last := scanPos{c - 1, math.MaxInt64, math.MaxInt64}
	for _, tc := range []struct{ hi, want scanPos }{
		{scanEnd, last},
		{scanPos{c, 0, 0}, last},
		{scanPos{c - 1, 5, 5}, scanPos{c - 1, 5, 5}}, // a wrapped lap's start, before the cutoff
		{scanPos{10, 1, 1}, scanPos{10, 1, 1}},
	} {
		if got := ageHi(tc.hi, c); got != tc.want {
			t.Errorf("ageHi(%v, %d) = %v, want %v", tc.hi, c, got, tc.want)
		}
	}
	if got := ageHi(scanEnd, math.MinInt64); got != scanStart {
		t.Errorf("ageHi at the smallest cutoff = %v, want the index's start", got)
	}
}
