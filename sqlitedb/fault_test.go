package sqlitedb_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// A child process writing through Write is SIGKILLed mid-stream, several
// times; after each kill the database is intact and every write that
// returned nil is there.
func TestCrash_AcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[int64]bool{}
	for round := range 5 {
		child := helperCommand(t, "crash-writer", path, "x")
		stdout, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int64, 1<<16)
		go func() {
			// Only whole lines are acks. The child's bufio.Writer splits a
			// line when it fills, so a kill can leave the head of an id,
			// without its newline, as the last thing in the pipe.
			r := bufio.NewReader(stdout)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					break
				}
				if id, err := strconv.ParseInt(strings.TrimSuffix(line, "\n"), 10, 64); err == nil {
					lines <- id
				}
			}
			close(lines)
		}()
		// Wait for the first acknowledged write, however long a busy
		// machine takes to start the child, then let it write for a
		// random while longer and kill it mid-stream. The kill moment is
		// random, but no outcome depends on how fast the machine is.
		first, ok := <-lines
		if !ok {
			t.Fatalf("round %d: child exited before acknowledging a write", round)
		}
		acked[first] = true
		n := 1
		deadline := time.After(time.Duration(rand.IntN(400)) * time.Millisecond)
	collect:
		for {
			select {
			case id, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited on its own", round)
				}
				acked[id] = true
				n++
			case <-deadline:
				break collect
			}
		}
		child.Process.Signal(syscall.SIGKILL)
		for id := range lines { // acks printed before the kill
			acked[id] = true
			n++
		}
		child.Wait()

		db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
		res, err := db.IntegrityCheck(ctx, sqlitedb.IntegrityFull)
		if err != nil || !res.OK {
			t.Fatalf("round %d: integrity after SIGKILL: %+v, %v", round, res, err)
		}
		var missing []int64
		err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
			for id := range acked {
				var one int
				err := tx.QueryRow(ctx, "SELECT 1 FROM acks WHERE id = ?", id).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					missing = append(missing, id)
				} else if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Fatalf("round %d: %d of %d acknowledged writes missing after SIGKILL, among them %v",
				round, len(missing), len(acked), missing[:min(len(missing), 5)])
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged writes, all present", round, len(acked))
	}
}

// A file that is not a SQLite database gives ErrCorrupt naming the path,
// and is left exactly as it was.
func TestOpen_ForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	content := []byte("these are my notes, not a database\n")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Fatalf("error %q does not name the path", err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, content) {
		t.Fatal("the foreign file was modified")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			t.Fatalf("%s was created beside a foreign file", suffix)
		}
	}
}

// A database whose header is intact but whose content pages are damaged
// opens (only the schema is read at open), and Health reports it unhealthy
// through the integrity check. The damage is made here: a real database of
// a few hundred pages, with pages in its middle overwritten by noise.
func TestHealth_DamagedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "damaged.db")
	db := testutil.MustOpenDBAt(t, path, sqlitedb.Config{})
	fillRows(t, db, 500)
	mustExec(t, db, "CREATE INDEX t_v ON t(v)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	noise := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 4096*20/4)
	if _, err := f.WriteAt(noise, 4096*10); err != nil {
		t.Fatal(err)
	}
	f.Close()

	db2, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if err != nil {
		if errors.Is(err, sqlitedb.ErrCorrupt) {
			return // refused at open: also acceptable
		}
		t.Fatalf("open: %v, want ErrCorrupt or an open DB", err)
	}
	defer db2.Close()
	h := db2.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityQuick})
	if h.Status != health.Unhealthy {
		t.Fatalf("health = %s, want unhealthy: %+v", h.Status, h.Checks)
	}
	// Reading damaged pages is ErrCorrupt, by code.
	err = readEvery(db2, "SELECT v FROM t")
	if !errors.Is(err, sqlitedb.ErrCorrupt) {
		t.Fatalf("reading damaged pages: %v, want ErrCorrupt", err)
	}
}

// A folder the process cannot write is refused at open with ErrReadOnly and
// a message that says what to do. As root, permission bits do not apply, so
// the test mounts a read-only tmpfs when it can.
func TestOpen_ReadOnlyFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
			t.Skipf("running as root and cannot mount a read-only tmpfs (%v): no way to make a folder read-only here", err)
		}
		t.Cleanup(func() { syscall.Unmount(dir, 0) })
	} else {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	_, err := sqlitedb.Open(ctx, filepath.Join(dir, "x.db"), sqlitedb.Config{})
	if !errors.Is(err, sqlitedb.ErrReadOnly) {
		t.Fatalf("err = %v, want ErrReadOnly", err)
	}
	if sqlitedb.Hint(err) == "" {
		t.Fatalf("error %q does not say what to do", err)
	}
}

// crashImage copies a live database's file and -wal, as a crash would leave
// them, into a new folder and returns the copy's path.
func crashImage(t *testing.T, db *sqlitedb.DB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crash.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(db.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// A damaged frame in the middle of the WAL would make SQLite's recovery
// silently drop every commit after it: Open refuses, touching nothing,
// unless told to accept the loss. A damaged last frame is a torn write and
// opens as usual.
func TestOpen_DamagedWAL(t *testing.T) {
	db := testutil.MustOpenDB(t, noCheckpointer)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	for i := range 60 {
		mustExec(t, db, "INSERT INTO t(id, v) VALUES(?, randomblob(3000))", i)
	}
	const frame = 4096 + 24
	flip := func(path string, frameNo int64) {
		f, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var b [1]byte
		off := 32 + frameNo*frame + 24 + 100
		f.ReadAt(b[:], off)
		b[0] ^= 0xFF
		f.WriteAt(b[:], off)
	}

	img := crashImage(t, db)
	st, _ := os.Stat(img + "-wal")
	frames := (st.Size() - 32) / frame
	flip(img, frames/2)
	before, _ := os.ReadFile(img + "-wal")
	_, err := sqlitedb.Open(ctx, img, sqlitedb.Config{})
	if !errors.Is(err, sqlitedb.ErrCorrupt) || !strings.Contains(sqlitedb.Hint(err), "AcceptWALLoss") {
		t.Fatalf("open with a damaged WAL frame: %v, want ErrCorrupt naming the override", err)
	}
	if after, _ := os.ReadFile(img + "-wal"); !bytes.Equal(before, after) {
		t.Fatal("the refused -wal was modified")
	}
	kept, err := sqlitedb.Open(ctx, img, sqlitedb.Config{AcceptWALLoss: true})
	if err != nil {
		t.Fatalf("with AcceptWALLoss: %v", err)
	}
	if n := count(t, kept, "SELECT count(*) FROM t"); n == 0 || n >= 60 {
		t.Fatalf("recovered %d rows, want the prefix before the damage", n)
	}
	kept.Close()

	torn := crashImage(t, db)
	flip(torn, frames-1)
	last, err := sqlitedb.Open(ctx, torn, sqlitedb.Config{})
	if err != nil {
		t.Fatalf("a damaged last frame (a torn write): %v", err)
	}
	last.Close()
}
