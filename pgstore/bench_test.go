package pgstore_test

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

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// The workload of sqlitestore/bench_test.go, unchanged, so that
// scripts/bench can put both engines side by side: 1,000 sessions, 512-byte
// states, each operation on a random session. The store uses the pool
// `cortex serve` gets by default (pgxpool's: the larger of 4 and the number
// of CPUs), on the cluster of CORTEX_TEST_POSTGRES_URL (scripts/test or
// scripts/bench start a throwaway one: fsync off, so the figures are an
// upper bound for a durable server; the SQLite figures use synchronous=NORMAL).
const (
	benchSessions = 1000
	benchPayload  = 512
)

// benchState is a 512-byte JSON object.
func benchState() []byte {
	head := `{"data":"`
	return []byte(head + strings.Repeat("x", benchPayload-len(head)-2) + `"}`)
}

func benchStore(b *testing.B) (*pgstore.Store, []string) {
	b.Helper()
	s, err := pgstore.Open(bg, pgtest.NewDatabase(b), pgstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ids := make([]string, benchSessions)
	items := make([]state.BatchItem, 0, benchSessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
		if _, err := s.CreateSession(bg, state.SessionInput{ID: ids[i]}); err != nil {
			b.Fatal(err)
		}
		items = append(items, state.BatchItem{SessionID: ids[i], AppendInput: state.AppendInput{State: benchState()}})
	}
	// One snapshot each, so that reads always find one.
	if _, err := s.AppendBatch(bg, items); err != nil {
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

// BenchmarkAppend appends 512-byte states to random sessions from 1, 8 and
// 64 goroutines, b.N appends in all. It reports appends/s and the p50/p99
// latency of one append; any error fails it.
//
//	go test -run '^$' -bench Append -benchtime 5s ./pgstore/
func BenchmarkAppend(b *testing.B) {
	for _, g := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			s, ids := benchStore(b)
			st := benchState()
			var next, errs atomic.Int64
			var lat latencies
			var wg sync.WaitGroup
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
		})
	}
}

// BenchmarkLatest reads the latest snapshot of random sessions from 4
// goroutines, with no writer, and with 1 and 64 goroutines appending
// (512-byte states) as fast as they can meanwhile. It reports the p50/p99
// latency of one read, reads/s, and the appends/s the writers achieved.
//
//	go test -run '^$' -bench Latest -benchtime 5s ./pgstore/
func BenchmarkLatest(b *testing.B) {
	const readers = 4
	for _, writers := range []int{0, 1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, ids := benchStore(b)
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
