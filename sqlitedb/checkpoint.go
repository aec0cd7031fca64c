package sqlitedb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckpointMode is a wal_checkpoint mode.
// https://www.sqlite.org/pragma.html#pragma_wal_checkpoint
type CheckpointMode string

// Checkpoint modes, from least to most disruptive.
const (
	// Passive copies what it can without waiting for readers or the writer.
	Passive CheckpointMode = "passive"
	// Full waits for the writer, then copies every frame.
	Full CheckpointMode = "full"
	// Restart is Full, then waits for readers so the next write restarts the WAL.
	Restart CheckpointMode = "restart"
	// Truncate is Restart, then truncates the -wal file to zero bytes.
	Truncate CheckpointMode = "truncate"
)

// ParseCheckpointMode parses a mode name, case-insensitively.
func ParseCheckpointMode(s string) (CheckpointMode, error) {
	switch m := CheckpointMode(strings.ToLower(s)); m {
	case Passive, Full, Restart, Truncate:
		return m, nil
	}
	return "", fmt.Errorf("unknown checkpoint mode %q: want passive, full, restart or truncate", s)
}

// CheckpointResult is the row PRAGMA wal_checkpoint returns, under the
// names of what its columns mean (not "blocked / pages written / pages
// remaining"): https://www.sqlite.org/pragma.html#pragma_wal_checkpoint
type CheckpointResult struct {
	Mode CheckpointMode `json:"mode"`
	// Busy is true when the checkpoint could not run to completion because
	// another connection held a lock it needed (column 1: 0 or 1).
	Busy bool `json:"busy"`
	// WALFrames is the size of the WAL in frames (column 2), -1 when the
	// database is not in WAL mode.
	WALFrames int64 `json:"wal_frames"`
	// CheckpointedFrames is how many of those frames are now in the database
	// file (column 3); WALFrames − CheckpointedFrames remain.
	CheckpointedFrames int64 `json:"checkpointed_frames"`
	// At is when the checkpoint finished; Duration how long it took.
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration_ns"`
}

// Remaining is the number of WAL frames not yet copied into the database.
func (r CheckpointResult) Remaining() int64 {
	if r.WALFrames < 0 {
		return 0
	}
	return r.WALFrames - r.CheckpointedFrames
}

// Checkpoint copies WAL frames into the database file with mode. PASSIVE runs
// on the checkpointer's own connection, beside the writer; FULL, RESTART and
// TRUNCATE run on the writer connection between transactions (they need the
// write lock anyway), waiting for readers at most Config.BusyTimeout. A
// checkpoint that could not complete is not an error: Busy says so.
func (db *DB) Checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	if _, err := ParseCheckpointMode(string(mode)); err != nil {
		return CheckpointResult{}, err
	}
	if mode == Passive && db.ckpt != nil {
		if err := db.enter(); err != nil {
			return CheckpointResult{}, err
		}
		defer db.ops.Done()
		return db.ckpt.run(ctx, Passive)
	}
	return db.checkpointOnWriter(ctx, mode, db.cfg.BusyTimeout)
}

// checkpointOnWriter runs a checkpoint on the writer connection between
// transactions, letting SQLite wait for readers at most wait.
func (db *DB) checkpointOnWriter(ctx context.Context, mode CheckpointMode, wait time.Duration) (CheckpointResult, error) {
	return db.checkpointOnWriterCounted(ctx, mode, wait, nil)
}

// checkpointOnWriterCounted is checkpointOnWriter, counting it and the
// writer's time in it in n (when not nil).
func (db *DB) checkpointOnWriterCounted(ctx context.Context, mode CheckpointMode, wait time.Duration, n *ckCounter) (CheckpointResult, error) {
	var res CheckpointResult
	err := db.exclusive(ctx, func(c *conn) (err error) {
		t0 := time.Now()
		res, err = db.checkpointWaiting(ctx, c, mode, wait)
		if n != nil {
			n.add(t0)
		}
		return err
	})
	return res, err
}

