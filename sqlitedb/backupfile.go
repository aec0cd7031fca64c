package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A backup copied as a file, in rounds, off the writer (issue 21).
//
// SQLite's backup API copies page by page through the pager: 3.2 s of CPU
// per GB at 0.2M snapshots and 5.3 s at 5M, measured on the writer's
// connection (backupwriter.go), and a copy from one read snapshot holds
// the WAL for the whole copy, which at 5M grew it to 3.8 GB and cut
// appends to 27% (every page lookup then searches a long WAL index). The
// file's bytes copy at a tenth of that CPU, but a live file is only
// consistent at moments SQLite guarantees. This copy works like a live
// migration's pre-copy:
//
//  1. A moment: on the writer, between groups, with the checkpointer
//     paused, a PASSIVE checkpoint on the writer's connection that
//     reports every WAL frame copied into the database file (the
//     checkpointer has copied the bulk just before, off the writer, so
//     this is the tail). At such a moment the file holds the database.
//     PRAGMA data_version tells that no other connection (another
//     process) committed since the first moment.
//  2. At the first moment the WAL shim starts recording the page number
//     of every WAL frame the writer writes (walbuf.c, dirtyMark). Every
//     later change of the file comes from such a frame: a checkpoint
//     copies only frames.
//  3. Round 0 copies the whole file's bytes, off the writer, on a
//     low-priority thread, through a reader connection's own SQLite file
//     handle (rawcopy.c; Go opens no descriptor of a live SQLite file).
//     The file changes meanwhile; every page that changed is recorded.
//  4. Each next round takes, at a moment, the pages recorded since the
//     last, and copies them again, off the writer. A page recorded in
//     round r and not after has been in the file since round r's moment,
//     so its copy is right; one written again is recorded for round r+1.
//  5. When the pages recorded fit in a short pause (or after maxRounds),
//     the last round copies them at its moment, on the writer, and sets
//     the copy's size to the database's: the copy is the database at that
//     moment.
//
// No read snapshot is held, so the WAL is reset as usual while it runs.
// When no moment comes (a replicator or another process keeps frames in
// the WAL past a reader of its own), or another connection commits,
// BackupWith copies from the writer instead.

// errNotFrozen: no moment with the WAL all copied into the database file
// came.
var errNotFrozen = errors.New("no moment with the WAL all copied into the database file came for a file copy")

// errOtherWriter: another connection committed during a file copy, whose
// changes the shim does not see.
var errOtherWriter = errors.New("another connection wrote to the database during the file copy")

// errNoFileCopy: the file copy needs the WAL shim (Config.NoWALBuffer
// keeps it as a pass-through; an untested SQLite version has none).
var errNoFileCopy = errors.New("the file copy needs the WAL shim, which this database does not use")

// Tuning of the file copy.
const (
	// fileCopyAttempts is how many times a round tries for its moment
	// before the copy gives up with errNotFrozen.
	fileCopyAttempts = 8
	// fileSyncBytes is how much round 0 writes between two fsyncs.
	fileSyncBytes = 32 << 20
	// fileYieldMax is the longest one wait for the checkpointer lasts
	// (fileCopyYield): the copy goes on after it.
	fileYieldMax = 500 * time.Millisecond
	// fileYieldEvery is how much the copy copies between two waits.
	fileYieldEvery = 8 << 20
	// fileFinalPages: a round with at most this many pages recorded is
	// the last, copied on the writer (~2 µs a page from the page cache).
	fileFinalPages = 4096
	// fileMaxRounds ends the copy at its next moment whatever is left.
	fileMaxRounds = 12
)

// DefaultFileCopyRate is round 0's pace when BackupOptions.RateBytes is
// 0: measured at 5M snapshots (13.4 GB) under 4 full-speed writers on 2
// cores, appends kept 85% of their speed at 200 MB/s (0.3% of 100 ms
// windows without one) against 78% unpaced (BENCHMARKS.md, "Session 12,
// the lead"). A negative RateBytes copies unpaced.
const DefaultFileCopyRate = 200_000_000

// fileCopyRate is the pace of round 0 for opts: 0 for none.
func fileCopyRate(opts BackupOptions) int64 {
	switch {
	case opts.RateBytes < 0:
		return 0
	case opts.RateBytes == 0:
		return DefaultFileCopyRate
	}
	return opts.RateBytes
}

// fileChunkBytes is how much one call of round 0 copies (a variable for
// tests).
var fileChunkBytes = 8 << 20

// noFileCopy makes BackupAuto skip the file copy (a test hook: the tests
// of the writer path's own fallback).
var noFileCopy bool

// fileCopy is what copyFromFile reports.
type fileCopy struct {
	pages   int64
	rounds  int
	moments int           // moments tried (the writer's pauses)
	pause   time.Duration // the writer's time in them, the last round's copy included
	recopy  int64         // pages copied again after round 0
	final   int64         // pages the last round copied on the writer
	start   time.Time     // when the copy began
	copied  int64         // bytes copied so far, in all rounds
	yieldAt int64         // copied at which fileCopyYield looks again
}

