package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// BenchmarkRetentionWindow measures retention and reclaim on an existing
// large database (CORTEX_RETAIN_DB, changed in place; skipped when unset),
// as the janitor runs them: the writer time of every slice (p50, p99, max),
// the writer time per removed row, and, under 4 appending clients, their
// throughput against a baseline measured just before, p99, max and the
// 100 ms windows in which no append completed. See BENCHMARKS.md
// ("Session 11, retain4") for the commands. Environment:
//
//	CORTEX_RETAIN_DB      the database (required)
//	CORTEX_RETAIN_KEEP    KeepLast of the retention pass (default 1000000)
//	CORTEX_RETAIN_WINDOW  how long each measured phase runs (default 60s)
//	CORTEX_RETAIN_ROWS    rows of each paired alone run (default 20000)
//	CORTEX_RETAIN_PAIRS   alone runs, new then old, pairs of (default 2; 0: none)
//	CORTEX_RETAIN_WAYS    retention windows under load, in turn: nowarm (this code's default), new
//	                      (with warmVictims), old (default nowarm)
//	CORTEX_RETAIN_DELETE  snapshots of the session deleted under load (default 0: no delete phase)
func BenchmarkRetentionWindow(b *testing.B) {
	path := os.Getenv("CORTEX_RETAIN_DB")
	if path == "" {
		b.Skip("CORTEX_RETAIN_DB is unset")
	}
	envInt := func(k string, def int) int {
		if v := os.Getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				b.Fatalf("%s: %v", k, err)
			}
			return n
		}
		return def
	}
	keep := envInt("CORTEX_RETAIN_KEEP", 1_000_000)
	rows := envInt("CORTEX_RETAIN_ROWS", 20_000)
	pairs := envInt("CORTEX_RETAIN_PAIRS", 2)
	delN := envInt("CORTEX_RETAIN_DELETE", 0)
	window := time.Minute
	if v := os.Getenv("CORTEX_RETAIN_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		window = d
	}
	ctx := context.Background()
	s, err := Open(ctx, path, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "retain window: "+format+"\n", args...) }

	// Alone: PruneSlice back to back, new and old ways alternating on
	// successive stretches of the same walk.
	for p := range pairs {
		for _, old := range []bool{false, true} {
			retainOldWay = old
			var sl sliceLog
			t0 := time.Now()
			var n int64
			for n < int64(rows) {
				r, err := s.PruneSlice(ctx, state.PruneOptions{KeepLast: keep, Limit: 500})
				if err != nil {
					b.Fatal(err)
				}
				sl.add(r)
				n += r.Snapshots
				if !r.More {
					break
				}
			}
			logf("alone pair %d old=%v: %s, wall %v", p+1, old, sl.summary(), time.Since(t0).Round(time.Millisecond))
		}
	}
	retainOldWay = false

	if window <= 0 {
		return
	}
	ap := newWindowLoad(b, s)
	ways := strings.Split(os.Getenv("CORTEX_RETAIN_WAYS"), ",")
	if ways[0] == "" {
		ways = []string{"nowarm"}
	}
	// Retention passes at the janitor's default share, for window each,
	// each after a baseline of its own (window/3).
	for _, way := range ways {
		base := ap.during(func() { time.Sleep(window / 3) })
		logf("baseline: %s", base.summary(base))
		retainOldWay, retainWarm = way == "old", way == "new"
		w := &recordingSlicer{Store: s}
		j := state.NewJanitor(w, state.JanitorConfig{KeepLast: keep, Interval: 24 * time.Hour})
		wctx, cancel := context.WithTimeout(ctx, window)
		l := ap.during(func() { j.Pass(wctx) })
		cancel()
		retainOldWay, retainWarm = false, false
		st := j.Stats()
		logf("retention (%s way) KeepLast %d, %v: %s; janitor share %.1f%% (writer %.2f s of %.1f s); appends %s",
			way, keep, window, w.log.summary(), 100*st.WriterSeconds/l.wall.Seconds(), st.WriterSeconds, l.wall.Seconds(), l.summary(base))
	}

	if delN > 0 {
		id := fmt.Sprintf("big-%d", time.Now().UnixNano())
		seedBigB(b, s, id, delN)
		base := ap.during(func() { time.Sleep(window / 3) })
		logf("baseline (before delete): %s", base.summary(base))
		w := &recordingSlicer{Store: s}
		j := state.NewJanitor(w, state.JanitorConfig{Interval: 24 * time.Hour})
		var del time.Duration
		l := ap.during(func() {
			t0 := time.Now()
			if err := s.DeleteSession(ctx, id); err != nil {
				b.Fatal(err)
			}
			del = time.Since(t0)
			if _, err := j.Pass(ctx); err != nil {
				b.Fatal(err)
			}
		})
		st := j.Stats()
		logf("delete %d (answered in %v) + reclaim: %s; janitor share %.1f%% (writer %.2f s of %.1f s); appends %s",
			delN, del.Round(time.Microsecond), w.log.summary(), 100*st.WriterSeconds/l.wall.Seconds(), st.WriterSeconds, l.wall.Seconds(), l.summary(base))
	}
}

