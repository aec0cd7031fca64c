// Package scale is the harness behind scripts/scale: it builds SQLite
// databases of a given number of snapshots through the library
// (sqlitestore), runs the whole-file operations on them (backup, restore,
// integrity checks, and whatever Register adds: delete, retention) with and
// without concurrent appends, and reports per operation its time per GB,
// the concurrent appends' throughput against a baseline measured in the
// same run, the 100 ms windows in which no append completed, append
// latency, and health's latency meanwhile.
package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// BytesPerSnapshot is roughly the file space one built snapshot takes
// (measured: ≈1.7 KB), for the free-disk check.
const BytesPerSnapshot = 1800

// stateBytes is the size of each built snapshot's state.
const stateBytes = 1200

// Env is what an operation gets: the open store on the built database
// (closed for offline operations, see Op.Offline), its path and a scratch
// folder on the same filesystem.
type Env struct {
	Store   *sqlitestore.Store
	Path    string
	Scratch string
	// Sessions are the built sessions' ids; Snapshots their total.
	Sessions  []string
	Snapshots int
	// Big is the session an operation's Setup made (delete's).
	Big string
	// AgeCutoff is the MaxAge retention op's point (its Setup's).
	AgeCutoff time.Time
}

// Op is an operation the harness measures.
type Op struct {
	Name string
	// Offline operations run with the database closed (restore, cp): no
	// concurrent appends are possible.
	Offline bool
	// Destructive operations change the built database (delete,
	// retention): the harness runs them last, on a copy.
	Destructive bool
	// Setup, when set, prepares the operation before the appends start
	// (not measured).
	Setup func(ctx context.Context, env *Env) error
	// Run performs the operation once; note is printed in the table.
	Run func(ctx context.Context, env *Env) (note string, err error)
}

var (
	regMu    sync.Mutex
	registry []Op
)

// Register adds an operation (the hook for delete and retention: the
// engineer who lands them registers them here, in an init of this package,
// and scripts/scale measures them with the rest).
func Register(op Op) {
	regMu.Lock()
	defer regMu.Unlock()
	registry = append(registry, op)
}

// Ops returns the registered operations in order.
func Ops() []Op {
	regMu.Lock()
	defer regMu.Unlock()
	return slices.Clone(registry)
}

// Config is one harness run.
type Config struct {
	// Dir keeps the built databases (scale-<n>.db, reused when present)
	// and the scratch files.
	Dir string
	// Sizes are the snapshot counts to build and measure.
	Sizes []int
	// Only, when not empty, names the operations to run.
	Only []string
	// Writers append concurrently while an operation runs (default 4).
	Writers int
	// Baseline is how long appends run alone first (default 5s).
	Baseline time.Duration
	// Tail is how long appends go on after each operation, counted in
	// its figures: what it leaves behind (a long WAL to copy back) is its
	// effect too (default 2s; <0: none).
	Tail time.Duration
	// SkipAlone skips each online operation's run without appends (its
	// time under appends still gives an upper bound of its cost per GB):
	// halves a long run.
	SkipAlone bool
	// Log receives progress lines.
	Log io.Writer
}

// Row is one line of the table.
type Row struct {
	Snapshots int
	GB        float64
	Op        string
	Appends   bool // measured under concurrent appends
	Writers   int
	Seconds   float64
	// Appends' figures (Appends only).
	AppendsPerSec, BaselinePerSec float64
	ZeroWindows, Windows          int
	P99MS, MaxMS                  float64
	HealthP99MS, HealthMaxMS      float64
	Note                          string
}

// SecPerGB is the operation's time per GB of database.
func (r Row) SecPerGB() float64 {
	if r.GB == 0 {
		return 0
	}
	return r.Seconds / r.GB
}

// FreeBytes is the free space of dir's filesystem.
func FreeBytes(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}

// NeedBytes is the free space a size needs: the database, a backup and a
// restored copy, and 10% slack.
func NeedBytes(snapshots int) int64 {
	return int64(float64(snapshots) * BytesPerSnapshot * 3 * 1.1)
}

