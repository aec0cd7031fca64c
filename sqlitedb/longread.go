package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Long reads: an online backup's copy and a quick or full integrity check
// each hold one read snapshot from start to end (a backup stepped without
// it restarts on every commit; PRAGMA quick_check cannot be cut). While one
// does, SQLite cannot restart the WAL: every commit lands past the
// reader's mark, and the -wal file grows by everything appended meanwhile
// (11.6 GB was measured during a full check at 8.5 GB under appends).
//
// So each long read registers here, and the checkpointer stops it (its
// context is cancelled, which interrupts SQLite) once the -wal file passes
// Config.SnapshotWALLimit. The WAL is then reset by the next checkpoint
// round, as without the long read. What the stopped read does next is its
// own: a quick or full check waits for the WAL to be reset and starts
// over, up to maxHeldRestarts times; a backup fails with ErrSnapshotHeld
// (the next scheduled one tries again). Short reads (the verifier's
// slices, paging, export pages) end their transaction within milliseconds
// and are not tracked.

// ErrSnapshotHeld reports a long read stopped because its read snapshot
// held the WAL past Config.SnapshotWALLimit.
var ErrSnapshotHeld = errors.New("stopped: its read snapshot kept the WAL from being reset past the snapshot WAL limit")

// DefaultSnapshotWALLimit is the least Config.SnapshotWALLimit's default
// gives (the default is this or a quarter of the database file, whichever
// is larger).
const DefaultSnapshotWALLimit = 1 << 30

// longReads is the DB's table of running long reads.
type longReads struct {
	mu      sync.Mutex
	running map[*longRead]struct{}
	stopped atomic.Int64 // long reads stopped, since Open
	// backlog is set when a long read ends and cleared when the
	// checkpointer has copied what the WAL gathered meanwhile: until then
	// the writer's WAL guard leaves that copy to the checkpointer.
	backlog atomic.Bool
}

type longRead struct {
	what   string
	cancel context.CancelCauseFunc
}

// beginLongRead registers a long read named what: the returned context is
// cancelled (with a cause wrapping ErrSnapshotHeld) when its snapshot holds
// the WAL past the limit; end unregisters it. While any long read runs,
// the writer's WAL guard and the checkpointer try no RESTART or TRUNCATE
// (it could not succeed, and waiting for it stalls appends).
func (db *DB) beginLongRead(ctx context.Context, what string) (context.Context, func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	lr := &longRead{what: what, cancel: cancel}
	db.long.mu.Lock()
	if db.long.running == nil {
		db.long.running = map[*longRead]struct{}{}
	}
	db.long.running[lr] = struct{}{}
	db.long.mu.Unlock()
	db.backups.Add(1)
	return lctx, func() {
		db.long.mu.Lock()
		delete(db.long.running, lr)
		db.long.mu.Unlock()
		db.long.backlog.Store(true)
		db.backups.Add(-1)
		cancel(nil)
	}
}

// snapshotWALLimit is the WAL size past which long reads are stopped, 0
// for never: Config.SnapshotWALLimit, by default the larger of
// DefaultSnapshotWALLimit and a quarter of the database file.
func (db *DB) snapshotWALLimit() int64 {
	switch l := db.cfg.SnapshotWALLimit; {
	case l < 0:
		return 0
	case l > 0:
		return l
	}
	return max(DefaultSnapshotWALLimit, fileSize(db.path)/4)
}

// stopLongReads stops every running long read when the WAL (walBytes)
// passes the snapshot limit; the checkpointer calls it each round while
// one runs. It returns how many it stopped.
func (db *DB) stopLongReads(walBytes int64) int {
	limit := db.snapshotWALLimit()
	if limit <= 0 || walBytes <= limit {
		return 0
	}
	db.long.mu.Lock()
	defer db.long.mu.Unlock()
	n := 0
	for lr := range db.long.running {
		lr.cancel(fmt.Errorf("%s %w (the -wal file reached %s, the limit is %s: SnapshotWALLimit, --snapshot-wal-limit)",
			lr.what, ErrSnapshotHeld, formatBytes(walBytes), formatBytes(limit)))
		delete(db.long.running, lr)
		n++
	}
	if n > 0 {
		db.long.stopped.Add(int64(n))
		db.cfg.Logger.Warn("long read stopped: its snapshot held the WAL past the snapshot WAL limit", "wal_bytes", walBytes, "limit", limit, "stopped", n)
	}
	return n
}

// LongReadsStopped is how many long reads (backups, quick or full checks)
// were stopped since Open because their snapshot held the WAL past
// Config.SnapshotWALLimit.
func (db *DB) LongReadsStopped() int64 { return db.long.stopped.Load() }

// heldErr returns the cause of lctx's cancellation when it was a stop for
// holding the WAL (and err is set), else err.
func heldErr(lctx context.Context, err error) error {
	if err == nil || lctx.Err() == nil {
		return err
	}
	if c := context.Cause(lctx); errors.Is(c, ErrSnapshotHeld) {
		return c
	}
	return err
}
