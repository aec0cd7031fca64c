package scale

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/metrics"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// PGPairsConfig says what PGPairs measures.
type PGPairsConfig struct {
	// URL is the PostgreSQL database (its tables are created).
	URL string
	// Pairs is how many times each operation runs, each time right after
	// a baseline of its own (0: 3).
	Pairs int
	// Big is the snapshots of the session deleted and reclaimed in each
	// delete pair (0: 100k; -1: no delete pairs).
	Big int
	// Sessions × PerSession is the retention set; each retention pass
	// removes the oldest Prune of each session (0: 2000, 200, 30; Sessions
	// -1: no retention pairs). PerSession must leave room for Pairs passes.
	// With neither, each pair is a baseline alone.
	Sessions, PerSession, Prune int
	// Writers append to sessions of their own throughout (0: 4).
	Writers int
	// Baseline is how long each baseline runs (0: 20 s).
	Baseline time.Duration
	// SlowMS: appends at least this slow are attributed (0: 50).
	SlowMS float64
	// Slices overrides pgstore's slice bounds (zero: its defaults).
	Slices pgstore.SliceConfig
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// PairRow is one measured span of PGPairs: a baseline (appends alone) or
// an operation with appends.
type PairRow struct {
	Pair    int
	Op      string  // "baseline", "delete+reclaim", "retention"
	Load    string  // /proc/loadavg's first figure at the start
	Stall   float64 // share of the span with a runnable thread waiting for a CPU (PSI)
	Seconds float64
	// Appends.
	Rate               float64
	P50, P99, Max      float64 // ms
	Zero, Windows      int
	Slow               int    // appends ≥ SlowMS
	SlowWith           string // what the samples saw during the slow appends
	Checkpoints, AutoV int64  // checkpoints and autovacuums of our tables meanwhile
	// Janitor (operations only).
	Slices                int
	SliceP50, SliceP99    float64 // ms, each slice's transaction as the store measured it
	SliceMax, Share, Rows float64
	// WALPerAppend is the server's WAL bytes over the span ÷ the appends
	// (with an operation, its WAL too).
	WALPerAppend float64
}

// slicer wraps the store for the janitor and records each slice's time.
type slicer struct {
	*pgstore.Store
	mu    sync.Mutex
	times []time.Duration
	rows  int64
}

func (s *slicer) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	r, err := s.Store.PruneSlice(ctx, opts)
	s.record(r)
	return r, err
}

func (s *slicer) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	r, err := s.Store.ReclaimSlice(ctx)
	s.record(r)
	return r, err
}

func (s *slicer) record(r state.SliceResult) {
	s.mu.Lock()
	s.times = append(s.times, r.WriterTime)
	s.rows += r.Snapshots
	s.mu.Unlock()
}

func (s *slicer) take() ([]time.Duration, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, n := s.times, s.rows
	s.times, s.rows = nil, 0
	return t, n
}

// sample is what the sampler saw at one moment: the server's non-idle
// processes (backend type and wait event), the machine's runnable
// threads, and this process's scheduler and GC.
type sample struct {
	at     time.Time
	labels []string
}