// Run builds and measures every size, returning the rows.
func Run(ctx context.Context, cfg Config) ([]Row, error) {
	if cfg.Writers <= 0 {
		cfg.Writers = 4
	}
	if cfg.Baseline <= 0 {
		cfg.Baseline = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Tail == 0 {
		cfg.Tail = 2 * time.Second
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	var rows []Row
	for _, n := range cfg.Sizes {
		r, err := runSize(ctx, cfg, n)
		rows = append(rows, r...)
		if err != nil {
			return rows, fmt.Errorf("size %d: %w", n, err)
		}
	}
	return rows, nil
}

func (cfg Config) logf(format string, args ...any) {
	fmt.Fprintf(cfg.Log, "scale: "+format+"\n", args...)
}

func (cfg Config) wants(name string) bool {
	return len(cfg.Only) == 0 || slices.Contains(cfg.Only, name)
}

func runSize(ctx context.Context, cfg Config, n int) ([]Row, error) {
	path := filepath.Join(cfg.Dir, fmt.Sprintf("scale-%d.db", n))
	scratch := filepath.Join(cfg.Dir, fmt.Sprintf("scratch-%d", n))
	os.RemoveAll(scratch)
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if _, err := os.Stat(path); err != nil {
		if free, need := FreeBytes(cfg.Dir), NeedBytes(n); free < need {
			cfg.logf("skipping %d snapshots: they need about %d GB free in %s (database, backup, restored copy), and %d GB are free", n, need>>30, cfg.Dir, free>>30)
			return []Row{{Snapshots: n, Op: "skipped", Note: fmt.Sprintf("needs %d GB free, %d GB free", need>>30, free>>30)}}, nil
		}
		t0 := time.Now()
		cfg.logf("building %d snapshots in %s", n, path)
		if err := Build(ctx, path, n, cfg.Log); err != nil {
			os.Remove(path)
			return nil, err
		}
		cfg.logf("built %d snapshots in %s", n, time.Since(t0).Round(time.Second))
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	gb := float64(st.Size()) / 1e9
	cfg.logf("%d snapshots: %.2f GB (%d bytes per snapshot)", n, gb, st.Size()/int64(n))

	store, err := sqlitestore.Open(ctx, path, sqlitestore.Config{})
	if err != nil {
		return nil, err
	}
	env := &Env{Store: store, Path: path, Scratch: scratch, Snapshots: n}
	env.Sessions, err = sessionIDs(ctx, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	load, err := newLoad(ctx, store, cfg.Writers, cfg.Tail)
	if err != nil {
		store.Close()
		return nil, err
	}
	var rows []Row
	add := func(r Row) {
		r.Snapshots, r.GB, r.Writers = n, gb, cfg.Writers
		cfg.logf("%s", r.String())
		rows = append(rows, r)
	}

	// The baseline: appends alone.
	base := load.run(ctx, store.DB(), cfg.Baseline, nil)
	add(Row{Op: "appends alone (baseline)", Appends: true, Seconds: base.seconds, AppendsPerSec: base.rate, BaselinePerSec: base.rate,
		ZeroWindows: base.zero, Windows: base.windows, P99MS: base.p99, MaxMS: base.max, HealthP99MS: base.hp99, HealthMaxMS: base.hmax, Note: base.note()})

	var offline, destructive []Op
	for _, op := range Ops() {
		if !cfg.wants(op.Name) {
			continue
		}
		switch {
		case op.Offline:
			offline = append(offline, op)
			continue
		case op.Destructive:
			destructive = append(destructive, op)
			continue
		}
		// Alone: time per GB.
		var note string
		if !cfg.SkipAlone {
			t0 := time.Now()
			n, err := op.Run(ctx, env)
			if err != nil {
				store.Close()
				return rows, fmt.Errorf("%s: %w", op.Name, err)
			}
			add(Row{Op: op.Name, Seconds: time.Since(t0).Seconds(), Note: n})
		}
		// Under appends: the effect on them.
		var opErr error
		res := load.run(ctx, store.DB(), 0, func() {
			note, opErr = op.Run(ctx, env)
		})
		if errors.Is(opErr, sqlitedb.ErrSnapshotHeld) {
			// Stopped to bound the WAL: that is the result.
			note, opErr = "STOPPED: "+opErr.Error(), nil
		}
		if opErr != nil {
			store.Close()
			return rows, fmt.Errorf("%s under appends: %w", op.Name, opErr)
		}
		add(Row{Op: op.Name, Appends: true, Seconds: res.seconds, AppendsPerSec: res.rate, BaselinePerSec: base.rate,
			ZeroWindows: res.zero, Windows: res.windows, P99MS: res.p99, MaxMS: res.max, HealthP99MS: res.hp99, HealthMaxMS: res.hmax, Note: joinNote(note, res.note())})
	}
	if err := store.Close(); err != nil {
		return rows, err
	}
	for _, op := range offline {
		t0 := time.Now()
		note, err := op.Run(ctx, env)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", op.Name, err)
		}
		add(Row{Op: op.Name, Seconds: time.Since(t0).Seconds(), Note: note})
	}
	if len(destructive) > 0 {
		r, err := runDestructive(ctx, cfg, env, destructive, base)
		for _, x := range r {
			add(x)
		}
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// runDestructive runs the destructive ops one after another under appends
// on one copy of the database.
func runDestructive(ctx context.Context, cfg Config, env *Env, ops []Op, base loadResult) ([]Row, error) {
	cp := filepath.Join(env.Scratch, "destructive.db")
	if out, err := exec.CommandContext(ctx, "cp", env.Path, cp).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy for %s: %v: %s", ops[0].Name, err, out)
	}
	defer os.Remove(cp)
	// The copy's dirty pages are flushed first: their writeback would
	// otherwise land on the measured appends' fsyncs (seen: a 2.5 s append
	// at the start of the first destructive operation at 5M).
	if err := syncFile(cp); err != nil {
		return nil, err
	}
	store, err := sqlitestore.Open(ctx, cp, sqlitestore.Config{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	e2 := *env
	e2.Store, e2.Path = store, cp
	l2, err := newLoad(ctx, store, cfg.Writers, cfg.Tail)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, op := range ops {
		if op.Setup != nil {
			if err := op.Setup(ctx, &e2); err != nil {
				return rows, fmt.Errorf("%s: setup: %w", op.Name, err)
			}
		}
		var note string
		var opErr error
		res := l2.run(ctx, store.DB(), 0, func() { note, opErr = op.Run(ctx, &e2) })
		if opErr != nil {
			return rows, fmt.Errorf("%s: %w", op.Name, opErr)
		}
		rows = append(rows, Row{Op: op.Name, Appends: true, Seconds: res.seconds, AppendsPerSec: res.rate, BaselinePerSec: base.rate,
			ZeroWindows: res.zero, Windows: res.windows, P99MS: res.p99, MaxMS: res.max, HealthP99MS: res.hp99, HealthMaxMS: res.hmax, Note: joinNote(note, res.note())})
	}
	return rows, nil
}

// Build creates the database at path with n snapshots over n/200 sessions
// (at least one), through sqlitestore in batches.
func Build(ctx context.Context, path string, n int, log io.Writer) error {
	store, err := sqlitestore.Open(ctx, path, sqlitestore.Config{})
	if err != nil {
		return err
	}
	sessions := max(1, n/200)
	ids := make([]string, sessions)
	for i := range ids {
		s, err := store.CreateSession(ctx, state.SessionInput{ID: fmt.Sprintf("scale-%07d", i)})
		if err != nil {
			store.Close()
			return err
		}
		ids[i] = s.ID
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	batch := make([]state.BatchItem, 0, state.MaxBatch)
	last := time.Now()
	for i := 0; i < n; i++ {
		batch = append(batch, state.BatchItem{SessionID: ids[r.IntN(sessions)], AppendInput: state.AppendInput{State: makeState(r, stateBytes)}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := store.AppendBatch(ctx, batch); err != nil {
				store.Close()
				return err
			}
			batch = batch[:0]
			if time.Since(last) > 10*time.Second {
				last = time.Now()
				fmt.Fprintf(log, "scale: built %d of %d\n", i+1, n)
			}
		}
	}
	return store.Close()
}

// makeState is a JSON object of about n bytes of varied text (not one
// repeated byte: pages should look like real data to the disk and cache).
func makeState(r *rand.Rand, n int) []byte {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
	b := make([]byte, 0, n)
	b = append(b, `{"data":"`...)
	for len(b) < n-2 {
		b = append(b, letters[r.IntN(len(letters))])
	}
	return append(b, `"}`...)
}

func sessionIDs(ctx context.Context, store *sqlitestore.Store) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		p, err := store.ListSessions(ctx, state.ListOptions{Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, s := range p.Sessions {
			ids = append(ids, s.ID)
		}
		if p.NextCursor == "" {
			return ids, nil
		}
		cursor = p.NextCursor
	}
}

// load appends from several goroutines to sessions of its own.
type load struct {
	tail    time.Duration // appends go on this long after an operation
	store   state.Store
	writers int
	ids     []string
	state   []byte
}

type loadResult struct {
	seconds, rate, p99, max float64
	zero, windows           int
	hp99, hmax              float64
	maxAt                   float64 // when the slowest append began, seconds from the start
	maxFirst                float64 // the slowest append that began in the first second, ms
	walMax                  int64   // the -wal file's largest size seen
}

// note describes where the slowest append fell and the WAL's peak.
func (r loadResult) note() string {
	return fmt.Sprintf("slowest append began at %.1f s (in the first second: %.0f ms); WAL peak %s", r.maxAt, r.maxFirst, fmt.Sprintf("%.1f MiB", float64(r.walMax)/(1<<20)))
}

func newLoad(ctx context.Context, store state.Store, writers int, tail time.Duration) (*load, error) {
	l := &load{tail: max(tail, 0), store: store, writers: writers, state: makeState(rand.New(rand.NewPCG(2, 2)), 512)}
	for i := range writers {
		id := fmt.Sprintf("load-%d-%d", i, time.Now().UnixNano())
		if _, err := store.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			return nil, err
		}
		l.ids = append(l.ids, id)
	}
	return l, nil
}

// run appends for d, or while op runs when op is set, and probes health
// every 50 ms.
func (l *load) run(ctx context.Context, db *sqlitedb.DB, d time.Duration, op func()) loadResult {
	start := time.Now()
	stop := make(chan struct{})
	var mu sync.Mutex
	var lats []time.Duration
	var dones []time.Duration // completion offsets from start
	var worst, worstAt, worstFirst time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
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
					failed.Add(1)
					continue
				}
				mu.Lock()
				if d := t1.Sub(t0); d > worst {
					worst, worstAt = d, t0.Sub(start)
				}
				if d := t1.Sub(t0); t0.Sub(start) < time.Second && d > worstFirst {
					worstFirst = d
				}
				lats = append(lats, t1.Sub(t0))
				dones = append(dones, t1.Sub(start))
				mu.Unlock()
			}
		})
	}
	var hl []time.Duration
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if db == nil {
				continue
			}
			t0 := time.Now()
			db.Health(ctx, sqlitedb.HealthOptions{})
			hl = append(hl, time.Since(t0))
		}
	})
	// The -wal file's largest size meanwhile (a stat, no descriptor).
	var walMax atomic.Int64
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if db == nil {
				return
			}
			if st, err := os.Stat(db.Path() + "-wal"); err == nil && st.Size() > walMax.Load() {
				walMax.Store(st.Size())
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	opTime := d
	if op != nil {
		op()
		opTime = time.Since(start)
		// Appends go on for a while after the operation, and until the
		// WAL is back under its limit (at most a minute): what it leaves
		// behind (a long WAL to copy back) counts as its effect, and the
		// next operation starts from a reset WAL.
		time.Sleep(l.tail)
		for end := time.Now().Add(time.Minute); db != nil && l.tail > 0 && time.Now().Before(end); {
			if st, err := os.Stat(db.Path() + "-wal"); err != nil || st.Size() <= sqlitedb.DefaultWALLimit {
				break
			}
			time.Sleep(100 * time.Millisecond) // polling the file's size
		}
	} else {
		time.Sleep(d)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	// Windows: whole 100 ms windows of the measured span.
	windows := int(elapsed / (100 * time.Millisecond))
	seen := make([]bool, windows)
	n := 0
	for _, o := range dones {
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
	return loadResult{
		seconds: opTime.Seconds(), rate: float64(n) / elapsed.Seconds(), walMax: walMax.Load(),
		p99: quantileMS(lats, 0.99), max: quantileMS(lats, 1),
		zero: zero, windows: windows,
		hp99: quantileMS(hl, 0.99), hmax: quantileMS(hl, 1),
		maxAt: worstAt.Seconds(), maxFirst: float64(worstFirst) / 1e6,
	}
}

func quantileMS(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q * float64(len(s)-1))
	return float64(s[i]) / 1e6
}

// String is the row as a log line.
func (r Row) String() string {
	if !r.Appends {
		return fmt.Sprintf("%-28s %9d snapshots %6.2f GB  %7.2f s  %6.2f s/GB  %s", r.Op, r.Snapshots, r.GB, r.Seconds, r.SecPerGB(), r.Note)
	}
	return fmt.Sprintf("%-28s %9d snapshots %6.2f GB  %7.2f s  appends %6.0f/s (%3.0f%% of %0.f/s)  zero windows %d/%d  p99 %.0f ms max %.0f ms  health p99 %.1f ms max %.1f ms  %s",
		r.Op+" +appends", r.Snapshots, r.GB, r.Seconds, r.AppendsPerSec, 100*r.AppendsPerSec/max(r.BaselinePerSec, 1e-9), r.BaselinePerSec,
		r.ZeroWindows, r.Windows, r.P99MS, r.MaxMS, r.HealthP99MS, r.HealthMaxMS, r.Note)
}

// Markdown renders rows as the BENCHMARKS.md table.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| snapshots | GB | operation | appends | time (s) | s/GB | appends/s (% of baseline) | zero-append 100 ms windows | append p99 / max (ms) | health p99 / max (ms) | note |\n")
	b.WriteString("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		if !r.Appends {
			fmt.Fprintf(&b, "| %d | %.2f | %s | none | %.2f | %.2f | – | – | – | – | %s |\n", r.Snapshots, r.GB, r.Op, r.Seconds, r.SecPerGB(), r.Note)
			continue
		}
		pct := 100 * r.AppendsPerSec / max(r.BaselinePerSec, 1e-9)
		fmt.Fprintf(&b, "| %d | %.2f | %s | %d writers | %.2f | %s | %.0f (%.0f%%) | %d of %d (%.1f%%) | %.1f / %.1f | %.1f / %.1f | %s |\n",
			r.Snapshots, r.GB, r.Op, r.Writers, r.Seconds, secPerGBCell(r), r.AppendsPerSec, pct, r.ZeroWindows, r.Windows, 100*float64(r.ZeroWindows)/float64(max(r.Windows, 1)),
			r.P99MS, r.MaxMS, r.HealthP99MS, r.HealthMaxMS, r.Note)
	}
	return b.String()
}

func secPerGBCell(r Row) string {
	if strings.HasPrefix(r.Op, "appends alone") {
		return "–"
	}
	return fmt.Sprintf("%.2f", r.SecPerGB())
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
