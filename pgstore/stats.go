package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cortex-db/cortex/health"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Stats are the figures of a PostgreSQL store: the server, the database's
// and tables' sizes, and the connection pool. Field names match the SQLite
// engine's where the meaning is the same.
type Stats struct {
	// Engine is "postgresql".
	Engine        string `json:"engine"`
	ServerVersion string `json:"server_version"`
	Database      string `json:"database"`
	// SchemaVersion is the newest migration applied to the database.
	SchemaVersion int `json:"schema_version"`
	// SizeBytes is pg_database_size: every table, index and TOAST of the
	// database, not only cortex's.
	SizeBytes int64        `json:"size_bytes"`
	Tables    []TableStats `json:"tables"`
	Pool      PoolStats    `json:"pool"`
	// ReadPool is the pool of the store's reads (Config.ReadConns).
	ReadPool PoolStats `json:"read_pool"`
	// ReadOnly is true on a standby (pg_is_in_recovery): it cannot take writes.
	ReadOnly bool `json:"read_only"`
}

// TableStats are one table's figures.
type TableStats struct {
	Name string `json:"name"`
	// Rows is PostgreSQL's estimate of live rows (pg_stat_user_tables
	// n_live_tup), not an exact count.
	Rows int64 `json:"rows_estimate"`
	// TotalBytes is pg_total_relation_size: TableBytes + IndexBytes.
	TotalBytes int64 `json:"total_bytes"`
	// TableBytes is pg_table_size: the heap with its TOAST and maps.
	TableBytes int64 `json:"table_bytes"`
	// IndexBytes is pg_indexes_size.
	IndexBytes int64 `json:"index_bytes"`
}

// PoolStats are the connection pool's figures (pgxpool.Stat).
type PoolStats struct {
	// MaxConns is the pool's size.
	MaxConns int32 `json:"max_conns"`
	// TotalConns = InUse + IdleConns + Constructing.
	TotalConns   int32 `json:"total_conns"`
	InUse        int32 `json:"in_use"`
	IdleConns    int32 `json:"idle_conns"`
	Constructing int32 `json:"constructing"`
	// Acquires counts connections handed out; Waits those that had to wait
	// for one (the pool was empty), for WaitMS in all.
	Acquires int64 `json:"acquires"`
	Waits    int64 `json:"waits"`
	WaitMS   int64 `json:"wait_ms"`
	// AcquireMS is the total time spent acquiring, waits included.
	AcquireMS int64 `json:"acquire_ms"`
	// CanceledAcquires counts acquires abandoned by their context.
	CanceledAcquires int64 `json:"canceled_acquires"`
	// NewConns counts connections opened; LifetimeClosed and IdleClosed
	// those closed for age and for idleness.
	NewConns       int64 `json:"new_conns"`
	LifetimeClosed int64 `json:"lifetime_closed"`
	IdleClosed     int64 `json:"idle_closed"`
}

func poolStats(st *pgxpool.Stat) PoolStats {
	return PoolStats{
		MaxConns:         st.MaxConns(),
		TotalConns:       st.TotalConns(),
		InUse:            st.AcquiredConns(),
		IdleConns:        st.IdleConns(),
		Constructing:     st.ConstructingConns(),
		Acquires:         st.AcquireCount(),
		Waits:            st.EmptyAcquireCount(),
		WaitMS:           st.EmptyAcquireWaitTime().Milliseconds(),
		AcquireMS:        st.AcquireDuration().Milliseconds(),
		CanceledAcquires: st.CanceledAcquireCount(),
		NewConns:         st.NewConnsCount(),
		LifetimeClosed:   st.MaxLifetimeDestroyCount(),
		IdleClosed:       st.MaxIdleDestroyCount(),
	}
}

// PoolStats returns the pool's figures without a query; it is cheap enough
// for every metrics scrape.
func (s *Store) PoolStats() PoolStats { return poolStats(s.pool.Stat()) }

// ReadPoolStats returns the read pool's figures, as PoolStats.
func (s *Store) ReadPoolStats() PoolStats { return poolStats(s.read.Stat()) }

// DatabaseBytes is pg_database_size of the store's database: one cheap
// query, for metrics scraped often (Stats also reads every table's size).
func (s *Store) DatabaseBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0, translate("read the database size", err)
	}
	return n, nil
}

// cortexTables are the tables Stats reports.
var cortexTables = []string{"sessions", "state_snapshots", "snapshot_idempotency_keys", "schema_migrations"}