// PGPairs measures, on PostgreSQL, appends from cfg.Writers goroutines
// in alternating spans: a baseline (appends alone), then an operation
// (deleting a Big-snapshot session and the janitor reclaiming it; a
// retention pass by the janitor), cfg.Pairs times each. Every span gets
// the machine's load average, the appends' rate and latency, the
// janitor's slices, and an attribution of the slow appends: what
// pg_stat_activity, /proc/stat and the Go runtime showed while they ran.
func PGPairs(ctx context.Context, cfg PGPairsConfig) ([]PairRow, error) {
	if cfg.Pairs == 0 {
		cfg.Pairs = 3
	}
	if cfg.Big == 0 {
		cfg.Big = 100_000
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 2000
	}
	if cfg.PerSession == 0 {
		cfg.PerSession = 200
	}
	if cfg.Prune == 0 {
		cfg.Prune = 30
	}
	if cfg.Writers == 0 {
		cfg.Writers = 4
	}
	if cfg.Baseline == 0 {
		cfg.Baseline = 20 * time.Second
	}
	if cfg.SlowMS == 0 {
		cfg.SlowMS = 50
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Sessions > 0 && cfg.PerSession < (cfg.Pairs+1)*cfg.Prune {
		return nil, fmt.Errorf("pairs: %d snapshots per session leave no room for %d passes of %d: give -per-session of at least %d", cfg.PerSession, cfg.Pairs, cfg.Prune, (cfg.Pairs+1)*cfg.Prune)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "pgpairs: "+format+"\n", args...) }
	store, err := pgstore.Open(ctx, cfg.URL, pgstore.Config{Slices: cfg.Slices})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	conn, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sampConn, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	defer sampConn.Close(context.WithoutCancel(ctx))

	tag := time.Now().UnixNano()
	st := makeState(rand.New(rand.NewPCG(5, 5)), stateBytes)
	fill := func(ids []string, n int, base time.Time, step time.Duration) error {
		return fillPG(ctx, conn, st, ids, n, base, step)
	}
	t0 := time.Now()
	var bigs []string
	if cfg.Big > 0 {
		for i := range cfg.Pairs {
			bigs = append(bigs, fmt.Sprintf("pgbig-%d-%d", tag, i))
		}
		if err := fill(bigs, cfg.Big, time.Now(), time.Microsecond); err != nil {
			return nil, fmt.Errorf("build the big sessions: %w", err)
		}
		logf("built %d sessions of %d snapshots in %.1f s", len(bigs), cfg.Big, time.Since(t0).Seconds())
	}
	var setBase time.Time
	if cfg.Sessions > 0 {
		t0 = time.Now()
		var set []string
		for i := range cfg.Sessions {
			set = append(set, fmt.Sprintf("pgret-%d-%05d", tag, i))
		}
		setBase = time.Now().Add(-time.Duration(cfg.PerSession+24) * time.Hour).Truncate(time.Hour)
		if err := fill(set, cfg.PerSession, setBase, time.Hour); err != nil {
			return nil, fmt.Errorf("build the retention set: %w", err)
		}
		logf("built %d sessions of %d snapshots in %.1f s", cfg.Sessions, cfg.PerSession, time.Since(t0).Seconds())
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}

	l, err := newLoad(ctx, store, cfg.Writers, 0)
	if err != nil {
		return nil, err
	}
	sl := &slicer{Store: store}
	counters := func() (int64, int64, int64) {
		var cp, av, wal int64
		_ = conn.QueryRow(ctx, `SELECT wal_bytes::bigint FROM pg_stat_wal`).Scan(&wal)
		_ = conn.QueryRow(ctx, `SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter`).Scan(&cp)
		_ = conn.QueryRow(ctx, `SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables`).Scan(&av)
		return cp, av, wal
	}
	var rows []PairRow
	span := func(pair int, op string, d time.Duration, fn func() error) error {
		load := "?"
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			load = strings.Fields(string(b))[0]
		}
		cp0, av0, wal0 := counters()
		sl.take()
		var opErr error
		var run func()
		if fn != nil {
			run = func() { opErr = fn() }
		}
		r := runPG(ctx, l, sampConn, d, run, cfg.SlowMS)
		if opErr != nil {
			return fmt.Errorf("%s: %w", op, opErr)
		}
		cp1, av1, wal1 := counters()
		times, n := sl.take()
		row := PairRow{Pair: pair, Op: op, Load: load, Stall: r.stall, Seconds: r.seconds, Rate: r.rate, P50: r.p50, P99: r.p99, Max: r.max,
			Zero: r.zero, Windows: r.windows, Slow: r.slow, SlowWith: r.slowWith, Checkpoints: cp1 - cp0, AutoV: av1 - av0,
			Slices: len(times), Rows: float64(n), WALPerAppend: float64(wal1-wal0) / max(r.rate*r.seconds, 1)}
		if len(times) > 0 {
			var sum time.Duration
			for _, t := range times {
				sum += t
			}
			row.SliceP50, row.SliceP99, row.SliceMax = quantileMS(times, 0.5), quantileMS(times, 0.99), quantileMS(times, 1)
			row.Share = sum.Seconds() / r.seconds
		}
		rows = append(rows, row)
		if len(r.worst) > 0 {
			logf("%s %d: appends ≥ 200 ms began at %s", op, pair, strings.Join(r.worst, " "))
		}
		logf("%s", PairsMarkdown(rows[len(rows)-1:]))
		return nil
	}
	janitor := func(jc state.JanitorConfig, left string, args ...any) error {
		j := state.NewJanitor(sl, jc)
		for {
			if _, err := j.Pass(ctx); err != nil {
				return err
			}
			var n int64
			if err := conn.QueryRow(ctx, left, args...).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
		}
	}
	for i := range cfg.Pairs {
		if cfg.Big < 0 && cfg.Sessions < 0 {
			// Neither operation: baselines only (what the machine and
			// the server do to appends by themselves).
			if err := span(i+1, "baseline", cfg.Baseline, nil); err != nil {
				return rows, err
			}
			continue
		}
		if cfg.Big > 0 {
			if err := span(i+1, "baseline", cfg.Baseline, nil); err != nil {
				return rows, err
			}
			if err := span(i+1, "delete+reclaim", 0, func() error {
				if err := store.DeleteSession(ctx, bigs[i]); err != nil {
					return err
				}
				return janitor(state.JanitorConfig{}, `SELECT count(*) FROM sessions WHERE id = $1`, bigs[i])
			}); err != nil {
				return rows, err
			}
		}
		if cfg.Sessions > 0 {
			if err := span(i+1, "baseline", cfg.Baseline, nil); err != nil {
				return rows, err
			}
			k := (i + 1) * cfg.Prune
			maxAge := time.Since(setBase.Add(time.Duration(k)*time.Hour + 30*time.Minute))
			if err := span(i+1, "retention", 0, func() error {
				return janitor(state.JanitorConfig{MaxAge: maxAge}, `SELECT count(*) FROM sessions WHERE id LIKE $1 AND snapshot_count > $2`,
					fmt.Sprintf("pgret-%d-%%", tag), cfg.PerSession-k)
			}); err != nil {
				return rows, err
			}
		}
	}
	return rows, nil
}

