package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure Run. The zero value of each field means its default.
type Options struct {
	// Workload is what the workers do (default Append).
	Workload Workload
	// Mix weighs the mix workload's operations (default DefaultMix).
	Mix Mix
	// Concurrency lists the steps' worker counts (default 1, 8, 64).
	Concurrency []int
	// Duration is each step's measured time (default 5s).
	Duration time.Duration
	// Warmup runs the workload this long, unmeasured, before each step
	// (default 0: none).
	Warmup time.Duration
	// Sessions is the number of sessions (default 1,000).
	Sessions int
	// StateBytes is the size of each JSON state (default
	// Workload.DefaultStateBytes).
	StateBytes int
	// HistoryDepth is the number of snapshots each session starts with
	// (default 1; 20 for workloads that read history).
	HistoryDepth int
	// HistoryLimit is the page size of history reads (default 20).
	HistoryLimit int
	// ErrorSamples is the number of distinct error messages kept per step
	// (default 5).
	ErrorSamples int
	// Progress, when set, is called about five times a second while a step
	// runs, and once at its end, from one goroutine at a time.
	Progress func(Progress)
}

func (o Options) withDefaults() Options {
	if o.Workload == "" {
		o.Workload = Append
	}
	if o.Mix == (Mix{}) {
		o.Mix = DefaultMix
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{1, 8, 64}
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Sessions <= 0 {
		o.Sessions = 1000
	}
	if o.StateBytes <= 0 {
		o.StateBytes = o.Workload.DefaultStateBytes()
	}
	if o.HistoryDepth <= 0 {
		o.HistoryDepth = 1
		if o.Workload.needsHistory(o.Mix) {
			o.HistoryDepth = 20
		}
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = 20
	}
	if o.ErrorSamples <= 0 {
		o.ErrorSamples = 5
	}
	return o
}

// Progress describes a running step.
type Progress struct {
	Config      string
	Workload    Workload
	Concurrency int
	// Step counts from 1 to Steps across every configuration.
	Step, Steps int
	// Phase is "setup", "warmup" or "run".
	Phase    string
	Elapsed  time.Duration
	Duration time.Duration
	Ops      int64
	Errors   int64
	// Done is true on the last call of a phase.
	Done bool
}

// Step is the result of one configuration at one concurrency.
type Step struct {
	Config      string   `json:"config"`
	Baseline    bool     `json:"baseline,omitempty"`
	Workload    Workload `json:"workload"`
	Concurrency int      `json:"concurrency"`
	// Skipped, when set, says why the step did not run; its figures are 0.
	Skipped string  `json:"skipped,omitempty"`
	Seconds float64 `json:"seconds"`
	Ops     int64   `json:"ops"`
	// OpsPerSec counts successful operations only.
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   Latency `json:"latency_ms"`
	// ByOp breaks the mix workload down by operation.
	ByOp         map[string]OpStats `json:"by_op,omitempty"`
	Errors       int64              `json:"errors"`
	ErrorSamples []ErrorSample      `json:"error_samples,omitempty"`
	WAL          *WALActivity       `json:"wal,omitempty"`
	// Memory is this process's memory during the step, for in-process
	// targets (the library).
	Memory *MemoryActivity `json:"memory,omitempty"`
	// Ratios compare this step with each baseline's step at the same
	// concurrency; set on configurations that are not baselines.
	Ratios []Ratio `json:"ratios,omitempty"`
	// Note is what the configuration adds (the seed script's SQLite
	// version, what it could not measure).
	Note string `json:"note,omitempty"`
}

// OpStats are one operation's figures within a mixed step.
type OpStats struct {
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   Latency `json:"latency_ms"`
}

// ErrorSample is one distinct error message and how often it occurred.
type ErrorSample struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// WALActivity is what the SQLite WAL did during a step.
type WALActivity struct {
	// MaxBytes is the largest -wal file size seen (sampled every 100 ms).
	MaxBytes int64 `json:"max_bytes"`
	EndBytes int64 `json:"end_bytes"`
	// Checkpoints and CheckpointsIncomplete count the background
	// checkpointer's runs during the step; nil when not observable.
	Checkpoints           *int64 `json:"checkpoints,omitempty"`
	CheckpointsIncomplete *int64 `json:"checkpoints_incomplete,omitempty"`
	// WritesPerCommit is group commit's mean group size, when known.
	WritesPerCommit float64 `json:"writes_per_commit,omitempty"`
}

// Ratio compares a step with a baseline's: Throughput is this ÷ baseline
// (higher is better), P99 is this ÷ baseline (lower is better); 0 when
// either side is missing.
type Ratio struct {
	Baseline   string  `json:"baseline"`
	Throughput float64 `json:"throughput"`
	P99        float64 `json:"p99"`
}

// Run runs every configuration at every concurrency of opts, one after the
// other, and returns their steps. A configuration that fails to open or set
// up stops the run with an error; operation errors are counted, not
// returned. When ctx is cancelled Run returns the steps finished so far
// with ctx's error.
func Run(ctx context.Context, opts Options, configs []Configuration) ([]Step, error) {
	opts = opts.withDefaults()
	st := MakeState(opts.StateBytes)
	ids := sessionIDs(opts.Sessions)
	total := len(configs) * len(opts.Concurrency)
	var steps []Step
	n := 0
	for _, c := range configs {
		if c.External != nil {
			for _, conc := range opts.Concurrency {
				n++
				report(opts, Progress{Config: c.Name, Workload: opts.Workload, Concurrency: conc, Step: n, Steps: total, Phase: "run", Duration: opts.Duration})
				s, err := c.External(ctx, StepSpec{Workload: opts.Workload, Concurrency: conc, Duration: opts.Duration, Sessions: opts.Sessions, StateBytes: opts.StateBytes})
				if errors.Is(err, ErrUnsupported) {
					s = Step{Skipped: err.Error()}
				} else if err != nil {
					return withRatios(steps), fmt.Errorf("%s at concurrency %d: %w", c.Name, conc, err)
				}
				s.Config, s.Baseline, s.Workload, s.Concurrency = c.Name, c.Baseline, opts.Workload, conc
				steps = append(steps, s)
				report(opts, Progress{Config: c.Name, Workload: opts.Workload, Concurrency: conc, Step: n, Steps: total, Phase: "run", Duration: opts.Duration, Elapsed: opts.Duration, Ops: s.Ops, Errors: s.Errors, Done: true})
			}
			continue
		}
		cs, err := runConfig(ctx, opts, c, ids, st, &n, total)
		steps = append(steps, cs...)
		if err != nil {
			return withRatios(steps), fmt.Errorf("%s: %w", c.Name, err)
		}
	}
	return withRatios(steps), ctx.Err()
}

func report(opts Options, p Progress) {
	if opts.Progress != nil {
		opts.Progress(p)
	}
}

// sessionIDs makes n ids with a random run prefix, so that a run against a
// server or PostgreSQL never meets an earlier run's sessions.
func sessionIDs(n int) []string {
	var b [4]byte
	rand.Read(b[:])
	prefix := "bench-" + hex.EncodeToString(b[:])
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

// runConfig opens c's target, sets it up, and runs every step on it.
func runConfig(ctx context.Context, opts Options, c Configuration, ids []string, st []byte, n *int, total int) (steps []Step, err error) {
	report(opts, Progress{Config: c.Name, Workload: opts.Workload, Step: *n + 1, Steps: total, Phase: "setup"})
	t, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		td := t.Teardown(context.WithoutCancel(ctx), ids)
		err = errors.Join(err, td, t.Close())
	}()
	if err := t.Setup(ctx, ids, st, opts.HistoryDepth); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	for _, conc := range opts.Concurrency {
		*n++
		p := Progress{Config: c.Name, Workload: opts.Workload, Concurrency: conc, Step: *n, Steps: total}
		if opts.Warmup > 0 {
			p.Phase, p.Duration = "warmup", opts.Warmup
			runStep(ctx, opts, t, ids, st, conc, opts.Warmup, p)
		}
		p.Phase, p.Duration = "run", opts.Duration
		s := runStep(ctx, opts, t, ids, st, conc, opts.Duration, p)
		s.Config, s.Baseline = c.Name, c.Baseline
		if ctx.Err() != nil {
			return steps, ctx.Err()
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// errorLog counts errors and keeps the first few distinct messages.
type errorLog struct {
	mu    sync.Mutex
	keep  int
	count atomic.Int64
	byMsg map[string]int64
	order []string
}

func (e *errorLog) add(err error) {
	e.count.Add(1)
	msg := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.byMsg[msg]; ok || len(e.order) < e.keep {
		if !ok {
			e.order = append(e.order, msg)
		}
		e.byMsg[msg]++
	}
}

func (e *errorLog) samples() []ErrorSample {
	var out []ErrorSample
	for _, m := range e.order {
		out = append(out, ErrorSample{Message: m, Count: e.byMsg[m]})
	}
	return out
}

// runStep runs conc workers on t for d and measures them.
func runStep(ctx context.Context, opts Options, t Target, ids []string, st []byte, conc int, d time.Duration, p Progress) Step {
	rec := newRecorder()
	errs := &errorLog{keep: opts.ErrorSamples, byMsg: map[string]int64{}}
	var ops atomic.Int64
	pick := newPicker(opts.Workload, opts.Mix)

	sampler, _ := t.(Sampler)
	var before Sample
	var wal *WALActivity
	if sampler != nil {
		if s, err := sampler.Sample(ctx); err == nil {
			before = s
			wal = &WALActivity{MaxBytes: s.WALBytes}
		}
	}

	var mem *MemoryActivity
	memSampler, _ := t.(MemorySampler)
	if memSampler != nil {
		if m, err := memSampler.Memory(); err == nil {
			mem = &MemoryActivity{}
			mem.note(m, 0)
		}
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	bg.Add(1)
	go func() { // progress and WAL sampling
		defer bg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if wal != nil {
				if s, err := sampler.Sample(ctx); err == nil {
					wal.MaxBytes = max(wal.MaxBytes, s.WALBytes)
				}
			}
			if mem != nil {
				if m, err := memSampler.Memory(); err == nil {
					mem.note(m, float64(time.Since(start))/float64(d))
				}
			}
			if i%2 == 1 {
				p.Elapsed, p.Ops, p.Errors = time.Since(start), ops.Load(), errs.count.Load()
				report(opts, p)
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(mrand.Uint64(), uint64(w)))
			l := rec.local()
			defer l.flush()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				op := pick.pick(r)
				id := ids[r.IntN(len(ids))]
				t0 := time.Now()
				var err error
				switch op {
				case OpAppend:
					err = t.Append(ctx, id, st)
				case OpLatest:
					err = t.Latest(ctx, id)
				case OpHistory:
					err = t.History(ctx, id, opts.HistoryLimit)
				}
				el := time.Since(t0)
				if err != nil {
					if ctx.Err() == nil {
						errs.add(fmt.Errorf("%s: %w", op, err))
					}
					continue
				}
				ops.Add(1)
				l.add(op, el)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	bg.Wait()

	s := Step{
		Workload:     opts.Workload,
		Concurrency:  conc,
		Seconds:      elapsed.Seconds(),
		Ops:          ops.Load(),
		OpsPerSec:    float64(ops.Load()) / elapsed.Seconds(),
		Latency:      summarize(rec.all()),
		Errors:       errs.count.Load(),
		ErrorSamples: errs.samples(),
	}
	if opts.Workload == Mixed {
		s.ByOp = map[string]OpStats{}
		for op := range numOps {
			h := rec.hist[op]
			s.ByOp[op.String()] = OpStats{Ops: h.TotalCount(), OpsPerSec: float64(h.TotalCount()) / elapsed.Seconds(), Latency: summarize(h)}
		}
	}
	if wal != nil {
		if after, err := sampler.Sample(context.WithoutCancel(ctx)); err == nil {
			wal.MaxBytes = max(wal.MaxBytes, after.WALBytes)
			wal.EndBytes = after.WALBytes
			if after.HasCheckpoints {
				c, inc := after.Checkpoints-before.Checkpoints, after.CheckpointsIncomplete-before.CheckpointsIncomplete
				wal.Checkpoints, wal.CheckpointsIncomplete = &c, &inc
			}
			if dc := after.Commits - before.Commits; dc > 0 {
				wal.WritesPerCommit = float64(after.Writes-before.Writes) / float64(dc)
			}
		}
		s.WAL = wal
	}
	if mem != nil {
		if m, err := memSampler.Memory(); err == nil {
			mem.note(m, 1)
		}
		s.Memory = mem
	}
	p.Elapsed, p.Ops, p.Errors, p.Done = elapsed, s.Ops, s.Errors, true
	report(opts, p)
	return s
}

// withRatios sets each non-baseline step's ratios to the baselines' steps
// of the same workload and concurrency.
func withRatios(steps []Step) []Step {
	type key struct {
		w Workload
		c int
	}
	base := map[key][]Step{}
	for _, s := range steps {
		if s.Baseline {
			base[key{s.Workload, s.Concurrency}] = append(base[key{s.Workload, s.Concurrency}], s)
		}
	}
	for i := range steps {
		s := &steps[i]
		s.Ratios = nil
		if s.Baseline {
			continue
		}
		for _, b := range base[key{s.Workload, s.Concurrency}] {
			r := Ratio{Baseline: b.Config}
			if s.Skipped == "" && b.Skipped == "" {
				r.Throughput = div(s.OpsPerSec, b.OpsPerSec)
				r.P99 = div(s.Latency.P99, b.Latency.P99)
			}
			s.Ratios = append(s.Ratios, r)
		}
	}
	return steps
}

func div(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}

// WithBaseline adds base's baseline steps (from an earlier run's report,
// such as the one `go run ./bench/cmd/seed` writes) to steps where they
// match a step's workload and concurrency, and sets every step's ratios
// again.
func WithBaseline(steps, base []Step) []Step {
	type key struct {
		w Workload
		c int
	}
	have := map[key]bool{}
	for _, s := range steps {
		have[key{s.Workload, s.Concurrency}] = true
	}
	for _, b := range base {
		if b.Baseline && have[key{b.Workload, b.Concurrency}] {
			steps = append(steps, b)
		}
	}
	return withRatios(steps)
}
