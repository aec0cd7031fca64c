package sqlitestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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

// sqliteFigures reports group commit size, WAL size and checkpoints over the
// measured phase.
func sqliteFigures(tb testing.TB, st state.Store) func(*testing.B) {
	s := st.(*sqlitestore.Store)
	before, err := s.DB().Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return func(b *testing.B) {
		after, err := s.DB().Stats(context.Background())
		if err != nil || after.Writer.Commits <= before.Writer.Commits {
			return
		}
		b.ReportMetric(float64(after.Writer.Writes-before.Writer.Writes)/float64(after.Writer.Commits-before.Writer.Commits), "writes/commit")
		b.ReportMetric(float64(after.WALBytes)/(1<<20), "wal-MiB")
		b.ReportMetric(float64(after.Checkpoint.Count-before.Checkpoint.Count), "checkpoints")
	}
}

// BenchmarkAppend: statetest.BenchAppend on SQLite.
//
//	go test -run '^$' -bench Append -benchtime 5s ./sqlitestore/
func BenchmarkAppend(b *testing.B) { statetest.BenchAppend(b, openBench, sqliteFigures) }

// BenchmarkLatest: statetest.BenchLatest on SQLite.
//
//	go test -run '^$' -bench Latest -benchtime 5s ./sqlitestore/
func BenchmarkLatest(b *testing.B) { statetest.BenchLatest(b, openBench) }