type pgResult struct {
	seconds, rate, p50, p99, max float64
	zero, windows, slow          int
	slowWith                     string
	stall                        float64
	worst                        []string
}

// cpuStall reads /proc/pressure/cpu's "some" total: microseconds in which
// at least one runnable thread waited for a CPU.
func cpuStall() (int64, bool) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, tot, ok := strings.Cut(line, "total=")
	if !ok {
		return 0, false
	}
	var n int64
	if _, err := fmt.Sscan(strings.TrimSpace(tot), &n); err != nil {
		return 0, false
	}
	return n, true
}

// runPG appends for d, or while op runs, sampling every 10 ms what the
// server's processes wait for, the machine's runnable threads and this
// process's GC and scheduler; appends of at least slowMS are attributed
// to what the samples during them saw.
func runPG(ctx context.Context, l *load, samp *pgx.Conn, d time.Duration, op func(), slowMS float64) pgResult {
	start := time.Now()
	stop := make(chan struct{})
	type ap struct{ t0, t1 time.Time }
	var (
		mu  sync.Mutex
		aps []ap
		wg  sync.WaitGroup
		bad atomic.Int64
	)
	for i := range l.writers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				_, err := l.store.AppendSnapshot(ctx, l.ids[i], state.AppendInput{State: l.state})
				t1 := time.Now()
				if err != nil {
					bad.Add(1)
					continue
				}
				mu.Lock()
				aps = append(aps, ap{t0, t1})
				mu.Unlock()
			}
		})
	}
	var samples []sample
	var stallSum float64 // seconds of CPU stall (PSI "some") over the span
	wg.Go(func() {
		var lastStall int64
		var lastAt time.Time
		ms := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/sched/latencies:seconds"}}
		metrics.Read(ms)
		gc := ms[0].Value.Uint64()
		lastSched := schedOver(ms[1].Value.Float64Histogram(), 0.005)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			s := sample{at: time.Now()}
			r, err := samp.Query(ctx, `SELECT backend_type, coalesce(wait_event_type || ':' || wait_event, 'CPU'), coalesce(query, '')
				FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (state = 'active' OR backend_type NOT IN ('client backend'))`)
			if err == nil {
				for r.Next() {
					var bt, we, q string
					if r.Scan(&bt, &we, &q) != nil {
						continue
					}
					if bt == "client backend" {
						bt = "client"
						switch {
						case strings.Contains(q, "pg_stat_activity"):
							continue
						case strings.Contains(q, "DELETE FROM state_snapshots"):
							bt = "janitor"
						case strings.Contains(q, "INSERT INTO state_snapshots"):
							bt = "append"
						}
					}
					if we == "Activity:CheckpointerMain" || we == "Activity:BgWriterMain" || we == "Activity:BgWriterHibernate" ||
						we == "Activity:WalWriterMain" || we == "Activity:AutoVacuumMain" || we == "Activity:LogicalLauncherMain" {
						continue // idle background processes
					}
					s.labels = append(s.labels, bt+" "+we)
				}
				r.Close()
			}
			// CPU pressure (PSI): the share of this tick in which some
			// runnable thread of the machine waited for a CPU.
			if stall, ok := cpuStall(); ok {
				if lastStall > 0 {
					tick := s.at.Sub(lastAt)
					share := float64(stall-lastStall) / float64(tick.Microseconds())
					stallSum += share * tick.Seconds()
					if share >= 0.5 {
						s.labels = append(s.labels, "machine: CPU stall ≥50%")
					}
				}
				lastStall, lastAt = stall, s.at
			}
			metrics.Read(ms)
			if g := ms[0].Value.Uint64(); g != gc {
				s.labels = append(s.labels, "go: GC cycle")
				gc = g
			}
			if n := schedOver(ms[1].Value.Float64Histogram(), 0.005); n != lastSched {
				s.labels = append(s.labels, "go: goroutine waited ≥5 ms to run")
				lastSched = n
			}
			samples = append(samples, s)
		}
	})
	opTime := d
	if op != nil {
		op()
		opTime = time.Since(start)
	} else {
		time.Sleep(d)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	var lats []time.Duration
	windows := int(elapsed / (100 * time.Millisecond))
	seen := make([]bool, windows)
	n := 0
	for _, a := range aps {
		lats = append(lats, a.t1.Sub(a.t0))
		o := a.t1.Sub(start)
		if o < elapsed {
			n++
		}
		if w := int(o / (100 * time.Millisecond)); w < windows {
			seen[w] = true
		}
	}
	zero := 0
	for _, s := range seen {
		if !s {
			zero++
		}
	}
	// Attribution: for each slow append, the labels of the samples taken
	// while it ran, counted once per append; beside it, the share of all
	// samples with that label (what "usual" looks like).
	slow := 0
	var worst []string // appends ≥ 200 ms: when (UTC, as the server log writes it) and how long
	inSlow := map[string]int{}
	for _, a := range aps {
		if float64(a.t1.Sub(a.t0).Microseconds())/1e3 < slowMS {
			continue
		}
		slow++
		if a.t1.Sub(a.t0) >= 200*time.Millisecond {
			worst = append(worst, fmt.Sprintf("%s+%.0fms", a.t0.UTC().Format("15:04:05.000"), ms(a.t1.Sub(a.t0))))
		}
		got := map[string]bool{}
		i := sort.Search(len(samples), func(i int) bool { return !samples[i].at.Before(a.t0) })
		for ; i < len(samples) && samples[i].at.Before(a.t1); i++ {
			for _, lb := range samples[i].labels {
				got[lb] = true
			}
		}
		for lb := range got {
			inSlow[lb]++
		}
	}
	all := map[string]int{}
	for _, s := range samples {
		got := map[string]bool{}
		for _, lb := range s.labels {
			got[lb] = true
		}
		for lb := range got {
			all[lb]++
		}
	}
	var keys []string
	for k := range inSlow {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return inSlow[b] - inSlow[a] })
	var parts []string
	for i, k := range keys {
		if i == 6 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d (%.0f%% of samples)", k, inSlow[k], slow, 100*float64(all[k])/float64(max(len(samples), 1))))
	}
	return pgResult{
		seconds: opTime.Seconds(), rate: float64(n) / elapsed.Seconds(),
		p50: quantileMS(lats, 0.5), p99: quantileMS(lats, 0.99), max: quantileMS(lats, 1),
		zero: zero, windows: windows, slow: slow, slowWith: strings.Join(parts, ", "),
		stall: stallSum / elapsed.Seconds(), worst: worst,
	}
}

