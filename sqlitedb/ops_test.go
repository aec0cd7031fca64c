package sqlitedb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

func TestOpen_VerifiesPragmas(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{Synchronous: "full", BusyTimeout: 1234 * time.Millisecond})
	want := map[string]string{
		"journal_mode": "wal", "synchronous": "2", "busy_timeout": "1234", "foreign_keys": "1",
		"wal_autocheckpoint": "0", "query_only": "1", "temp_store": "2",
		"journal_size_limit": "67108864", "mmap_size": "268435456",
	}
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		for name, w := range want {
			var got string
			if err := tx.QueryRow(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				return err
			}
			if got != w {
				t.Errorf("reader pragma %s = %s, want %s", name, got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpen_BadConfig(t *testing.T) {
	for _, cfg := range []sqlitedb.Config{
		{JournalMode: "off"}, {Synchronous: "extra"}, {Readers: -1}, {MaxBatch: -2},
	} {
		if _, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "x.db"), cfg); err == nil || !strings.Contains(err.Error(), "config:") {
			t.Errorf("Open(%+v) = %v, want a config error", cfg, err)
		}
	}
}

func TestOpen_MemoryJournalWarns(t *testing.T) {
	var logs bytes.Buffer
	db := testutil.MustOpenDB(t, sqlitedb.Config{JournalMode: "memory", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mustExec(t, db, "CREATE TABLE t(x)")
	if !strings.Contains(logs.String(), "not durable") {
		t.Fatalf("no durability warning logged: %q", logs.String())
	}
}

func TestRead_PoolTimeout(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{Readers: 1, PoolTimeout: 30 * time.Millisecond})
	hold := make(chan struct{})
	held := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		db.Read(ctx, func(*sqlitedb.Tx) error { close(held); <-hold; return nil })
	}()
	<-held
	err := db.Read(ctx, func(*sqlitedb.Tx) error { return nil })
	close(hold)
	wg.Wait()
	if !errors.Is(err, sqlitedb.ErrPoolTimeout) {
		t.Fatalf("err = %v, want ErrPoolTimeout", err)
	}
	st := mustStats(t, db)
	if st.Readers.Timeouts != 1 || st.Readers.Waits == 0 {
		t.Fatalf("reader stats %+v: want 1 timeout and waits counted", st.Readers)
	}
}

func TestRead_IsReadOnly(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x)")
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)")
		return err
	})
	if !errors.Is(err, sqlitedb.ErrReadOnly) {
		t.Fatalf("write on a reader: %v, want ErrReadOnly", err)
	}
}

func TestWrite_CancelledBeforeTurnIsNotRun(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x)")
	// Block the writer so the next requests wait in the queue.
	blocking := make(chan struct{})
	release := make(chan struct{})
	go db.Write(ctx, func(*sqlitedb.Tx) error { close(blocking); <-release; return nil })
	<-blocking
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- db.Write(cctx, func(tx *sqlitedb.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES('cancelled')")
			return err
		})
	}()
	// Cancel it once it waits in the queue, not before it got there.
	for deadline := time.Now().Add(10 * time.Second); mustStats(t, db).Writer.QueueDepth < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the write never reached the queue")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	mustExec(t, db, "INSERT INTO t VALUES('after')")
	if n := count(t, db, "SELECT count(*) FROM t WHERE x = 'cancelled'"); n != 0 {
		t.Fatal("a write cancelled before its turn ran")
	}
}

func TestWrite_PanicReachesCaller(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		db.Write(ctx, func(*sqlitedb.Tx) error { panic("boom") })
	}()
	mustExec(t, db, "CREATE TABLE t(x)") // the writer survived
}

