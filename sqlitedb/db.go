package sqlitedb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sqliteHeader starts every SQLite database file.
// https://www.sqlite.org/fileformat.html#the_database_header
var sqliteHeader = []byte("SQLite format 3\x00")

// DB is a production SQLite database: one writer connection fed by a queue
// (group commit), a pool of read-only connections, and a background
// checkpointer. It is safe for concurrent use. Open it with Open and release
// it with Close.
type DB struct {
	path string
	cfg  Config

	ctx    context.Context // cancelled by Close, after the writer drained
	cancel context.CancelFunc
	// wctx is the writer's statement context: never cancelled, so the
	// driver needs no goroutine per statement to watch it, and a group
	// transaction is never interrupted halfway.
	wctx context.Context

	wdb     *sql.DB // writer and checkpointer connections
	rdb     *sql.DB // read-only connections
	w       *writer
	readers *pool
	ckpt    *checkpointer
	repl    *replMonitor // nil unless Config.Replication is litestream

	version string // sqlite_version()

	mu     sync.RWMutex
	closed bool
	ops    sync.WaitGroup // Write/Read calls in progress
	bg     sync.WaitGroup // background goroutines

	closeOnce sync.Once
	closeErr  error

	integrity integrityCache
	jobs      integrityJobs // integrity.go
	// backupProgress is the running backup's (backup.go).
	backupProgress atomic.Pointer[BackupProgress]
	ckstats        checkpointStats
	// backups counts backups in progress: each holds one read snapshot
	// for its whole run, so the writer's WAL guard leaves the WAL alone
	// meanwhile.
	backups atomic.Int64
	// long tracks the long reads (longread.go).
	long longReads
	// lastRead is when a Read last succeeded (unix nanos), for Health.
	lastRead atomic.Int64
	// corrupt latches the first ErrCorrupt a Read or Write met, so that
	// Health reports the damage until an integrity check passes or a
	// Restore replaces the content.
	corrupt atomic.Pointer[corruptEvent]
	// walFailed latches the first I/O error on the WAL (a failed COMMIT
	// with SQLITE_IOERR, or walbuf's check): writes are refused after it.
	walFailed atomic.Pointer[corruptEvent]
	// walbuf says whether connections use walbuf, and if not why
	// (Stats.WALBuffer); walbufOn is true when they do.
	walbuf   string
	walbufOn bool
	// shimOn: connections go through walbuf.c, buffering or not, so the
	// WAL index and the -wal sync go through SQLite (walIndex, syncWAL).
	shimOn bool
	// sqliteName is the database file's name as SQLite has it.
	sqliteName string
}

