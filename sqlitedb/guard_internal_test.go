package sqlitedb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The WAL guard, past seven eighths of the limit but below the limit
// itself, does not wait for a pass the checkpointer is running: that round
// ends with a RESTART on the writer anyway, and waiting stalled appends
// for the whole pass (scripts/sqlite-floor on a loaded machine: guard
// RESTARTs of 0.1-0.9 s). The checkpointer's loop is stopped and its
// mutex held here, as during a long PASSIVE pass: appends must go on,
// and the guard count its deferral. Past the limit itself the guard waits
// as before (the bound holds); the test stops before it.
func TestGuard_DoesNotWaitForCheckpointerPassBelowLimit(t *testing.T) {
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

	db.ckpt.mu.Lock() // a PASSIVE pass is running
	locked := true
	defer func() {
		if locked {
			db.ckpt.mu.Unlock()
		}
	}()
	pad := strings.Repeat("x", 3000)
	done := make(chan error, 1)
	checkpoints := func() int64 {
		db.ckstats.mu.Lock()
		defer db.ckstats.mu.Unlock()
		return db.ckstats.count
	}
	before := checkpoints()
	go func() {
		for db.w.guardDeferred.Load() == 0 {
			if checkpoints() != before {
				done <- errors.New("the guard ran its RESTART behind the checkpointer's pass")
				return
			}
			mx, _, _ := db.walIndex()
			if db.walFramesBytes(mx+4) > db.cfg.WALLimit {
				done <- errNoDeferral
				return
			}
			if err := db.Write(ctx, func(tx *Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO t(v) VALUES (?)", pad)
				return err
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// A deadline to report a writer blocked behind the mutex, not a
	// stand-in for an event: with the fix the writes end within
	// milliseconds.
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		db.ckpt.mu.Unlock()
		locked = false
		<-done
		t.Fatal("the writer's WAL guard waited for the checkpointer's pass below the WAL limit: appends stalled behind it")
	}
	if fi := db.walBytes(); fi > db.cfg.WALLimit {
		t.Fatalf("-wal file %d bytes, past the %d-byte limit", fi, db.cfg.WALLimit)
	}
}

var errNoDeferral = errors.New("the WAL neared its limit without the guard deferring to the checkpointer")