// recordingSlicer is a Store whose slices are logged.
type recordingSlicer struct {
	*Store
	mu  sync.Mutex
	log sliceLog
}

func (r *recordingSlicer) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	res, err := r.Store.PruneSlice(ctx, opts)
	r.mu.Lock()
	r.log.add(res)
	r.mu.Unlock()
	return res, err
}

func (r *recordingSlicer) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	res, err := r.Store.ReclaimSlice(ctx)
	r.mu.Lock()
	r.log.add(res)
	r.mu.Unlock()
	return res, err
}

type sliceLog struct {
	d    []time.Duration
	rows int64
}

func (l *sliceLog) add(r state.SliceResult) {
	if r.WriterTime > 0 {
		l.d = append(l.d, r.WriterTime)
	}
	l.rows += r.Snapshots
}

func (l *sliceLog) summary() string {
	d := slices.Clone(l.d)
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	q := func(p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1e3
	}
	perRow := 0.0
	if l.rows > 0 {
		perRow = float64(sum.Microseconds()) / float64(l.rows)
	}
	return fmt.Sprintf("%d rows in %d slices, writer %.2f s = %.1f µs/row; slice ms p50 %.1f p99 %.1f max %.1f",
		l.rows, len(d), sum.Seconds(), perRow, q(0.5), q(0.99), q(1))
}

// windowLoad is 4 clients appending 1 KB states, each to its own session,
// closed loop.
type windowLoad struct {
	b   *testing.B
	s   *Store
	ids []string
}

func newWindowLoad(b *testing.B, s *Store) *windowLoad {
	w := &windowLoad{b: b, s: s}
	for i := range 4 {
		id := fmt.Sprintf("wload-%d-%d", time.Now().UnixNano(), i)
		if _, err := s.CreateSession(context.Background(), state.SessionInput{ID: id}); err != nil {
			b.Fatal(err)
		}
		w.ids = append(w.ids, id)
	}
	return w
}

type windowResult struct {
	d     []time.Duration
	ends  []time.Duration // since the start
	wall  time.Duration
	empty int // 100 ms windows without an append completing
	wins  int
}

func (w *windowLoad) during(op func()) windowResult {
	ctx := context.Background()
	stop := make(chan struct{})
	var (
		mu  sync.Mutex
		res windowResult
		wg  sync.WaitGroup
		st  = []byte(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("y", 1000)))
		t0  = time.Now()
	)
	for i := range 4 {
		wg.Go(func() {
			var mine, ends []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					res.d = append(res.d, mine...)
					res.ends = append(res.ends, ends...)
					mu.Unlock()
					return
				default:
				}
				t := time.Now()
				if _, err := w.s.AppendSnapshot(ctx, w.ids[i], state.AppendInput{State: st}); err != nil {
					w.b.Error(err)
				}
				mine = append(mine, time.Since(t))
				ends = append(ends, time.Since(t0))
			}
		})
	}
	op()
	close(stop)
	wg.Wait()
	res.wall = time.Since(t0)
	res.wins = int(res.wall / (100 * time.Millisecond))
	seen := make([]bool, res.wins+1)
	for _, e := range res.ends {
		seen[int(e/(100*time.Millisecond))] = true
	}
	for _, x := range seen[:res.wins] {
		if !x {
			res.empty++
		}
	}
	return res
}

