package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A backup copied as a file, from a read snapshot taken when the WAL is
// all in the database file (issue 21).
//
// SQLite's backup API copies page by page through the pager: 3.2 s of CPU
// per GB at 0.2M snapshots and 5.3 s at 5M, measured on the writer's
// connection (backupwriter.go). Copying the database file's bytes costs a
// tenth of that, but a live file's bytes are only a consistent database at
// a moment SQLite guarantees they do not change. This copy makes one:
//
//  1. A reader connection begins a read transaction while the writer is
//     paused between groups, and the writer's connection then runs a
//     PASSIVE checkpoint. It copies every WAL frame up to the reader's
//     snapshot into the database file (the checkpointer has copied the
//     bulk just before, off the writer, so this is the short tail). When
//     it reports every frame of the WAL copied, the file holds exactly the
//     reader's snapshot: no frame past it existed (the writer was paused),
//     and none came from another process, or the WAL would be longer.
//  2. From then until the read transaction ends, SQLite changes nothing in
//     the database file: a checkpoint never copies a frame past the mark
//     of a reader still reading (this one's mark is the WAL's end, or 0,
//     which forbids copying at all), and the WAL is not restarted under a
//     reader's mark. Commits go on into the WAL.
//  3. The copy reads the file's first page_count × page_size bytes
//     through the reader connection's own SQLite file handle (rawcopy.c:
//     Go opens no descriptor of a live SQLite file, see walIndex), in
//     large reads, on a low-priority thread, fsyncing the copy every
//     fileSyncBytes and dropping what it wrote from the page cache, so the
//     database's own pages stay cached.
//
// The read snapshot is a long read (longread.go): the WAL grows by what is
// appended meanwhile, and the copy is stopped with ErrSnapshotHeld if the
// -wal file passes the snapshot WAL limit. The copy's speed is what keeps
// that short: it runs at the normal priority whenever, at its speed so
// far, the WAL would reach half the limit before the copy ends.
//
// When no such moment comes (a replicator or another process keeps frames
// in the WAL past a reader of its own), BackupWith copies from the writer
// instead.

// errNotFrozen: no read snapshot could be taken with the WAL all in the
// database file.
var errNotFrozen = errors.New("no moment with the WAL all copied into the database file came for a file copy")

// fileCopyAttempts is how many times copyFromFile tries to take its
// snapshot before it gives up with errNotFrozen.
const fileCopyAttempts = 8

// fileSyncBytes is how much the file copy writes between two fsyncs of it.
const fileSyncBytes = 64 << 20

// fileChunkBytes is how much one cgo call copies (a variable for tests).
var fileChunkBytes = 8 << 20

// noFileCopy makes BackupAuto skip the file copy (a test hook: the tests
// of the writer path's own fallback).
var noFileCopy bool

// fileCopy is what copyFromFile reports.
type fileCopy struct {
	pages    int64
	attempts int           // snapshots taken until one was frozen
	pause    time.Duration // the writer's pause to take the snapshot
	normal   bool          // some chunks ran at the normal priority
}