// Open opens (creating if needed) the SQLite database at path with cfg.
//
// It creates the folder (0700) and the file (0600) when missing, applies the
// pragmas to every connection and reads each one back, and refuses: a file
// that is not a SQLite database or is corrupt (ErrCorrupt, the file left
// untouched), a folder it cannot write (ErrReadOnly), a WAL database on a
// network filesystem (ErrNetworkFS, unless Config.AllowNetworkFS), and a
// SQLite version with the WAL-reset bug (ErrUnsafeVersion, unless
// Config.AllowUnsafeVersion). Close the DB when done.
//
// Open a database file once per process and share the *DB (it is safe for
// concurrent use): Open reads the file's header through a descriptor of its
// own, and closing any descriptor of a file drops all of the process's
// POSIX locks on it, those of a *DB already open on it included.
func Open(ctx context.Context, path string, cfg Config) (_ *DB, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open %q: want a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := driverMissing(); err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err) // before any file is made
	}
	if err := prepareFile(abs, cfg); err != nil {
		return nil, err
	}

	if cfg.LitestreamMetaDir == "" {
		cfg.LitestreamMetaDir = LitestreamMetaDir(abs)
	}
	db := &DB{path: abs, cfg: cfg}
	db.ctx, db.cancel = context.WithCancel(context.Background())
	db.wctx = context.WithoutCancel(db.ctx)
	defer func() {
		if err != nil {
			db.cancel()
			if db.readers != nil {
				db.readers.closeAll()
			}
			if db.w != nil && db.w.conn != nil {
				db.w.conn.close()
			}
			if db.wdb != nil {
				db.wdb.Close()
			}
			if db.rdb != nil {
				db.rdb.Close()
			}
		}
	}()

	vfsq := db.chooseVFS()
	db.wdb = openPoolHook(abs, vfsq, cfg.pragmas(), cfg.OnConnect)
	db.wdb.SetMaxOpenConns(2) // the writer and the checkpointer
	db.wdb.SetMaxIdleConns(2)
	db.wdb.SetConnMaxLifetime(0)
	db.wdb.SetConnMaxIdleTime(0)

	wc, err := db.wdb.Conn(ctx)
	if err != nil {
		return nil, db.openError(err)
	}
	db.w = &writer{db: db, conn: newConn(wc), queue: make(chan *writeReq, cfg.MaxQueue)}
	db.w.tx.conn = db.w.conn
	if err := db.setup(ctx, db.w.conn); err != nil {
		return nil, err
	}
	if err := db.w.conn.with(func() error { db.sqliteName = dbFilename(db.w.conn.dc); return nil }); err != nil {
		return nil, db.openError(err)
	}

	readerPragmas := append(cfg.pragmas(), pragma{"query_only", "1", "1"})
	db.rdb = openPoolHook(abs, vfsq, readerPragmas, cfg.OnConnect)
	db.rdb.SetMaxOpenConns(cfg.Readers)
	db.rdb.SetMaxIdleConns(cfg.Readers)
	db.rdb.SetConnMaxLifetime(0)
	db.rdb.SetConnMaxIdleTime(0)
	db.readers = newPool(cfg.Readers, cfg.PoolTimeout)
	for range cfg.Readers {
		rc, err := db.rdb.Conn(ctx)
		if err != nil {
			return nil, db.openError(err)
		}
		c := newConn(rc)
		db.readers.add(c)
		if err := verifyPragmas(ctx, c, readerPragmas); err != nil {
			return nil, fmt.Errorf("open %s: reader: %w", abs, err)
		}
	}

	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		if err := db.w.conn.with(func() error { db.w.loop(); return nil }); err != nil {
			db.cfg.Logger.Error("writer stopped", "err", err)
		}
	}()
	if cfg.checkpointerOn() && cfg.JournalMode == "wal" {
		cc, err := db.wdb.Conn(ctx)
		if err != nil {
			db.closeWriter()
			return nil, db.openError(err)
		}
		db.ckpt = newCheckpointer(db, newConn(cc))
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			db.ckpt.loop()
		}()
	}
	if cfg.Replication == ReplicationLitestream {
		db.repl = newReplMonitor(db)
	}
	if cfg.JournalMode == "wal" {
		db.logDetection(ctx)
	}
	if db.repl != nil {
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			db.repl.loop()
		}()
	}
	return db, nil
}

// setup sets the journal mode on the writer and checks the file, the
// pragmas and the SQLite version.
func (db *DB) setup(ctx context.Context, c *conn) error {
	// Reading the schema is the first access: a foreign or damaged file
	// fails here, before anything is written.
	var n int
	if err := c.c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return db.openError(err)
	}
	// SQLite quietly opens a file it may not write read-only; starting a
	// write transaction is where that shows (SQLITE_READONLY).
	if _, err := c.c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		if errors.Is(classify(ctx, "", err), ErrReadOnly) {
			return &HintError{Op: "open " + db.path, Err: fmt.Errorf("%w: SQLite opened the file read-only", ErrReadOnly), Hint: "give this user write permission on the file and its folder"}
		}
		return db.openError(err)
	}
	if _, err := c.c.ExecContext(ctx, "ROLLBACK"); err != nil {
		return db.openError(err)
	}
	var mode string
	if err := c.c.QueryRowContext(ctx, "PRAGMA journal_mode="+db.cfg.JournalMode).Scan(&mode); err != nil {
		return db.openError(err)
	}
	if !strings.EqualFold(mode, db.cfg.JournalMode) {
		return fmt.Errorf("open %s: journal_mode %s was not granted (SQLite reports %q)", db.path, db.cfg.JournalMode, mode)
	}
	if db.cfg.JournalMode == "memory" {
		db.cfg.Logger.Warn("journal_mode=MEMORY is not durable: a crash during a write can corrupt the database", "path", db.path)
	}
	if err := verifyPragmas(ctx, c, db.cfg.pragmas()); err != nil {
		return fmt.Errorf("open %s: %w", db.path, err)
	}
	if db.cfg.JournalMode == "wal" && db.cfg.checkpointerOn() {
		var pageSize int64
		if err := c.c.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
			return db.openError(err)
		}
		db.w.guard.frameBytes = pageSize + walFrameHeaderBytes
	}
	if err := c.c.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&db.version); err != nil {
		return db.openError(err)
	}
	if bad, why := unsafeVersion(db.version); bad {
		if !db.cfg.AllowUnsafeVersion {
			return &HintError{Op: "open " + db.path, Err: fmt.Errorf("SQLite %s: %w (%s)", db.version, ErrUnsafeVersion, why), Hint: "build with a fixed SQLite (3.51.3+, 3.50.7+ or 3.44.6+), or set AllowUnsafeVersion to accept the risk"}
		}
		db.cfg.Logger.Warn("SQLite version has the WAL-reset corruption bug", "version", db.version)
	}
	return nil
}