// checkpointWaiting runs a checkpoint on c, the writer connection, letting
// SQLite wait for readers at most wait, and records it. It first waits for
// a PASSIVE checkpoint running on the checkpointer's connection: SQLite
// fails a checkpoint at once, without its busy handler, while another
// connection runs one.
func (db *DB) checkpointWaiting(ctx context.Context, c *conn, mode CheckpointMode, wait time.Duration) (CheckpointResult, error) {
	if db.ckpt != nil {
		db.ckpt.mu.Lock()
		defer db.ckpt.mu.Unlock()
	}
	if wait != db.cfg.BusyTimeout {
		if _, err := c.exec(ctx, fmt.Sprintf("PRAGMA busy_timeout=%d", wait.Milliseconds())); err != nil {
			return CheckpointResult{}, classify(ctx, "set busy_timeout", err)
		}
		defer c.exec(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout=%d", db.cfg.BusyTimeout.Milliseconds()))
	}
	res, err := runCheckpoint(ctx, c, mode)
	if err == nil {
		db.recordCheckpoint(res)
	}
	return res, err
}

func runCheckpoint(ctx context.Context, c *conn, mode CheckpointMode) (CheckpointResult, error) {
	start := time.Now()
	var busy int
	res := CheckpointResult{Mode: mode}
	err := c.queryRow(ctx, "PRAGMA wal_checkpoint("+strings.ToUpper(string(mode))+")", nil,
		&busy, &res.WALFrames, &res.CheckpointedFrames)
	if err != nil {
		return res, classify(ctx, "checkpoint "+string(mode), err)
	}
	res.Busy = busy != 0
	res.At = time.Now().UTC()
	res.Duration = time.Since(start)
	return res, nil
}

// checkpointStats are the checkpoint figures kept for Stats and Health.
type checkpointStats struct {
	mu       sync.Mutex
	last     *CheckpointResult
	count    int64
	busy     int64 // checkpoints that could not complete
	starved  int64 // consecutive incomplete checkpoints
	maxStarv int64
	complete time.Time // the last checkpoint that copied every frame
}

// lastCompleteAt is when the last complete checkpoint finished, nil if none.
func (s *checkpointStats) lastCompleteAt() *time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.complete.IsZero() {
		return nil
	}
	t := s.complete
	return &t
}

func (db *DB) recordCheckpoint(r CheckpointResult) { db.recordCheckpointCounted(r, true) }

// recordCheckpointCounted records r; starve false keeps an incomplete r
// out of the starvation count.
func (db *DB) recordCheckpointCounted(r CheckpointResult, starve bool) {
	s := &db.ckstats
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = &r
	s.count++
	switch {
	case r.Busy || r.Remaining() > 0:
		s.busy++
		if starve {
			s.starved++
			s.maxStarv = max(s.maxStarv, s.starved)
		}
	default:
		s.starved = 0
		s.complete = r.At
	}
}

// starvationThreshold is how many incomplete checkpoints in a row count as
// checkpoint starvation: readers keep old snapshots open, so the WAL cannot
// be copied back and reset, and it grows.
const starvationThreshold = 5

// escalationWait bounds how long a background TRUNCATE checkpoint, which
// holds the writer, waits for readers: writes must not stall behind it.
const escalationWait = 200 * time.Millisecond

// checkpointer is the background goroutine that keeps the WAL small, off
// the write path: it polls the WAL index for the number of frames not yet
// checkpointed and runs PASSIVE checkpoints on its own connection when they
// pass Config.WALAutoCheckpoint or the interval is due, and escalates to
// TRUNCATE (through the writer) when the -wal file passes Config.WALLimit.
type checkpointer struct {
	db   *DB
	conn *conn
	mu   sync.Mutex // serialises checkpoints: PASSIVE ones on conn, and the writer's
	quit chan struct{}
	done chan struct{}
	once sync.Once
	// kick is how the writer wakes the loop before its next poll: when
	// Config.WALAutoCheckpoint frames are not yet copied (wake).
	kick chan struct{}

	lastCommits atomic.Int64
	// rounds and passes count the loop's rounds that ran a checkpoint and
	// the PASSIVE passes on conn (CheckpointStats).
	rounds, passes atomic.Int64
	// wakes counts the writer's wakes that started a round (wake).
	wakes atomic.Int64
	// shrink is set while a long -wal file is cut down in steps
	// (shrinkStep) after a RESTART, in place of one TRUNCATE.
	shrink      atomic.Bool
	shrinkTries atomic.Int64
	// lifted: journal_size_limit is off on the writer connection
	// (restartLong, liftJournalLimit) until shrinkStep is done.
	lifted atomic.Bool
	// shrinkCuts counts shrinkStep's truncations; shrinkMaxCut is the most
	// one cut off (for tests and Stats).
	shrinkCuts, shrinkMaxCut atomic.Int64
}

