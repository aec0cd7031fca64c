package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// A backup from the writer's own connection (issue 21).
//
// SQLite's online backup API keeps a backup whose source connection is the
// one that writes up to date by itself: every page that connection writes
// (a commit's WAL frames, or a rollback journal's pages) is copied into the
// backup as well, when the backup has already copied it (sqlite3BackupUpdate
// in the pager). So a backup stepped on the writer's connection, between
// groups, needs no read snapshot held for the whole copy: the WAL is reset
// as usual while it runs, and its copy is the database as of its last step.
// Each step takes a bounded slice of the writer's time (StepBudget, 20 ms
// by default; the step's page count adapts to the time measured), paced to
// a share of the writer's time while appends wait (WriterShare), back to
// back while the writer is idle. The copy is written without a journal and
// with synchronous OFF; a goroutine off the writer fsyncs it every
// writerSyncBytes, so the dirty pages it leaves in the page cache stay
// bounded and the writer never waits for the disk's flush.
//
// A commit by any other connection (another process's writer, a second DB
// on the same file, a replicator's own writes) makes SQLite start the
// backup over from page 1 (sqlite3BackupRestart). The steps count those
// restarts; past BackupOptions.MaxRestarts the writer path gives up
// (ErrBackupRestarted) and BackupWith, unless told BackupFromWriter, copies
// from a reader's snapshot instead, as before.

// BackupSource is where a backup copies from.
type BackupSource string

const (
	// BackupAuto (the zero value) copies the file (BackupFromFile); when
	// that cannot be done, from the writer, and from a reader's snapshot
	// when the writer path restarted too often (another connection writes
	// to the file).
	BackupAuto BackupSource = ""
	// BackupFromFile copies the database file's bytes from a read
	// snapshot taken when the WAL is all in the file (backupfile.go).
	BackupFromFile BackupSource = "file"
	// BackupFromWriter copies from the writer's connection in short steps
	// between groups, or fails with ErrBackupRestarted.
	BackupFromWriter BackupSource = "writer"
	// BackupFromReader copies from one read snapshot held on a reader
	// connection for the whole copy (a long read: see SnapshotWALLimit).
	BackupFromReader BackupSource = "reader"
)

// ErrBackupRestarted reports a backup from the writer that SQLite started
// over more than BackupOptions.MaxRestarts times, because another
// connection wrote to the database meanwhile.
var ErrBackupRestarted = errors.New("the backup from the writer restarted: another connection writes to the database")

// Defaults of the writer path's BackupOptions.
const (
	// DefaultBackupStepBudget is the writer time one step may take.
	DefaultBackupStepBudget = 20 * time.Millisecond
	// DefaultBackupWriterShare is the share of the writer's time the
	// steps take while appends wait.
	DefaultBackupWriterShare = 0.10
	// DefaultBackupMaxRestarts is how many restarts the writer path
	// takes before it gives up.
	DefaultBackupMaxRestarts = 3
)

// writerSyncBytes is how much the copy grows between two fsyncs of it,
// off the writer.
const writerSyncBytes = 64 << 20

// convergeSteps is how many steps apart copyFromWriter checks that the
// copy gains on the database; maxShare is the most its writer share rises
// to when it does not.
const (
	convergeSteps = 16
	maxShare      = 0.5
	stallChecks   = 4
)

// errBackupBehind: the copy from the writer does not gain on a database
// that grows faster than maxShare of the writer's time copies it.
var errBackupBehind = errors.New("the backup from the writer fell behind the appends")

// writerCopy is what copyFromWriter reports.
type writerCopy struct {
	share       float64 // the writer share at the end
	shareRaised int
	pages       int64
	steps       int
	restarts    int
	writer      time.Duration // writer time in steps
}

