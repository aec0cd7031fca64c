package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cortex-db/cortex/bench"
)

// benchCmd is `cortex bench`: the load generator.
type benchCmd struct {
	db          dbFlags
	mode        string
	url         string
	token       string
	dir         string
	workload    string
	mix         string
	concurrency string
	duration    time.Duration
	warmup      time.Duration
	sessions    int
	stateBytes  byteSize
	histLimit   int
	configs     string
	baseline    string
	seedResults string
	seedSteps   []bench.Step
	json        bool
	svg         string
	quiet       bool
}

const benchUsage = `bench [flags]

Runs a workload against cortex at each concurrency of a sweep and reports
throughput, latency percentiles (p50, p99, p99.9, max), errors and the
SQLite WAL's size and checkpoints. --mode lib drives the library in-process
on fresh SQLite files in --dir (or PostgreSQL with --db postgres://…);
--mode http drives a running 'cortex serve' at --url. Baselines
(--baseline naive,seed) run the same workload in the same run, and every
figure gets its ratio to them. --configs compares several configurations:
sqlite-normal, sqlite-full, postgres, http, naive, seed. The seed baseline
(the seed's Python reference) is not run by this binary: run
'go run ./bench/cmd/seed' first, and bench reads the steps it wrote
(--seed-results) at the same workload and concurrencies.
--db reads no CORTEX_DB: bench makes its own SQLite files, and a
CORTEX_DB exported for the other commands names one. --token reads
CORTEX_API_TOKEN, as serve's --api-token does.`

func (c *benchCmd) flags(stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("bench", benchUsage, stderr)
	c.db.register(fs)
	c.db.registerServing(fs)
	// --db is only for PostgreSQL here: SQLite files are the run's own, in --dir.
	c.db.db = ""
	fs.Lookup("db").DefValue = ""
	fs.Lookup("db").Usage = "postgres://… URL: run the library on PostgreSQL (the 'postgres' config); SQLite files go in --dir"
	fs.StringVar(&c.mode, "mode", "lib", "lib (the library in-process) or http (a running cortex serve at --url)")
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of the server, for --mode http")
	fs.StringVar(&c.token, "token", "", "bearer token for the server (its --api-token, read from the same variable; admin stats, for the WAL figures, may need the admin token)")
	fs.StringVar(&c.dir, "dir", "", "folder for the benchmark's SQLite files (default: a temporary folder, removed at the end)")
	fs.StringVar(&c.workload, "workload", "append", "append, append-large (64 KiB states), latest, history or mix")
	fs.StringVar(&c.mix, "mix", bench.DefaultMix.String(), "operation weights of the mix workload")
	fs.StringVar(&c.concurrency, "concurrency", "1,8,64", "comma-separated worker counts: one step each")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time of each step")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured run before each step")
	fs.IntVar(&c.sessions, "sessions", 1000, "sessions the workload spreads over (a random one per operation)")
	fs.Var(&c.stateBytes, "state-bytes", "size of each JSON state (default: 512, or 64KiB for append-large)")
	fs.IntVar(&c.histLimit, "history-limit", 20, "page size of history reads")
	fs.StringVar(&c.configs, "configs", "", "comma-separated configurations to compare (default: the one --mode and --synchronous or --db select, plus --baseline)")
	fs.StringVar(&c.baseline, "baseline", "", "comma-separated baselines to add: naive, seed")
	fs.StringVar(&c.seedResults, "seed-results", "", "report of 'go run ./bench/cmd/seed' that the seed baseline reads (default: bench/seed-results.json in the repository)")
	fs.BoolVar(&c.json, "json", false, "print the report as one JSON document")
	fs.StringVar(&c.svg, "svg", "", "also draw throughput and p99 against concurrency into this SVG file")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress display")
	return fs
}

func (c *benchCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.flags(stderr)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	w, err := bench.ParseWorkload(c.workload)
	if err != nil {
		return fmt.Errorf("--workload: %v: %w", err, errUsage)
	}
	opts := bench.Options{Workload: w, Duration: c.duration, Warmup: c.warmup, Sessions: c.sessions,
		StateBytes: int(c.stateBytes), HistoryLimit: c.histLimit}
	if opts.Mix, err = bench.ParseMix(c.mix); err != nil {
		return fmt.Errorf("--mix: %v: %w", err, errUsage)
	}
	if opts.Concurrency, err = parseInts(c.concurrency); err != nil {
		return fmt.Errorf("--concurrency: %v: %w", err, errUsage)
	}
	if c.db.db != "" && !c.db.isPostgres() {
		return withHint(fmt.Errorf("--db %q: bench makes its own SQLite files: %w", c.db.db, errUsage), "--dir to choose where, or --db postgres://… for PostgreSQL")
	}
	dir := c.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cortex-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	configs, err := c.configurations(dir, stderr)
	if err != nil {
		return err
	}

	rep := bench.NewReport(append([]string{"cortex"}, os.Args[1:]...), bench.NewSettings(c.mode, opts, configs))
	if len(os.Args) < 2 || os.Args[1] != "bench" { // run from a test: record what it was given
		rep.Args = append([]string{"cortex", "bench"}, args...)
		rep.Command = strings.Join(rep.Args, " ")
	}
	pd := newBenchProgress(stderr, c.quiet)
	opts.Progress = pd.show
	steps, runErr := bench.Run(ctx, opts, configs)
	pd.finish()
	if len(c.seedSteps) > 0 {
		steps = bench.WithBaseline(steps, c.seedSteps)
		rep.Settings.Configs = append(rep.Settings.Configs, "seed")
	}
	rep.Steps = steps
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	if c.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err == nil && c.svg != "" {
		err = writeSVGFile(c.svg, rep)
	}
	return errors.Join(runErr, err)
}

