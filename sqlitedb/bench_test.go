package sqlitedb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// The benchmark row: a 512-byte payload with one secondary index, the shape
// of a small state snapshot.
const (
	benchSchema = `CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS t_k ON t(k);`
	benchInsert = "INSERT INTO t(k, v) VALUES(?, ?)"
)

var benchPayload = []byte(strings.Repeat("x", 512))

// runParallel runs n calls of fn spread over g goroutines.
func runParallel(b *testing.B, g int, fn func(i int64) error) {
	runParallelUnit(b, g, "writes/s", fn)
}

func runParallelUnit(b *testing.B, g int, unit string, fn func(i int64) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	total := int64(b.N)
	b.ResetTimer()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// BenchmarkWrite measures acknowledged single-row writes through Write, with
// group commit (the default) and without (MaxBatch 1), at 1, 8 and 64
// goroutines.
func BenchmarkWrite(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  sqlitedb.Config
	}{
		{"group", sqlitedb.Config{}},
		{"nogroup", sqlitedb.Config{MaxBatch: 1}},
		{"group-full", sqlitedb.Config{Synchronous: "full"}},
	} {
		for _, g := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", mode.name, g), func(b *testing.B) {
				db := testutil.MustOpenDB(b, mode.cfg)
				mustExec(b, db, benchSchema)
				ctx := context.Background()
				runParallel(b, g, func(i int64) error {
					return db.Write(ctx, func(tx *sqlitedb.Tx) error {
						_, err := tx.Exec(ctx, benchInsert, i, benchPayload)
						return err
					})
				})
				if st, err := db.Stats(ctx); err == nil {
					b.ReportMetric(st.Writer.MeanBatch, "writes/commit")
				}
			})
		}
	}
}

// BenchmarkNaive is the baseline: one transaction per write through plain
// database/sql with the same driver, the seed's pragmas and a shared pool.
func BenchmarkNaive(b *testing.B) {
	for _, g := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "naive.db")
			db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=1&_busy_timeout=5000&_foreign_keys=1")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(5)
			if _, err := db.Exec(benchSchema); err != nil {
				b.Fatal(err)
			}
			runParallel(b, g, func(i int64) error {
				tx, err := db.Begin()
				if err != nil {
					return err
				}
				if _, err := tx.Exec(benchInsert, i, benchPayload); err != nil {
					tx.Rollback()
					return err
				}
				return tx.Commit()
			})
		})
	}
}

// BenchmarkCeiling is the upper bound: the same rows inserted from one
// goroutine in one plain transaction with a prepared statement.
func BenchmarkCeiling(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ceiling.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=1")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(benchSchema); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(benchInsert)
	if err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		if _, err := st.Exec(i, benchPayload); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkRead measures point reads through Read, alone and beside a
// writer that writes continuously.
func BenchmarkRead(b *testing.B) {
	for _, withWriter := range []bool{false, true} {
		b.Run(fmt.Sprintf("writer=%v", withWriter), func(b *testing.B) {
			db := testutil.MustOpenDB(b, sqlitedb.Config{})
			mustExec(b, db, benchSchema)
			rows := make([][]any, 10000)
			for i := range rows {
				rows[i] = []any{i, benchPayload}
			}
			if err := db.Batch(context.Background(), benchInsert, rows); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if withWriter {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						db.Write(ctx, func(tx *sqlitedb.Tx) error {
							_, err := tx.Exec(ctx, benchInsert, 1, benchPayload)
							return err
						})
					}
				}()
			}
			lat := make([]time.Duration, 0, b.N)
			var mu sync.Mutex
			runParallelUnit(b, 8, "reads/s", func(i int64) error {
				t0 := time.Now()
				var v []byte
				err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
					return tx.QueryRow(ctx, "SELECT v FROM t WHERE id = ?", 1+i%10000).Scan(&v)
				})
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				return err
			})
			cancel()
			wg.Wait()
			reportPercentiles(b, lat)
		})
	}
}