func TestClose(t *testing.T) {
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := db.Write(ctx, func(*sqlitedb.Tx) error { return nil }); !errors.Is(err, sqlitedb.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := db.Read(ctx, func(*sqlitedb.Tx) error { return nil }); !errors.Is(err, sqlitedb.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if st, err := os.Stat(db.Path() + "-wal"); err == nil && st.Size() != 0 {
		t.Fatalf("-wal is %d bytes after Close, want truncated", st.Size())
	}
}

func TestExplain(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT); CREATE INDEX t_k ON t(k)")
	plan, err := db.Explain(ctx, "SELECT * FROM t WHERE k = ?", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 || !strings.Contains(plan[0].Detail, "t_k") {
		t.Fatalf("plan %+v, want a search using t_k", plan)
	}
	for _, q := range []string{
		"DELETE FROM t", "INSERT INTO t VALUES(1, 'a')", "SELECT 1; DELETE FROM t",
		"DROP TABLE t", "", "EXPLAIN SELECT 1",
		// One statement, as SQLite's parser counts them.
		"SELECT 1; SELECT 2", "SELECT 1; garbage", "SELECT ';'; DELETE FROM t", "-- only a comment", ";",
		// WITH passes the first-word check; SQLite's own flag refuses them.
		"WITH x AS (SELECT 1) DELETE FROM t",
		"WITH x AS (SELECT 'a') INSERT INTO t(k) SELECT * FROM x",
		"with x as (select 1) update t set k = 'b'",
	} {
		if _, err := db.Explain(ctx, q); !errors.Is(err, sqlitedb.ErrNotReadOnly) {
			t.Errorf("Explain(%q) = %v, want ErrNotReadOnly", q, err)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'"); n != 1 {
		t.Fatal("table t is gone")
	}
	// SQLite decides, not a keyword list: no space after SELECT, a ";" in
	// a literal, comments and a final ";" are all one read.
	for _, q := range []string{
		"SELECT*FROM t", "SELECT * FROM t WHERE k = 'a;b'", "SELECT 1; -- done", "/* c */ SELECT * FROM t ;; ",
		"VALUES(1)", "select k from t where k = ';' -- x\n;",
	} {
		if _, err := db.Explain(ctx, q); err != nil {
			t.Errorf("Explain(%q) = %v, want a plan", q, err)
		}
	}
	// ATTACH is read-only by SQLite's definition: it is planned (an empty
	// plan) and never run, so no file appears.
	other := filepath.Join(t.TempDir(), "other.db")
	if _, err := db.Explain(ctx, "ATTACH '"+other+"' AS o"); err != nil {
		t.Errorf("Explain(ATTACH) = %v", err)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("explaining ATTACH made %s: %v", other, err)
	}
	// A read through WITH is planned; a bad statement is SQLite's error.
	if plan, err := db.Explain(ctx, "WITH x AS (SELECT k FROM t) SELECT * FROM x WHERE k = 'a'"); err != nil || len(plan) == 0 {
		t.Fatalf("Explain(WITH … SELECT) = %+v, %v", plan, err)
	}
	if _, err := db.Explain(ctx, "SELECT * FROM nowhere"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("Explain of an unknown table: %v", err)
	} else if code, ok := sqlitedb.CodeOf(err); !ok || code&0xff != 1 {
		t.Fatalf("Explain of an unknown table: code %d, %v; want SQLITE_ERROR", code, ok)
	}
}

func TestMigrate(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	migs := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a(x);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b(x); INSERT INTO b VALUES(1);")},
	}
	from, to, err := db.Migrate(ctx, migs)
	if err != nil || from != 0 || to != 2 {
		t.Fatalf("Migrate = %d→%d, %v", from, to, err)
	}
	from, to, err = db.Migrate(ctx, migs)
	if err != nil || from != 2 || to != 2 {
		t.Fatalf("second Migrate = %d→%d, %v", from, to, err)
	}
	migs["0003_bad.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE c(x); INSERT INTO nope VALUES(1);")}
	if _, to, err := db.Migrate(ctx, migs); err == nil || to != 2 {
		t.Fatalf("bad migration: to=%d err=%v", to, err)
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"); n != 0 {
		t.Fatal("a failed migration left its table behind")
	}
	delete(migs, "0003_bad.sql")
	migs["0004_gap.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
	if _, _, err := db.Migrate(ctx, migs); err == nil {
		t.Fatal("a gap in migration numbers was accepted")
	}
	// A database newer than the program.
	older := fstest.MapFS{"0001_a.sql": migs["0001_a.sql"]}
	if _, _, err := db.Migrate(ctx, older); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older program: %v", err)
	}
}

func TestBackupRestore(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 100)
	dest := filepath.Join(t.TempDir(), "b.db")
	if _, err := db.Backup(ctx, dest, nil); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "DELETE FROM t WHERE id > 10")
	mustExec(t, db, "CREATE TABLE extra(x)")
	if err := db.Restore(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("rows after restore = %d, want 100", n)
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'"); n != 0 {
		t.Fatal("restore kept a table the backup did not have")
	}
	mustExec(t, db, "INSERT INTO t(v) VALUES('after restore')")

	// A damaged backup is refused and nothing changes.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte("not a database at all"), 0o600)
	if err := db.Restore(ctx, bad); !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("restore from a foreign file: %v, want ErrCorrupt", err)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 101 {
		t.Fatalf("rows = %d after a refused restore, want 101", n)
	}

	// VacuumInto makes a compact, checked copy.
	vdest := filepath.Join(t.TempDir(), "v.db")
	res, err := db.VacuumInto(ctx, vdest)
	if err != nil || res.Integrity != "ok" {
		t.Fatalf("VacuumInto: %+v, %v", res, err)
	}
	vdb := testutil.MustOpenDBAt(t, vdest, sqlitedb.Config{})
	if n := count(t, vdb, "SELECT count(*) FROM t"); n != 101 {
		t.Fatalf("vacuumed copy has %d rows, want 101", n)
	}
}

