package sqlitedb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

var ctx = context.Background()

func mustExec(t testing.TB, db *sqlitedb.DB, query string, args ...any) {
	t.Helper()
	err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// readEvery reads every row query returns, in one Read, and returns its
// error: how the tests make a query touch (damaged) pages.
func readEvery(db *sqlitedb.DB, query string) error {
	return db.Read(ctx, func(tx *sqlitedb.Tx) error {
		rows, err := tx.Query(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	})
}

func count(t testing.TB, db *sqlitedb.DB, query string, args ...any) int {
	t.Helper()
	var n int
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, query, args...).Scan(&n)
	})
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

func TestOpen_CreatesPrivateFileAndFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "x.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x)")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	st, _ := os.Stat(filepath.Dir(path))
	if st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode = %v, want 0700", st.Mode().Perm())
	}
}

func TestDB_WriteRead(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Write(ctx, func(tx *sqlitedb.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO t(id, v) VALUES(?, ?)", i, "x")
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 200 {
		t.Fatalf("count = %d, want 200", n)
	}
}

func TestDB_WriteErrorRollsBackOnlyItsOwnWork(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO t VALUES(1)")
	var wg sync.WaitGroup
	results := make([]error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Write(ctx, func(tx *sqlitedb.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO t VALUES(?)", 1000+i); err != nil {
					return err
				}
				// Every odd writer then violates the primary key: its own
				// first insert must be rolled back with it, and nobody
				// else's.
				if i%2 == 1 {
					_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)")
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if i%2 == 1 && !errors.Is(err, sqlitedb.ErrConstraint) {
			t.Errorf("writer %d: err = %v, want ErrConstraint", i, err)
		}
		if i%2 == 0 && err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM t WHERE id >= 1000"); n != 50 {
		t.Fatalf("rows = %d, want 50", n)
	}
	if n := count(t, db, "SELECT count(*) FROM t WHERE id >= 1000 AND id % 2 = 1"); n != 0 {
		t.Fatalf("odd rows = %d, want 0", n)
	}
}

// TestDB_WriteFunctionMayRunAgain shows the contract Write documents: a
// group first runs without savepoints, and when one function fails the
// whole transaction rolls back and the group runs again, so functions run
// more than once. Their work inside the transaction commits once; a side
// effect outside it (here a counter) happens once per run.
func TestDB_WriteFunctionMayRunAgain(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")

	// Hold the writer so that the next two calls queue up and form one group.
	hold, held := make(chan struct{}), make(chan struct{})
	holdDone := make(chan error, 1)
	go func() {
		holdDone <- db.Write(ctx, func(*sqlitedb.Tx) error { close(held); <-hold; return nil })
	}()
	<-held
	var runsA, runsB atomic.Int32
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() {
		errA <- db.Write(ctx, func(tx *sqlitedb.Tx) error {
			runsA.Add(1)
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)")
			return err
		})
	}()
	waitQueue(t, db, 1)
	go func() {
		errB <- db.Write(ctx, func(*sqlitedb.Tx) error {
			runsB.Add(1)
			return errors.New("refused")
		})
	}()
	waitQueue(t, db, 2)
	close(hold)
	if err := <-holdDone; err != nil {
		t.Fatal(err)
	}
	if err := <-errA; err != nil {
		t.Fatalf("A: %v", err)
	}
	if err := <-errB; err == nil || err.Error() != "refused" {
		t.Fatalf("B: %v, want its own error", err)
	}
	if a, b := runsA.Load(), runsB.Load(); a != 2 || b != 2 {
		t.Fatalf("runs: A %d, B %d; want 2 each (the group ran again with savepoints)", a, b)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows = %d, want A's one row, committed once", n)
	}
}

// waitQueue waits until n calls wait in the writer's queue.
func waitQueue(t *testing.T, db *sqlitedb.DB, n int) {
	t.Helper()
	for {
		s, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Writer.QueueDepth >= n {
			return
		}
		runtime.Gosched()
	}
}
