package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cortex-db/cortex/sqlitedb"
)

// explainCmd is `cortex explain "<sql>"`: the query plan of a read-only
// statement.
type explainCmd struct {
	db   dbFlags
	json bool
}

func (c *explainCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("explain", `explain [flags] "<read-only SQL statement>"

The tables (schema in sqlitestore/migrations):
  sessions(sid, id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count)
  state_snapshots(session_id → sessions.sid, version, created_at, state, metadata, size_bytes, idempotency_key)
Times are Unix nanoseconds.`, stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON (the same fields as POST /v1/admin/explain)")
	if err := parseFlags(fs, args, 1<<20); err != nil {
		return err
	}
	sql := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if sql == "" {
		return withHint(fmt.Errorf("no statement given: %w", errUsage), "cortex explain \"SELECT * FROM sessions WHERE id = 'x'\"")
	}
	db, err := openForOps(ctx, &c.db, "explain")
	if err != nil {
		return err
	}
	defer db.Close()
	plan, err := db.Explain(ctx, sql)
	if err != nil {
		if errors.Is(err, sqlitedb.ErrNotReadOnly) {
			return withHint(err, "a single SELECT, VALUES or WITH … SELECT statement, without EXPLAIN")
		}
		return fmt.Errorf("explain: %w", err)
	}
	if plan == nil {
		plan = []sqlitedb.PlanRow{}
	}
	if c.json {
		return writeJSON(stdout, plan)
	}
	// Indent each row under its parent, like the sqlite3 shell.
	depth := map[int]int{}
	var b strings.Builder
	b.WriteString("QUERY PLAN\n")
	for _, r := range plan {
		d := depth[r.Parent] + 1
		depth[r.ID] = d
		b.WriteString(strings.Repeat("   ", d-1) + "`--" + r.Detail + "  (id " + strconv.Itoa(r.ID) + ")\n")
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
