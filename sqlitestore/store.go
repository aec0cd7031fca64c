package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the store's schema migrations (0001_init.sql, …), for
// sqlitedb.DB.Migrate.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder exists: a build error otherwise
	}
	return sub
}

// Migrate brings db's schema up to date with Migrations. Open does it; call
// it before New on a DB you opened yourself.
func Migrate(ctx context.Context, db *sqlitedb.DB) error {
	if _, _, err := db.Migrate(ctx, Migrations()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// ttlRepairName names the migration that repairs out-of-range TTLs; its
// number may change as migrations are added, its name does not.
const ttlRepairName = "ttl_range_and_key_fingerprints"

// ttlRepairs counts the sessions the TTL repair migration will change, 0
// when the database is already past it, so that Open can log them.
func ttlRepairs(ctx context.Context, db *sqlitedb.DB) (int64, error) {
	ms, err := sqlitedb.LoadMigrations(Migrations())
	if err != nil {
		return 0, err
	}
	at := 0
	for _, m := range ms {
		if strings.HasSuffix(m.Name, ttlRepairName) || strings.HasSuffix(m.Name, ttlRepairName+".sql") {
			at = m.Version
		}
	}
	var n int64
	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
		var v int
		if err := tx.QueryRow(ctx, qUserVersion).Scan(&v); err != nil {
			return err
		}
		if v == 0 || v >= at {
			return nil
		}
		return tx.QueryRow(ctx, qTTLRepairs).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("count sessions with an out-of-range TTL: %w", err)
	}
	return n, nil
}

// Config configures Open. The zero value means sqlitedb's defaults and
// state's (1 MiB states, the system clock).
type Config struct {
	// DB configures the SQLite database (journal mode, readers, …).
	DB sqlitedb.Config
	state.Options
	// Slices bounds the background work that runs on the writer in
	// slices: reclaiming deleted and expired sessions, pruning, copying a
	// fork. The zero value means the documented defaults.
	Slices SliceConfig
}

// SliceConfig bounds each slice of the work the store does in slices on
// the single writer, so that other writes run between them. The zero value
// means DefaultSliceBudget and DefaultKeepScanRange.
type SliceConfig struct {
	// Budget is the writer time one slice may use before it commits (0:
	// DefaultSliceBudget). A slice stops at the first statement that ends
	// past it, so a slice takes about Budget plus one statement: removing
	// a few snapshot rows, or copying one (a state is at most
	// state.Options.MaxStateBytes).
	Budget time.Duration
	// KeepScanRange is the snapshot rows one read transaction of
	// KeepLast retention's walk of the snapshots table reads (0:
	// DefaultKeepScanRange): a few milliseconds of reading, so no reader
	// holds an old snapshot (and the WAL) for long.
	KeepScanRange int64
}

// Defaults of SliceConfig.
const (
	DefaultSliceBudget   = 10 * time.Millisecond
	DefaultKeepScanRange = 4096
)

func (c SliceConfig) withDefaults() SliceConfig {
	if c.Budget <= 0 {
		c.Budget = DefaultSliceBudget
	}
	if c.KeepScanRange <= 0 {
		c.KeepScanRange = DefaultKeepScanRange
	}
	return c
}

// Store is state.Store on a SQLite database. It is safe for concurrent use.
// Writes go through the database's single writer (group commit); reads run
// on its read-only pool and never wait for writes.
type Store struct {
	db    *sqlitedb.DB
	opts  state.Options
	ownDB bool
	hints keyHints
	keep  keepScan
	age   ageScan // MaxAge retention's walk, under keep.mu
	// slices bounds background work on the writer; forks are the sids
	// of the forks this Store is building, which reclaim leaves alone.
	slices SliceConfig
	forks  forkSet
	// forkHook, when set (by tests), runs after each committed slice of
	// a fork but the last.
	forkHook func()
	// lastWrite is the time of the latest write (Unix ns), for writeNow.
	lastWrite atomic.Int64
	// hub tells watchers of the store's commits (watch.go).
	hub state.Hub

	closeOnce sync.Once
	// closed is set by Close: every later call fails, whether or not the
	// Store owns db.
	closed   atomic.Bool
	closeErr error
}

var _ state.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, applies the schema
// migrations and returns a Store that owns the database: Close closes it.
// Errors are sqlitedb's (ErrCorrupt, ErrReadOnly, ErrNetworkFS, …).
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, cfg.DB)
	if err != nil {
		return nil, err
	}
	repaired, err := ttlRepairs(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if repaired > 0 && cfg.DB.Logger != nil {
		cfg.DB.Logger.Warn("repaired sessions whose TTL or expiry was out of range (written by an older cortex): TTLs clamped to 100 years, expiries recomputed",
			"path", path, "sessions", repaired)
	}
	s := New(db, cfg.Options)
	s.slices = cfg.Slices.withDefaults()
	s.ownDB = true
	return s, nil
}

// New returns a Store on db, whose schema must be migrated (see Migrate).
// The caller owns db: the Store's Close ends the Store (later calls fail
// with state.ErrUnavailable) but leaves db open for the caller to close,
// after every Store on it. Open, by contrast, owns the database it opens.
func New(db *sqlitedb.DB, opts state.Options) *Store {
	return &Store{db: db, opts: opts.WithDefaults(), slices: SliceConfig{}.withDefaults()}
}

// DB returns the underlying database, for operations (stats, health,
// checkpoints, backups).
func (s *Store) DB() *sqlitedb.DB { return s.db }

// Close ends the Store: calls after it fail with state.ErrUnavailable. It
// closes the database only if the Store opened it (Open); a Store from New
// leaves db open, its owner's to close. It is idempotent; later calls
// return the first one's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.ownDB {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

// now is the store's clock, in UTC and whole nanoseconds: exactly what the
// INTEGER columns keep, so returned times equal the ones read back.
func (s *Store) now() time.Time { return fromNanos(s.opts.Now().UnixNano()) }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func expiresAt(lastActive int64, ttl int64) sql.NullInt64 {
	if ttl <= 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: state.AddNanos(lastActive, ttl), Valid: true}
}

// write, read and readOne are db's Write, Read and ReadOne, refused with
// sqlitedb.ErrClosed (state.ErrUnavailable through storeErr) once the Store
// is closed, also when the Store does not own db and db is still open.
func (s *Store) write(ctx context.Context, fn func(*sqlitedb.Tx) error) error {
	if s.closed.Load() {
		return errStoreClosed
	}
	return s.db.Write(ctx, fn)
}

func (s *Store) read(ctx context.Context, fn func(*sqlitedb.Tx) error) error {
	if s.closed.Load() {
		return errStoreClosed
	}
	return s.db.Read(ctx, fn)
}

func (s *Store) readOne(ctx context.Context, fn func(*sqlitedb.Tx) error) error {
	if s.closed.Load() {
		return errStoreClosed
	}
	return s.db.ReadOne(ctx, fn)
}

// errStoreClosed is the error of a call after Close.
var errStoreClosed = fmt.Errorf("store is closed: %w", sqlitedb.ErrClosed)
