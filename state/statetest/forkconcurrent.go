package statetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// runForkConcurrent: a fork copies its history in slices (issue #21), with
// other work running between them. Whatever runs meanwhile — a create of
// the new id, the janitor reclaiming and pruning — the fork is all or
// nothing, gapless, and its counters match its history.
func (h *harness) runForkConcurrent(t *testing.T) {
	const n = 300
	source := func(t *testing.T) state.Store {
		s, _ := h.store(t)
		mustCreate(t, s, "src")
		batch := make([]state.BatchItem, 0, state.MaxBatch)
		for i := 1; i <= n; i++ {
			batch = append(batch, state.BatchItem{SessionID: "src", AppendInput: state.AppendInput{State: js(fmt.Sprintf(`{"n":%d}`, i))}})
			if len(batch) == cap(batch) || i == n {
				if _, err := s.AppendBatch(bg, batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		return s
	}
	// gapless checks that id's history runs from some version down to 1
	// or higher without a hole, ends at top, and matches its counters.
	gapless := func(t *testing.T, s state.Store, id string, top int64) []int64 {
		t.Helper()
		vs := historyVersions(t, s, id)
		if len(vs) == 0 || vs[0] != top {
			t.Fatalf("%s: history %v, want it to end at %d", id, head(vs), top)
		}
		for i := 1; i < len(vs); i++ {
			if vs[i] != vs[i-1]-1 {
				t.Fatalf("%s: hole in the history between versions %d and %d", id, vs[i-1], vs[i])
			}
		}
		wantCounters(t, s, id, top, int64(len(vs)))
		return vs
	}

	// A create of the new id while the fork copies: exactly one of them
	// wins; when the create wins, its session is new and empty, and none
	// of the fork's copied rows ever shows in it, before or after the
	// janitor has reclaimed them.
	t.Run("RacesCreate", func(t *testing.T) {
		s := source(t)
		type outcome struct {
			id       string
			forkWins bool
		}
		var outs []outcome
		for round := range 4 {
			id := fmt.Sprintf("f%d", round)
			var (
				wg         sync.WaitGroup
				ferr, cerr error
			)
			start := make(chan struct{})
			wg.Go(func() { <-start; _, ferr = s.ForkSession(bg, "src", state.ForkInput{NewID: id}) })
			wg.Go(func() { <-start; _, cerr = s.CreateSession(bg, state.SessionInput{ID: id}) })
			close(start)
			wg.Wait()
			switch {
			case ferr == nil && errors.Is(cerr, state.ErrExists):
				outs = append(outs, outcome{id, true})
			case cerr == nil && errors.Is(ferr, state.ErrExists):
				outs = append(outs, outcome{id, false})
			default:
				t.Fatalf("round %d: fork %v, create %v; want exactly one to win, the other ErrExists", round, ferr, cerr)
			}
		}
		check := func(when string) {
			for _, o := range outs {
				if o.forkWins {
					if vs := gapless(t, s, o.id, n); len(vs) != n {
						t.Fatalf("%s: fork %s has %d snapshots, want %d", when, o.id, len(vs), n)
					}
					continue
				}
				wantVersions(t, historyVersions(t, s, o.id))
				wantCounters(t, s, o.id, 0, 0)
			}
		}
		check("right after")
		reclaimAll(t, s)
		check("after the reclaim")
		for _, o := range outs {
			want := int64(1)
			if o.forkWins {
				want = n + 1
			}
			if r := mustAppend(t, s, o.id, `"next"`); r.Version != want {
				t.Fatalf("append to %s: version %d, want %d", o.id, r.Version, want)
			}
		}
	})

	// The janitor reclaiming a deleted session and expired ones, pass
	// after pass, never takes a fork's copy in progress.
	t.Run("JanitorMeanwhile", func(t *testing.T) {
		s := source(t)
		for i := range 3 {
			id := fmt.Sprintf("gone%d", i)
			mustCreate(t, s, id)
			appendN(t, s, id, 20)
			if err := s.DeleteSession(bg, id); err != nil {
				t.Fatal(err)
			}
		}
		stop := janitorLoop(t, s, state.JanitorConfig{WriterShare: 1})
		for i := range 3 {
			f, err := s.ForkSession(bg, "src", state.ForkInput{NewID: fmt.Sprintf("f%d", i)})
			if err != nil {
				stop()
				t.Fatalf("fork %d with the janitor running: %v", i, err)
			}
			if f.Version != n || f.SnapshotCount != n {
				stop()
				t.Fatalf("fork %d: %+v", i, f)
			}
		}
		stop()
		for i := range 3 {
			if vs := gapless(t, s, fmt.Sprintf("f%d", i), n); len(vs) != n {
				t.Fatalf("fork f%d has %d snapshots, want %d", i, len(vs), n)
			}
		}
	})

	// Retention pruning the source (and every other session) while the
	// fork copies: the fork ends where it was asked to, with no hole, and
	// its counters match what it holds.
	t.Run("PrunedMeanwhile", func(t *testing.T) {
		s := source(t)
		stop := janitorLoop(t, s, state.JanitorConfig{KeepLast: 40, WriterShare: 1})
		var forks []string
		for i := range 3 {
			id := fmt.Sprintf("f%d", i)
			if _, err := s.ForkSession(bg, "src", state.ForkInput{NewID: id}); err != nil {
				stop()
				t.Fatalf("fork %d with retention running: %v", i, err)
			}
			forks = append(forks, id)
		}
		stop()
		for _, id := range forks {
			gapless(t, s, id, n)
		}
		gapless(t, s, "src", n)
	})
}

// janitorLoop runs janitor passes with cfg until the returned stop is
// called; a failed pass fails the test.
func janitorLoop(t *testing.T, s state.Store, cfg state.JanitorConfig) (stop func()) {
	t.Helper()
	j := state.NewJanitor(s, cfg)
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := j.Pass(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("janitor pass: %v", err)
				return
			}
		}
	})
	return sync.OnceFunc(func() {
		cancel()
		wg.Wait()
	})
}

// reclaimAll runs ExpireSessions until it comes back short.
func reclaimAll(t *testing.T, s state.Store) {
	t.Helper()
	for range 1000 {
		if n := mustExpire(t, s, 4); n < 4 {
			return
		}
	}
	t.Fatal("ExpireSessions never comes back short")
}

// head is the first few of vs, for messages.
func head(vs []int64) []int64 {
	if len(vs) > 5 {
		return vs[:5]
	}
	return vs
}
