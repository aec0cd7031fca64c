package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// BenchmarkSlices measures what background work does to appends on other
// sessions: the latency of appends by 4 clients (each to its own session,
// 1 KB states, closed loop) with nothing else running, then while a large
// fork, a delete of a large session and its reclaim, and a large retention
// pass run, each once in slices (the default budget, the janitor at its
// default writer share) and once as one transaction (a budget of an hour,
// which is what the store did before slicing). One run, one database per
// scenario; the table goes to the log. It runs once whatever b.N is:
//
//	go test -run '^$' -bench BenchmarkSlices -benchtime 1x -timeout 60m ./sqlitestore/
//
// Sizes: CORTEX_SLICES_BENCH=small runs a tenth of each.
func BenchmarkSlices(b *testing.B) {
	scale := 1
	if strings.Contains(benchEnv(), "small") {
		scale = 10
	}
	forkN, forkBytes := 1500/scale, 200_000
	delN := 100_000 / scale
	pruneSessions, prunePer := 100, 1000/scale
	var rows [][]string
	add := func(name string, l latencies, opDur time.Duration) {
		rows = append(rows, append([]string{name}, l.row(opDur)...))
		fmt.Fprintln(os.Stderr, "slices bench:", strings.Join(rows[len(rows)-1], " | "))
	}
	ctx := context.Background()

	b.Run("fork", func(b *testing.B) {
		s := benchStore(b)
		ap := newAppenders(b, s)
		seedBig(b, s, "src", forkN, forkBytes, 10)
		add("no background work", ap.during(func() { time.Sleep(3 * time.Second) }), 0)
		for _, v := range []struct {
			name   string
			budget time.Duration
		}{{"fork, sliced (at most half the writer's time)", DefaultSliceBudget}, {"fork, one transaction (before)", time.Hour}} {
			s.slices.Budget = v.budget
			var d time.Duration
			l := ap.during(func() {
				t0 := time.Now()
				if _, err := s.ForkSession(ctx, "src", state.ForkInput{NewID: "f-" + fmt.Sprint(v.budget)}); err != nil {
					b.Fatal(err)
				}
				d = time.Since(t0)
			})
			add(fmt.Sprintf("%s (%d × %d kB)", v.name, forkN, forkBytes/1000), l, d)
		}
	})

	b.Run("delete", func(b *testing.B) {
		s := benchStore(b)
		ap := newAppenders(b, s)
		add("no background work", ap.during(func() { time.Sleep(3 * time.Second) }), 0)
		for _, v := range []struct {
			name   string
			budget time.Duration
		}{{"delete + reclaim, sliced (janitor, 10% share)", DefaultSliceBudget}, {"delete + reclaim, one transaction (before: the cascade)", time.Hour}} {
			seedBig(b, s, "big", delN, 1000, 1000)
			s.slices.Budget = v.budget
			var d, del time.Duration
			l := ap.during(func() {
				t0 := time.Now()
				if err := s.DeleteSession(ctx, "big"); err != nil {
					b.Fatal(err)
				}
				del = time.Since(t0)
				if v.budget == time.Hour {
					if _, err := s.ExpireSessions(ctx, 0); err != nil {
						b.Fatal(err)
					}
				} else if _, err := state.NewJanitor(s, state.JanitorConfig{}).Pass(ctx); err != nil {
					b.Fatal(err)
				}
				d = time.Since(t0)
			})
			add(fmt.Sprintf("%s (%d snapshots; DeleteSession answered in %v)", v.name, delN, del.Round(time.Microsecond)), l, d)
		}
	})

	b.Run("retention", func(b *testing.B) {
		// The store's clock stands still while a pass runs, so that the
		// appends during it never become old enough for the pass: it
		// removes exactly the seeded snapshots.
		var mu sync.Mutex
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		s := benchStore(b, state.Options{Now: clock})
		ap := newAppenders(b, s)
		add("no background work", ap.during(func() { time.Sleep(3 * time.Second) }), 0)
		for _, v := range []struct {
			name   string
			budget time.Duration
		}{{"retention pass, sliced (janitor, 10% share)", DefaultSliceBudget}, {"retention pass, batches of 500 rows a transaction (before)", time.Hour}} {
			// Clear what earlier phases left old, then seed, and age it.
			advance(2 * time.Hour)
			s.slices.Budget = time.Hour
			if _, err := s.Prune(ctx, state.PruneOptions{OlderThan: time.Hour, Limit: 1 << 30}); err != nil {
				b.Fatal(err)
			}
			for i := range pruneSessions {
				seedBig(b, s, fmt.Sprintf("r%03d", i), prunePer, 1000, 1000)
			}
			advance(2 * time.Hour)
			s.slices.Budget = v.budget
			var d time.Duration
			var n int64
			l := ap.during(func() {
				t0 := time.Now()
				if v.budget == time.Hour {
					// The janitor before slicing: Prune calls of 500 rows,
					// one transaction each, back to back.
					for {
						k, err := s.Prune(ctx, state.PruneOptions{OlderThan: time.Hour, Limit: 500})
						if err != nil {
							b.Fatal(err)
						}
						n += k
						if k < 500 {
							break
						}
					}
				} else {
					r, err := state.NewJanitor(s, state.JanitorConfig{MaxAge: time.Hour}).Pass(ctx)
					if err != nil {
						b.Fatal(err)
					}
					n = r.SnapshotsPruned
				}
				d = time.Since(t0)
			})
			add(fmt.Sprintf("%s (%d snapshots removed)", v.name, n), l, d)
			for i := range pruneSessions {
				if err := s.DeleteSession(ctx, fmt.Sprintf("r%03d", i)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})

	var sb strings.Builder
	sb.WriteString("\n| while | appends | p50 | p99 | max | operation took |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		sb.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	b.Log(sb.String())
}

func benchEnv() string { return strings.ToLower(getenv("CORTEX_SLICES_BENCH")) }

func benchStore(b *testing.B, opts ...state.Options) *Store {
	b.Helper()
	var o state.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Config{Options: o})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// seedBig makes session id with n snapshots of about size bytes, batch
// appends at a time.
func seedBig(b *testing.B, s *Store, id string, n, size, batch int) {
	b.Helper()
	ctx := context.Background()
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
		b.Fatal(err)
	}
	st := []byte(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", size)))
	for done := 0; done < n; {
		k := min(batch, n-done)
		items := make([]state.BatchItem, k)
		for i := range items {
			items[i] = state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: st}}
		}
		if _, err := s.AppendBatch(ctx, items); err != nil {
			b.Fatal(err)
		}
		done += k
	}
}

// appenders are 4 clients appending 1 KB states, each to its own session.
type appenders struct {
	b *testing.B
	s *Store
}

func newAppenders(b *testing.B, s *Store) *appenders {
	for i := range 4 {
		if _, err := s.CreateSession(context.Background(), state.SessionInput{ID: fmt.Sprint("load", i)}); err != nil {
			b.Fatal(err)
		}
	}
	return &appenders{b, s}
}

// during runs the appenders while op runs, and returns their latencies.
func (a *appenders) during(op func()) latencies {
	ctx := context.Background()
	stop := make(chan struct{})
	var (
		mu  sync.Mutex
		all []time.Duration
		wg  sync.WaitGroup
	)
	st := []byte(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("y", 1000)))
	t0 := time.Now()
	for i := range 4 {
		wg.Go(func() {
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				t := time.Now()
				if _, err := a.s.AppendSnapshot(ctx, fmt.Sprint("load", i), state.AppendInput{State: st}); err != nil {
					a.b.Error(err)
				}
				mine = append(mine, time.Since(t))
			}
		})
	}
	op()
	close(stop)
	wg.Wait()
	return latencies{d: all, wall: time.Since(t0)}
}

type latencies struct {
	d    []time.Duration
	wall time.Duration
}

func (l latencies) row(op time.Duration) []string {
	slices.Sort(l.d)
	q := func(p float64) string {
		if len(l.d) == 0 {
			return "-"
		}
		return fmt.Sprint(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Round(10 * time.Microsecond))
	}
	opS := "-"
	if op > 0 {
		opS = op.Round(time.Millisecond).String()
	}
	return []string{fmt.Sprintf("%d (%.0f/s)", len(l.d), float64(len(l.d))/l.wall.Seconds()), q(0.5), q(0.99), q(1), opS}
}

func getenv(k string) string { return os.Getenv(k) }
