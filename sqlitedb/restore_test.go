package sqlitedb_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// RestoreFile refuses while the database is open (found through SQLite's
// locks), then copies the backup into place, keeps the checkpointed
// current database as <name>.replaced-<time>, and leaves no -wal, -shm or
// temporary file.
func TestRestoreFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cortex.db")
	backup := filepath.Join(dir, "b.db")
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Config{NoCloseCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	fillRows(t, db, 100)
	if _, err := db.Backup(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}
	fillRows(t, db, 20) // in the WAL only: the kept file must have them

	if _, err := sqlitedb.RestoreFile(ctx, path, backup, sqlitedb.RestoreOptions{}); !errors.Is(err, sqlitedb.ErrInUse) {
		t.Fatalf("restore while the database is open: %v, want ErrInUse", err)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 120 {
		t.Fatalf("rows after a refused restore = %d, want 120", n)
	}
	// What a crash leaves: the file and its WAL, copied while the writer
	// is idle (SQLite's own close would checkpoint and remove the WAL).
	crashed := filepath.Join(dir, "crashed")
	os.Mkdir(crashed, 0o700)
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil || (suffix == "-wal" && len(b) == 0) {
			t.Fatalf("read %s: %d bytes, %v", suffix, len(b), err)
		}
		os.WriteFile(filepath.Join(crashed, "cortex.db"+suffix), b, 0o600)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	os.Rename(filepath.Join(crashed, "cortex.db"), path)
	os.Rename(filepath.Join(crashed, "cortex.db-wal"), path+"-wal")
	os.Remove(crashed)

	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	res, err := sqlitedb.RestoreFile(ctx, path, backup, sqlitedb.RestoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	wantKept := path + ".replaced-20261205T080000Z"
	if res.Replaced != wantKept || res.Check != sqlitedb.IntegrityQuick || res.Bytes == 0 {
		t.Fatalf("result %+v", res)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s after restore: %v, want it removed", f, err)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("restored file mode %v, want 0600", st.Mode().Perm())
	}
	checkOnlyFiles(t, dir, "cortex.db", "b.db", filepath.Base(wantKept))
	restored := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	if n := count(t, restored, "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("restored rows = %d, want the backup's 100", n)
	}
	restored.Close()
	kept := testutil.MustOpenDBAt(t, wantKept, sqlitedb.Config{})
	if n := count(t, kept, "SELECT count(*) FROM t"); n != 120 {
		t.Fatalf("kept rows = %d, want the replaced database's 120, its WAL included", n)
	}
	kept.Close()

	// Twice in the same second: a second name, never a replacement.
	res, err = sqlitedb.RestoreFile(ctx, path, backup, sqlitedb.RestoreOptions{Now: func() time.Time { return now }, Check: sqlitedb.IntegrityFull})
	if err != nil || res.Replaced != wantKept+"-2" {
		t.Fatalf("second restore: %+v, %v", res, err)
	}
	// --discard-current keeps nothing.
	res, err = sqlitedb.RestoreFile(ctx, path, backup, sqlitedb.RestoreOptions{DiscardCurrent: true, Check: sqlitedb.CheckNone})
	if err != nil || res.Replaced != "" {
		t.Fatalf("discarding restore: %+v, %v", res, err)
	}
	checkOnlyFiles(t, dir, "cortex.db", "b.db", filepath.Base(wantKept), filepath.Base(wantKept)+"-2")

	// Into a database that does not exist yet.
	fresh := filepath.Join(t.TempDir(), "new.db")
	if _, err := sqlitedb.RestoreFile(ctx, fresh, backup, sqlitedb.RestoreOptions{}); err != nil {
		t.Fatalf("restore to a new file: %v", err)
	}
}

// A damaged backup, or one whose last transactions sit in a -wal beside
// it, is refused and nothing changes.
func TestRestoreFile_RefusesBadBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cortex.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	fillRows(t, db, 500)
	good := filepath.Join(dir, "good.db")
	if _, err := db.Backup(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)

	damaged := filepath.Join(dir, "damaged.db")
	b, _ := os.ReadFile(good)
	copy(b[4096*10:], []byte(strings.Repeat("\xa5", 4096*20)))
	os.WriteFile(damaged, b, 0o600)
	if _, err := sqlitedb.RestoreFile(ctx, path, damaged, sqlitedb.RestoreOptions{}); !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("restore from a damaged backup: %v, want ErrCorrupt", err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	os.WriteFile(foreign, []byte("not a database"), 0o600)
	if _, err := sqlitedb.RestoreFile(ctx, path, foreign, sqlitedb.RestoreOptions{}); !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("restore from a foreign file: %v, want ErrCorrupt", err)
	}
	os.WriteFile(good+"-wal", []byte("frames"), 0o600)
	if _, err := sqlitedb.RestoreFile(ctx, path, good, sqlitedb.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "-wal") {
		t.Fatalf("restore from a backup with a -wal beside it: %v, want a refusal naming it", err)
	}
	os.Remove(good + "-wal")
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused restore changed the database")
	}
	checkOnlyFiles(t, dir, "cortex.db", "good.db", "damaged.db", "foreign.db")
}

// Without room for the copy, restore says so before writing anything.
func TestRestoreFile_FreeSpace(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "b.db")
	db := testutil.MustOpenDBAt(t, filepath.Join(dir, "src.db"), sqlitedb.Config{})
	fillRows(t, db, 200)
	if _, err := db.Backup(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(t.TempDir(), "small")
	os.Mkdir(small, 0o700)
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a small tmpfs (%v): no full disk to try", err)
	}
	t.Cleanup(func() { syscall.Unmount(small, 0) })
	_, err := sqlitedb.RestoreFile(ctx, filepath.Join(small, "cortex.db"), backup, sqlitedb.RestoreOptions{})
	if !errors.Is(err, sqlitedb.ErrDiskFull) || !strings.Contains(err.Error(), "free") {
		t.Fatalf("restore onto a full disk: %v, want ErrDiskFull saying how much is free", err)
	}
	checkOnlyFiles(t, small)
}

// checkOnlyFiles fails unless dir holds exactly names.
func checkOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if len(got) != len(names) {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("%s holds %v, want %v", dir, got, names)
		}
	}
}