func newCheckpointer(db *DB, c *conn) *checkpointer {
	return &checkpointer{db: db, conn: c, quit: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// wake starts a round of the loop now, without waiting for it. The
// writer calls it, between groups, when it finds Config.WALAutoCheckpoint
// frames not yet copied. At full write speed (~8 KiB of WAL per append,
// 300-470 MB/s here) 1,000 frames come every ~10 ms: a loop woken only by
// its 100 ms poll found the WAL past seven eighths of the limit, and the
// writer's guard (walGuard) copied it all while writes waited (35 RESTARTs
// of 75-95 ms per 243,000 appends in scripts/sqlite-floor). Woken here, the
// checkpointer's passes copy the WAL beside the writer as it grows.
func (k *checkpointer) wake() {
	select {
	case k.kick <- struct{}{}:
		k.wakes.Add(1)
	default:
	}
}

func (k *checkpointer) stop() {
	k.once.Do(func() { close(k.quit) })
	<-k.done
}

func (k *checkpointer) run(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	return k.runCounted(ctx, mode, true)
}

// runCounted runs a checkpoint on the checkpointer's connection. starve
// false: an incomplete one does not count towards checkpoint starvation
// (converge's extra passes, which a round would otherwise count three
// times).
func (k *checkpointer) runCounted(ctx context.Context, mode CheckpointMode, starve bool) (CheckpointResult, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if mode == Passive {
		k.passes.Add(1)
	}
	var res CheckpointResult
	err := k.conn.with(func() (err error) {
		res, err = runCheckpoint(ctx, k.conn, mode)
		return err
	})
	if err == nil {
		k.db.recordCheckpointCounted(res, starve)
	}
	return res, err
}

func (k *checkpointer) loop() {
	defer close(k.done)
	cfg := k.db.cfg
	poll := min(DefaultCheckpointPoll, cfg.CheckpointInterval)
	t := time.NewTicker(poll)
	defer t.Stop()
	lastRun := time.Now()
	// lastHandoff is when the loop last handed the writer its tail: at
	// most once a poll, so that the rounds the writer's wake starts
	// between polls copy beside the writer and stop it no more often than
	// the polls did. Past half the limit the RESTART is not held back.
	var lastHandoff time.Time
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
		case <-k.kick:
		}
		if k.shrink.Load() {
			k.shrinkStep()
		} else if !k.lifted.Load() && k.db.cfg.JournalSizeLimit >= 0 &&
			k.db.walBytes() > k.db.cfg.JournalSizeLimit+shrinkBytes && !k.db.replicaHolds() {
			// A long -wal file (a long read holds the log): whoever
			// restarts the log next, SQLite must not cut the file to
			// journal_size_limit in that commit (restartLong).
			k.liftJournalLimit()
		}
		commits := k.db.w.commits.Load()
		if commits == k.lastCommits.Load() && time.Since(lastRun) < cfg.CheckpointInterval &&
			(k.db.backups.Load() > 0 || time.Since(lastRun) < time.Second || k.db.walBytes() <= cfg.WALLimit) {
			// Nothing new, unless a long read that held the WAL over
			// its limit just ended: then reset it now (at most once a
			// second), not at the next interval (a check that was
			// stopped waits for it).
			continue
		}
		mx, backfill, _ := k.db.walIndex()
		due := time.Since(lastRun) >= cfg.CheckpointInterval
		byFrames := cfg.WALAutoCheckpoint > 0 && mx-backfill >= int64(cfg.WALAutoCheckpoint)
		walBytes := k.db.walBytes()
		if k.db.backups.Load() > 0 {
			// A long read's snapshot holds the WAL: stop it past its
			// bound (longread.go), so the WAL is reset after all.
			k.db.stopLongReads(walBytes)
		}
		overLimit := walBytes > cfg.WALLimit
		if !due && !byFrames && !overLimit && !k.db.walHalfFull(mx) {
			continue
		}
		k.lastCommits.Store(commits)
		k.rounds.Add(1)
		lastRun = time.Now()
		roundAt := lastRun
		ctx, cancel := context.WithTimeout(k.db.ctx, cfg.BusyTimeout+time.Second)
		res, err := k.run(ctx, Passive)
		if err != nil {
			cancel()
			cfg.Logger.Warn("background checkpoint failed", "err", err)
			continue
		}
		// res counts only the frames that were in the WAL when the
		// checkpoint began; the WAL index tells what came since.
		mx, backfill, _ = k.db.walIndex()
		// A backup or an integrity check holds one read snapshot to its
		// end: no RESTART or TRUNCATE can succeed meanwhile, and trying
		// one on the writer stalls appends (measured at scale: 1 s).
		longSnapshot := k.db.backups.Load() > 0
		if !overLimit && !res.Busy && mx > backfill {
			mx, backfill, res = k.converge(ctx, mx, backfill, res)
		}
		if overLimit && !res.Busy && !longSnapshot && k.db.long.backlog.Load() {
			// The TRUNCATE below runs on the writer and copies whatever
			// came during this pass first: over the backlog a backup or
			// a check left, that pass took seconds, so copy the tail
			// here, off the writer, until it is short.
			for i := 0; i < 4 && mx-backfill > tailFrames; i++ {
				r, err := k.runCounted(ctx, Passive, false)
				if err != nil || r.Busy {
					break
				}
				res = r
				mx, backfill, _ = k.db.walIndex()
			}
			if mx > backfill {
				k.db.syncDB()
				k.db.syncWAL()
			}
		}
		// Behind a replicator (Config.Replication) only PASSIVE
		// checkpoints run: RESTART and TRUNCATE would wait for its read
		// transaction, holding the writer.
		holds := k.db.replicaHolds()
		switch {
		case overLimit || res.Busy || longSnapshot:
		case holds:
		case k.db.walHalfFull(mx):
			// Past half the limit: copy the tail and wait, briefly, until
			// readers read from the database file alone, so that the next
			// commit starts the WAL over (see walGuard).
			if rs, err := k.db.checkpointOnWriterCounted(ctx, Restart, guardWait, &k.db.w.ckHalf); err == nil {
				res = rs
			}
		case mx > backfill && roundAt.Sub(lastHandoff) >= poll*9/10:
			lastHandoff = roundAt
			// The bulk is copied; what the writer appended meanwhile is
			// the tail. Copying it between two groups on the writer's own
			// connection is short, and lets the next commit restart the
			// WAL from its beginning instead of growing it forever under
			// continuous writes, if no reader holds it then.
			if tail, err := k.db.checkpointOnWriterCounted(ctx, Passive, k.db.cfg.BusyTimeout, &k.db.w.ckTail); err == nil {
				res = tail
			}
		}
		if !longSnapshot && !res.Busy && mx-backfill <= tailFrames {
			k.db.long.backlog.Store(false) // the long read's backlog is copied
		}
		if !longSnapshot && !holds && !k.shrink.Load() && (overLimit || (due && walBytes > 0 && res.Remaining() == 0)) {
			// The file only shrinks by a RESTART/TRUNCATE checkpoint; it
			// takes the write lock, so it goes through the writer queue.
			// A long file is not truncated there at once: cutting a
			// -wal file of GBs takes the filesystem about 0.7 ms per MB
			// (ext4, measured: 0.35 s for 512 MB), and the writer would
			// wait for all of it (the 1-3 s append stall seen after a
			// backup or a check at 5M snapshots). A RESTART instead, and
			// the file is cut in steps between groups (shrinkStep).
			mode := Truncate
			var (
				r   CheckpointResult
				err error
			)
			if walBytes > shrinkBytes {
				mode = Restart
				r, err = k.restartLong(ctx)
			} else {
				r, err = k.db.checkpointOnWriter(ctx, mode, escalationWait)
			}
			switch {
			case err != nil:
				cfg.Logger.Warn("background "+string(mode)+" checkpoint failed", "err", err)
			case mode == Restart && !r.Busy && r.Remaining() == 0:
				k.shrink.Store(true)
			}
		}
		cancel()
		if st := &k.db.ckstats; !holds && st.starvedNow() >= starvationThreshold {
			cfg.Logger.Warn("checkpoint starvation: readers hold old snapshots, the WAL cannot be reset",
				"wal_bytes", walBytes, "incomplete_checkpoints_in_a_row", st.starvedNow())
		}
	}
}

