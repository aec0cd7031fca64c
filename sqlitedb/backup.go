package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BackupProgress reports a running backup.
type BackupProgress struct {
	PagesDone  int64 `json:"pages_done"`
	PagesTotal int64 `json:"pages_total"`
}

// BackupResult describes a finished backup. JSON names match the HTTP API.
type BackupResult struct {
	Path       string `json:"path"`
	Bytes      int64  `json:"bytes"`
	Pages      int64  `json:"pages"`
	DurationMS int64  `json:"duration_ms"`
	// Integrity is the copy's check result: "ok".
	Integrity string `json:"integrity"`
	// Check is the check run on the copy (IntegrityFull unless
	// BackupOptions.Check said otherwise).
	Check IntegrityMode `json:"check,omitempty"`
	// CopyMS is the copy with its fsyncs, CheckMS the check of the copy.
	CopyMS  int64 `json:"copy_ms"`
	CheckMS int64 `json:"check_ms"`
	// RateBytes is the pacing the copy ran at (0: none).
	RateBytes int64 `json:"rate_bytes_per_second,omitempty"`
	// Source is where the copy came from: "writer" (the writer's
	// connection, in steps between groups) or "reader" (one read
	// snapshot); see BackupSource.
	Source BackupSource `json:"source,omitempty"`
	// Steps, WriterMS and Restarts describe a copy from the writer: its
	// steps, the writer time they took, and how often another
	// connection's commit made SQLite start it over. For a file copy,
	// Steps is its rounds after the first, WriterMS the writer's pauses
	// (its moments and the last round's copy), and RecopiedPages the
	// pages written meanwhile and copied again.
	Steps         int   `json:"steps,omitempty"`
	WriterMS      int64 `json:"writer_ms,omitempty"`
	Restarts      int   `json:"restarts,omitempty"`
	RecopiedPages int64 `json:"recopied_pages,omitempty"`
}

// BackupOptions tune BackupWith. The zero value is Backup's behaviour.
type BackupOptions struct {
	// StepPages is how many pages one backup step copies (default
	// DefaultBackupStepPages); from the writer, the most one step copies
	// (its pages adapt to StepBudget). Each step is one transaction on the copy,
	// ending with an fsync of it, so the dirty pages the copy leaves in
	// the page cache stay bounded by one step.
	StepPages int
	// RateBytes paces the copy to at most this many bytes per second
	// (0: a file copy at DefaultFileCopyRate, the other copies as fast as
	// they go; negative: none).
	RateBytes int64
	// Check is the check of the finished copy: IntegrityFull (default,
	// PRAGMA integrity_check), IntegrityQuick, or CheckNone.
	Check IntegrityMode
	// Progress, when set, is called after each step.
	Progress func(BackupProgress)
	// JournaledCopy writes the copy as Backup did before it was measured
	// at scale: with a rollback journal and SQLite's default synchronous
	// on the copy. Only for comparisons (scripts/scale).
	JournaledCopy bool
	// MinRateBytes is the floor under the low priority: a step that starts
	// while the copy runs slower than this runs at the normal priority
	// (default DefaultBackupMinRate; negative: no floor). From the writer,
	// the net gain on a growing database the steps' share is raised for
	// (backupwriter.go). The backup's
	// read snapshot keeps the WAL from being reset until it ends, so a
	// backup starved by a busy machine would grow the WAL without bound.
	MinRateBytes int64
	// NormalPriority runs the copy and the check at the process's normal
	// CPU and I/O priority instead of the lowest (lowPriority). Only for
	// comparisons (scripts/scale).
	NormalPriority bool
	// Source is where the copy comes from (default BackupAuto: the
	// writer, falling back to a reader's snapshot; backupwriter.go).
	Source BackupSource
	// StepBudget is the writer time one step of a copy from the writer
	// may take (default DefaultBackupStepBudget); the step's page count
	// adapts to it (StepPages is the reader path's).
	StepBudget time.Duration
	// WriterShare is the share of the writer's time the steps take while
	// appends wait (default DefaultBackupWriterShare; while the writer is
	// idle they run back to back).
	WriterShare float64
	// MaxRestarts is how many times the copy from the writer may be
	// started over by another connection's commits before it gives up
	// (default DefaultBackupMaxRestarts; negative: none).
	MaxRestarts int
}

