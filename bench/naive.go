package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver cortex uses, registered as "sqlite3"
)

// Naive is the baseline cortex is measured against: what a program gets
// from plain database/sql with the same driver (github.com/mattn/go-sqlite3) and no
// further engineering — one transaction per write, SQLite's default
// pragmas except journal_mode=WAL, and one shared sql.DB pool of
// read/write connections (database/sql's defaults: no limit on open
// connections). Schema: the shape of cortex's sessions and
// state_snapshots tables, for the operations the workloads use.
//
// One pragma beyond WAL is set: busy_timeout=5000. Without it every
// concurrent write that meets the write lock fails at once with
// SQLITE_BUSY, and the baseline would measure errors, not speed. SQLite's
// default synchronous is FULL (the driver's own default is NORMAL, so the
// DSN says FULL), so Naive commits with an fsync each, like cortex with
// synchronous=full.
//
// An append is UPDATE sessions … RETURNING version, then the INSERT, in
// one deferred transaction: writing first means the transaction never
// upgrades a read snapshot to a write (which fails with SQLITE_BUSY_SNAPSHOT
// however long busy_timeout is).
//
// Naive is safe for concurrent use.
type Naive struct {
	db   *sql.DB
	path string
}

var (
	_ Target  = (*Naive)(nil)
	_ Sampler = (*Naive)(nil)
)

const naiveSchema = `
CREATE TABLE IF NOT EXISTS sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    last_active    INTEGER NOT NULL,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    version        INTEGER NOT NULL DEFAULT 0,
    snapshot_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS state_snapshots (
    session_id TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    size_bytes INTEGER NOT NULL,
    PRIMARY KEY (session_id, version)
);
CREATE INDEX IF NOT EXISTS sessions_last_active ON sessions(last_active, id);
`

// OpenNaive opens (creating) the naive baseline's database at path.
func OpenNaive(ctx context.Context, path string) (*Naive, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=FULL"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open naive %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, naiveSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create naive schema: %w", err)
	}
	return &Naive{db: db, path: path}, nil
}

// NaiveConfiguration runs the Naive baseline on a fresh file naive.db in
// dir.
func NaiveConfiguration(dir string) Configuration {
	return Configuration{Name: "naive", Baseline: true, Open: func(ctx context.Context) (Target, error) {
		path := filepath.Join(dir, "naive.db")
		if err := removeDB(path); err != nil {
			return nil, err
		}
		return OpenNaive(ctx, path)
	}}
}

// Setup creates the sessions and their first depth snapshots in one
// transaction.
func (n *Naive) Setup(ctx context.Context, ids []string, st []byte, depth int) error {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, "INSERT INTO sessions(id, created_at, last_active, version, snapshot_count) VALUES(?, ?, ?, ?, ?)", id, now, now, depth, depth); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		for v := 1; v <= depth; v++ {
			if _, err := tx.ExecContext(ctx, "INSERT INTO state_snapshots(session_id, version, created_at, state, size_bytes) VALUES(?, ?, ?, ?, ?)", id, v, now, string(st), len(st)); err != nil {
				return fmt.Errorf("append initial snapshot: %w", err)
			}
		}
	}
	return tx.Commit()
}

// Append appends st to session id in its own transaction.
func (n *Naive) Append(ctx context.Context, id string, st []byte) error {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	var v int64
	err = tx.QueryRowContext(ctx, "UPDATE sessions SET version = version + 1, snapshot_count = snapshot_count + 1, last_active = ? WHERE id = ? RETURNING version", now, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("session %s: not found", id)
	}
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO state_snapshots(session_id, version, created_at, state, size_bytes) VALUES(?, ?, ?, ?, ?)", id, v, now, string(st), len(st)); err != nil {
		return err
	}
	return tx.Commit()
}

// Latest reads the latest snapshot of session id.
func (n *Naive) Latest(ctx context.Context, id string) error {
	var (
		v         int64
		st, md    string
		createdAt int64
	)
	err := n.db.QueryRowContext(ctx, "SELECT version, created_at, state, metadata FROM state_snapshots WHERE session_id = ? ORDER BY version DESC LIMIT 1", id).Scan(&v, &createdAt, &st, &md)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("session %s: no snapshot", id)
	}
	return err
}

// History reads the newest limit snapshots of session id, without states.
func (n *Naive) History(ctx context.Context, id string, limit int) error {
	rows, err := n.db.QueryContext(ctx, "SELECT version, created_at, metadata, size_bytes FROM state_snapshots WHERE session_id = ? ORDER BY version DESC LIMIT ?", id, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v, c, size int64
		var md string
		if err := rows.Scan(&v, &c, &md, &size); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Teardown does nothing: the file is the run's own.
func (n *Naive) Teardown(ctx context.Context, ids []string) error { return nil }

// Sample reports the -wal file's size; SQLite's automatic checkpoints are
// not observable from outside, so HasCheckpoints is false.
func (n *Naive) Sample(ctx context.Context) (Sample, error) {
	fi, err := os.Stat(n.path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return Sample{}, nil
	}
	if err != nil {
		return Sample{}, err
	}
	return Sample{WALBytes: fi.Size()}, nil
}

// Close closes the pool.
func (n *Naive) Close() error { return n.db.Close() }
