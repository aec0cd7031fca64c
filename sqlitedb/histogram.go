package sqlitedb

import (
	"sync/atomic"
	"time"
)

// Bucket bounds of the writer's histograms (WriterStats.CommitBuckets and
// BatchBuckets): upper bounds, inclusive, as Prometheus reads them; one
// more count holds what is above the last.
var (
	// CommitSecondsBounds bound a group's run-and-commit time, in seconds.
	CommitSecondsBounds = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	// BatchSizeBounds bound a committed group's size, in write requests.
	BatchSizeBounds = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

// histogram counts observations into fixed buckets, without a lock: one
// atomic add per observation, read by Stats from other goroutines.
type histogram struct {
	bounds []float64
	counts []atomic.Int64 // len(bounds)+1: the last is above every bound
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Int64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
}

// cumulative returns, for each bound, the observations at or below it.
func (h *histogram) cumulative() []uint64 {
	out := make([]uint64, len(h.bounds))
	var n uint64
	for i := range h.bounds {
		n += uint64(h.counts[i].Load())
		out[i] = n
	}
	return out
}

// writerHists are the writer's two histograms.
type writerHists struct{ commit, batch *histogram }

func (h writerHists) observe(d time.Duration, n int) {
	h.commit.observe(d.Seconds())
	h.batch.observe(float64(n))
}

// histograms returns the writer's histograms, made on first use.
func (w *writer) histograms() writerHists {
	w.histOnce.Do(func() {
		w.commitHist, w.batchHist = newHistogram(CommitSecondsBounds), newHistogram(BatchSizeBounds)
	})
	return writerHists{w.commitHist, w.batchHist}
}