// DefaultBackupMinRate is BackupOptions.MinRateBytes's default: 100 GB
// in under an hour.
const DefaultBackupMinRate = 32 << 20

// DefaultBackupStepPages is the default backup step: 16 MiB of 4 KiB
// pages (measured in BENCHMARKS.md, "Operations at scale").
const DefaultBackupStepPages = 4096

// Backup writes a consistent copy of the database to dest with SQLite's
// online backup API, while writes continue: BackupWith with the default
// options and progress.
func (db *DB) Backup(ctx context.Context, dest string, progress func(BackupProgress)) (BackupResult, error) {
	return db.BackupWith(ctx, dest, BackupOptions{Progress: progress})
}

// BackupWith writes a consistent copy of the database to dest with
// SQLite's online backup API, while writes continue at full speed.
//
// By default (opts.Source) the copy is stepped on the writer's own
// connection between groups, paced to a share of the writer's time, and
// is the database as of its last step; it holds no read snapshot, so the
// WAL is reset as usual meanwhile (backupwriter.go). When other
// connections' commits restart it, it copies as below instead.
//
// The reader path's copy is made from one read transaction held open on a reader
// connection for the whole backup, so it is the database as of the moment
// the backup began (WAL frames included: no checkpoint is needed) and it is
// never restarted by concurrent commits — a backup stepped without that
// snapshot restarts on every write and may never finish under load. The
// copy is written without a journal (it is a new private file: a crash
// leaves it incomplete and it is thrown away) and fsynced after every
// step, paced by opts.RateBytes. It is written into a private (0700)
// temporary folder beside dest, fsynced, checked (opts.Check), then renamed
// into place and the folder fsynced: a crash leaves no dest or the
// complete one. dest's folder must exist. While it runs, BackupsRunning
// and BackupProgressNow report it (the metrics do).
//
// Backup never replaces a file: when dest exists, before or when the copy
// is ready to be renamed (two backups racing for one name), it fails with
// an error that wraps fs.ErrExist.
func (db *DB) BackupWith(ctx context.Context, dest string, opts BackupOptions) (BackupResult, error) {
	start := time.Now()
	if opts.StepPages <= 0 {
		opts.StepPages = DefaultBackupStepPages
	}
	if opts.Check == "" {
		opts.Check = IntegrityFull
	}
	if opts.MinRateBytes == 0 {
		opts.MinRateBytes = DefaultBackupMinRate
	}
	if opts.StepBudget <= 0 {
		opts.StepBudget = DefaultBackupStepBudget
	}
	if opts.WriterShare <= 0 || opts.WriterShare > 1 {
		opts.WriterShare = DefaultBackupWriterShare
	}
	switch {
	case opts.MaxRestarts == 0:
		opts.MaxRestarts = DefaultBackupMaxRestarts
	case opts.MaxRestarts < 0:
		opts.MaxRestarts = 0
	}
	switch opts.Source {
	case BackupAuto, BackupFromFile, BackupFromWriter, BackupFromReader:
	default:
		return BackupResult{}, fmt.Errorf("backup to %s: unknown source %q: use %q, %q or %q", dest, opts.Source, BackupFromFile, BackupFromWriter, BackupFromReader)
	}
	tmp, cleanup, err := tempBeside(dest)
	if err != nil {
		return BackupResult{}, err
	}
	defer cleanup()
	if err := createPrivate(tmp); err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}

	var pages int64
	defer db.backupProgress.Store(nil)
	floorHit := false
	var wc writerCopy
	var fc fileCopy
	source := opts.Source
	if source == BackupAuto {
		source = BackupFromFile
	}
	if source == BackupFromFile {
		err = db.copyFromFile(ctx, tmp, opts, &fc)
		pages = fc.pages
		if err != nil && opts.Source == BackupAuto && ctx.Err() == nil &&
			(errors.Is(err, errNotFrozen) || errors.Is(err, errOtherWriter) || errors.Is(err, errNoFileCopy) || errors.Is(err, errNoRawCopy)) {
			db.cfg.Logger.Warn("backup: copying from the writer instead of the file", "err", err)
			if err = os.Truncate(tmp, 0); err == nil {
				source = BackupFromWriter
			}
		}
	}
	if source == BackupFromWriter {
		err = db.copyFromWriter(ctx, tmp, opts, &wc)
		pages = wc.pages
		if (errors.Is(err, ErrBackupRestarted) || errors.Is(err, errBackupBehind)) && opts.Source == BackupAuto {
			db.cfg.Logger.Warn("backup: copying from a reader's snapshot instead of the writer", "err", err, "restarts", wc.restarts)
			if err = os.Truncate(tmp, 0); err == nil {
				source = BackupFromReader
			}
		}
	}
	if source == BackupFromReader {
		// The copy holds one read snapshot: a long read, stopped with
		// ErrSnapshotHeld if the WAL passes SnapshotWALLimit (longread.go).
		lctx, endLong := db.beginLongRead(ctx, "backup")
		err = heldErr(lctx, db.copyTo(lctx, tmp, opts, &pages, &floorHit))
		endLong()
	}
	prio := lowPriority
	if opts.NormalPriority || floorHit {
		prio = func(fn func()) { fn() }
	}
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}
	if err := selfContained(ctx, tmp); err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}
	if err := syncFile(tmp); err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}
	copyMS := time.Since(start).Milliseconds()
	t1 := time.Now()
	if opts.Check != CheckNone {
		var err error
		prio(func() { err = checkCopy(ctx, tmp, opts.Check) })
		if err != nil {
			return BackupResult{}, fmt.Errorf("backup to %s: the copy failed its check: %w", dest, err)
		}
	}
	checkMS := time.Since(t1).Milliseconds()
	if err := renameNew(tmp, dest); err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}
	st, err := os.Stat(dest)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup to %s: %w", dest, err)
	}
	integrity := "ok"
	if opts.Check == CheckNone {
		integrity = "unchecked"
	}
	return BackupResult{Path: dest, Bytes: st.Size(), Pages: pages, DurationMS: time.Since(start).Milliseconds(), Integrity: integrity,
		Check: opts.Check, CopyMS: copyMS, CheckMS: checkMS, RateBytes: opts.RateBytes,
		Source: source, Steps: wc.steps + fc.rounds, WriterMS: wc.writer.Milliseconds() + fc.pause.Milliseconds(), Restarts: wc.restarts,
		RecopiedPages: fc.recopy + fc.final}, nil
}

