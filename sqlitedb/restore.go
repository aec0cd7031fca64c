package sqlitedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInUse is returned by RestoreFile when another connection (a running
// cortex serve, a sqlite3 shell) has the database open.
var ErrInUse = errors.New("the database is in use by another process")

// RestoreOptions tune RestoreFile. The zero value verifies the copy with
// quick_check and keeps the current database.
type RestoreOptions struct {
	// Check is the verification of the copy before it replaces anything:
	// IntegrityQuick (the zero value), IntegrityFull, or "none" (the
	// backup was checked when it was made; Restore then only checks the
	// header).
	Check IntegrityMode
	// DiscardCurrent removes the current database instead of keeping it
	// as <name>.replaced-<time>.
	DiscardCurrent bool
	// Progress, when set, is called as the copy goes, with bytes done and
	// the total.
	Progress func(done, total int64)
	// Now names the kept file (default time.Now).
	Now func() time.Time
}

// CheckNone skips the copy's integrity check in RestoreFile.
const CheckNone IntegrityMode = "none"

// RestoreResult reports a RestoreFile. JSON names are the CLI's.
type RestoreResult struct {
	Path  string `json:"path"`
	From  string `json:"from"`
	Bytes int64  `json:"bytes"`
	// CopyMS is the copy and its fsync.
	CopyMS int64 `json:"copy_ms"`
	// Check is the verification run on the copy and CheckMS its time.
	Check   IntegrityMode `json:"check"`
	CheckMS int64         `json:"check_ms"`
	// Replaced is where the previous database was kept ("" when there was
	// none, or it was discarded).
	Replaced string `json:"replaced,omitempty"`
	TotalMS  int64  `json:"total_ms"`
}

// RestoreFile replaces the database file at path with a copy of the backup
// src, at disk speed and in 1× the backup's size of free space, with no
// process holding the database:
//
//  1. it takes SQLite's exclusive lock on the current database through a
//     SQLite connection (locking_mode EXCLUSIVE, busy timeout 0) and keeps
//     it to the end, so it fails at once with ErrInUse while any other
//     connection has the database open, and nothing can open it meanwhile;
//  2. it checks that the folder has room for the backup (a clear error
//     when not, before anything is written);
//  3. it copies src to a private temporary file beside the database (the
//     kernel's copy_file_range where it can, as cp does) and fsyncs it;
//  4. it verifies the copy (opts.Check), a separate, timed step: a copy
//     that fails changes nothing;
//  5. it checkpoints the current database into its file and ends its WAL
//     (journal_mode DELETE, which is a TRUNCATE checkpoint and the WAL's
//     removal), keeps it as <name>.replaced-<time> (a hard link) unless
//     opts.DiscardCurrent, renames the copy over the database, removes the
//     stale -wal and -shm, and fsyncs the folder.
//
// At every moment the database's name holds a complete database, the old
// or the new; a crash leaves at most the temporary file (a hidden name
// beginning with ".<name>.restore-"). The backup passes through no WAL: the
// database's next Open puts it back into WAL mode. src must be a
// self-contained database (a Backup, VacuumInto or a checkpointed copy):
// one with a -wal beside it is refused, as its last transactions would be
// lost. path need not exist.
func RestoreFile(ctx context.Context, path, src string, opts RestoreOptions) (RestoreResult, error) {
	start := time.Now()
	if opts.Check == "" {
		opts.Check = IntegrityQuick
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.Check {
	case IntegrityQuick, IntegrityFull, CheckNone:
	default:
		return RestoreResult{}, fmt.Errorf("restore: unknown check %q: want quick, full or none", opts.Check)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("restore %s: %w", path, err)
	}
	res := RestoreResult{Path: abs, From: src, Check: opts.Check}
	fail := func(step string, err error) (RestoreResult, error) {
		return RestoreResult{}, fmt.Errorf("restore %s from %s: %s: %w", abs, src, step, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fail("the backup", err)
	}
	if !st.Mode().IsRegular() {
		return fail("the backup", fmt.Errorf("%s is not a regular file", src))
	}
	if err := checkHeader(src); err != nil {
		return fail("the backup", err)
	}
	if wst, err := os.Stat(src + "-wal"); err == nil && wst.Size() > 0 {
		return fail("the backup", fmt.Errorf("%s-wal is beside it: its last transactions are in that WAL, which a file copy would lose; open the backup once with sqlite3 (or make it with cortex backup) so it is one file", src))
	}
	if sa, _ := filepath.Abs(src); sa == abs {
		return fail("the backup", errors.New("is the database itself"))
	}
	res.Bytes = st.Size()

	// 1. The lock, held to the end.
	var lock *lockConn
	if _, err := os.Stat(abs); err == nil {
		lock, err = lockExclusive(ctx, abs)
		if err != nil {
			return fail("take the database's lock", err)
		}
		defer lock.close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail("the database", err)
	}

	// 2. Room: the copy; the current database is kept by a link (no copy).
	dir := filepath.Dir(abs)
	if free, err := freeBytes(dir); err == nil && free < res.Bytes+minRestoreSlack {
		return fail("free space", fmt.Errorf("%w: the copy needs %d bytes (%s) and %s has %d free; free some space, or restore into another folder and move it", ErrDiskFull, res.Bytes, humanBytes(res.Bytes), dir, free))
	}

	// 3. The copy, beside the database so the rename is atomic.
	t0 := time.Now()
	tmp, err := os.CreateTemp(dir, "."+shortBase(abs)+".restore-*")
	if err != nil {
		return fail("create the copy", err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fail("create the copy", err)
	}
	if err := copyFile(ctx, tmp, src, res.Bytes, opts.Progress); err != nil {
		tmp.Close()
		return fail("copy", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail("fsync the copy", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("copy", err)
	}
	res.CopyMS = time.Since(t0).Milliseconds()

	// 4. Verification, of the copy (what will be the database).
	t1 := time.Now()
	if opts.Check != CheckNone {
		if err := checkCopy(ctx, tmpName, opts.Check); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return fail("the backup failed its check, nothing was changed", err)
			}
			return fail("check the copy, nothing was changed", err)
		}
	}
	res.CheckMS = time.Since(t1).Milliseconds()

	// 5. Out with the old, in with the new.
	if lock != nil && !opts.DiscardCurrent {
		if err := lock.endWAL(ctx); err != nil {
			return fail("checkpoint the current database (to keep it; DiscardCurrent skips this)", err)
		}
		{
			kept, err := keepAside(abs, opts.Now())
			if err != nil {
				return fail("keep the current database", err)
			}
			res.Replaced = kept
		}
	}
	if err := os.Rename(tmpName, abs); err != nil {
		return fail("rename the copy into place", err)
	}
	renamed = true
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(abs + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail("remove the old "+suffix, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fail("fsync the folder", err)
	}
	res.TotalMS = time.Since(start).Milliseconds()
	return res, nil
}

// minRestoreSlack is free space kept beyond the copy: SQLite needs some
// to open the restored database (its WAL, the -shm).
const minRestoreSlack = 16 << 20

// lockConn is a SQLite connection holding the database's exclusive lock.
type lockConn struct{ c driver.Conn }

// lockExclusive takes SQLite's EXCLUSIVE lock on the database at path
// through a connection in locking_mode EXCLUSIVE with a busy timeout of 0:
// every other connection, WAL or not, holds at least a SHARED lock while it
// reads, and in WAL mode for as long as it is open, so the attempt fails at
// once (ErrInUse) while anything else has the database open. The
// connection keeps the lock until it closes. The unix VFS, not walbuf: the
// connection writes nothing but the checkpoint.
func lockExclusive(ctx context.Context, path string) (*lockConn, error) {
	q := url.Values{"vfs": {"unix"}, "_busy_timeout": {"0"}, "_locking_mode": {"EXCLUSIVE"}}
	inUse := func(err error) error {
		if isBusy(err) {
			return fmt.Errorf("%w (%w); stop the process using it (a running cortex serve?) and try again", ErrInUse, err)
		}
		return err
	}
	c, err := newConnector(path, q, nil).Connect(ctx)
	if err != nil {
		return nil, inUse(classify(ctx, "open", err))
	}
	l := &lockConn{c: c}
	// The first write takes the EXCLUSIVE lock and, in locking_mode
	// EXCLUSIVE, keeps it (in WAL mode the connection then uses no shared
	// memory: the -shm of a running server is not touched).
	if err := l.exec(ctx, "BEGIN EXCLUSIVE"); err != nil {
		l.close()
		return nil, inUse(err)
	}
	if err := l.exec(ctx, "COMMIT"); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *lockConn) exec(ctx context.Context, query string) error {
	_, err := l.c.(driver.ExecerContext).ExecContext(ctx, query, nil)
	return classify(ctx, "", err)
}

// endWAL checkpoints the whole WAL into the database file and removes it:
// the file is then complete by itself, whatever its name becomes.
func (l *lockConn) endWAL(ctx context.Context) error {
	return l.exec(ctx, "PRAGMA journal_mode = DELETE")
}

func (l *lockConn) close() { l.c.Close() }

// keepAside links the database at path to <path>.replaced-<time> (with a
// counter when that exists) and returns the name.
func keepAside(path string, now time.Time) (string, error) {
	base := path + ".replaced-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		err := os.Link(path, name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", err
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// copyFile copies src into dst, size bytes, in 64 MiB chunks (the kernel's
// copy_file_range or sendfile under io.Copy), reporting progress and
// honouring ctx between chunks.
func copyFile(ctx context.Context, dst *os.File, src string, size int64, progress func(done, total int64)) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	const chunk = 64 << 20
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.CopyN(dst, f, chunk)
		done += n
		if progress != nil {
			progress(done, size)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if done != size {
		return fmt.Errorf("copied %d bytes of %d: the backup changed while it was copied", done, size)
	}
	return nil
}

// checkCopy runs quick_check or integrity_check on a file no one else has
// open. It opens it read-only with the unix VFS: a DELETE-mode copy stays
// one file.
//
// The connection maps up to 256 MiB of the file and caches 64 MiB of
// pages, as the DB's readers do: with SQLite's default 2 MB cache,
// integrity_check's index lookups read the same pages from the file again
// and again (measured: 10× slower on a 0.3 GB copy).
func checkCopy(ctx context.Context, path string, mode IntegrityMode) error {
	if err := checkHeader(path); err != nil {
		return err
	}
	check := "PRAGMA quick_check(20)"
	if mode == IntegrityFull {
		check = "PRAGMA integrity_check(20)"
	}
	d := openPool(path, url.Values{"mode": {"ro"}, "vfs": {"unix"}}, []pragma{{"mmap_size", "268435456", "268435456"}, {"cache_size", "-65536", "-65536"}})
	defer d.Close()
	rows, err := d.QueryContext(ctx, check)
	if err != nil {
		return classify(ctx, "check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return classify(ctx, "check", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, "check", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, check, problems)
	}
	return nil
}

func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func shortBase(path string) string {
	b := filepath.Base(path)
	if len(b) > 64 {
		b = b[:64]
	}
	return b
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// Held reports whether another connection has the database at path open,
// through SQLite's own locks: it tries SQLite's EXCLUSIVE lock with a busy
// timeout of 0 and lets it go at once. Unlike InUse it opens no descriptor
// of the file from Go, so it is safe in a process that has the database
// open (that process's own connections then count as holding it). A
// missing file is not held. A database in a rollback journal mode is held
// only while a transaction is open on it.
func Held(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	l, err := lockExclusive(ctx, path)
	if errors.Is(err, ErrInUse) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	l.close()
	return false, nil
}
