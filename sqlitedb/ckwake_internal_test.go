package sqlitedb

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// openCkptTest opens a database with a table and the checkpointer's loop
// stopped, so that nothing but the test starts a round or reads the kick.
func openCkptTest(t *testing.T, cfg Config) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "k.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if db.ckpt == nil || !db.shimOn {
		t.Skip("no checkpointer or no WAL shim on this build")
	}
	db.ckpt.stop()
	return db
}

// At full write speed 1,000 frames come every ~10 ms; a checkpointer
// woken only by its 100 ms poll found the WAL past seven eighths of the
// limit, and the writer's guard copied it all while writes waited. The
// writer now wakes the checkpointer, between groups, as soon as
// Config.WALAutoCheckpoint frames are not yet copied.
func TestWriter_WakesCheckpointerAtAutoCheckpointFrames(t *testing.T) {
	ctx := context.Background()
	db := openCkptTest(t, Config{WALAutoCheckpoint: 10})
	if len(db.ckpt.kick) != 0 {
		t.Fatalf("kick pending before any frames: %d", len(db.ckpt.kick))
	}
	big := strings.Repeat("x", 64<<10) // 16+ frames of 4 KiB
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES (?)", big)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := db.walPendingFrames(); n < 10 {
		t.Fatalf("only %d frames pending after 64 KiB, want at least 10", n)
	}
	// The next group's guard sees them.
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES ('y')")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(db.ckpt.kick) != 1 || db.ckpt.wakes.Load() != 1 {
		t.Fatalf("kick pending %d, wakes %d: the writer did not wake the checkpointer at %d frames",
			len(db.ckpt.kick), db.ckpt.wakes.Load(), db.walPendingFrames())
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Checkpoint.Wakes != 1 {
		t.Fatalf("Stats: Checkpoint.Wakes = %d, want 1", st.Checkpoint.Wakes)
	}
}

// The writer wakes the checkpointer again only after a round copied
// something: while a reader's snapshot (a backup, a long read) holds the
// WAL no pass can, and waking it before every group would run passes and
// fsyncs back to back for nothing.
func TestWriter_WakesCheckpointerAgainOnlyAfterProgress(t *testing.T) {
	ctx := context.Background()
	db := openCkptTest(t, Config{WALAutoCheckpoint: 10})
	big := strings.Repeat("x", 64<<10)
	write := func() {
		t.Helper()
		if err := db.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES (?)", big)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	write()
	write() // its guard wakes the checkpointer
	if db.ckpt.wakes.Load() != 1 {
		t.Fatalf("wakes = %d, want 1", db.ckpt.wakes.Load())
	}
	<-db.ckpt.kick // the round ran, and copied nothing
	write()
	write()
	if n := db.ckpt.wakes.Load(); n != 1 || len(db.ckpt.kick) != 0 {
		t.Fatalf("wakes = %d, kick pending %d with no frame copied since: want 1, 0", n, len(db.ckpt.kick))
	}
	if _, err := db.ckpt.run(ctx, Passive); err != nil {
		t.Fatal(err)
	}
	write()
	write()
	if n := db.ckpt.wakes.Load(); n != 2 {
		t.Fatalf("wakes = %d after a pass copied frames, want 2", n)
	}
}

// Under continuous writes a PASSIVE pass never copies the WAL's last
// frame, so SQLite never synced the database file after one: the
// checkpoint that completes on the writer (the tail or the RESTART) wrote
// back every page the passes had copied. The checkpointer now syncs the
// database file itself (PRAGMA cortex_db_sync) before handing the writer
// the tail, as it syncs the -wal.
func TestCheckpointer_SyncsDatabaseFileBeforeTail(t *testing.T) {
	ctx := context.Background()
	db := openCkptTest(t, Config{})
	syncs := walbufDBSyncs()
	// A tail left after the passes (mx > backfill, below tailFrames: no
	// further pass).
	db.ckpt.converge(ctx, 10, 0, CheckpointResult{})
	if got := walbufDBSyncs() - syncs; got != 1 {
		t.Fatalf("database file synced %d times before the tail, want 1", got)
	}
	if err := db.walErr(); err != nil {
		t.Fatalf("the sync latched an error: %v", err)
	}
	// Nothing left to copy: nothing to sync.
	syncs = walbufDBSyncs()
	db.ckpt.converge(ctx, 10, 10, CheckpointResult{})
	if got := walbufDBSyncs() - syncs; got != 0 {
		t.Fatalf("database file synced %d times with no tail, want 0", got)
	}
}