// copyFromWriter copies the database into tmp (an empty private file) with
// the backup API stepped on the writer connection; see the comment above.
func (db *DB) copyFromWriter(ctx context.Context, tmp string, opts BackupOptions, wc *writerCopy) error {
	if err := db.enter(); err != nil {
		return err
	}
	// Close waits for the backup: the writer connection outlives it.
	defer db.ops.Done()

	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	// Closed after dst (deferred first): the copy is private, but a
	// descriptor closed while SQLite holds the file would drop its locks.
	defer f.Close()
	dst, err := newConnector(tmp, nil, []pragma{{"journal_mode", "OFF", "off"}, {"synchronous", "OFF", "0"}}).Connect(ctx)
	if err != nil {
		return classify(ctx, "open the copy", err)
	}
	defer dst.Close()

	syncs := make(chan struct{}, 1)
	synced := make(chan error, 1)
	go func() {
		var first error
		for range syncs {
			if err := f.Sync(); err != nil && first == nil {
				first = fmt.Errorf("fsync the copy: %w", err)
			}
		}
		synced <- first
	}()
	syncErr := func() error {
		close(syncs)
		return <-synced
	}

	var bk *backup
	if err := db.exclusive(ctx, func(c *conn) error {
		var err error
		bk, err = startBackup(dst, c.dc)
		return err
	}); err != nil {
		syncErr()
		return classify(ctx, "start backup", err)
	}
	finished := false
	finish := func() error {
		if finished {
			return nil
		}
		finished = true
		// On the writer, between groups (its connections have no mutex),
		// also when the DB is closing or its WAL failed: the request
		// goes into the queue directly, which the writer drains until
		// Close, and Close waits for this backup (db.enter above).
		var ferr error
		req := &writeReq{ctx: context.WithoutCancel(ctx), excl: func(*conn) error { ferr = bk.Finish(); return nil }, done: make(chan error, 1)}
		db.w.queue <- req
		<-req.done
		return ferr
	}
	defer finish()

	pages := min(64, opts.StepPages)
	budget := opts.StepBudget
	share := opts.WriterShare
	var prevDone, lastSync int64
	// Every convergeSteps steps, the pages still to copy are compared
	// with the last time: a database growing faster than the steps copy
	// it (appends at full speed, a share too small for this disk) would
	// never let the backup end, so the share doubles, up to maxShare.
	checkAt, lastRemaining, lastCheck, stalled, paused := convergeSteps, int64(-1), time.Now(), 0, false
	t0 := time.Now()
	for {
		commits := db.w.commits.Load()
		var (
			done        bool
			stepErr     error
			took        time.Duration
			total, left int64
		)
		err := db.exclusive(ctx, func(*conn) error {
			s := time.Now()
			done, stepErr = bk.Step(pages)
			total, left = int64(bk.PageCount()), int64(bk.Remaining())
			if done && stepErr == nil {
				// The copy is complete as of now: end the backup before
				// the next group, whose pages would be copied too.
				finished = true
				stepErr = bk.Finish()
			}
			took = time.Since(s)
			return nil
		})
		if err != nil {
			syncErr()
			return err
		}
		wc.steps++
		wc.writer += took
		if stepErr != nil {
			syncErr()
			return classify(ctx, "backup step", stepErr)
		}
		doneP := total - left
		if done {
			doneP = total
		} else if doneP < prevDone {
			// Another connection's commit: SQLite started over.
			wc.restarts++
			if wc.restarts > opts.MaxRestarts {
				syncErr()
				return fmt.Errorf("%w (%d times); it copies from a reader's snapshot instead (BackupFromReader)", ErrBackupRestarted, wc.restarts)
			}
		}
		prevDone = doneP
		if wc.steps >= checkAt {
			// Every convergeSteps steps: while the steps were paced for
			// appends, the pages still to copy must fall by at least
			// MinRateBytes a second (the database grows meanwhile), or
			// the share doubles, up to maxShare. A copy that gains
			// nothing for more than stallChecks checks in a row, or at
			// maxShare less than a quarter of MinRateBytes (a database
			// growing about as fast as maxShare of the writer copies it),
			// gives up, and the copy comes from a reader's snapshot.
			checkAt = wc.steps + convergeSteps
			rem := total - doneP
			if lastRemaining >= 0 {
				gained := float64(lastRemaining-rem) * 4096 / time.Since(lastCheck).Seconds()
				if paused && opts.MinRateBytes > 0 && gained < float64(opts.MinRateBytes) && share < maxShare {
					share = min(maxShare, share*2)
					wc.shareRaised++
				}
				slow := share >= maxShare && opts.MinRateBytes > 0 && gained < float64(opts.MinRateBytes)/4
				if rem < lastRemaining && !slow {
					stalled = 0
				} else if stalled++; stalled > stallChecks {
					syncErr()
					return fmt.Errorf("%w: the copy gained %s/s on the database at %.0f%% of the writer's time", errBackupBehind, formatBytes(int64(max(gained, 0))), share*100)
				}
			}
			lastRemaining, lastCheck, paused = rem, time.Now(), false
		}
		wc.share = share
		wc.pages = total
		bp := BackupProgress{PagesDone: doneP, PagesTotal: total}
		db.backupProgress.Store(&bp)
		if opts.Progress != nil {
			opts.Progress(bp)
		}
		if done {
			break
		}
		if doneP*4096-lastSync >= writerSyncBytes {
			lastSync = doneP * 4096
			select {
			case syncs <- struct{}{}:
			default: // one is running: the next takes these pages too
			}
		}
		if err := ctx.Err(); err != nil {
			syncErr()
			return err
		}
		// The next step's pages: what fits the budget at this step's
		// speed, moved halfway there.
		if took > 0 {
			want := int(float64(pages) * float64(budget) / float64(took))
			pages = max(1, min(opts.StepPages, (pages+want)/2))
		}
		var pause time.Duration
		if db.w.commits.Load() != commits || len(db.w.queue) > 0 {
			// Appends ran or wait: the steps take share of the writer.
			pause = time.Duration(float64(took) * (1/share - 1))
			paused = true
		}
		if opts.RateBytes > 0 {
			due := time.Duration(float64(doneP*4096) / float64(opts.RateBytes) * float64(time.Second))
			pause = max(pause, due-time.Since(t0))
		}
		if pause > 0 && !sleepCtx(ctx, pause) {
			syncErr()
			return ctx.Err()
		}
	}
	return syncErr()
}
