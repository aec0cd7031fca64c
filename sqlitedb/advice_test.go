package sqlitedb_test

// One test per row of DESIGN.md's "where the usual advice is wrong" table:
// each fails if cortex behaves the way the seed document's code does.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// noCheckpointer keeps the WAL exactly as the test's writes leave it.
var noCheckpointer = sqlitedb.Config{CheckpointInterval: -1, WALAutoCheckpoint: -1}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// openDamaged makes a database of 500 rows, overwrites 20 of its pages in
// the middle with noise, and opens it again (skipping the test if Open
// already refuses the damage). The caller closes it.
func openDamaged(t *testing.T) *sqlitedb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	fillRows(t, db, 500)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096*20), 4096*10)
	f.Close()
	db2, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if err != nil {
		t.Skipf("damage refused at open: %v", err)
	}
	return db2
}

func fillRows(t testing.TB, db *sqlitedb.DB, n int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{bytes.Repeat([]byte{'x'}, 1000)}
	}
	if err := db.Batch(ctx, "INSERT INTO t(v) VALUES(?)", rows); err != nil {
		t.Fatal(err)
	}
}

// Seed: get_db_stats runs PRAGMA wal_checkpoint(PASSIVE) to read the WAL
// size, which performs a checkpoint. Stats must have no side effects.
func TestStats_LeavesWALUntouched(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	fillRows(t, db, 200)
	wal := db.Path() + "-wal"
	before := fileDigest(t, wal)
	pendingBefore := mustStats(t, db).WALPendingFrames
	if pendingBefore == 0 {
		t.Fatal("test setup: expected frames waiting in the WAL")
	}
	for range 3 {
		st := mustStats(t, db)
		if st.WALBytes == 0 || st.WALFrames == 0 {
			t.Fatalf("stats report an empty WAL: %+v", st)
		}
		if want := (st.WALBytes - 32) / (st.PageSize + 24); st.WALFrames != want {
			t.Fatalf("wal_frames = %d, want (size-32)/(page_size+24) = %d", st.WALFrames, want)
		}
		if st.Checkpoint.Count != 0 {
			t.Fatalf("stats ran a checkpoint: %+v", st.Checkpoint)
		}
	}
	if after := fileDigest(t, wal); after != before {
		t.Fatal("Stats changed the -wal file")
	}
	if after := mustStats(t, db).WALPendingFrames; after != pendingBefore {
		t.Fatalf("pending frames %d → %d: Stats checkpointed", pendingBefore, after)
	}
}

