package sqlitedb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// digest is every row of table t, in order, as one string: two databases
// with the same digest hold the same rows.
func digest(t *testing.T, db *sqlitedb.DB) string {
	t.Helper()
	var b bytes.Buffer
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id, v FROM t ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var v []byte
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			fmt.Fprintf(&b, "%d:%x;", id, v)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeBetweenSteps appends a row and rewrites an early one (a page the
// backup has already copied) through db.
func writeBetweenSteps(t *testing.T, db *sqlitedb.DB, step int) {
	err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO t(v) VALUES(?)", bytes.Repeat([]byte{byte('a' + step%26)}, 3000)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE t SET v = ? WHERE id = ?", bytes.Repeat([]byte{byte('A' + step%26)}, 1000), 1+step%20)
		return err
	})
	if err != nil {
		t.Error(err)
	}
}

// A backup from the writer is the database as of its end: the rows
// appended between its steps and the rows rewritten after their pages
// were copied are all in the copy (SQLite updates the copy from the
// writer's own commits). A copy from one read snapshot, as before, would
// lack them.
func TestBackupFromWriter_CopyIsTheDatabaseAtItsEnd(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 400)
	steps := 0
	dest := filepath.Join(t.TempDir(), "b.db")
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, StepPages: 8, Progress: func(p sqlitedb.BackupProgress) {
		steps++
		if p.PagesDone < p.PagesTotal { // the last call comes after the copy's end
			writeBetweenSteps(t, db, steps)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != sqlitedb.BackupFromWriter || res.Restarts != 0 || res.Steps < 10 {
		t.Fatalf("result %+v, want a copy from the writer in many steps and no restart", res)
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if got, want := digest(t, copyDB), digest(t, db); got != want {
		t.Fatalf("the copy (%d bytes of rows) differs from the database at the backup's end (%d bytes); %d steps wrote meanwhile", len(got), len(want), steps)
	}
	if n := count(t, copyDB, "SELECT count(*) FROM t"); n < 400+steps-1 {
		t.Fatalf("the copy has %d rows, want the 400 filled and the %d appended between steps", n, steps-1)
	}
}

// A commit by another connection (here a second DB on the same file, as
// another process would be) makes SQLite start the backup over. The
// restarts are counted; the copy is still the database; past MaxRestarts
// the backup copies from a reader's snapshot instead.
func TestBackupFromWriter_OtherConnectionRestartsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	fillRows(t, db, 400)
	other := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	// The default's file copy comes first; here the writer path's own
	// fallback is under test.
	defer sqlitedb.SkipFileCopy()()
	for _, tc := range []struct {
		maxRestarts int
		want        sqlitedb.BackupSource
	}{{10, sqlitedb.BackupFromWriter}, {3, sqlitedb.BackupFromReader}} {
		t.Run(fmt.Sprintf("max %d", tc.maxRestarts), func(t *testing.T) {
			steps := 0
			dest := filepath.Join(t.TempDir(), "b.db")
			res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{StepPages: 8, MaxRestarts: tc.maxRestarts, Progress: func(p sqlitedb.BackupProgress) {
				steps++
				// Four writes from the other connection, each once the
				// copy is past its first pages.
				if steps <= 4*5 && steps%5 == 0 {
					writeBetweenSteps(t, other, steps)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Restarts != 4 || res.Source != tc.want {
				t.Fatalf("result %+v, want 4 restarts and the copy from %s", res, tc.want)
			}
			copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
			if got, want := digest(t, copyDB), digest(t, db); got != want {
				t.Fatalf("the copy differs from the database (%d and %d bytes of rows)", len(got), len(want))
			}
		})
	}
}

// The backup from the writer holds no read snapshot: under appends the WAL
// is reset as usual while it runs. Counted in bytes appended, not in time:
// the appends between steps write at least 20 times the WAL limit in all,
// and the -wal file (its high-water mark) stays within 4 limits.
func TestBackupFromWriter_WALStaysBounded(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{WALLimit: testWALLimit})
	fillRows(t, db, 10000) // 10 MB: 40 steps of 64 pages and more
	mustExec(t, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB)")
	waitWALUnder(t, db, testWALLimit)
	row := bytes.Repeat([]byte{'w'}, 4000)
	var appended, peak int64
	steps := 0
	res, err := db.BackupWith(ctx, filepath.Join(t.TempDir(), "b.db"), sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, StepPages: 64, WriterShare: 1, Progress: func(sqlitedb.BackupProgress) {
		steps++
		err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
			for range 24 {
				if _, err := tx.Exec(ctx, "INSERT INTO t(v) VALUES(?)", row); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		appended += 24 * int64(len(row))
		peak = max(peak, walSize(db))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != sqlitedb.BackupFromWriter {
		t.Fatalf("result %+v, want a copy from the writer", res)
	}
	if appended < 20*testWALLimit {
		t.Fatalf("appended %d bytes in %d steps, want at least %d for the test to mean anything", appended, steps, 20*testWALLimit)
	}
	if peak > 4*testWALLimit {
		t.Fatalf("the -wal file reached %d bytes during the backup (limit %d, %d bytes appended): the backup held it", peak, testWALLimit, appended)
	}
	t.Logf("%d steps, %d bytes appended, -wal peak %d bytes, source %s", steps, appended, peak, res.Source)
}

// Cancelled mid-copy, a backup from the writer leaves no file, ends its
// hold on the writer's connection (the writes after it would otherwise be
// copied into a closed file), and the next backup works.
func TestBackupFromWriter_CancelLeavesNothing(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 400)
	dir := t.TempDir()
	dest := filepath.Join(dir, "b.db")
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps := 0
	_, err := db.BackupWith(bctx, dest, sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, StepPages: 8, Progress: func(sqlitedb.BackupProgress) {
		steps++
		writeBetweenSteps(t, db, steps)
		if steps == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a cancelled backup left %v", entries)
	}
	if _, running := db.BackupProgressNow(); running {
		t.Fatal("a cancelled backup is still reported running")
	}
	for i := range 50 {
		writeBetweenSteps(t, db, i) // pages the backup had copied
	}
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter})
	if err != nil {
		t.Fatalf("the backup after a cancelled one: %v", err)
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if got, want := digest(t, copyDB), digest(t, db); got != want || res.Source != sqlitedb.BackupFromWriter {
		t.Fatalf("the next backup (%+v) differs from the database", res)
	}
}

// Close during a backup from the writer waits for it; the backup stops at
// its next step with ErrClosed, ends its hold on the writer's connection
// through the writer's queue, and leaves no file.
func TestBackupFromWriter_CloseMidCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.db")
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fillRows(t, db, 400)
	dir := t.TempDir()
	closed := make(chan error, 1)
	steps := 0
	_, err = db.BackupWith(ctx, filepath.Join(dir, "b.db"), sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, StepPages: 8, Progress: func(sqlitedb.BackupProgress) {
		if steps++; steps != 3 {
			return
		}
		go func() { closed <- db.Close() }()
		// Until Close has begun: then new requests are refused.
		for db.Write(ctx, func(*sqlitedb.Tx) error { return nil }) == nil {
		}
	}})
	if !errors.Is(err, sqlitedb.ErrClosed) {
		t.Fatalf("backup while the DB closed: %v, want ErrClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the stopped backup left %v", entries)
	}
	reopened := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	if n := count(t, reopened, "SELECT count(*) FROM t"); n != 400 {
		t.Fatalf("after Close mid-backup the database has %d rows, want 400", n)
	}
}
