package sqlitestore

import (
	"context"
	"fmt"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb"
)

// SchemaVersion is the newest schema version this build knows: the number
// of the last of Migrations.
func SchemaVersion() int {
	ms, err := sqlitedb.LoadMigrations(Migrations())
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Health runs the engine's checks (sqlitedb.DB.Health: a read, a write
// transaction, the WAL against its limit, checkpoint starvation, free disk,
// the SQLite version, I/O errors and damage met, and an integrity check
// when opts asks for one) and the store's own: that the schema is the
// version this build knows. It never fails: a failing check makes the
// status Unhealthy or Degraded and says why (and, when something can be
// done, what, in its Hint). pgstore.Store.Health is its PostgreSQL twin;
// both report in package health's vocabulary. Safe for concurrent use.
func (s *Store) Health(ctx context.Context, opts sqlitedb.HealthOptions) sqlitedb.Health {
	h := s.db.Health(ctx, opts)
	h.Add(schemaCheck(ctx, s.db))
	return h
}

// schemaCheck compares the database's schema version with this build's.
func schemaCheck(ctx context.Context, db *sqlitedb.DB) health.Check {
	c := health.Check{Name: "schema"}
	have, err := db.UserVersion(ctx)
	want := SchemaVersion()
	switch {
	case err != nil:
		c.Status, c.Detail = health.Unhealthy, fmt.Sprintf("read the schema version: %v", err)
	case have == want:
		c.Status, c.Detail = health.Healthy, fmt.Sprintf("version %d", have)
	case have < want:
		c.Status, c.Detail = health.Degraded, fmt.Sprintf("version %d, this build's is %d", have, want)
		c.Hint = "start cortex serve on it, which migrates it (a backup first is wise)"
	default:
		c.Status, c.Detail = health.Degraded, fmt.Sprintf("version %d is newer than this build's %d", have, want)
		c.Hint = "use the cortex release that wrote it, or a newer one"
	}
	return c
}
