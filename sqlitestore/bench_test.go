package sqlitestore_test

import (
	"context"
	"testing"

	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

func openBench(tb testing.TB) state.Store { return openStore(tb, state.Options{}) }

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