// shrinkBytes is the most a step of shrinkStep cuts off the -wal file: about
// 45 ms of the writer's time on ext4 here (0.7 ms per MB), and a -wal file
// no longer than it is truncated at once.
var shrinkBytes int64 = 64 << 20 // a variable for tests

// restartLong runs a RESTART checkpoint on the writer with the writer
// connection's journal_size_limit lifted: SQLite truncates the -wal file
// to that limit itself when the next commit starts the log over (in that
// commit, on the writer: measured 1.8 s for 1 GiB here), so the limit
// stays lifted until shrinkStep has cut the file down in steps. A RESTART
// that did not complete puts the limit back at once.
func (k *checkpointer) restartLong(ctx context.Context) (CheckpointResult, error) {
	db := k.db
	var res CheckpointResult
	err := db.exclusive(ctx, func(c *conn) (err error) {
		if _, err := c.exec(ctx, "PRAGMA journal_size_limit=-1"); err != nil {
			return classify(ctx, "lift journal_size_limit", err)
		}
		k.lifted.Store(true)
		res, err = db.checkpointWaiting(ctx, c, Restart, escalationWait)
		return err
	})
	return res, err
}

// liftJournalLimit sets journal_size_limit to none on the writer
// connection, until shrinkStep has cut the -wal file down.
func (k *checkpointer) liftJournalLimit() {
	db := k.db
	err := db.exclusive(db.ctx, func(c *conn) error {
		if _, err := c.exec(db.wctx, "PRAGMA journal_size_limit=-1"); err != nil {
			return classify(db.wctx, "lift journal_size_limit", err)
		}
		k.lifted.Store(true)
		return nil
	})
	if err != nil {
		db.cfg.Logger.Warn("lifting journal_size_limit failed", "err", err)
	}
}

