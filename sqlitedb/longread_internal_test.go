package sqlitedb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortex-db/cortex/health"
)

// When a long read (a backup, a check) ends, the WAL holds everything
// appended meanwhile, not yet copied into the database. The writer's WAL
// guard used to copy that backlog itself, with a RESTART before the next
// group: appends stalled for as long (0.5-5.6 s measured right after a
// full check at 0.3-0.5 GB). Now the guard leaves the backlog to the
// checkpointer, off the writer. The checkpointer's loop is stopped here
// so that only the guard could checkpoint.
func TestGuard_LeavesLongReadBacklogToCheckpointer(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "g.db"), Config{WALLimit: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.ckpt.stop()

	// A long read holds its snapshot while 1 MiB is appended.
	lctx, end := db.beginLongRead(ctx, "test read")
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.Read(lctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(lctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	for db.walBytes() < 4*db.cfg.WALLimit {
		fillRows(t, db, 1)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	end()

	db.ckstats.mu.Lock()
	before := db.ckstats.count
	db.ckstats.mu.Unlock()
	fillRows(t, db, 1) // the guard runs before this write's group
	db.ckstats.mu.Lock()
	after, last := db.ckstats.count, db.ckstats.last
	db.ckstats.mu.Unlock()
	if after != before {
		t.Fatalf("the writer checkpointed the long read's backlog itself (%+v): appends stall while it copies", *last)
	}
}

// Under load a probe write waits in the writer's queue behind whole
// groups and their checkpoints (health p99 75-380 ms measured under
// appends). Health now takes a commit within healthFresh as the writer's
// check: here the writer is held by a long write, and health still
// answers at once, healthy, instead of timing out behind it.
func TestHealth_AnswersFromRecentCommitWhileWriterBusy(t *testing.T) {
	defer func(d time.Duration) { healthFresh = d }(healthFresh)
	healthFresh = time.Hour // the machine's speed plays no part
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.Write(ctx, func(tx *Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	h := db.Health(ctx, HealthOptions{Timeout: 100 * time.Millisecond})
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range h.Checks {
		if c.Name == "writer" && c.Status != health.Healthy {
			t.Fatalf("health while the writer is busy: writer %s (%s), want healthy from the last commit", c.Status, c.Detail)
		}
	}
}

// After a long read, the -wal file is GBs long (everything appended
// meanwhile). Cutting it in one TRUNCATE checkpoint on the writer took the
// filesystem ~0.7 ms per MB (ext4: 0.35 s for 512 MB), and every append
// waited: the 1-3 s stall after a backup or a check at 5M snapshots; so
// did SQLite's own cut to journal_size_limit in the commit that starts the
// log over after a RESTART. Now the checkpointer runs a RESTART with
// journal_size_limit lifted, and the file is cut in steps of at most
// shrinkBytes between groups; every row stays, also after a reopen (the
// WAL's recovery reads only the frames the cuts kept).
func TestCheckpointer_ShrinksLongWALInSteps(t *testing.T) {
	defer func(b int64) { shrinkBytes = b }(shrinkBytes)
	shrinkBytes = 64 << 10
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	// journal_size_limit below the WAL: SQLite itself would cut the file
	// to it, on the writer, in the commit that starts the log over.
	db, err := Open(ctx, path, Config{WALLimit: 256 << 10, JournalSizeLimit: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rows := 0
	lctx, end := db.beginLongRead(ctx, "test read")
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.Read(lctx, func(tx *Tx) error {
			var n int
			if err := tx.QueryRow(lctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	for db.walBytes() < 16*db.cfg.WALLimit {
		fillRows(t, db, 1)
		rows++
	}
	long := db.walBytes()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	end()
	// Appends go on (each commit after the RESTART lets the log start
	// over) until the checkpointer has cut the file down.
	deadline := time.Now().Add(time.Minute)
	for db.walBytes() > db.cfg.WALLimit || db.ckpt.shrink.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the -wal file is still %d bytes (was %d), %d cuts", db.walBytes(), long, db.ckpt.shrinkCuts.Load())
		}
		fillRows(t, db, 1)
		rows++
		time.Sleep(time.Millisecond) // paces the appends; the loop waits for the condition
	}
	cuts, maxCut := db.ckpt.shrinkCuts.Load(), db.ckpt.shrinkMaxCut.Load()
	if cuts < 2 || maxCut > shrinkBytes {
		t.Fatalf("the %d-byte -wal file was cut in %d steps, the largest %d bytes; want steps of at most %d", long, cuts, maxCut, shrinkBytes)
	}
	count := func(db *DB) int {
		var n int
		if err := db.Read(ctx, func(tx *Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(db); n != rows {
		t.Fatalf("%d rows, want %d", n, rows)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(ctx, path, Config{}); err != nil {
		t.Fatal(err)
	}
	if n := count(db); n != rows {
		t.Fatalf("after a reopen: %d rows, want %d", n, rows)
	}
	var ok string
	if err := db.Read(ctx, func(tx *Tx) error { return tx.QueryRow(ctx, "PRAGMA integrity_check").Scan(&ok) }); err != nil || ok != "ok" {
		t.Fatalf("integrity_check after the cuts: %q, %v", ok, err)
	}
}