// Backup and VacuumInto never replace a file, also when two race for one
// name, and take names up to the filesystem's limit.
func TestBackup_NeverReplaces(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 50)
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	os.WriteFile(old, []byte("an earlier backup"), 0o600)
	if _, err := db.Backup(ctx, old, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Backup over a file: %v, want fs.ErrExist", err)
	}
	if _, err := db.VacuumInto(ctx, old); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("VacuumInto over a file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "an earlier backup" {
		t.Fatalf("the existing file was changed: %q", b)
	}

	race := filepath.Join(dir, "race.db")
	var ok, exist, other int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = db.Backup(ctx, race, nil)
			} else {
				_, err = db.VacuumInto(ctx, race)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, fs.ErrExist):
				exist++
			default:
				other++
				t.Errorf("racing backup: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || exist != 7 {
		t.Fatalf("8 backups to one name: %d made it, %d found it taken, %d failed otherwise; want 1 and 7", ok, exist, other)
	}

	long := filepath.Join(dir, strings.Repeat("n", 252)+".db")
	if _, err := db.Backup(ctx, long, nil); err != nil {
		t.Fatalf("Backup to a 255-byte name: %v", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 3 {
		t.Fatalf("folder holds %d entries, want old.db, race.db and the long one: temporary folders left behind?", len(left))
	}
}

// Under umask 000, no file of a backup in the making is ever readable by
// others: VACUUM INTO creates its file with SQLite's default 0644.
func TestBackup_PrivateWhileWriting(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 20000) // ~20 MB: the copy takes a while
	dir := t.TempDir()
	os.Chmod(dir, 0o777)

	stop := make(chan struct{})
	seen := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if info, err := e.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
					select {
					case seen <- fmt.Sprintf("%s %v", e.Name(), info.Mode()):
					default:
					}
				}
			}
		}
	})
	for i, name := range []string{"v.db", "b.db"} {
		var err error
		if i == 0 {
			_, err = db.VacuumInto(ctx, filepath.Join(dir, name))
		} else {
			_, err = db.Backup(ctx, filepath.Join(dir, name), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case s := <-seen:
		t.Fatalf("while a backup was written, the folder held %s: readable by other users", s)
	default:
	}
}

func TestHealth(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{CheckpointInterval: -1, WALLimit: 64 << 10})
	h := db.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityFull})
	if h.Status != health.Healthy || h.Integrity == nil || !h.Integrity.OK {
		t.Fatalf("fresh database: %+v", h)
	}
	fillRows(t, db, 200) // ~200 KB of WAL, over the 64 KiB limit
	h = db.Health(ctx, sqlitedb.HealthOptions{})
	if h.Status != health.Degraded {
		t.Fatalf("WAL over its limit: %s, want degraded: %+v", h.Status, h.Checks)
	}
	if _, err := db.Checkpoint(ctx, sqlitedb.Truncate); err != nil {
		t.Fatal(err)
	}
	if h := db.Health(ctx, sqlitedb.HealthOptions{}); h.Status != health.Healthy {
		t.Fatalf("after truncate: %+v", h)
	}
}

