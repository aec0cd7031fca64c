package pgstore_test

import (
	"context"
	"testing"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// The same benchmarks as sqlitestore's (statetest.BenchAppend and
// BenchLatest), so that scripts/bench can put both engines side by side.
// The store uses the pool `cortex serve` gets by default (pgxpool's: the
// larger of 4 and the number of CPUs), on the cluster of
// CORTEX_TEST_POSTGRES_URL (scripts/test or scripts/bench start a throwaway
// one: fsync off, so the figures are an upper bound for a durable server;
// the SQLite figures use synchronous=NORMAL).
func openBench(tb testing.TB) state.Store {
	s, err := pgstore.Open(context.Background(), pgtest.NewDatabase(tb), pgstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppend: statetest.BenchAppend on PostgreSQL.
//
//	go test -run '^$' -bench Append -benchtime 5s ./pgstore/
func BenchmarkAppend(b *testing.B) { statetest.BenchAppend(b, openBench, nil) }

// BenchmarkLatest: statetest.BenchLatest on PostgreSQL.
//
//	go test -run '^$' -bench Latest -benchtime 5s ./pgstore/
func BenchmarkLatest(b *testing.B) { statetest.BenchLatest(b, openBench) }
