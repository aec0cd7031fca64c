package statetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Benchmarks every engine runs unchanged, so that scripts/bench can put
// their figures side by side: the workload of bench/seed_reference.py,
// 1,000 sessions, 512-byte states, each operation on a random session.
const (
	benchSessions = 1000
	benchPayload  = 512
)

// benchState is a 512-byte JSON object.
func benchState() []byte {
	head := `{"data":"`
	return []byte(head + strings.Repeat("x", benchPayload-len(head)-2) + `"}`)
}

func benchStore(b *testing.B, open func(testing.TB) state.Store) (state.Store, []string) {
	b.Helper()
	s := open(b)
	ids := make([]string, benchSessions)
	items := make([]state.BatchItem, 0, benchSessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
		if _, err := s.CreateSession(context.Background(), state.SessionInput{ID: ids[i]}); err != nil {
			b.Fatal(err)
		}
		items = append(items, state.BatchItem{SessionID: ids[i], AppendInput: state.AppendInput{State: benchState()}})
	}
	// One snapshot each, so that reads always find one.
	if _, err := s.AppendBatch(context.Background(), items); err != nil {
		b.Fatal(err)
	}
	return s, ids
}

// latencies collects per-operation durations from several goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.all) == 0 {
		return
	}
	slices.Sort(l.all)
	at := func(p float64) float64 {
		return float64(l.all[int(p*float64(len(l.all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchAppend appends 512-byte states to random sessions from 1, 8 and 64
// goroutines, b.N appends in all, on a fresh store from open each step. It
// reports appends/s and the p50/p99 latency of one append; any error fails
// it. probe, when not nil, is called with the store before the measured
// phase and returns a function called after it, to report the engine's own
// figures (group commit size, WAL, checkpoints).
func BenchAppend(b *testing.B, open func(testing.TB) state.Store, probe func(testing.TB, state.Store) func(*testing.B)) {
	for _, g := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			s, ids := benchStore(b, open)
			st := benchState()
			var next, errs atomic.Int64
			var lat latencies
			var wg sync.WaitGroup
			var after func(*testing.B)
			if probe != nil {
				after = probe(b, s)
			}
			b.ResetTimer()
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(rand.Uint64(), 0))
					mine := make([]time.Duration, 0, b.N/g+1)
					for next.Add(1) <= int64(b.N) {
						id := ids[r.IntN(len(ids))]
						t0 := time.Now()
						if _, err := s.AppendSnapshot(context.Background(), id, state.AppendInput{State: st}); err != nil {
							errs.Add(1)
							b.Error(err)
						}
						mine = append(mine, time.Since(t0))
					}
					lat.add(mine)
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(errs.Load()), "errors")
			lat.report(b)
			if after != nil {
				after(b)
			}
		})
	}
}

// BenchLatest reads the latest snapshot of random sessions from 4
// goroutines, with no writer, and with 1 and 64 goroutines appending
// (512-byte states) as fast as they can meanwhile. It reports the p50/p99
// latency of one read, reads/s, and the appends/s the writers achieved.
func BenchLatest(b *testing.B, open func(testing.TB) state.Store) {
	const readers = 4
	for _, writers := range []int{0, 1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, ids := benchStore(b, open)
			st := benchState()
			stop := make(chan struct{})
			var appended atomic.Int64
			var wwg sync.WaitGroup
			for range writers {
				wwg.Add(1)
				go func() {
					defer wwg.Done()
					r := rand.New(rand.NewPCG(rand.Uint64(), 1))
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := s.AppendSnapshot(context.Background(), ids[r.IntN(len(ids))], state.AppendInput{State: st}); err != nil {
							b.Error(err)
							return
						}
						appended.Add(1)
					}
				}()
			}
			var next atomic.Int64
			var lat latencies
			var rwg sync.WaitGroup
			b.ResetTimer()
			start := appended.Load()
			for range readers {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					r := rand.New(rand.NewPCG(rand.Uint64(), 2))
					mine := make([]time.Duration, 0, b.N/readers+1)
					for next.Add(1) <= int64(b.N) {
						id := ids[r.IntN(len(ids))]
						t0 := time.Now()
						sn, err := s.LatestSnapshot(context.Background(), id)
						mine = append(mine, time.Since(t0))
						if err != nil || len(sn.State) != benchPayload {
							b.Errorf("latest of %s: %d bytes, %v", id, len(sn.State), err)
							return
						}
					}
					lat.add(mine)
				}()
			}
			rwg.Wait()
			b.StopTimer()
			writes := appended.Load() - start
			close(stop)
			wwg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
			if writers > 0 {
				b.ReportMetric(float64(writes)/b.Elapsed().Seconds(), "appends/s")
			}
			lat.report(b)
		})
	}
}
