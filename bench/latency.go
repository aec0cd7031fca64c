package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency summarises a step's operation latencies, in milliseconds.
// Percentiles come from an HDR histogram (3 significant digits, 100 ns to
// 60 s). A zero means "not measured" (the seed script reports p50 and p99
// only).
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

const (
	histMin = 100            // ns
	histMax = 60_000_000_000 // ns
	histSig = 3
)

// recorder gathers latencies from the workers of one step: one histogram
// per operation, behind a mutex that workers take once per flush of their
// local buffer.
type recorder struct {
	mu   sync.Mutex
	hist [numOps]*hdrhistogram.Histogram
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.hist {
		r.hist[i] = hdrhistogram.New(histMin, histMax, histSig)
	}
	return r
}

// local is one worker's buffer of latencies.
type local struct {
	r   *recorder
	ops []Op
	ns  []int64
}

const flushEvery = 256

func (r *recorder) local() *local {
	return &local{r: r, ops: make([]Op, 0, flushEvery), ns: make([]int64, 0, flushEvery)}
}

func (l *local) add(op Op, d time.Duration) {
	l.ops = append(l.ops, op)
	l.ns = append(l.ns, int64(d))
	if len(l.ops) == flushEvery {
		l.flush()
	}
}

func (l *local) flush() {
	l.r.mu.Lock()
	for i, op := range l.ops {
		// Values past the range are clamped rather than lost.
		l.r.hist[op].RecordValue(min(max(l.ns[i], histMin), histMax))
	}
	l.r.mu.Unlock()
	l.ops, l.ns = l.ops[:0], l.ns[:0]
}

// all merges every operation's histogram.
func (r *recorder) all() *hdrhistogram.Histogram {
	h := hdrhistogram.New(histMin, histMax, histSig)
	for _, o := range r.hist {
		h.Merge(o)
	}
	return h
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Latency{
		Mean: h.Mean() / 1e6,
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
	}
}
