package state_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// seed makes 4 sessions of 12 snapshots each, 10 of them old, plus 5
// sessions whose TTL has passed, each with 2 snapshots.
var ctx = context.Background()

// openStore opens a real SQLite store: the janitor is engine-agnostic and
// is tested here on the embedded default.
func openStore(t *testing.T, opts state.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "j.db"), sqlitestore.Config{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seed(t *testing.T, s *sqlitestore.Store, clock *statetest.Clock) {
	t.Helper()
	for i := range 4 {
		id := fmt.Sprintf("keep%d", i)
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(fmt.Sprint(j))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("ttl%d", i)
		ttl := time.Minute
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id, TTL: &ttl}); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(fmt.Sprint(j))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.Advance(2 * time.Hour)
	for i := range 4 {
		id := fmt.Sprintf("keep%d", i)
		for j := range 2 {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(fmt.Sprint(j))}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestJanitorPass(t *testing.T) {
	clock := statetest.NewClock()
	s := openStore(t, state.Options{Now: clock.Now})
	seed(t, s, clock)

	// Age rule: the 10 old snapshots of each keep session go (40); the
	// expired sessions' old snapshots are pruned first (1 each: their latest
	// stays), then the sessions expire (5).
	j := state.NewJanitor(s, state.JanitorConfig{MaxAge: time.Hour, Batch: 7})
	r, err := j.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.SnapshotsPruned != 45 || r.SessionsExpired != 5 {
		t.Fatalf("pass removed %+v, want 45 snapshots and 5 sessions", r)
	}
	// 45 rows in batches of 7: 7 batches (the last one short), and 5
	// sessions in batches of 7: 1. A slice also ends early when it passes
	// its bound of writer time (a loaded machine), so there may be more,
	// never fewer.
	if r.Batches < 7+1 {
		t.Fatalf("batches = %d, want at least 8", r.Batches)
	}
	for i := range 4 {
		sess, err := s.GetSession(ctx, fmt.Sprintf("keep%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if sess.Version != 12 || sess.SnapshotCount != 2 {
			t.Fatalf("session after pass: %+v", sess)
		}
	}
	if _, err := s.GetSession(ctx, "ttl0"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}

	if st := j.Stats(); st.Passes != 1 || st.SnapshotsPruned != 45 || st.SessionsExpired != 5 || st.Batches != r.Batches || st.Errors != 0 || st.LastPassAt == nil {
		t.Fatalf("stats %+v", st)
	}

	// Count rule.
	r, err = state.NewJanitor(s, state.JanitorConfig{KeepLast: 1}).Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.SnapshotsPruned != 4 || r.SessionsExpired != 0 {
		t.Fatalf("second pass removed %+v, want 4 snapshots", r)
	}
}

func TestJanitorPassErrorsCounted(t *testing.T) {
	s := openStore(t, state.Options{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	j := state.NewJanitor(s, state.JanitorConfig{})
	if _, err := j.Pass(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("pass with a cancelled context: %v", err)
	}
	if st := j.Stats(); st.Errors != 0 {
		t.Fatalf("a cancelled pass counted as an error: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Pass(ctx); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("pass on a closed store: %v", err)
	}
	if st := j.Stats(); st.Errors != 1 || st.LastError == "" || st.Passes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunJanitor(t *testing.T) {
	clock := statetest.NewClock()
	s := openStore(t, state.Options{Now: clock.Now})
	seed(t, s, clock)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	j := state.NewJanitor(s, state.JanitorConfig{Interval: time.Millisecond, MaxAge: time.Hour, Batch: 10})
	go func() { done <- j.Run(rctx) }()
	// Appends go on while the janitor runs; wait (bounded) for a few passes.
	deadline := time.Now().Add(30 * time.Second)
	for j.Stats().Passes < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor made no progress: %+v", j.Stats())
		}
		if _, err := s.AppendSnapshot(ctx, "keep0", state.AppendInput{State: []byte(`1`)}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunJanitor returned %v after cancel", err)
	}
	st := j.Stats()
	if st.SnapshotsPruned != 45 || st.SessionsExpired != 5 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// slicer is a Store whose retention runs in slices: each slice reports
// 10ms of writer time, and the fourth is the last.
type slicer struct {
	state.Store
	calls int
}

func (s *slicer) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	return state.SliceResult{}, errors.New("not configured")
}

func (s *slicer) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	s.calls++
	return state.SliceResult{Snapshots: 16, Sessions: 1, WriterTime: 10 * time.Millisecond, More: s.calls < 4}, nil
}

// TestJanitorWriterShare: on a Slicer the janitor waits after each slice
// so that its writer time stays within WriterShare, and reports the
// slices, their writer time and its waits.
func TestJanitorWriterShare(t *testing.T) {
	var waits []time.Duration
	cfg := state.JanitorConfig{WriterShare: 0.2}
	state.SetJanitorSleep(&cfg, func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	})
	j := state.NewJanitor(&slicer{}, cfg)
	r, err := j.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Batches != 4 || r.SnapshotsReclaimed != 64 || r.SessionsExpired != 4 {
		t.Fatalf("pass %+v", r)
	}
	// 10ms of writer time at a share of 0.2: 40ms of waiting after each
	// slice that says there is more.
	if len(waits) != 3 || waits[0] != 40*time.Millisecond {
		t.Fatalf("waits %v, want 3 of 40ms", waits)
	}
	st := j.Stats()
	if st.Slices != 4 || st.WriterSeconds != 0.04 || st.MaxSliceSeconds != 0.01 || st.SleepSeconds < 0.119 || st.SnapshotsReclaimed != 64 {
		t.Fatalf("stats %+v", st)
	}
}
