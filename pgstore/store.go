package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortex-db/cortex/state"
)

var _ state.Store = (*Store)(nil)

// Store is state.Store on PostgreSQL. It is safe for concurrent use, also by
// several processes on the same database.
type Store struct {
	pool *pgxpool.Pool // writes (and operators' tools)
	read *pgxpool.Pool // reads only; see Config.ReadConns
	// janitor is a pool of one connection for the slices of reclaim
	// and retention (retention.go), so that they never take one of the
	// write pool's few connections from appends.
	janitor *pgxpool.Pool
	cfg     Config

	// The watch listener (watch.go): started by the first Watch, stopped
	// by Close.
	hub         state.Hub
	listenOnce  sync.Once
	listening   chan struct{} // closed once the first LISTEN succeeded
	listenConns atomic.Int64  // LISTEN connections made
	listenErrs  atomic.Int64  // LISTEN connections lost
	bgCtx       context.Context
	bgStop      context.CancelFunc
	bg          sync.WaitGroup

	closeOnce sync.Once

	// pruneAfter is where the next PruneSlice's scan of sessions (by id)
	// resumes; see retention.go.
	pruneMu    sync.Mutex
	pruneAfter string

	// forkHook, when set (tests), runs after each committed slice of a
	// fork that is not its last, with the slice's number from 1.
	forkHook func(ctx context.Context, id string, slice int) error
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value DSN, as pgx accepts), checks that it answers, and applies the
// schema migrations. Errors wrap state.ErrUnavailable when the server cannot
// be reached. The caller must Close the store.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse database url: %w (want postgres://user:password@host:port/database)", err)
	}
	reads := cfg.ReadConns
	if reads == 0 {
		reads = max(4, int32(runtime.NumCPU()))
	}
	switch {
	case cfg.MaxConns > 0:
		pcfg.MaxConns = cfg.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		// Writes get at most half of the CPUs (and at least 2
		// connections), so that appends from any number of goroutines
		// leave room for the reads (measured in BENCHMARKS.md).
		pcfg.MaxConns = max(2, int32(runtime.NumCPU()/2))
	}
	if cfg.MinConns > 0 {
		pcfg.MinConns = cfg.MinConns
	}
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "cortex"
	}
	where := fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)

	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	// One connection first: it checks that the server answers, and reads
	// its room for connections, which sizes the pools.
	room, err := serverRoom(ctx, pcfg.ConnConfig)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57P") && pgErr.Code != codeTooManyConnections {
			// The server answered and said no: a wrong user, password,
			// database or setting. Retrying will not help.
			return nil, fmt.Errorf("pgstore: connect to PostgreSQL at %s: the server refused: %w; check the URL's user, password, database and parameters", where, err)
		}
		return nil, fmt.Errorf("pgstore: connect to PostgreSQL at %s: %w: %w; check that the server is running and reachable, and the URL's host and port",
			where, state.ErrUnavailable, err)
	}
	writes, reads := poolSizes(pcfg.MaxConns, reads, room)
	wcfg, rcfg := pcfg.Copy(), pcfg.Copy()
	wcfg.MaxConns, rcfg.MaxConns = writes, reads
	wcfg.MinConns, rcfg.MinConns = min(wcfg.MinConns, writes), min(rcfg.MinConns, reads)
	// The read pool's sessions refuse writes, whatever a caller tries.
	rcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: create connection pool for %s: %w", where, err)
	}
	read, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: create read connection pool for %s: %w", where, err)
	}
	// The janitor's connection is made when its first slice runs.
	jcfg := pcfg.Copy()
	jcfg.MaxConns, jcfg.MinConns = 1, 0
	jcfg.ConnConfig.RuntimeParams["application_name"] = pcfg.ConnConfig.RuntimeParams["application_name"] + " janitor"
	janitor, err := pgxpool.NewWithConfig(ctx, jcfg)
	if err != nil {
		pool.Close()
		read.Close()
		return nil, fmt.Errorf("pgstore: create janitor connection pool for %s: %w", where, err)
	}
	s := &Store{pool: pool, read: read, janitor: janitor, cfg: cfg}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	repaired, err := migrate(ctx, pool, s.now())
	if err != nil {
		pool.Close()
		read.Close()
		janitor.Close()
		return nil, err
	}
	if repaired > 0 && cfg.Logger != nil {
		cfg.Logger.Warn("repaired sessions whose TTL was out of range (written by an older cortex): TTLs clamped to 100 years, expiries recomputed",
			"database", where, "sessions", repaired)
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to come back. It is
// idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.bgStop()
		s.bg.Wait()
		s.read.Close()
		s.janitor.Close()
		s.pool.Close()
	})
	return nil
}