// verifyPragmas reads back every pragma: a silently ignored pragma is a
// configuration that is not in force.
func verifyPragmas(ctx context.Context, c *conn, ps []pragma) error {
	for _, p := range ps {
		var got string
		if err := c.c.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			return fmt.Errorf("read back pragma %s: %w", p.name, classify(ctx, "", err))
		}
		if got != p.want {
			return fmt.Errorf("pragma %s: set to %s, reads back %s", p.name, p.want, got)
		}
	}
	return nil
}

// openError classifies an error met while opening and says what to do.
func (db *DB) openError(err error) error {
	err = classify(context.Background(), "", err)
	switch {
	case errors.Is(err, ErrCorrupt):
		return &HintError{Op: "open " + db.path, Err: fmt.Errorf("%w: %w; the file was left untouched", ErrCorrupt, err), Hint: "restore it from a backup (cortex restore), or point --db at another path"}
	case errors.Is(err, ErrReadOnly):
		return &HintError{Op: "open " + db.path, Err: fmt.Errorf("%w: %w", ErrReadOnly, err), Hint: "make the file and its folder writable by this user"}
	}
	return fmt.Errorf("open %s: %w", db.path, err)
}

// prepareFile creates the folder and file with private permissions, and
// refuses foreign files, unwritable folders and network filesystems.
func prepareFile(path string, cfg Config) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
			return &HintError{Op: "open " + path, Err: fmt.Errorf("create folder %s: %w: %w", dir, ErrReadOnly, err), Hint: "create it with write permission for this user, or choose another path"}
		}
		return fmt.Errorf("open %s: create folder %s: %w", path, dir, err)
	}
	if cfg.JournalMode == "wal" {
		if fsName, remote := networkFS(dir); remote && !cfg.AllowNetworkFS {
			return &HintError{Op: "open " + path, Err: fmt.Errorf("%w (%s): SQLite's WAL mode needs shared memory and locks that network filesystems do not provide, which corrupts databases", ErrNetworkFS, fsName), Hint: "put the database on a local disk, or use PostgreSQL (--db postgres://…); to open it anyway, set AllowNetworkFS"}
		}
	}
	if err := writableDir(dir); err != nil {
		return &HintError{Op: "open " + path, Err: fmt.Errorf("folder %s is not writable: %w: %w; SQLite creates the -wal and -shm files beside the database", dir, ErrReadOnly, err), Hint: "make the folder writable by this user, or choose another path"}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		if err := checkHeaderMode(path, os.O_RDWR); err != nil {
			return err
		}
		damage, err := checkWAL(path)
		if err != nil {
			return fmt.Errorf("open %s: read the -wal file: %w", path, err)
		}
		if damage != nil {
			if !cfg.AcceptWALLoss {
				return &HintError{Op: "open " + path, Err: fmt.Errorf("%w: %w; the files were left untouched", ErrCorrupt, damage), Hint: "restore from a backup (cortex restore); or, to keep what recovery can and lose those commits (expected after a power loss with synchronous=normal), open with AcceptWALLoss (--accept-wal-loss)"}
			}
			cfg.Logger.Error("opening a database whose WAL recovery drops commits", "path", path, "damage", damage.Error())
		}
		return nil
	case errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err):
		return &HintError{Op: "open " + path, Err: fmt.Errorf("%w: %w", ErrReadOnly, err), Hint: "make the folder writable by this user"}
	default:
		return fmt.Errorf("open %s: %w", path, err)
	}
}

// checkHeader refuses a non-empty file that does not start with the SQLite
// header, without writing to it.
func checkHeader(path string) error {
	return checkHeaderMode(path, os.O_RDONLY)
}

// checkHeaderMode is checkHeader opening the file with flag: O_RDWR also
// proves the file is writable (SQLite would otherwise fall back to a
// read-only connection and fail every write).
func checkHeaderMode(path string, flag int) error {
	// Direct file access, before the first open (prepareFile runs before
	// any connection of this DB exists): see checkWAL.
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
			return &HintError{Op: "open " + path, Err: fmt.Errorf("%w: %w", ErrReadOnly, err), Hint: "give this user read and write permission on the file (or its filesystem)"}
		}
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("open %s: not a regular file", path)
	}
	if st.Size() == 0 {
		return nil
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return fmt.Errorf("open %s: %w: the file is not a SQLite database (no SQLite header); it was left untouched", path, ErrCorrupt)
	}
	return nil
}

