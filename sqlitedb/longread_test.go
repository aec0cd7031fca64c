//go:build cgo

package sqlitedb_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// Small limits, so that a few hundred appends pass them.
const (
	testWALLimit      = 256 << 10
	testSnapshotLimit = 1 << 20
)

// appendUntilWAL appends 4 KB rows to table big until the -wal file passes
// limit, then stops: the WAL can only pass the limit by one row's frames.
func appendUntilWAL(t *testing.T, db *sqlitedb.DB, limit int64) {
	t.Helper()
	row := bytes.Repeat([]byte{'w'}, 4000)
	for walSize(db) <= limit {
		mustExec(t, db, "INSERT INTO big(v) VALUES(?)", row)
	}
}

func walSize(db *sqlitedb.DB) int64 {
	st, err := os.Stat(db.Path() + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// waitWALUnder appends a row now and then until the checkpointer has
// brought the -wal file back under limit.
func waitWALUnder(t *testing.T, db *sqlitedb.DB, limit int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for walSize(db) > limit {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL stayed at %d bytes, over %d, after the long read ended", walSize(db), limit)
		}
		mustExec(t, db, "INSERT INTO big(v) VALUES(x'00')")
		time.Sleep(10 * time.Millisecond) // a poll, waiting for the checkpointer's reset
	}
}

// A backup holds one read snapshot for its whole copy, so no checkpoint
// can reset the WAL meanwhile; under appends the WAL grew without bound
// (11.6 GB at scale). Past Config.SnapshotWALLimit the backup is now
// stopped with ErrSnapshotHeld, and the WAL is reset after.
func TestLongRead_BackupStoppedPastSnapshotWALLimit(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{WALLimit: testWALLimit, SnapshotWALLimit: testSnapshotLimit})
	mustExec(t, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB)")
	fillRows(t, db, 2000) // 2 MB to copy
	// The fill's own WAL first goes back under the limit: a backup that
	// starts over it is stopped at once (on a loaded machine the
	// checkpointer can still be behind here).
	waitWALUnder(t, db, testWALLimit)
	// Paced to 16 KiB/s in 4-page steps: the copy would take minutes, so
	// it is still running when the WAL passes the limit.
	bctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel) // before Close, should the test fail
	done := make(chan error, 1)
	go func() {
		_, err := db.BackupWith(bctx, filepath.Join(t.TempDir(), "b.db"), sqlitedb.BackupOptions{Source: sqlitedb.BackupFromReader, StepPages: 4, RateBytes: 16 << 10, Check: sqlitedb.CheckNone})
		done <- err
	}()
	for _, running := db.BackupProgressNow(); !running; _, running = db.BackupProgressNow() {
		select {
		case err := <-done:
			t.Fatalf("the backup ended before its first step was seen: %v", err)
		case <-time.After(time.Millisecond): // waiting for the first step (an event)
		}
	}
	appendUntilWAL(t, db, testSnapshotLimit)
	peak := walSize(db)
	select {
	case err := <-done:
		if !errors.Is(err, sqlitedb.ErrSnapshotHeld) {
			t.Fatalf("backup: %v, want ErrSnapshotHeld", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the WAL reached %d bytes (limit %d) and the backup holding it was not stopped", peak, testSnapshotLimit)
	}
	if n := db.LongReadsStopped(); n != 1 {
		t.Fatalf("LongReadsStopped = %d, want 1", n)
	}
	waitWALUnder(t, db, testWALLimit)
}

// A quick check holds one snapshot too: stopped past the limit, it waits
// for the WAL to be reset and starts over, and the job ends done, with
// the restart counted.
func TestLongRead_CheckStartsOverPastSnapshotWALLimit(t *testing.T) {
	// gate(x) is the CHECK of table slow: armed, its first call during
	// the check blocks until released, so the check is still running when
	// the WAL passes the limit, whatever the machine's speed.
	var armed atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	gate := func(x int64) int64 {
		if armed.CompareAndSwap(true, false) {
			close(entered)
			<-release
		}
		return 1
	}
	db := testutil.MustOpenDB(t, sqlitedb.Config{WALLimit: testWALLimit, SnapshotWALLimit: testSnapshotLimit,
		OnConnect: func(c driver.Conn) error { return c.(*sqlite3.SQLiteConn).RegisterFunc("gate", gate, false) }})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before Close, should the test fail
	mustExec(t, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB)")
	mustExec(t, db, "CREATE TABLE slow(id INTEGER PRIMARY KEY, x INTEGER CHECK (gate(x) = 1))")
	mustExec(t, db, "INSERT INTO slow(x) VALUES(1), (2), (3)")
	armed.Store(true)
	job, err := db.StartIntegrity(sqlitedb.IntegrityQuick, sqlitedb.VerifyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	appendUntilWAL(t, db, testSnapshotLimit)
	for deadline := time.Now().Add(60 * time.Second); db.LongReadsStopped() == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL reached %d bytes (limit %d) and the check holding it was not stopped", walSize(db), testSnapshotLimit)
		}
		time.Sleep(time.Millisecond) // waiting for the checkpointer's round
	}
	once.Do(func() { close(release) })
	// The job waits for the WAL to be reset, which appends bring about.
	waitWALUnder(t, db, testWALLimit)
	db.WaitIntegrity(ctx)
	got, _ := db.IntegrityJobByID(job.ID)
	if got.ID != job.ID || got.State != sqlitedb.JobDone || got.Result == nil || !got.Result.OK || got.Progress.Restarts != 1 {
		t.Fatalf("job: %+v, want done and ok after one restart", got)
	}
}