func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.db")
	if inUse, err := sqlitedb.InUse(path); err != nil || inUse {
		t.Fatalf("missing file: %v, %v", inUse, err)
	}
	child := helperCommand(t, "hold-open", path, "x")
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	stdout.Read(buf)
	inUse, err := sqlitedb.InUse(path)
	child.Process.Kill()
	child.Wait()
	if err != nil || !inUse {
		t.Fatalf("open in another process: %v, %v", inUse, err)
	}
	if inUse, err := sqlitedb.InUse(path); err != nil || inUse {
		t.Fatalf("after the other process ended: %v, %v", inUse, err)
	}
}

func TestClose_NoCloseCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	server := testutil.MustOpenDBAt(t, path, noCheckpointer)
	fillRows(t, server, 100)
	before := fileDigest(t, path+"-wal")
	cfg := noCheckpointer
	cfg.NoCloseCheckpoint = true
	tool, err := sqlitedb.Open(ctx, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustStats(t, tool)
	if err := tool.Close(); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, path+"-wal") != before {
		t.Fatal("a tool's Close checkpointed the server's WAL")
	}
}

// A reader holding an old snapshot pins the WAL: checkpoints cannot finish,
// and after several in a row Health reports starvation.
func TestHealth_CheckpointStarvation(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	fillRows(t, db, 10)
	release := holdSnapshot(t, db)
	for range 6 {
		fillRows(t, db, 10)
		if _, err := db.Checkpoint(ctx, sqlitedb.Passive); err != nil {
			t.Fatal(err)
		}
	}
	h := db.Health(ctx, sqlitedb.HealthOptions{})
	release()
	var ck *health.Check
	for i := range h.Checks {
		if h.Checks[i].Name == "checkpoint" {
			ck = &h.Checks[i]
		}
	}
	if ck == nil || ck.Status != health.Degraded || h.Status != health.Degraded {
		t.Fatalf("with a pinned reader: %+v, want the checkpoint check degraded", h)
	}
	if st := mustStats(t, db); st.Checkpoint.Starved < 5 {
		t.Fatalf("starved = %d, want ≥ 5", st.Checkpoint.Starved)
	}
	if _, err := db.Checkpoint(ctx, sqlitedb.Passive); err != nil {
		t.Fatal(err)
	}
	if h := db.Health(ctx, sqlitedb.HealthOptions{}); h.Status != health.Healthy {
		t.Fatalf("after the reader left and a checkpoint completed: %+v", h)
	}
}