// configurations turns --configs, --mode, --baseline and friends into the
// run's configurations.
func (c *benchCmd) configurations(dir string, stderr io.Writer) ([]bench.Configuration, error) {
	var names []string
	if c.configs != "" {
		names = splitList(c.configs)
	} else {
		switch {
		case c.mode == "http":
			names = []string{"http"}
		case c.mode != "lib":
			return nil, fmt.Errorf("--mode %q: want lib or http: %w", c.mode, errUsage)
		case c.db.isPostgres():
			names = []string{"postgres"}
		default:
			names = []string{"sqlite-" + c.db.synchronous}
		}
	}
	for _, b := range splitList(c.baseline) {
		if b != "naive" && b != "seed" {
			return nil, fmt.Errorf("--baseline %q: want naive or seed: %w", b, errUsage)
		}
		names = append(names, b)
	}
	var out []bench.Configuration
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		switch {
		case strings.HasPrefix(n, "sqlite-"):
			cfg := c.db.sqliteConfig()
			cfg.Synchronous = strings.TrimPrefix(n, "sqlite-")
			if err := cfg.Validate(); err != nil {
				return nil, fmt.Errorf("--configs %s: %v: %w", n, err, errUsage)
			}
			out = append(out, bench.SQLiteConfiguration(n, dir, cfg))
		case n == "postgres":
			if !c.db.isPostgres() {
				return nil, fmt.Errorf("--configs postgres needs --db postgres://…: %w", errUsage)
			}
			out = append(out, bench.PostgresConfiguration(n, c.db.db))
		case n == "http":
			out = append(out, bench.HTTPConfiguration(n, c.url, bench.HTTPOptions{Token: c.token}))
		case n == "naive":
			out = append(out, bench.NaiveConfiguration(dir))
		case n == "seed":
			steps, err := c.readSeedResults()
			if err != nil {
				fmt.Fprintf(stderr, "bench: skipping the seed baseline: %v\n", err)
				continue
			}
			c.seedSteps = steps
		default:
			return nil, fmt.Errorf("--configs: unknown configuration %q (want sqlite-normal, sqlite-full, postgres, http, naive or seed): %w", n, errUsage)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no configuration to run (the seed baseline only adds figures to one): %w", errUsage)
	}
	return out, nil
}

// readSeedResults reads the seed baseline's steps from --seed-results, or
// bench/seed-results.json under the repository root (found from the
// working directory upwards).
func (c *benchCmd) readSeedResults() ([]bench.Step, error) {
	path := c.seedResults
	if path == "" {
		path = "bench/seed-results.json"
		if d, err := os.Getwd(); err == nil {
			for {
				if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
					path = filepath.Join(d, path)
					break
				}
				up := filepath.Dir(d)
				if up == d {
					break
				}
				d = up
			}
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no results file %s (run 'go run ./bench/cmd/seed' to make it)", path)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := bench.ReadReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep.Steps, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers such as 1,8,64,256", s)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: want at least one worker count", s)
	}
	return out, nil
}

// writeSVGFile draws the report's chart into path.
func writeSVGFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	if err := rep.WriteSVG(f); err != nil {
		f.Close()
		return fmt.Errorf("--svg: %w", err)
	}
	return f.Close()
}

// benchProgress shows the running step: a bar on a terminal, a plain line
// per finished step otherwise, nothing with --quiet.
type benchProgress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	tty   bool
	bar   *progressbar.ProgressBar
	key   string
}

func newBenchProgress(w io.Writer, quiet bool) *benchProgress {
	p := &benchProgress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *benchProgress) show(pr bench.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	label := fmt.Sprintf("[%d/%d] %s %s c=%d %s", pr.Step, pr.Steps, pr.Config, pr.Workload, pr.Concurrency, pr.Phase)
	if pr.Phase == "setup" {
		label = fmt.Sprintf("[%d/%d] %s: setting up", pr.Step, pr.Steps, pr.Config)
	}
	if !p.tty {
		if pr.Done && pr.Phase == "run" {
			fmt.Fprintf(p.w, "%s: %d ops in %.1fs (%.0f/s), %d errors\n", label, pr.Ops, pr.Elapsed.Seconds(), float64(pr.Ops)/max(pr.Elapsed.Seconds(), 1e-9), pr.Errors)
		}
		return
	}
	if p.bar == nil || p.key != label {
		if p.bar != nil {
			p.bar.Finish()
		}
		p.key = label
		max := int64(pr.Duration / time.Millisecond)
		if max <= 0 {
			max = -1
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionShowElapsedTimeOnFinish(),
		)
	}
	rate := float64(pr.Ops) / max(pr.Elapsed.Seconds(), 1e-9)
	p.bar.Describe(fmt.Sprintf("%s  %.0f ops/s  %d errors", label, rate, pr.Errors))
	p.bar.Set64(min(int64(pr.Elapsed/time.Millisecond), p.bar.GetMax64()))
	if pr.Done {
		p.bar.Finish()
		p.bar = nil
	}
}

func (p *benchProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