// restoreJournalLimit puts Config.JournalSizeLimit back on the writer
// connection c.
func (k *checkpointer) restoreJournalLimit(c *conn) {
	db := k.db
	if _, err := c.exec(db.wctx, fmt.Sprintf("PRAGMA journal_size_limit=%d", db.cfg.JournalSizeLimit)); err != nil {
		db.cfg.Logger.Warn("restoring journal_size_limit failed", "err", classify(db.wctx, "journal_size_limit", err))
		return
	}
	k.lifted.Store(false)
}

// shrinkStep cuts up to shrinkBytes off the end of the -wal file, on the
// writer between groups, after a RESTART checkpoint (restartLong) let the
// log start over:
// inside a write transaction (BEGIN IMMEDIATE holds the WAL's write lock,
// so no connection, of this process or another, appends frames
// meanwhile) it reads the frames in use from the WAL index and truncates
// only past them; frames past them belong to the log before the restart
// and are never read again (their salt is the old one). truncate(2) takes
// the path: no descriptor of a file SQLite holds is opened. It stops once
// the file is down to the frames in use; while the log has not started
// over yet (no commit since the RESTART, or a reader kept it from
// restarting) it cuts nothing and tries again at the next poll, up to
// shrinkTries times. When it stops, it puts journal_size_limit back.
func (k *checkpointer) shrinkStep() {
	db := k.db
	done := true
	err := db.exclusive(db.ctx, func(c *conn) (err error) {
		if _, err := c.exec(db.wctx, "BEGIN IMMEDIATE"); err != nil {
			done = false // busy: next poll
			return nil
		}
		defer func() {
			c.exec(context.WithoutCancel(db.wctx), "COMMIT")
			if done || err != nil {
				k.restoreJournalLimit(c)
			}
		}()
		mx, _, ok := db.walIndex()
		if !ok || db.w.guard.frameBytes == 0 {
			return nil
		}
		size, used := db.walBytes(), db.walFramesBytes(mx)
		if used > shrinkBytes {
			// The log has not started over yet: try again at the
			// next poll.
			if db.backups.Load() == 0 && !db.long.backlog.Load() {
				done = k.shrinkTries.Add(1) >= shrinkTries
			} else {
				done = false
			}
			return nil
		}
		if size <= used {
			return nil
		}
		target := max(used, size-shrinkBytes)
		if err := os.Truncate(db.path+"-wal", target); err != nil {
			return fmt.Errorf("truncate -wal to %d bytes: %w", target, err)
		}
		k.shrinkCuts.Add(1)
		if cut := size - target; cut > k.shrinkMaxCut.Load() {
			k.shrinkMaxCut.Store(cut)
		}
		done = target == used
		return nil
	})
	if err != nil {
		db.cfg.Logger.Warn("shrinking the -wal file failed", "err", err)
	}
	if done || err != nil {
		k.shrink.Store(false)
		k.shrinkTries.Store(0)
	}
}