// Stats reads the store's figures. It changes nothing. Errors are
// translated (state.ErrUnavailable when PostgreSQL cannot be reached).
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Engine: "postgresql", Pool: s.PoolStats(), ReadPool: s.ReadPoolStats()}
	err := s.pool.QueryRow(ctx, `
		SELECT current_setting('server_version'), current_database(),
		       pg_database_size(current_database()), pg_is_in_recovery(),
		       (SELECT coalesce(max(version), 0) FROM schema_migrations)`).
		Scan(&st.ServerVersion, &st.Database, &st.SizeBytes, &st.ReadOnly, &st.SchemaVersion)
	if err != nil {
		return Stats{}, translate("stats: read database figures", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT t.name,
		       coalesce(u.n_live_tup, 0),
		       pg_total_relation_size(c.oid), pg_table_size(c.oid), pg_indexes_size(c.oid)
		FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord)
		JOIN pg_class c ON c.oid = to_regclass(t.name)
		LEFT JOIN pg_stat_user_tables u ON u.relid = c.oid
		ORDER BY t.ord`, cortexTables)
	if err != nil {
		return Stats{}, translate("stats: read table sizes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ts TableStats
		if err := rows.Scan(&ts.Name, &ts.Rows, &ts.TotalBytes, &ts.TableBytes, &ts.IndexBytes); err != nil {
			return Stats{}, translate("stats: read table sizes", err)
		}
		st.Tables = append(st.Tables, ts)
	}
	if err := rows.Err(); err != nil {
		return Stats{}, translate("stats: read table sizes", err)
	}
	return st, nil
}

// Health is the verdict and the checks behind it (package health's
// vocabulary), and the figures they read.
type Health struct {
	health.Report
	// Reachable is true when PostgreSQL answered a query; LatencyMS is that
	// round trip, pool wait included.
	Reachable bool      `json:"reachable"`
	LatencyMS float64   `json:"latency_ms"`
	Pool      PoolStats `json:"pool"`
	CheckedAt time.Time `json:"checked_at"`
}

// HealthTimeout bounds the queries of one Health call.
const HealthTimeout = 2 * time.Second

// Health checks that PostgreSQL answers within HealthTimeout, accepts writes
// (not a standby), has the schema this build expects and has connections to
// spare. It never fails: a failing check makes the status Unhealthy and says
// why. Safe for concurrent use.
func (s *Store) Health(ctx context.Context) Health {
	h := Health{Report: health.NewReport(), Pool: s.PoolStats(), CheckedAt: s.now()}
	add := func(name string, st health.Status, detail string) {
		h.Add(health.Check{Name: name, Status: st, Detail: detail})
	}
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()

	var (
		readOnly      bool
		schema        int
		backends, max int64
	)
	start := time.Now()
	err := s.pool.QueryRow(ctx, `
		SELECT pg_is_in_recovery(),
		       (SELECT coalesce(max(version), 0) FROM schema_migrations),
		       (SELECT count(*) FROM pg_stat_activity),
		       current_setting('max_connections')::bigint`).
		Scan(&readOnly, &schema, &backends, &max)
	h.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		add("reachable", health.Unhealthy, translate("query PostgreSQL", err).Error())
		return h
	}
	h.Reachable = true
	add("reachable", health.Healthy, fmt.Sprintf("answered in %.1f ms", h.LatencyMS))

	if readOnly {
		add("writable", health.Unhealthy, "PostgreSQL is a standby in recovery and refuses writes; point --db at the primary")
	} else {
		add("writable", health.Healthy, "")
	}

	switch want := SchemaVersion(); {
	case schema == want:
		add("schema", health.Healthy, fmt.Sprintf("version %d", schema))
	case schema < want:
		add("schema", health.Unhealthy, fmt.Sprintf("version %d, this build needs %d; restart cortex to migrate", schema, want))
	default:
		add("schema", health.Degraded, fmt.Sprintf("version %d is newer than this build's %d; upgrade cortex", schema, want))
	}

	if max > 0 && backends*10 >= max*9 {
		add("server_connections", health.Degraded, fmt.Sprintf("%d of max_connections %d in use; raise max_connections or lower pool sizes", backends, max))
	} else {
		add("server_connections", health.Healthy, fmt.Sprintf("%d of %d in use", backends, max))
	}

	if p := h.Pool; p.InUse >= p.MaxConns {
		add("pool", health.Degraded, fmt.Sprintf("all %d connections in use; callers wait (raise the pool size if this persists)", p.MaxConns))
	} else {
		add("pool", health.Healthy, fmt.Sprintf("%d of %d connections in use", p.InUse, p.MaxConns))
	}
	return h
}
