package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
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

// Config configures Open. The zero value means sqlitedb's defaults and
// state's (1 MiB states, the system clock).
type Config struct {
	// DB configures the SQLite database (journal mode, readers, …).
	DB sqlitedb.Config
	state.Options
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
	// lastWrite is the time of the latest write (Unix ns), for writeNow.
	lastWrite atomic.Int64
	// hub tells watchers of the store's commits (watch.go).
	hub state.Hub

	closeOnce sync.Once
	closeErr  error
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
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := New(db, cfg.Options)
	s.ownDB = true
	return s, nil
}

// New returns a Store on db, whose schema must be migrated (see Migrate).
// The Store does not own db: its Close leaves db open.
func New(db *sqlitedb.DB, opts state.Options) *Store {
	return &Store{db: db, opts: opts.WithDefaults()}
}

// DB returns the underlying database, for operations (stats, health,
// checkpoints, backups).
func (s *Store) DB() *sqlitedb.DB { return s.db }

// Close closes the database if the Store opened it. It is idempotent; later
// calls return the first one's result. Calls after Close fail with
// state.ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
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
	return sql.NullInt64{Int64: lastActive + ttl, Valid: true}
}