// A backup is one self-contained file: no -wal, -shm or temporary file is
// left beside it, and it opens read-only without creating any.
// Relative paths, as a user types them (cortex backup --out ./b.db) and as
// the default backup folder (data/backups) is, work for every operation
// that opens a file besides the database: SQLite's file: URIs need an
// absolute path.
func TestBackupRestore_RelativePaths(t *testing.T) {
	t.Chdir(t.TempDir())
	db := testutil.MustOpenDBAt(t, "live.db", sqlitedb.Config{})
	fillRows(t, db, 20)
	if err := os.Mkdir("backups", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"b.db", "./backups/b.db"} {
		if _, err := db.Backup(ctx, dest, nil); err != nil {
			t.Fatalf("Backup(%q): %v", dest, err)
		}
	}
	if _, err := db.VacuumInto(ctx, "backups/v.db"); err != nil {
		t.Fatalf("VacuumInto: %v", err)
	}
	if v, err := sqlitedb.FileUserVersion(ctx, "./b.db"); err != nil || v != 0 {
		t.Fatalf("FileUserVersion = %d, %v", v, err)
	}
	mustExec(t, db, "DELETE FROM t")
	if err := db.Restore(ctx, "backups/v.db"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 20 {
		t.Fatalf("rows after restore = %d, want 20", n)
	}
}

func TestBackup_LeavesOneFile(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 50)
	dir := t.TempDir()
	if _, err := db.Backup(ctx, filepath.Join(dir, "b.db"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.VacuumInto(ctx, filepath.Join(dir, "v.db")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != "b.db" || names[1] != "v.db" {
		t.Fatalf("backup folder holds %v, want [b.db v.db]", names)
	}
}

// An existing database file this process may read but not write is
// refused at open, not served with every write failing.
func TestOpen_ReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ro.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Root ignores permission bits: make the file immutable instead, or
		// bind-mount it read-only.
		if err := syscall.Mount(path, path, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("running as root and cannot bind-mount the file: %v", err)
		}
		t.Cleanup(func() { syscall.Unmount(path, 0) })
		if err := syscall.Mount("", path, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount the file read-only: %v", err)
		}
	} else if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if !errors.Is(err, sqlitedb.ErrReadOnly) || sqlitedb.Hint(err) == "" {
		t.Fatalf("open a read-only file: %v, want ErrReadOnly with advice", err)
	}
}

// Once a query meets a damaged page, Health says so until the damage is
// gone, without waiting for an integrity check.
func TestHealth_LatchesCorruptionMetByQueries(t *testing.T) {
	db2 := openDamaged(t)
	defer db2.Close()
	if h := db2.Health(ctx, sqlitedb.HealthOptions{}); h.Status != health.Healthy {
		t.Fatalf("before any query met the damage: %+v", h)
	}
	err := readEvery(db2, "SELECT v FROM t")
	if !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("read of damaged pages: %v", err)
	}
	h := db2.Health(ctx, sqlitedb.HealthOptions{})
	if h.Status != health.Unhealthy {
		t.Fatalf("after a query met damage: %+v", h)
	}
}

// TestWALIndexLocksSurvivePolling: reading the WAL's pending frames from
// the -shm file (Stats, the checkpointer) must not drop SQLite's locks on
// it. Closing any descriptor of a file drops all of the process's POSIX
// locks on it; when the poll opened and closed the -shm each time, another
// process then found the dead-man-switch lock free, truncated the -shm,
// and this process died of SIGBUS on its next read.
func TestWALIndexLocksSurvivePolling(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)")
	for range 3 {
		if _, err := db.Stats(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count(t, db, "SELECT count(*) FROM t")
	out, err := helperCommand(t, "shm-dms", db.Path(), "-").Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "held" {
		t.Fatalf("another process finds SQLite's lock on the -shm %q, want held", got)
	}
}

// TestReadOne: one statement runs without a BEGIN around it; a second
// one is refused, since it would see another snapshot; writes are refused
// as in Read.
func TestReadOne(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES(1), (2)")
	var n int
	if err := db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	}); err != nil || n != 2 {
		t.Fatalf("ReadOne count = %d, %v", n, err)
	}
	err := db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT max(x) FROM t").Scan(&n)
	})
	if !errors.Is(err, sqlitedb.ErrNotSingle) {
		t.Errorf("two statements in ReadOne: %v, want ErrNotSingle", err)
	}
	err = db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM t")
		return err
	})
	if !errors.Is(err, sqlitedb.ErrReadOnly) {
		t.Errorf("a write in ReadOne: %v, want ErrReadOnly", err)
	}
	// The connection is usable afterwards, with no transaction left open.
	if err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	}); err != nil || n != 2 {
		t.Fatalf("Read after ReadOne = %d, %v", n, err)
	}
}
