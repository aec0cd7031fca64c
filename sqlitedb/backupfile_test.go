package sqlitedb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// The default backup copies the file's bytes in rounds. The copy is the
// database at its end: the rows committed just before it (still only in
// the WAL) are in it, and so is every page written while the bytes were
// copied, also when a checkpoint moved it into the file under the copy.
func TestBackupFile_CopyIsTheDatabaseAtItsEnd(t *testing.T) {
	defer sqlitedb.SetFileChunkBytes(16 << 10)()
	db := testutil.MustOpenDB(t, noCheckpointer)
	fillRows(t, db, 400)
	if _, err := db.Checkpoint(ctx, sqlitedb.Truncate); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		writeBetweenSteps(t, db, i) // in the WAL only
	}
	if n := pendingFrames(t, db); n == 0 {
		t.Fatal("no WAL frame waits to be copied into the file: the test tests nothing")
	}
	calls := 0
	dest := filepath.Join(t.TempDir(), "b.db")
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{Progress: func(p sqlitedb.BackupProgress) {
		calls++
		if p.PagesDone < p.PagesTotal {
			writeBetweenSteps(t, db, 100+calls)
			if calls%3 == 0 {
				if _, err := db.Checkpoint(ctx, sqlitedb.Passive); err != nil {
					t.Error(err)
				}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != sqlitedb.BackupFromFile || calls < 10 || res.RecopiedPages == 0 {
		t.Fatalf("result %+v after %d progress calls, want a file copy in many chunks that copied pages again", res, calls)
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if got, want := digest(t, copyDB), digest(t, db); got != want {
		t.Fatalf("the copy (%d bytes of rows) differs from the database (%d bytes)", len(got), len(want))
	}
	if n := count(t, copyDB, "SELECT count(*) FROM t"); n < 400+calls-2 {
		t.Fatalf("the copy has %d rows, want the 400 filled and the ones appended during the copy", n)
	}
}

// Another connection's commit during a file copy (another process: the
// shim does not see its pages) makes the default backup copy from the
// writer instead; the copy is still the database.
func TestBackupFile_OtherConnectionFallsBackToTheWriter(t *testing.T) {
	defer sqlitedb.SetFileChunkBytes(16 << 10)()
	path := filepath.Join(t.TempDir(), "db.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	fillRows(t, db, 400)
	other := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	calls := 0
	dest := filepath.Join(t.TempDir(), "b.db")
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{Progress: func(sqlitedb.BackupProgress) {
		if calls++; calls == 3 {
			writeBetweenSteps(t, other, calls)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantWriterCopy(t, res, dest, db)
}

// pendingFrames is how many WAL frames are not yet in the database file
// (db.Stats reads the WAL index; it does not checkpoint).
func pendingFrames(t *testing.T, db *sqlitedb.DB) int64 {
	t.Helper()
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.WALPendingFrames
}

// While another connection (as another process would) holds a read
// snapshot with frames in the WAL after it, no moment with the WAL all in
// the file comes: the default backup copies from the writer instead, and
// the copy is still the database.
func TestBackupFile_NoMomentFallsBackToTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.db")
	db := testutil.MustOpenDBAt(t, path, noCheckpointer)
	fillRows(t, db, 200)
	other := testutil.MustOpenDBAt(t, path, noCheckpointer)
	release := holdSnapshot(t, other)
	for i := range 10 {
		writeBetweenSteps(t, db, i) // past the other reader's snapshot
	}
	dest := filepath.Join(t.TempDir(), "b.db")
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{})
	release()
	if err != nil {
		t.Fatal(err)
	}
	wantWriterCopy(t, res, dest, db)
	// Asked for the file copy alone, the backup fails and leaves nothing.
	release = holdSnapshot(t, other)
	writeBetweenSteps(t, db, 99)
	dir := t.TempDir()
	_, err = db.BackupWith(ctx, filepath.Join(dir, "c.db"), sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile})
	release()
	if err == nil {
		t.Fatal("a file copy without a moment with the WAL all in the file succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed backup left %v", entries)
	}
}

// A cancelled file copy leaves no file, and the next backup is whole.
func TestBackupFile_CancelLeavesNothing(t *testing.T) {
	defer sqlitedb.SetFileChunkBytes(16 << 10)()
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 400)
	dir := t.TempDir()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	calls := 0
	_, err := db.BackupWith(bctx, filepath.Join(dir, "b.db"), sqlitedb.BackupOptions{Progress: func(sqlitedb.BackupProgress) {
		if calls++; calls == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled backup: %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a cancelled backup left %v", entries)
	}
	for i := range 20 {
		writeBetweenSteps(t, db, i)
	}
	dest := filepath.Join(dir, "b.db")
	res, err := db.BackupWith(ctx, dest, sqlitedb.BackupOptions{})
	if err != nil || res.Source != sqlitedb.BackupFromFile {
		t.Fatalf("the backup after a cancelled one: %+v %v", res, err)
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if got, want := digest(t, copyDB), digest(t, db); got != want {
		t.Fatal("the next backup differs from the database")
	}
}

// wantWriterCopy checks that res is a backup copied from the writer's
// connection, and that the copy at dest holds db's rows.
func wantWriterCopy(t *testing.T, res sqlitedb.BackupResult, dest string, db *sqlitedb.DB) {
	t.Helper()
	if res.Source != sqlitedb.BackupFromWriter {
		t.Fatalf("result %+v, want the copy from the writer", res)
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if got, want := digest(t, copyDB), digest(t, db); got != want {
		t.Fatal("the copy differs from the database")
	}
}
