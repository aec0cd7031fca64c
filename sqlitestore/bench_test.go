package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// openBench opens the store the benchmarks measure; with
// CORTEX_BENCH_NO_WALBUF=1 its connections do not use walbuf
// (sqlitedb.Config.NoWALBuffer), for the paired walbuf-off figure.
func openBench(tb testing.TB) state.Store {
	if os.Getenv("CORTEX_BENCH_NO_WALBUF") != "1" {
		return openStore(tb, state.Options{})
	}
	path := filepath.Join(tb.TempDir(), "cortex.db")
	s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Config{DB: sqlitedb.Config{NoWALBuffer: true}})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// processCPU is the process's CPU time so far (user + system).
func processCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// sqliteFigures reports group commit size, WAL size, checkpoints, garbage
// collections per 1,000 operations and the process's CPU time per
// operation over the measured phase (cpu-µs/op:
// the figure to compare with scripts/sqlite-floor's "process" CPU per
// append when the machine is shared, as wall time then depends on the
// other processes).
func sqliteFigures(tb testing.TB, st state.Store) func(*testing.B) {
	s := st.(*sqlitestore.Store)
	before, err := s.DB().Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	return func(b *testing.B) {
		cpu := processCPU() - cpu0
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.NumGC-m0.NumGC)*1000/float64(b.N), "gc/kop")
		after, err := s.DB().Stats(context.Background())
		if err != nil || after.Writer.Commits <= before.Writer.Commits {
			return
		}
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		b.ReportMetric(float64(after.Writer.Writes-before.Writer.Writes)/float64(after.Writer.Commits-before.Writer.Commits), "writes/commit")
		b.ReportMetric(float64(after.WALBytes)/(1<<20), "wal-MiB")
		b.ReportMetric(float64(after.Checkpoint.Count-before.Checkpoint.Count), "checkpoints")
		// The writer's wall time in COMMIT per append: scripts/sqlite-floor's
		// "COMMIT" figure, for the same work in C.
		b.ReportMetric((after.Writer.CommitSeconds-before.Writer.CommitSeconds)*1e6/float64(b.N), "commit-µs/op")
		// The checkpoints on the writer by kind, as scripts/sqlite-floor's
		// floor-stats line counts them: the guard's RESTART, the
		// checkpointer's tail and its RESTART past half the limit; and the
		// writer's time in all of them per append.
		a, z := after.Checkpoint, before.Checkpoint
		b.ReportMetric(float64(a.Guard.Count-z.Guard.Count), "guard")
		b.ReportMetric(float64(a.Tail.Count-z.Tail.Count), "tails")
		b.ReportMetric(float64(a.HalfRestart.Count-z.HalfRestart.Count), "half-restarts")
		b.ReportMetric(float64(a.Rounds-z.Rounds), "rounds")
		ck := a.Guard.Seconds - z.Guard.Seconds + a.Tail.Seconds - z.Tail.Seconds + a.HalfRestart.Seconds - z.HalfRestart.Seconds
		b.ReportMetric(ck*1e6/float64(b.N), "ckpt-µs/op")
		if n := a.Guard.Count - z.Guard.Count; n > 0 {
			b.ReportMetric((a.Guard.Seconds-z.Guard.Seconds)*1e3/float64(n), "guard-ms")
		}
	}
}

// BenchmarkAppend: statetest.BenchAppend on SQLite.
//
//	go test -run '^$' -bench Append -benchtime 5s ./sqlitestore/
func BenchmarkAppend(b *testing.B) { statetest.BenchAppend(b, openBench, sqliteFigures) }

// BenchmarkAppendFull: statetest.BenchAppend with synchronous=FULL (an
// fsync of the -wal file per commit), against scripts/sqlite-floor's
// "-sync full" floor.
//
//	go test -run '^$' -bench AppendFull -benchtime 5s ./sqlitestore/
func BenchmarkAppendFull(b *testing.B) {
	statetest.BenchAppend(b, func(tb testing.TB) state.Store {
		path := filepath.Join(tb.TempDir(), "cortex.db")
		s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Config{DB: sqlitedb.Config{Synchronous: "full"}})
		if err != nil {
			tb.Fatalf("open %s: %v", path, err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}, sqliteFigures)
}

// BenchmarkLatest: statetest.BenchLatest on SQLite.
//
//	go test -run '^$' -bench Latest -benchtime 5s ./sqlitestore/
func BenchmarkLatest(b *testing.B) { statetest.BenchLatest(b, openBench) }