// shrinkTries bounds the polls shrinkStep waits for the log to start over.
const shrinkTries = 50

// Before the writer copies the tail, the checkpointer makes the tail
// short and its syncs cheap, off the writer: the tail is what the writer
// appended while the checkpointer's pass ran, and the writer's checkpoint
// fsyncs the WAL first, which writes out every WAL byte appended since the
// last fsync (tens of MiB at full write speed). So the checkpointer runs up
// to tailPasses more PASSIVE passes, each copying what came during the one
// before, while the tail is over tailFrames, then fsyncs the -wal file
// itself. Measured with scripts/sqlite-floor's loop in C: the writer's tail
// checkpoints went from 3.2–7.6 to 1.4–2.7 µs per append.
const (
	tailPasses = 2
	tailFrames = 64
)

// converge runs the extra passes and the WAL fsync, and returns the WAL
// index and the last pass's result.
func (k *checkpointer) converge(ctx context.Context, mx, backfill int64, res CheckpointResult) (int64, int64, CheckpointResult) {
	// Past half the limit the RESTART is due now: no more passes.
	for i := 0; i < tailPasses && mx-backfill > tailFrames && !k.db.walHalfFull(mx); i++ {
		r, err := k.runCounted(ctx, Passive, false)
		if err != nil || r.Busy {
			break
		}
		res = r
		mx, backfill, _ = k.db.walIndex()
	}
	if mx > backfill {
		k.db.syncDB()
		k.db.syncWAL()
	}
	return mx, backfill, res
}

// syncWAL fsyncs the -wal file through SQLite: the checkpointer's own
// connection asks the shim (PRAGMA cortex_wal_sync), which syncs that
// connection's -wal descriptor; Go opens no descriptor of a file SQLite
// holds (closing one would drop the process's POSIX locks on it). It only
// hastens what SQLite's next checkpoint does, but a failed fsync is never
// ignored: the kernel may have dropped the pages, so it latches
// ErrWALFailed. Without the shim (an untested SQLite version) it does
// nothing and the checkpoint's own sync does the work.
func (db *DB) syncWAL() { db.syncFile("PRAGMA cortex_wal_sync", "sync -wal") }