// copyTo copies the database into tmp with the backup API from one read
// snapshot; see BackupWith.
// Each step runs on a lowest-priority thread (lowPriority) unless the
// copy is behind opts.MinRateBytes, which sets *floorHit.
func (db *DB) copyTo(ctx context.Context, tmp string, opts BackupOptions, pages *int64, floorHit *bool) error {
	return db.Read(ctx, func(tx *Tx) error {
		// The read transaction starts with the first read; the backup
		// steps then all see this snapshot.
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return err
		}
		{
			// The copy's own connection: no journal (a new file no one
			// else reads), an fsync at each step's commit.
			dstPragmas := []pragma{{"journal_mode", "OFF", "off"}, {"synchronous", "NORMAL", "1"}}
			if opts.JournaledCopy {
				dstPragmas = nil
			}
			dst, err := newConnector(tmp, nil, dstPragmas).Connect(ctx)
			if err != nil {
				return classify(ctx, "open the copy", err)
			}
			defer dst.Close()
			bk, err := startBackup(dst, tx.conn.dc)
			if err != nil {
				return classify(ctx, "start backup", err)
			}
			t0 := time.Now()
			var copied int64
			for {
				run := lowPriority
				// Behind the floor, or the WAL past half the snapshot
				// limit (the copy must end before the limit stops it):
				// normal priority.
				behind := opts.MinRateBytes > 0 && time.Since(t0) > time.Second && float64(copied)/time.Since(t0).Seconds() < float64(opts.MinRateBytes)
				if lim := db.snapshotWALLimit(); lim > 0 && db.walBytes() > lim/2 {
					behind = true
				}
				if opts.NormalPriority || behind {
					run = func(fn func()) { fn() }
					*floorHit = *floorHit || !opts.NormalPriority
				}
				var done bool
				var err error
				run(func() { done, err = bk.Step(opts.StepPages) })
				if err != nil {
					bk.Finish()
					return classify(ctx, "backup step", err)
				}
				total := int64(bk.PageCount())
				*pages = total
				bp := BackupProgress{PagesDone: total - int64(bk.Remaining()), PagesTotal: total}
				copied = bp.PagesDone * 4096
				db.backupProgress.Store(&bp)
				if opts.Progress != nil {
					opts.Progress(bp)
				}
				if done {
					break
				}
				if err := ctx.Err(); err != nil {
					bk.Finish()
					return err
				}
				if opts.RateBytes > 0 {
					// Pace: bytes so far at RateBytes take this long.
					due := time.Duration(float64(bp.PagesDone*4096) / float64(opts.RateBytes) * float64(time.Second))
					if !sleepCtx(ctx, due-time.Since(t0)) {
						bk.Finish()
						return ctx.Err()
					}
				}
			}
			return classify(ctx, "finish backup", bk.Finish())
		}
	})
}

