package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// backend is an opened storage engine: the store, its operations and the
// figures behind the metrics.
type backend struct {
	store   state.Store
	ops     httpapi.Ops
	figures httpapi.StatsFunc
	// sqlite is set for the embedded engine (backups are SQLite-only).
	sqlite *sqliteOps
}

// openBackend opens the store --db selects: PostgreSQL for a postgres://
// URL, the SQLite file otherwise.
func openBackend(ctx context.Context, f *dbFlags, opts state.Options, log *slog.Logger, janitor func() janitorCounts) (*backend, error) {
	if f.isPostgres() {
		st, err := pgstore.Open(ctx, f.db, pgstore.Config{Options: opts, Logger: log})
		if err != nil {
			return nil, withHint(err, "check that PostgreSQL is running and that --db (or CORTEX_DB) is right")
		}
		ops := &pgOps{store: st, pool: st.Pool(), janitor: janitor}
		return &backend{store: st, ops: ops, figures: ops.figures}, nil
	}
	cfg := f.sqliteConfig()
	cfg.Logger = log
	st, err := sqlitestore.Open(ctx, f.db, sqlitestore.Config{DB: cfg, Options: opts})
	if err != nil {
		return nil, openAdvice(f.db, err)
	}
	ops := &sqliteOps{db: st.DB(), store: st, janitor: janitor}
	return &backend{store: st, ops: ops, figures: ops.figures, sqlite: ops}, nil
}

// pgOps serves httpapi.Ops with a PostgreSQL pool. SQLite's file
// operations have PostgreSQL counterparts the answers name.
type pgOps struct {
	store   *pgstore.Store
	pool    *pgxpool.Pool
	janitor func() janitorCounts
	// retention, when set (cortex serve), adds the retention settings and
	// the janitor's work to Stats (consolestats.go).
	retention func() *retentionStats
}

var _ httpapi.Ops = (*pgOps)(nil)

// pgStats are the PostgreSQL figures of GET /v1/admin/stats.
type pgStats struct {
	Engine        string `json:"engine"`
	ServerVersion string `json:"server_version"`
	SizeBytes     int64  `json:"size_bytes"`
	// SessionsEstimate and SnapshotsEstimate are PostgreSQL's estimates of
	// the live rows (pg_stat_user_tables.n_live_tup), read in O(1): not
	// exact counts, which would scan the tables.
	SessionsEstimate  int64     `json:"sessions_estimate"`
	SnapshotsEstimate int64     `json:"snapshots_estimate"`
	Pool              poolStats `json:"pool"`
	// Retention: the serving process's settings and janitor
	// (consolestats.go).
	Retention *retentionStats `json:"retention,omitempty"`
}

type poolStats struct {
	MaxConns      int32 `json:"max_conns"`
	TotalConns    int32 `json:"total_conns"`
	IdleConns     int32 `json:"idle_conns"`
	AcquiredConns int32 `json:"acquired_conns"`
	Acquires      int64 `json:"acquires"`
	EmptyAcquires int64 `json:"empty_acquires"`
	WaitMS        int64 `json:"wait_ms"`
	Canceled      int64 `json:"canceled_acquires"`
}

func (o *pgOps) Stats(ctx context.Context) (any, error) {
	// The SQL is pgstore's (Store.Stats); this answer keeps its own shape.
	st, err := o.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	s := pgStats{Engine: "postgres", ServerVersion: st.ServerVersion, SizeBytes: st.SizeBytes}
	for _, t := range st.Tables {
		switch t.Name {
		case "sessions":
			s.SessionsEstimate = t.Rows
		case "state_snapshots":
			s.SnapshotsEstimate = t.Rows
		}
	}
	ps := o.pool.Stat()
	s.Pool = poolStats{
		MaxConns: ps.MaxConns(), TotalConns: ps.TotalConns(), IdleConns: ps.IdleConns(), AcquiredConns: ps.AcquiredConns(),
		Acquires: ps.AcquireCount(), EmptyAcquires: ps.EmptyAcquireCount(), WaitMS: ps.AcquireDuration().Milliseconds(),
		Canceled: ps.CanceledAcquireCount(),
	}
	if o.retention != nil {
		s.Retention = o.retention()
	}
	return s, nil
}

// Health is the store's own report (pgstore.Store.Health: reachable,
// writable, schema, connections, pool), in package health's vocabulary.
func (o *pgOps) Health(ctx context.Context, integrity string) (httpapi.HealthStatus, any) {
	h := o.store.Health(ctx)
	if integrity != "" {
		h.Checks = append(h.Checks, health.Check{Name: "integrity", Status: h.Status, Detail: "PostgreSQL checks its pages itself (data checksums); use pg_amcheck for a full check"})
	}
	return h.Status, h
}

func (o *pgOps) Checkpoint(ctx context.Context, mode string) (any, error) {
	return nil, fmt.Errorf("%w: WAL checkpoints are SQLite's; PostgreSQL checkpoints itself (run CHECKPOINT in psql as a superuser if you must)", httpapi.ErrUnsupported)
}

func (o *pgOps) Backup(ctx context.Context, dest string) (any, error) {
	return nil, o.BackupUnsupported()
}

// BackupUnsupported says, before any backup folder is looked at, that file
// backups are not PostgreSQL's (httpapi.BackupUnsupporter).
func (o *pgOps) BackupUnsupported() error {
	return fmt.Errorf("%w: online file backups are SQLite's; back PostgreSQL up with pg_dump or pg_basebackup", httpapi.ErrUnsupported)
}

func (o *pgOps) Explain(ctx context.Context, sql string) (any, error) {
	return nil, fmt.Errorf("%w: this explain is SQLite's EXPLAIN QUERY PLAN; on PostgreSQL run EXPLAIN in psql", httpapi.ErrUnsupported)
}

func (o *pgOps) figures(ctx context.Context) (httpapi.Figures, error) {
	ps := o.pool.Stat()
	f := httpapi.Figures{
		ReaderPoolSize:    int64(ps.MaxConns()),
		ReadersInUse:      int64(ps.AcquiredConns()),
		ReaderAcquires:    ps.AcquireCount(),
		ReaderWaits:       ps.EmptyAcquireCount(),
		ReaderWaitSeconds: ps.AcquireDuration().Seconds(),
		ReaderTimeouts:    ps.CanceledAcquireCount(),
	}
	var err error
	if f.DBBytes, err = o.store.DatabaseBytes(ctx); err != nil {
		return f, err
	}
	if o.janitor != nil {
		j := o.janitor()
		f.JanitorRuns, f.JanitorPrunedSnapshots, f.JanitorExpiredSessions, f.JanitorErrors = j.Runs, j.Pruned, j.Expired, j.Errors
		// pgstore is a state.Slicer too (issue 21): its paced slices.
		f.JanitorSlices, f.JanitorWriterSeconds, f.JanitorReclaimedSnapshots = j.Slices, j.WriterSeconds, j.Reclaimed
	}
	return f, nil
}