// syncDB fsyncs the database file through SQLite, as syncWAL the -wal
// (PRAGMA cortex_db_sync, on the checkpointer's connection). Under
// continuous writes a PASSIVE pass never copies the WAL's last frame (the
// writer appended meanwhile), and SQLite syncs the database file only
// after a pass that does: so the checkpoint that completes, the tail or
// the RESTART on the writer, wrote back every page the checkpointer's
// passes had copied since, tens of MiB at full write speed, while writes
// waited. Synced here, off the writer, that checkpoint writes back its
// own few pages. It changes no durability: SQLite still syncs the
// database file before the WAL starts over. A failed fsync latches
// ErrWALFailed: the kernel may have dropped pages the passes copied.
func (db *DB) syncDB() { db.syncFile("PRAGMA cortex_db_sync", "sync database file") }

func (db *DB) syncFile(pragma, step string) {
	k := db.ckpt
	if k == nil || !db.shimOn {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.conn.with(func() error {
		_, err := k.conn.dc.(driver.ExecerContext).ExecContext(db.ctx, pragma, nil)
		return err
	})
	if err != nil {
		err = classify(context.Background(), step, err)
		db.noteWALErr(err)
	}
}

func (s *checkpointStats) starvedNow() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starved
}

// walBytes is the size of the -wal file (0 when there is none).
func (db *DB) walBytes() int64 {
	st, err := os.Stat(db.path + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// walPendingFrames reads, from the WAL index in the -shm file, how many
// frames are in the WAL but not yet checkpointed: mxFrame (offset 16 of the
// wal-index header) minus nBackfill (offset 96, the checkpoint info after
// the two 48-byte header copies). Reading it takes no lock and changes
// nothing; a torn read only delays or hastens one checkpoint.
// https://www.sqlite.org/walformat.html#the_wal_index_file_format
func (db *DB) walPendingFrames() int64 {
	mx, backfill, ok := db.walIndex()
	if !ok || mx < backfill {
		return 0
	}
	return mx - backfill
}

// walIndex reads mxFrame and nBackfill from the WAL index; ok is false
// when there is none. The shim reads them from SQLite's own mapping of the
// -shm (walbufIndex): Go never opens the -shm, because closing any
// descriptor of a file drops every POSIX lock this process holds on it,
// SQLite's included (TestWALIndexLocksSurvivePolling). Without the shim
// (an untested SQLite version) ok is false, and the checkpointer goes by
// Config.CheckpointInterval and the -wal file's size alone.
func (db *DB) walIndex() (mx, backfill int64, ok bool) {
	if !db.shimOn || db.sqliteName == "" {
		return 0, 0, false
	}
	return walbufIndex(db.sqliteName)
}

// walGuard keeps the -wal file under Config.WALLimit while writes and
// readers run without pause. The background checkpointer copies frames
// into the database beside the writer, but the -wal file only stops
// growing when a write transaction starts it again from its beginning,
// and SQLite does that only if no reader is using a read mark into the
// WAL at that instant. Under continuous reads one nearly always is, so
// the WAL grows at the write rate (up to hundreds of MiB/s here).
//
// Two steps keep it bounded. Past half the limit, the checkpointer's
// round ends with a RESTART checkpoint on the writer instead of copying
// the tail: right after the checkpointer's bulk copy, the tail is short,
// and the RESTART waits (at most guardWait) until readers read from the
// database file alone, so the next commit starts the WAL over. And the
// writer itself, between groups, reads the WAL index: if the frames in
// the WAL plus two commits of the largest size seen lately would pass
// seven eighths of the limit, it runs the RESTART before the next group,
// waiting for readers up to escalationWait, and when they would pass the
// limit itself, up to Config.BusyTimeout. If readers still hold the WAL
// (a long read), writes go on, and the writer tries again after each
// further 1/32 of the limit; the checkpointer reports starvation. A
// backup holds its read snapshot for its whole run, so while one runs the
// writer does not try (writes keep their full speed) and the WAL may pass
// the limit.
type walGuard struct {
	frameBytes int64 // page size + frame header
	lastMx     int64 // mxFrame at the previous look
	step       int64 // largest commit lately, in frames
	retryAt    int64 // after a busy RESTART: mxFrame at which to try again
	// The WAL index when the writer last woke the checkpointer.
	woke                 bool
	wakeBackfill, wakeMx int64
}

// guardWait is how long the checkpointer's RESTART past half the limit
// waits for readers; the reads of this package's pool take microseconds.
const guardWait = 5 * time.Millisecond

// The WAL file's header, and each frame's before its page
// (https://www.sqlite.org/walformat.html).
const (
	walHeaderBytes      = 32
	walFrameHeaderBytes = 24
)

// walFramesBytes is the size of a WAL of frames frames.
func (db *DB) walFramesBytes(frames int64) int64 {
	return walHeaderBytes + frames*db.w.guard.frameBytes
}

// walHalfFull reports whether mx frames in the WAL fill more than half of
// Config.WALLimit.
func (db *DB) walHalfFull(mx int64) bool {
	return db.w.guard.frameBytes != 0 && db.walFramesBytes(mx) > db.cfg.WALLimit/2
}

// guardWAL runs on the writer goroutine, between transactions.
func (w *writer) guardWAL() {
	g := &w.guard
	db := w.db
	if g.frameBytes == 0 || db.cfg.WALLimit <= 0 {
		return
	}
	if db.replicaHolds() {
		// Behind a replicator the writer never waits on its reader; it
		// only leaves the write lock free for a moment when the WAL is
		// long, so the replicator's checkpoint can take it (yieldWAL).
		w.yieldWAL()
		return
	}
	mx, backfill, ok := db.walIndex()
	if !ok {
		return
	}
	if k := db.ckpt; k != nil && db.cfg.WALAutoCheckpoint > 0 && mx-backfill >= int64(db.cfg.WALAutoCheckpoint) &&
		(!g.woke || backfill != g.wakeBackfill || mx < g.wakeMx) {
		// The checkpointer copies now, not at its next poll; again only
		// once a round has copied something (or the WAL started over):
		// while a reader's snapshot holds the WAL (a backup, a long
		// read) no pass can, and the poll is enough.
		k.wake()
		g.woke, g.wakeBackfill, g.wakeMx = true, backfill, mx
	}
	if db.long.backlog.Load() && db.walFramesBytes(mx-backfill) > db.cfg.WALLimit/4 {
		// The backlog a backup or a check left behind, not yet copied:
		// a RESTART here would copy it on the writer, stalling appends
		// for seconds (measured: 0.5-5.6 s right after a full check at
		// 0.3-0.5 GB). The checkpointer copies it off the writer and
		// restarts the WAL after.
		return
	}
	if d := mx - g.lastMx; d > g.step {
		g.step = d
	} else {
		g.step -= g.step / 64 // forget an old large commit, slowly
	}
	g.lastMx = mx
	next := db.walFramesBytes(mx + 2*g.step)
	if next <= db.cfg.WALLimit/8*7 || mx < g.retryAt || db.backups.Load() > 0 {
		// Below the mark, or a backup runs: its read snapshot holds the
		// WAL until it ends, so a RESTART could only fail after stalling
		// the writer (measured in the soak: every 1/32 of the limit).
		return
	}
	wait := escalationWait
	if next > db.cfg.WALLimit && db.repl == nil {
		// The next commits would pass the limit: wait for readers as
		// long as SQLite waits for any lock. A reader goroutine the Go or
		// OS scheduler paused mid-statement holds its read mark meanwhile
		// (seen at 200 ms with the CPUs saturated).
		wait = db.cfg.BusyTimeout
	}
	t0 := time.Now()
	res, err := db.checkpointWaiting(db.wctx, w.conn, Restart, wait)
	w.ckGuard.add(t0)
	if err != nil || res.Busy || res.Remaining() > 0 {
		g.retryAt = mx + max((db.cfg.WALLimit/g.frameBytes)/32, 1)
		return
	}
	g.retryAt = 0
	g.lastMx = 0 // the next commit starts the WAL over
}