// copyFromFile copies the database into tmp (an empty private file) as a
// file, from a read snapshot taken when the WAL is all in the database
// file; see the comment above.
func (db *DB) copyFromFile(ctx context.Context, tmp string, opts BackupOptions, fc *fileCopy) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, free := newRawBuf(fileChunkBytes)
	defer free()

	if noFileCopy {
		return errNotFrozen
	}
	for fc.attempts < fileCopyAttempts {
		fc.attempts++
		// The bulk of the WAL into the file off the writer first, so that
		// the writer's own checkpoint below copies only the tail.
		if db.ckpt != nil {
			if _, err := db.ckpt.run(ctx, Passive); err != nil {
				return err
			}
		}
		err = db.Read(ctx, func(tx *Tx) error {
			var total, pageSize int64
			frozen := false
			t0 := time.Now()
			if err := db.exclusive(ctx, func(c *conn) error {
				// The read transaction begins with this read, while no
				// commit of this process can run.
				if err := tx.QueryRow(ctx, "PRAGMA page_count").Scan(&total); err != nil {
					return err
				}
				res, err := db.checkpointWaiting(ctx, c, Passive, db.cfg.BusyTimeout)
				if err != nil {
					return err
				}
				frozen = !res.Busy && res.WALFrames == res.CheckpointedFrames
				return nil
			}); err != nil {
				return err
			}
			fc.pause += time.Since(t0)
			if !frozen {
				return errNotFrozen
			}
			if err := tx.QueryRow(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
				return err
			}
			fc.pages = total
			return db.copyFileBytes(ctx, tx, f, total, pageSize, buf, opts, fc)
		})
		if !errors.Is(err, errNotFrozen) {
			return err
		}
		// Readers of older snapshots, or another process's commits:
		// wait a little and take a new snapshot.
		if !sleepCtx(ctx, time.Duration(fc.attempts)*10*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%w (%d tries)", errNotFrozen, fc.attempts)
}

// copyFileBytes copies the first total pages of the database file, as the
// reader tx sees them, into f.
func (db *DB) copyFileBytes(ctx context.Context, tx *Tx, f *os.File, total, pageSize int64, buf []byte, opts BackupOptions, fc *fileCopy) error {
	size := total * pageSize
	syncs := make(chan int64, 1)
	synced := make(chan error, 1)
	go func() {
		var first error
		var from int64
		for to := range syncs {
			if err := f.Sync(); err != nil && first == nil {
				first = fmt.Errorf("fsync the copy: %w", err)
			}
			// Written and on disk: out of the page cache, which the
			// database's own pages need more.
			dropCache(f, from, to-from)
			from = to
		}
		synced <- first
	}()
	syncErr := func() error {
		close(syncs)
		return <-synced
	}
	t0 := time.Now()
	wal0 := db.walBytes()
	limit := db.snapshotWALLimit()
	var done, lastSync int64
	for done < size {
		if err := ctx.Err(); err != nil {
			syncErr()
			return err
		}
		n := min(int64(len(buf)), size-done)
		run := lowPriority
		if opts.NormalPriority || db.fileCopyBehind(done, size, time.Since(t0), wal0, limit, opts.MinRateBytes) {
			run = func(fn func()) { fn() }
			fc.normal = fc.normal || !opts.NormalPriority
		}
		var err error
		run(func() { err = rawCopy(tx.conn.dc, f.Fd(), done, n, buf) })
		if err != nil {
			syncErr()
			return classify(ctx, "copy the database file", err)
		}
		done += n
		bp := BackupProgress{PagesDone: done / pageSize, PagesTotal: total}
		db.backupProgress.Store(&bp)
		if opts.Progress != nil {
			opts.Progress(bp)
		}
		if done-lastSync >= fileSyncBytes || done == size {
			lastSync = done
			syncs <- done
		}
		if opts.RateBytes > 0 {
			due := time.Duration(float64(done) / float64(opts.RateBytes) * float64(time.Second))
			if !sleepCtx(ctx, due-time.Since(t0)) {
				syncErr()
				return ctx.Err()
			}
		}
	}
	return syncErr()
}

// fileCopyBehind reports whether the file copy, done of size bytes after
// took, must run at the normal priority: below minRate, or at its speed so
// far it would end after the WAL (wal0 when it began, growing as it has
// since) reached half the snapshot limit.
func (db *DB) fileCopyBehind(done, size int64, took time.Duration, wal0, limit, minRate int64) bool {
	if took < 100*time.Millisecond || done == 0 {
		return false
	}
	rate := float64(done) / took.Seconds()
	if minRate > 0 && took > time.Second && rate < float64(minRate) {
		return true
	}
	if limit <= 0 {
		return false
	}
	wal := db.walBytes()
	grow := float64(wal-wal0) / took.Seconds()
	if grow <= 0 {
		return false
	}
	left := float64(size-done) / rate // seconds to the end at this speed
	return float64(wal)+grow*left > float64(limit)/2
}