// serverRoom connects once and returns how many connections the server
// takes from clients like this one: max_connections less
// superuser_reserved_connections.
func serverRoom(ctx context.Context, cc *pgx.ConnConfig) (int32, error) {
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var room int32
	err = conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int`).Scan(&room)
	return room, err
}

// poolSizes returns the sizes of the write and read pools as configured,
// both cut in proportion so that together they take at most half of room,
// and at least 1 each.
func poolSizes(writes, reads, room int32) (int32, int32) {
	if budget := room / 2; writes+reads > budget {
		w := max(1, int32(int64(budget)*int64(writes)/int64(writes+reads)))
		reads, writes = max(1, budget-w), w
	}
	return writes, reads
}

// ReadPool returns the pool that serves the store's reads, for operators'
// figures. Do not close it; Close the store.
func (s *Store) ReadPool() *pgxpool.Pool { return s.read }

// Pool returns the store's connection pool, for operators' tools (stats,
// ad-hoc queries). Do not close it; Close the store.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// now reads the injected clock: UTC, truncated to PostgreSQL's microseconds,
// so that a time the store returns equals the one read back later.
func (s *Store) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

// maxTxAttempts bounds the retries of a transaction after a serialization
// failure or a deadlock.
const maxTxAttempts = 6

// tx runs fn in a read-committed transaction, committing when it returns nil.
// The whole function is retried, with exponential backoff and jitter, after a
// serialization failure or a deadlock. Errors are translated for step op.
// ROLLBACK and COMMIT run without the caller's cancellation, so a cancelled
// caller never leaves a transaction open.
func (s *Store) tx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return s.txOn(ctx, s.pool, op, fn)
}

// txOn is tx on the connections of pool.
func (s *Store) txOn(ctx context.Context, pool *pgxpool.Pool, op string, fn func(pgx.Tx) error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := tx1(ctx, pool, fn)
		if err == nil {
			return nil
		}
		// SafeToRetry: the failure came before anything reached the server
		// (e.g. a pooled connection that died while idle).
		if !(retryable(err) || pgconn.SafeToRetry(err)) || attempt >= maxTxAttempts || ctx.Err() != nil {
			return translate(op, err)
		}
		d := backoff/2 + rand.N(backoff)
		backoff *= 2
		select {
		case <-ctx.Done():
			return translate(op, err)
		case <-time.After(d):
		}
	}
}

func tx1(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("commit (if the connection was lost, the outcome is unknown: retry with an idempotency key): %w", err)
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded SQL file, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockKey is the advisory lock that serialises migrations across
// processes: the first 8 bytes of "cortexmg" as an int64.
const migrationLockKey int64 = 0x636f727465786d67

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pgstore: read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("pgstore: embedded migration %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("pgstore: read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: embedded migrations are not numbered 1, 2, 3…: %s is number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest schema version this build knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the pending migrations in one transaction that holds a
// transaction-level advisory lock: servers starting at once queue on the lock,
// and the later ones find the work done. PostgreSQL's DDL is transactional, so
// a failed migration leaves the schema as it was. The lock goes away with the
// transaction, also when the connection is lost.
//
// repaired counts the sessions the TTL repair migration changed, for Open
// to log.
func migrate(ctx context.Context, pool *pgxpool.Pool, now time.Time) (repaired int64, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if latest := len(ms); current > latest {
			return fmt.Errorf("database schema version %d is newer than this build's %d; upgrade cortex", current, latest)
		}
		for _, m := range ms[current:] {
			if strings.HasSuffix(m.name, ttlRepairName) {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions
					WHERE ttl > interval '3153600000 seconds' OR ttl <= interval '0'`).Scan(&repaired); err != nil {
					return fmt.Errorf("count sessions with an out-of-range TTL: %w", err)
				}
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, now); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, translate("pgstore: migrate schema", err)
	}
	return repaired, nil
}

// ttlRepairName names the migration that clamps out-of-range TTLs; its
// number may change as migrations are added, its name does not.
const ttlRepairName = "ttl_range_and_key_fingerprints"
