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