// copyFromFile copies the database into tmp (an empty private file) in
// rounds; see the comment above.
func (db *DB) copyFromFile(ctx context.Context, tmp string, opts BackupOptions, fc *fileCopy) error {
	if noFileCopy || !db.shimOn || db.sqliteName == "" {
		return errNoFileCopy
	}
	fc.start = time.Now()
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, free := newRawBuf(fileChunkBytes)
	defer free()

	// A reader connection of the pool, held for the whole copy with no
	// transaction open: its file handle reads the bytes. Without memory
	// mapping: a read from a mapping past a file cut meanwhile faults.
	c, err := db.readers.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.readers.release(c)
	var mmap int64
	if err := c.with(func() error {
		if err := c.queryRow(ctx, "PRAGMA mmap_size", nil, &mmap); err != nil {
			return err
		}
		_, err := c.exec(ctx, "PRAGMA mmap_size=0")
		return err
	}); err != nil {
		return classify(ctx, "set up the file copy", err)
	}
	defer c.with(func() error {
		_, err := c.exec(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA mmap_size=%d", mmap))
		return err
	})

	var set *dirtySet
	defer func() {
		if set != nil {
			set.stop()
		}
	}()
	dv0 := int64(-1)
	// moment runs fn on the writer at a moment the WAL is all in the
	// file, with the checkpointer paused.
	moment := func(fn func(wc *conn) error) error {
		for attempt := 1; ; attempt++ {
			if db.ckpt != nil {
				if _, err := db.ckpt.run(ctx, Passive); err != nil {
					return err
				}
			}
			ok := false
			t0 := time.Now()
			err := db.exclusive(ctx, func(wc *conn) error {
				if db.ckpt != nil {
					db.ckpt.mu.Lock()
					defer db.ckpt.mu.Unlock()
				}
				res, err := runCheckpoint(ctx, wc, Passive)
				if err != nil {
					return err
				}
				db.recordCheckpoint(res)
				if res.Busy || res.WALFrames != res.CheckpointedFrames {
					return nil
				}
				var dv int64
				if err := wc.queryRow(ctx, "PRAGMA data_version", nil, &dv); err != nil {
					return err
				}
				if dv0 >= 0 && dv != dv0 {
					return errOtherWriter
				}
				dv0, ok = dv, true
				return fn(wc)
			})
			fc.moments++
			fc.pause += time.Since(t0)
			if err != nil || ok {
				return err
			}
			if attempt == fileCopyAttempts {
				return fmt.Errorf("%w (%d tries)", errNotFrozen, attempt)
			}
			// Readers of older snapshots: wait a little.
			if !sleepCtx(ctx, time.Duration(attempt)*10*time.Millisecond) {
				return ctx.Err()
			}
		}
	}
	pageCount := func(wc *conn) (n int64, err error) {
		err = wc.queryRow(ctx, "PRAGMA page_count", nil, &n)
		return n, err
	}

	// Round 0.
	var pageSize, pages int64
	if err := moment(func(wc *conn) (err error) {
		if pages, err = pageCount(wc); err != nil {
			return err
		}
		if err = wc.queryRow(ctx, "PRAGMA page_size", nil, &pageSize); err != nil {
			return err
		}
		set, err = dirtyStart(db.sqliteName, pages+pages/4)
		return err
	}); err != nil {
		return err
	}
	fc.pages = pages
	// The copy is written past the page cache where the filesystem
	// allows it (O_DIRECT): no writeback of GBs competing with the
	// writer's WAL, no cache filled with pages nothing reads soon.
	w := f
	if pageSize%4096 == 0 {
		if d, err := openDirect(tmp); err == nil {
			defer d.Close()
			w = d
		}
	}
	if err := db.copyWholeFile(ctx, c, f, w, pages, pageSize, buf, opts, fc); err != nil {
		return err
	}

	// The rounds after it.
	for {
		fc.rounds++
		var bits *dirtyBits
		final := false
		err := moment(func(wc *conn) error {
			b, err := set.swap()
			if err != nil {
				return err
			}
			bits = b
			n := b.count()
			if n > fileFinalPages && fc.rounds < fileMaxRounds {
				return nil
			}
			// The last round: copy what was recorded now, on the
			// writer, and cut the copy to the database's size.
			final = true
			total, err := pageCount(wc)
			if err != nil {
				return err
			}
			var copied int64
			if err := c.with(func() (err error) {
				copied, _, err = copyPages(c.dc, w.Fd(), bits, 1, total+1, pageSize, buf, false, 0)
				return err
			}); err != nil {
				return fmt.Errorf("copy the database file: %w", err)
			}
			fc.final, fc.pages = copied, total
			if err := f.Truncate(total * pageSize); err != nil {
				return fmt.Errorf("size the copy: %w", err)
			}
			return nil
		})
		if bits != nil {
			if err == nil && !final {
				err = db.copyRecorded(ctx, c, w, bits, pageSize, buf, opts, fc)
			}
			bits.free()
		}
		if err != nil {
			return err
		}
		if final {
			bp := BackupProgress{PagesDone: fc.pages, PagesTotal: fc.pages}
			db.backupProgress.Store(&bp)
			if opts.Progress != nil {
				opts.Progress(bp)
			}
			return nil
		}
	}
}

// copyWholeFile is round 0: the first pages pages of the database file,
// through c's file handle, into f, written through w (f, or f opened
// with O_DIRECT).
func (db *DB) copyWholeFile(ctx context.Context, c *conn, f, w *os.File, pages, pageSize int64, buf []byte, opts BackupOptions, fc *fileCopy) error {
	size := pages * pageSize
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
	var done, lastSync int64
	for done < size {
		if err := ctx.Err(); err != nil {
			syncErr()
			return err
		}
		if !db.fileCopyYield(ctx, fc) {
			syncErr()
			return ctx.Err()
		}
		n := min(int64(len(buf)), size-done)
		run := db.fileCopyPriority(opts, fc)
		var err error
		run(func() {
			err = c.with(func() error { return rawCopy(c.dc, w.Fd(), done, n, buf, true) })
		})
		if err != nil {
			syncErr()
			return classify(ctx, "copy the database file", err)
		}
		done += n
		fc.copied += n
		bp := BackupProgress{PagesDone: done / pageSize, PagesTotal: pages}
		db.backupProgress.Store(&bp)
		if opts.Progress != nil {
			opts.Progress(bp)
		}
		if done-lastSync >= fileSyncBytes || done == size {
			lastSync = done
			syncs <- done
		}
		if rate := fileCopyRate(opts); rate > 0 {
			due := time.Duration(float64(done) / float64(rate) * float64(time.Second))
			if !sleepCtx(ctx, due-time.Since(t0)) {
				syncErr()
				return ctx.Err()
			}
		}
	}
	return syncErr()
}

// copyRecorded is a round after the first: the pages set in bits, through
// c's file handle, into f, off the writer.
func (db *DB) copyRecorded(ctx context.Context, c *conn, f *os.File, bits *dirtyBits, pageSize int64, buf []byte, opts BackupOptions, fc *fileCopy) error {
	var done int64
	slice := int64(len(buf)) / pageSize // pages between two looks at the checkpointer
	for from := int64(1); from < int64(bits.n); {
		if !db.fileCopyYield(ctx, fc) {
			return ctx.Err()
		}
		run := db.fileCopyPriority(opts, fc)
		var (
			n   int64
			err error
		)
		run(func() {
			err = c.with(func() (err error) {
				n, from, err = copyPages(c.dc, f.Fd(), bits, from, int64(bits.n), pageSize, buf, true, slice)
				return err
			})
		})
		if err != nil {
			return classify(ctx, "copy the database file", err)
		}
		done += n
		fc.copied += n * pageSize
	}
	fc.recopy += done
	return nil
}

// fileCopyPriority is how a chunk of the file copy runs: on a
// lowest-priority thread, or at the normal priority when asked to
// (opts.NormalPriority) or when the copy, all its rounds counted, runs
// slower than opts.MinRateBytes (on a machine whose CPUs are busy, a
// nice 19 thread gets ~1.5% of one).
func (db *DB) fileCopyPriority(opts BackupOptions, fc *fileCopy) func(func()) {
	took := time.Since(fc.start)
	behind := opts.MinRateBytes > 0 && took > time.Second && float64(fc.copied)/took.Seconds() < float64(opts.MinRateBytes)
	if opts.NormalPriority || behind {
		return func(fn func()) { fn() }
	}
	return lowPriority
}

// fileCopyYield waits, before a chunk of the file copy (once per
// fileYieldEvery copied), while the WAL
// frames not yet copied into the database file fill more than a quarter
// of Config.WALLimit: the checkpointer is not keeping up, most likely
// because the copy's reads and writes fill the disk's queue, and past
// seven eighths the writer's guard would copy the backlog itself, waiting
// for the disk between two groups (stalls of up to 0.9 s measured at 5M).
// It waits at most fileYieldMax, so the copy always advances; false when
// ctx ended.
func (db *DB) fileCopyYield(ctx context.Context, fc *fileCopy) bool {
	if fc.copied < fc.yieldAt {
		return ctx.Err() == nil // one wait per 8 MiB copied, whatever the chunks
	}
	fc.yieldAt = fc.copied + fileYieldEvery
	t0 := time.Now()
	for time.Since(t0) < fileYieldMax {
		mx, backfill, ok := db.walIndex()
		if !ok || db.w.guard.frameBytes == 0 || (mx-backfill)*db.w.guard.frameBytes <= db.cfg.WALLimit/4 {
			break
		}
		if !sleepCtx(ctx, 5*time.Millisecond) {
			return false
		}
	}
	return ctx.Err() == nil
}