func (r windowResult) rate() float64 { return float64(len(r.d)) / r.wall.Seconds() }

func (r windowResult) summary(base windowResult) string {
	d := slices.Clone(r.d)
	slices.Sort(d)
	q := func(p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1e3
	}
	return fmt.Sprintf("%.0f/s (%.0f%% of baseline), p50 %.2f ms, p99 %.1f ms, max %.1f ms, zero-append 100 ms windows %d of %d (%.2f%%)",
		r.rate(), 100*r.rate()/base.rate(), q(0.5), q(0.99), q(1), r.empty, r.wins, 100*float64(r.empty)/float64(max(r.wins, 1)))
}

// seedBigB appends a session of n 1 KB snapshots, 1000 a batch.
func seedBigB(b *testing.B, s *Store, id string, n int) {
	b.Helper()
	seedBig(b, s, id, n, 1000, 1000)
}

// BenchmarkPruneRows is KeepLast retention's writer cost per removed row
// where it is highest: many sessions appended to in turn, so that each
// row removed is on a primary-key index page of its own. The first run
// builds the database at CORTEX_PRUNE_ROWS_DB (300 sessions × 40
// snapshots of 1 KB, in rounds) and stops; later runs prune a copy of it
// (KeepLast 10: 9000 rows) the new way, with warmVictims when
// CORTEX_PRUNE_ROWS_WARM=1, or the old way with CORTEX_PRUNE_ROWS_OLD=1. For instruction counts of the writer's part
// alone (pruneVictims and what it calls):
//
//	valgrind --tool=callgrind --toggle-collect='*sqlitestore.pruneVictims' ./sqlitestore.test -test.run '^$' -test.bench BenchmarkPruneRows -test.benchtime 1x
func BenchmarkPruneRows(b *testing.B) {
	src := os.Getenv("CORTEX_PRUNE_ROWS_DB")
	if src == "" {
		b.Skip("CORTEX_PRUNE_ROWS_DB is unset")
	}
	ctx := context.Background()
	const sessions, per = 300, 40
	if _, err := os.Stat(src); err != nil {
		s, err := Open(ctx, src, Config{})
		if err != nil {
			b.Fatal(err)
		}
		st := []byte(fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 1000)))
		for i := range sessions {
			if _, err := s.CreateSession(ctx, state.SessionInput{ID: fmt.Sprint("s", i)}); err != nil {
				b.Fatal(err)
			}
		}
		for range per {
			items := make([]state.BatchItem, sessions)
			for i := range items {
				items[i] = state.BatchItem{SessionID: fmt.Sprint("s", i), AppendInput: state.AppendInput{State: st}}
			}
			if _, err := s.AppendBatch(ctx, items); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.Skip("built ", src)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(b.TempDir(), "p.db")
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		b.Fatal(err)
	}
	s, err := Open(ctx, dst, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	retainOldWay = os.Getenv("CORTEX_PRUNE_ROWS_OLD") == "1"
	retainWarm = os.Getenv("CORTEX_PRUNE_ROWS_WARM") == "1"
	defer func() { retainOldWay, retainWarm = false, false }()
	var sl sliceLog
	for {
		r, err := s.PruneSlice(ctx, state.PruneOptions{KeepLast: 10, Limit: 500})
		if err != nil {
			b.Fatal(err)
		}
		sl.add(r)
		if !r.More {
			break
		}
	}
	if sl.rows != sessions*(per-10) {
		b.Fatalf("removed %d rows, want %d", sl.rows, sessions*(per-10))
	}
	fmt.Fprintf(os.Stderr, "prune rows old=%v warm=%v: %s\n", retainOldWay, retainWarm, sl.summary())
}