// holdSnapshot starts a read transaction on table t and keeps it open
// until the returned function is called, pinning the WAL frames after it.
func holdSnapshot(t *testing.T, db *sqlitedb.DB) (release func()) {
	t.Helper()
	started := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Read(ctx, func(tx *sqlitedb.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				return err
			}
			close(started)
			<-stop
			return nil
		})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("read transaction: %v", err)
	}
	return func() {
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func mustStats(t testing.TB, db *sqlitedb.DB) sqlitedb.Stats {
	t.Helper()
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Seed: the wal_checkpoint row read as blocked / pages_written /
// pages_remaining. The columns are busy, WAL frames and checkpointed frames.
func TestCheckpoint_ResultColumns(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	fillRows(t, db, 100)
	pending := mustStats(t, db).WALPendingFrames

	// A reader holding a snapshot from before more writes pins frames:
	// PASSIVE cannot copy those, and says so in the third column.
	release := holdSnapshot(t, db)
	fillRows(t, db, 100)
	res, err := db.Checkpoint(ctx, sqlitedb.Passive)
	if err != nil {
		t.Fatal(err)
	}
	if res.WALFrames <= pending {
		t.Fatalf("wal_frames = %d, want more than the %d frames of the first fill", res.WALFrames, pending)
	}
	if res.CheckpointedFrames >= res.WALFrames || res.Remaining() <= 0 {
		t.Fatalf("with a reader pinning frames: checkpointed %d of %d, want fewer", res.CheckpointedFrames, res.WALFrames)
	}
	if res.Busy {
		t.Fatal("PASSIVE reports busy=1; it never waits, so a pinned reader is not busy")
	}
	release()
	res, err = db.Checkpoint(ctx, sqlitedb.Passive)
	if err != nil {
		t.Fatal(err)
	}
	if res.Busy || res.CheckpointedFrames != res.WALFrames || res.Remaining() != 0 {
		t.Fatalf("without readers: %+v, want every frame checkpointed", res)
	}
}

// Seed: "must checkpoint periodically" with no size bound. TRUNCATE must
// really empty the -wal file (journal_size_limit set, TRUNCATE mode).
func TestCheckpoint_TruncateEmptiesWAL(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	fillRows(t, db, 300)
	if mustStats(t, db).WALBytes == 0 {
		t.Fatal("test setup: WAL is empty")
	}
	res, err := db.Checkpoint(ctx, sqlitedb.Truncate)
	if err != nil {
		t.Fatal(err)
	}
	if res.Busy {
		t.Fatalf("truncate checkpoint busy: %+v", res)
	}
	st, err := os.Stat(db.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 0 {
		t.Fatalf("-wal is %d bytes after TRUNCATE, want 0", st.Size())
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 300 {
		t.Fatalf("rows = %d after checkpoint, want 300", n)
	}
}

// The background checkpointer keeps the WAL from growing without bound, off
// the write path: with a small frame threshold, pending frames come back
// down while writes continue.
func TestCheckpointer_KeepsWALBounded(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{WALAutoCheckpoint: 50, CheckpointInterval: time.Hour})
	fillRows(t, db, 1)
	for range 20 {
		fillRows(t, db, 100)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := mustStats(t, db)
		if st.Checkpoint.Count > 0 && st.WALPendingFrames < 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpointer did not run: %+v", st.Checkpoint)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALLimit_HeldUnderContinuousReads: writers and readers that never
// pause, and the -wal file never passes Config.WALLimit. SQLite starts
// the WAL over only when no reader uses it at the start of a write, which
// under continuous reads almost never happens: without the writer's
// guard the WAL grows past the limit within a second here.
func TestWALLimit_HeldUnderContinuousReads(t *testing.T) {
	const limit = 2 << 20
	db := testutil.MustOpenDB(t, sqlitedb.Config{WALLimit: limit})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v BLOB)")
	mustExec(t, db, "CREATE INDEX t_k ON t(k)")
	wal := db.Path() + "-wal"

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes, reads atomic.Int64
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blob := bytes.Repeat([]byte{byte(w)}, 700)
			for k := w; ; k += 16 {
				select {
				case <-stop:
					return
				default:
				}
				err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
					_, err := tx.Exec(ctx, "INSERT INTO t(k, v) VALUES(?, ?)", k*7919%100003, blob)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
					var n int
					return tx.QueryRow(ctx, "SELECT count(*) FROM t WHERE k BETWEEN ? AND ?", i%100003, i%100003+50).Scan(&n)
				})
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	var peak int64
	over := 0
	samples := 0
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if st, err := os.Stat(wal); err == nil {
			samples++
			peak = max(peak, st.Size())
			if st.Size() > limit {
				over++
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	st := mustStats(t, db)
	t.Logf("%d writes, %d reads; -wal peak %d bytes (limit %d), over in %d of %d samples; %d checkpoints, %d incomplete",
		writes.Load(), reads.Load(), peak, limit, over, samples, st.Checkpoint.Count, st.Checkpoint.Incomplete)
	if writes.Load() < 500 || reads.Load() < 1000 {
		t.Fatalf("test setup: too little load to fill the WAL (%d writes, %d reads)", writes.Load(), reads.Load())
	}
	if peak > limit {
		t.Errorf("the -wal file reached %d bytes, over the %d-byte limit in %d of %d samples", peak, limit, over, samples)
	}
}

// Seed: a partial index WHERE last_active > datetime('now','-1 hour').
// SQLite accepts the CREATE, then every INSERT fails. Migrate refuses it.
func TestMigrate_RefusesNonDeterministicPartialIndex(t *testing.T) {
	// First, the failure the seed walks into, on a plain connection.
	raw, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "raw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE sessions(id TEXT PRIMARY KEY, last_active TEXT);
		CREATE INDEX idx_active_sessions ON sessions(id) WHERE last_active > datetime('now', '-1 hour')`); err != nil {
		t.Fatalf("SQLite refused the CREATE (the premise of this test changed): %v", err)
	}
	if _, err := raw.Exec(`INSERT INTO sessions VALUES('a', datetime('now'))`); err == nil {
		t.Fatal("INSERT succeeded with the seed's partial index; expected SQLite to refuse it")
	}

	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	migs := fstest.MapFS{
		"0001_sessions.sql": {Data: []byte(`CREATE TABLE sessions(id TEXT PRIMARY KEY, last_active TEXT);`)},
		"0002_active.sql":   {Data: []byte(`CREATE INDEX idx_active_sessions ON sessions(id) WHERE last_active > datetime('now', '-1 hour');`)},
	}
	from, to, err := db.Migrate(ctx, migs)
	if err == nil || !strings.Contains(err.Error(), "non-deterministic") {
		t.Fatalf("Migrate = %d→%d, %v; want a non-deterministic index error", from, to, err)
	}
	if to != 1 {
		t.Fatalf("schema version = %d, want 1 (the bad migration rolled back)", to)
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_schema WHERE name = 'idx_active_sessions'"); n != 0 {
		t.Fatal("the non-deterministic index was created")
	}
	mustExec(t, db, "INSERT INTO sessions VALUES('a', 'now')")

	// The correct, deterministic partial index is accepted.
	migs["0002_active.sql"] = &fstest.MapFile{Data: []byte(`ALTER TABLE sessions ADD COLUMN expires_at INTEGER;
		CREATE INDEX idx_sessions_expiry ON sessions(expires_at) WHERE expires_at IS NOT NULL;`)}
	if _, to, err := db.Migrate(ctx, migs); err != nil || to != 2 {
		t.Fatalf("Migrate = %d, %v; want 2", to, err)
	}
	mustExec(t, db, "INSERT INTO sessions VALUES('b', 'x', 1)")
}

// Seed: retry when "locked" is in the message, around one statement, with
// deferred transactions. A deferred read-then-write transaction fails with
// SQLITE_BUSY_SNAPSHOT when another connection committed after its read —
// busy_timeout does not wait for it, and retrying the statement cannot fix
// it. Write begins IMMEDIATE, so the same workload succeeds.
func TestWrite_ImmediateAvoidsBusySnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upgrade.db")
	open := func() *sql.DB {
		d, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		d.SetMaxOpenConns(1)
		return d
	}
	a, b := open(), open()
	defer a.Close()
	defer b.Close()
	if _, err := a.Exec("CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES(0)"); err != nil {
		t.Fatal(err)
	}
	txA, err := a.Begin() // deferred
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := txA.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec("UPDATE counter SET n = n + 1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = txA.Exec("UPDATE counter SET n = ?", n+1)
	txA.Rollback()
	code, _ := sqlitedb.CodeOf(err)
	if code != sqlitedb.CodeBusySnapshot {
		t.Fatalf("deferred upgrade: err = %v (code %d), want SQLITE_BUSY_SNAPSHOT (%d)", err, code, sqlitedb.CodeBusySnapshot)
	}
	if time.Since(start) > 4*time.Second {
		t.Log("note: busy_timeout waited for BUSY_SNAPSHOT")
	}
	a.Close()
	b.Close()

	// The same read-modify-write through Write, from many goroutines and a
	// second handle on the same file: no error, no lost update.
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	other := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := db
			if i%2 == 1 {
				d = other
			}
			err := d.Write(ctx, func(tx *sqlitedb.Tx) error {
				var n int
				if err := tx.QueryRow(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "UPDATE counter SET n = ?", n+1)
				return err
			})
			if err != nil {
				failures.Add(1)
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := count(t, db, "SELECT n FROM counter"); got != 41 || failures.Load() != 0 {
		t.Fatalf("counter = %d with %d failures, want 41 and 0", got, failures.Load())
	}
}

// Seed: checkpoint before backup, and a backup stepped without a snapshot.
// A backup must complete while 8 goroutines write continuously, and hold
// every row committed before it began.
func TestBackup_CompletesUnderContinuousWrites(t *testing.T) {
	defer sqlitedb.SetFileChunkBytes(1 << 20)() // several steps of the file copy
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 5000) // ~5 MB: many backup steps
	before := count(t, db, "SELECT count(*) FROM t")

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var writes atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wctx.Err() == nil {
				err := db.Write(wctx, func(tx *sqlitedb.Tx) error {
					_, err := tx.Exec(wctx, "INSERT INTO t(v) VALUES(?)", bytes.Repeat([]byte{'y'}, 1000))
					return err
				})
				if err == nil {
					writes.Add(1)
				} else if wctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	var steps int
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	writesAtStart := writes.Load()
	res, err := db.BackupWith(bctx, dest, sqlitedb.BackupOptions{StepPages: 16, Progress: func(p sqlitedb.BackupProgress) { steps++ }})
	writesDuring := writes.Load() - writesAtStart
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("backup under load: %v", err)
	}
	if steps < 2 {
		t.Fatalf("progress called %d times, want one call per step", steps)
	}
	if writesDuring == 0 {
		t.Fatal("no write completed during the backup: writers were blocked")
	}
	if res.Integrity != "ok" || res.Bytes == 0 {
		t.Fatalf("result %+v", res)
	}
	st, _ := os.Stat(dest)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, want 0600", st.Mode().Perm())
	}
	copyDB := testutil.MustOpenDBAt(t, dest, sqlitedb.Config{})
	if n := count(t, copyDB, "SELECT count(*) FROM t"); n < before {
		t.Fatalf("backup has %d rows, want at least the %d committed before it began", n, before)
	}
	t.Logf("backup: %d pages in %d steps, %d writes committed meanwhile", res.Pages, steps, writesDuring)
}

// Seed: retry on "locked" in the message text. A lock held by another
// process past busy_timeout surfaces as SQLITE_BUSY (by code), and Write
// retries the whole transaction with backoff until it gets through.
func TestWrite_WaitsOutLockHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{BusyTimeout: 20 * time.Millisecond, MaxRetries: 100})
	mustExec(t, db, "CREATE TABLE t(x)")

	child := helperCommand(t, "hold-lock", path, "700ms")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || !strings.HasPrefix(string(buf), "locked") {
		t.Fatalf("child did not take the lock: %q, %v", buf, err)
	}
	err = db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)")
		return err
	})
	if err != nil {
		t.Fatalf("write while another process held the lock: %v", err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	st := mustStats(t, db)
	if st.Writer.Retries == 0 {
		t.Fatal("no retry counted: the lock was not contended")
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("rows = %d, want 2 (the child's and ours)", n)
	}

	// With too few retries, the error is ErrBusy — classified by code.
	db2 := testutil.MustOpenDBAt(t, path, sqlitedb.Config{BusyTimeout: 10 * time.Millisecond, MaxRetries: 2})
	child = helperCommand(t, "hold-lock", path, "2s")
	stdout, _ = child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	stdout.Read(buf)
	err = db2.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)")
		return err
	})
	child.Process.Kill()
	child.Wait()
	if !errors.Is(err, sqlitedb.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}

// Seed: the disk filling up is not considered. SQLITE_FULL (made real with
// PRAGMA max_page_count) is ErrDiskFull, nothing acknowledged is lost, and
// writes succeed again once there is room.
func TestWrite_DiskFull(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	var pages int
	if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
		if err := tx.QueryRow(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+20))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var acked []int
	var fullErr error
	for i := 1; i < 10000; i++ {
		err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t(id, v) VALUES(?, ?)", i, bytes.Repeat([]byte{'z'}, 2000))
			return err
		})
		if err != nil {
			fullErr = err
			break
		}
		acked = append(acked, i)
	}
	if !errors.Is(fullErr, sqlitedb.ErrDiskFull) {
		t.Fatalf("err = %v, want ErrDiskFull", fullErr)
	}
	if len(acked) == 0 {
		t.Fatal("no write succeeded before the disk was full")
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != len(acked) {
		t.Fatalf("rows = %d, want the %d acknowledged", n, len(acked))
	}
	if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "PRAGMA max_page_count = 1000000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO t(v) VALUES('after')")
	if n := count(t, db, "SELECT count(*) FROM t"); n != len(acked)+1 {
		t.Fatalf("rows = %d after freeing space, want %d", n, len(acked)+1)
	}
}
