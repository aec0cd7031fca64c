package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// healthCmd is `cortex health`: exit 0 healthy, 1 degraded, 2 unhealthy
// (also when the database cannot be opened), 3 a usage error: nothing was
// checked (as a monitoring plugin's UNKNOWN), so that a typo in a probe's
// command line is not taken for a sick database.
type healthCmd struct {
	db        dbFlags
	json      bool
	integrity string
}

func (c *healthCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", `health [flags]

Checks a database file: a read, a write transaction, the WAL against
--wal-limit, checkpoint starvation, free disk and the SQLite version, and
with --integrity an integrity check.

Exit status: 0 healthy, 1 degraded, 2 unhealthy (also when the file cannot
be opened), 3 a usage error. Unlike the other commands, where 2 is a usage
error, 2 means unhealthy here, as monitoring plugins read it, so a typo in a
probe's command line (3: nothing was checked) is not taken for a sick
database.`, stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON (the same fields as GET /v1/admin/health)")
	fs.StringVar(&c.integrity, "integrity", "", "also run an integrity check here: quick or full (reads the whole database); only on a file no server holds; a server runs them as jobs: POST /v1/admin/integrity")
	if err := parseFlags(fs, args, 0); err != nil {
		var ee *exitError
		if errors.As(err, &ee) { // -h
			return err
		}
		return &exitError{code: 3, err: err}
	}
	switch c.integrity {
	case "", "quick", "full":
	default:
		return &exitError{code: 3, err: withHint(fmt.Errorf("--integrity %q: want quick or full: %w", c.integrity, errUsage), "cortex health --integrity quick")}
	}
	if c.integrity != "" && !c.db.isPostgres() {
		// A server's database is checked by the server, as a job it can
		// pace and report; a second full read beside it here is what the
		// jobs exist to avoid.
		held, err := sqlitedb.Held(ctx, c.db.db)
		if err == nil && held {
			return &exitError{code: 3, err: withHint(fmt.Errorf("%s is open in another process (a running cortex serve?): nothing was checked", c.db.db), fmt.Sprintf("ask the server: POST /v1/admin/integrity {\"mode\":\"%s\"}, then GET the job URL it answers (docs/operations-at-scale.md); or run this again with the server stopped", c.integrity))}
		}
	}
	db, err := openForOps(ctx, &c.db, "health")
	if err != nil {
		if c.db.isPostgres() { // not a file this command checks: nothing was
			return &exitError{code: 3, err: err}
		}
		return &exitError{code: 2, err: err}
	}
	defer db.Close()
	// The store's report: the engine's checks and the schema's.
	h := sqlitestore.New(db, state.Options{}).Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityMode(c.integrity)})
	if c.json {
		if err := writeJSON(stdout, h); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "STATUS  %s\n\n", h.Status)
		rows := [][2]string{{"CHECK", "STATUS\tDETAIL"}}
		for _, ch := range h.Checks {
			rows = append(rows, [2]string{ch.Name, string(ch.Status) + "\t" + ch.Detail})
			if ch.Hint != "" {
				rows = append(rows, [2]string{"", "\t" + tryLine(ch.Hint)})
			}
		}
		if err := table(stdout, rows); err != nil {
			return err
		}
	}
	switch h.Status {
	case health.Healthy:
		return nil
	case health.Degraded:
		return &exitError{code: 1}
	default:
		return &exitError{code: 2}
	}
}