// schedOver counts the goroutine scheduling latencies at least min.
func schedOver(h *metrics.Float64Histogram, min float64) uint64 {
	var n uint64
	for i, c := range h.Counts {
		if h.Buckets[i] >= min {
			n += c
		}
	}
	return n
}

// PairsMarkdown is PGPairs' table, and the ratio of each operation to the
// baseline just before it.
func PairsMarkdown(rows []PairRow) string {
	var b strings.Builder
	b.WriteString("| pair | span | load, CPU stall | s | appends/s (% of the baseline before) | p50 / p99 / max ms | zero-append 100 ms windows | appends ≥ slow | slices: n, p50 / p99 / max ms, share | checkpoints, autovacuums | WAL kB ÷ appends | slow appends saw |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|\n")
	var prev *PairRow
	for i := range rows {
		r := rows[i]
		rate := fmt.Sprintf("%.0f", r.Rate)
		if r.Op != "baseline" && prev != nil && prev.Op == "baseline" {
			rate += fmt.Sprintf(" (%.0f%%)", 100*r.Rate/max(prev.Rate, 1e-9))
		}
		sl := "–"
		if r.Slices > 0 {
			sl = fmt.Sprintf("%d, %.1f / %.1f / %.1f, %.1f%%", r.Slices, r.SliceP50, r.SliceP99, r.SliceMax, 100*r.Share)
		}
		fmt.Fprintf(&b, "| %d | %s | %s, %.0f%% | %.1f | %s | %.1f / %.1f / %.0f | %d of %d | %d | %s | %d, %d | %.1f | %s |\n",
			r.Pair, r.Op, r.Load, 100*r.Stall, r.Seconds, rate, r.P50, r.P99, r.Max, r.Zero, r.Windows, r.Slow, sl, r.Checkpoints, r.AutoV, r.WALPerAppend/1024, r.SlowWith)
		prev = &rows[i]
	}
	return b.String()
}