// BackupProgressNow reports the running backup's progress; false when none
// runs.
func (db *DB) BackupProgressNow() (BackupProgress, bool) {
	if p := db.backupProgress.Load(); p != nil {
		return *p, true
	}
	return BackupProgress{}, false
}

// VacuumInto writes a compacted copy of the database to dest with VACUUM
// INTO: smaller than Backup's page-for-page copy when the database has free
// pages, but it rebuilds every table and index, so it is slower. Like
// Backup, it goes through a checked temporary file in a private folder and
// a durable rename, and never replaces an existing dest (fs.ErrExist).
func (db *DB) VacuumInto(ctx context.Context, dest string) (BackupResult, error) {
	start := time.Now()
	// VACUUM INTO creates the file itself, with SQLite's default mode
	// (0644 less the umask): the private folder keeps it from other users
	// until the chmod below.
	tmp, cleanup, err := tempBeside(dest)
	if err != nil {
		return BackupResult{}, err
	}
	defer cleanup()
	err = db.exclusive(ctx, func(c *conn) error {
		_, err := c.exec(ctx, "VACUUM INTO ?", tmp)
		return classify(ctx, "vacuum into", err)
	})
	if err != nil {
		return BackupResult{}, fmt.Errorf("vacuum into %s: %w", dest, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return BackupResult{}, err
	}
	if err := selfContained(ctx, tmp); err != nil {
		return BackupResult{}, fmt.Errorf("vacuum into %s: %w", dest, err)
	}
	if err := syncFile(tmp); err != nil {
		return BackupResult{}, err
	}
	if err := checkFile(ctx, tmp); err != nil {
		return BackupResult{}, fmt.Errorf("vacuum into %s: the copy failed its check: %w", dest, err)
	}
	if err := renameNew(tmp, dest); err != nil {
		return BackupResult{}, fmt.Errorf("vacuum into %s: %w", dest, err)
	}
	st, err := os.Stat(dest)
	if err != nil {
		return BackupResult{}, err
	}
	return BackupResult{Path: dest, Bytes: st.Size(), Pages: st.Size() / 4096, DurationMS: time.Since(start).Milliseconds(), Integrity: "ok"}, nil
}

// Restore replaces the database's content with the database in src, in
// place and while the DB stays open: src is checked first (SQLite header,
// PRAGMA integrity_check), then copied in with the backup API on the writer
// connection between transactions, so readers see either the old or the
// new content, and finally the WAL is truncated. A src that fails its check
// is refused with ErrCorrupt and nothing changes.
func (db *DB) Restore(ctx context.Context, src string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("restore from %s: %w", src, err)
	}
	if err := checkHeader(src); err != nil {
		return fmt.Errorf("restore from %s: %w", src, err)
	}
	if err := checkFile(ctx, src); err != nil {
		if errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("restore from %s: the backup failed its check, nothing was changed: %w", src, err)
		}
		return fmt.Errorf("restore from %s: could not check the backup, nothing was changed: %w", src, err)
	}
	err := db.exclusive(ctx, func(c *conn) error {
		c.clearStmts() // the schema may change under them
		{
			from, err := newConnector(src, url.Values{"mode": {"ro"}}, nil).Connect(ctx)
			if err != nil {
				return classify(ctx, "open the backup", err)
			}
			defer from.Close()
			for attempt := 0; ; attempt++ {
				bk, err := startBackup(c.dc, from)
				if err != nil {
					return classify(ctx, "start restore", err)
				}
				_, err = bk.Step(-1)
				ferr := bk.Finish()
				if err == nil {
					err = ferr
				}
				err = classify(ctx, "restore", err)
				if err == nil || !isBusy(err) || attempt+1 >= db.cfg.MaxRetries {
					return err
				}
				if !sleepCtx(ctx, backoff(attempt)) {
					return err
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("restore from %s: %w", src, err)
	}
	db.corrupt.Store(nil)
	db.integrity.mu.Lock()
	db.integrity.last = nil
	db.integrity.mu.Unlock()
	if db.cfg.JournalMode == "wal" {
		if _, err := db.Checkpoint(ctx, Truncate); err != nil {
			return fmt.Errorf("restore from %s: checkpoint after restore: %w", src, err)
		}
	}
	return nil
}

// selfContained switches a fresh copy from WAL to the rollback journal: a
// page-for-page copy of a WAL database says WAL in its header, so every
// later open (the integrity check included) would create -wal and -shm
// files beside it. In DELETE mode the copy is one file, readable even from
// read-only media; Open switches a restored database back to WAL.
func selfContained(ctx context.Context, path string) error {
	d := openPool(path, nil, nil)
	var mode string
	err := d.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classify(ctx, "set the copy's journal mode", err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// tempBeside makes a private (0700) folder beside dest for a copy to be
// written in, and returns the copy's path in it and a cleanup that removes
// the folder. SQLite creates the copy's journal files beside it, and
// VACUUM INTO creates the copy itself with its default mode, so the folder
// is what keeps other users out. Its name is hidden and short whatever
// dest's: ".<up to 64 bytes of dest's name>.tmp-<random>". dest must not
// exist yet (fs.ErrExist).
func tempBeside(dest string) (string, func(), error) {
	dir := filepath.Dir(dest)
	st, err := os.Stat(dir)
	if err != nil {
		return "", nil, fmt.Errorf("backup folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return "", nil, fmt.Errorf("backup folder %s is not a folder", dir)
	}
	if _, err := os.Lstat(dest); err == nil {
		return "", nil, fmt.Errorf("%s: %w; choose another name, or remove it first", dest, fs.ErrExist)
	}
	base := filepath.Base(dest)
	if len(base) > 64 {
		base = base[:64]
	}
	tmpDir, err := os.MkdirTemp(dir, "."+base+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
			return "", nil, fmt.Errorf("backup folder %s: %w: %w", dir, ErrReadOnly, err)
		}
		return "", nil, fmt.Errorf("backup folder %s: %w", dir, err)
	}
	return filepath.Join(tmpDir, "copy.db"), func() { os.RemoveAll(tmpDir) }, nil
}

// createPrivate creates path, empty, with mode 0600 whatever the umask.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fileURI is a file: URI for path with extra query parameters. path is
// made absolute first: a relative one would become file://dir/name, which
// SQLite reads as a URI authority and refuses.
func fileURI(path string, q url.Values) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	u := url.URL{Scheme: "file", Path: path}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// openFileRO opens the database file at path read-only, for a look at it
// (a backup), once its header says it is a SQLite database.
func openFileRO(path string) (*sql.DB, error) {
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	return openPool(path, url.Values{"mode": {"ro"}}, nil), nil
}

// checkFile opens path read-only and runs PRAGMA integrity_check on it.
func checkFile(ctx context.Context, path string) error {
	d, err := openFileRO(path)
	if err != nil {
		return err
	}
	defer d.Close()
	rows, err := d.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		return classify(ctx, "integrity check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return classify(ctx, "integrity check", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, "integrity check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: integrity check: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return f.Close()
}

// renameNew renames src to dst, which must not exist (an error wrapping
// fs.ErrExist otherwise, also when another process creates it meanwhile),
// and fsyncs dst's folder, so the new name survives a power loss.
func renameNew(src, dst string) error {
	if err := renameNoReplace(src, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w; choose another name, or remove it first", dst, fs.ErrExist)
		}
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