// Path returns the database file's absolute path.
func (db *DB) Path() string { return db.path }

// Config returns the configuration in force, defaults filled in.
func (db *DB) Config() Config { return db.cfg }

// enter registers a call in progress, or fails with ErrClosed.
func (db *DB) enter() error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	db.ops.Add(1)
	return nil
}

// Close waits for calls in progress, drains the writer queue, runs a final
// checkpoint (TRUNCATE, so the -wal file is emptied), and closes every
// connection. It is idempotent and safe for concurrent use; later calls
// return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.jobs.stop() // integrity.go: a running check ends first
		db.mu.Lock()
		db.closed = true
		db.mu.Unlock()
		db.ops.Wait()
		if db.repl != nil {
			db.repl.stop()
		}
		if db.ckpt != nil {
			db.ckpt.stop()
		}
		db.closeWriter()
		var errs []error
		if db.cfg.JournalMode == "wal" && !db.cfg.NoCloseCheckpoint {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// Behind a replicator the last checkpoint is PASSIVE: a
			// TRUNCATE would wait for its read transaction.
			mode := "TRUNCATE"
			if db.replicaHolds() {
				mode = "PASSIVE"
			}
			err := db.w.conn.with(func() error {
				_, err := db.w.conn.exec(ctx, "PRAGMA wal_checkpoint("+mode+")")
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("final checkpoint: %w", classify(ctx, "", err)))
			}
			cancel()
		}
		db.cancel()
		db.readers.closeAll()
		if db.ckpt != nil {
			errs = append(errs, db.ckpt.conn.close())
		}
		errs = append(errs, db.w.conn.close(), db.rdb.Close(), db.wdb.Close())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// closeWriter stops the writer goroutine after it has answered every queued
// request, and waits for the background goroutines.
func (db *DB) closeWriter() {
	close(db.w.queue)
	db.bg.Wait()
}

// corruptEvent is the first corruption a query met.
type corruptEvent struct {
	at  time.Time
	err string
}

// noteErr latches err if it says the database is damaged, and returns it.
func (db *DB) noteErr(err error) error {
	if err != nil && errors.Is(err, ErrCorrupt) && db.corrupt.Load() == nil {
		db.corrupt.CompareAndSwap(nil, &corruptEvent{at: time.Now().UTC(), err: err.Error()})
		db.cfg.Logger.Error("database damage detected: restore from a backup", "path", db.path, "err", err)
	}
	return err
}

// chooseVFS decides whether connections use walbuf (Config.NoWALBuffer,
// the SQLite version) and returns the URI parameters that say so.
func (db *DB) chooseVFS() url.Values {
	q := url.Values{}
	if db.cfg.NoWALBuffer {
		db.walbuf = "off: Config.NoWALBuffer"
		// The shim as a pass-through: no buffering, but the WAL index is
		// read from SQLite's mapping and the -wal synced through SQLite.
		if name, err := walbufOver(db.cfg.vfs, false); err == nil {
			db.shimOn = true
			q.Set("vfs", name)
			return q
		}
	} else if name, err := walbufOver(db.cfg.vfs, true); err != nil {
		db.walbuf = "off: " + err.Error()
		db.cfg.Logger.Warn("walbuf is off; writes use SQLite's default VFS", "path", db.path, "reason", err)
	} else {
		db.walbuf, db.walbufOn, db.shimOn = "on", true, true
		q.Set("vfs", name)
		return q
	}
	// The default VFS (or the one under walbuf in tests), named, so that
	// newConnector does not choose walbuf.
	base := db.cfg.vfs
	if base == "" {
		base = "unix"
	}
	q.Set("vfs", base)
	return q
}

// noteWALErr latches an I/O error met at COMMIT or by walbuf's check,
// after which writes are refused (ErrWALFailed).
func (db *DB) noteWALErr(err error) {
	if db.walFailed.CompareAndSwap(nil, &corruptEvent{at: time.Now().UTC(), err: err.Error()}) {
		db.cfg.Logger.Error("I/O error on the WAL: writes are refused until the database is reopened", "path", db.path, "err", err)
	}
}

// walErr is ErrWALFailed with what happened, once an I/O error on the
// WAL was latched; nil before.
func (db *DB) walErr() error {
	ev := db.walFailed.Load()
	if ev == nil {
		return nil
	}
	return fmt.Errorf("%w (at %s: %s)", ErrWALFailed, ev.at.Format(time.RFC3339), ev.err)
}
