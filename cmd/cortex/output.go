package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // plans and paths as they are: ">", not \u003e
	return enc.Encode(v)
}

// table prints rows of label/value pairs aligned in two columns.
func table(w io.Writer, rows [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// openForOps opens the database of an ops command: the SQLite file in
// --db, which must exist, also while a server is using it. The command's
// connections run no background checkpointer of their own.
func openForOps(ctx context.Context, f *dbFlags, cmd string) (*sqlitedb.DB, error) {
	if f.isPostgres() {
		return nil, withHint(fmt.Errorf("cortex %s works on a SQLite file, and --db is a PostgreSQL URL", cmd), "PostgreSQL has its own tools (psql, pg_dump, pg_stat_*); for the server's view use GET /v1/admin/stats or /v1/admin/health")
	}
	if _, err := os.Stat(f.db); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, withHint(fmt.Errorf("database %s does not exist", f.db), "--db <path to the database> (or CORTEX_DB)")
		}
		return nil, fmt.Errorf("database %s: %w", f.db, err)
	}
	cfg := f.sqliteConfig()
	cfg.CheckpointInterval = -1
	cfg.WALAutoCheckpoint = -1
	cfg.NoCloseCheckpoint = true
	cfg.Readers = 2
	if st, err := os.Stat(sqlitedb.LitestreamMetaDir(f.db)); err == nil && st.IsDir() && !f.walLimit.set {
		// Litestream replicates this file (its metadata folder is beside
		// it): the server runs with --replication=litestream, whose WAL
		// limit is larger; held to the default one, health would call
		// Litestream's normal WAL length degraded.
		cfg.WALLimit = sqlitedb.DefaultReplicationWALLimit
	}
	db, err := sqlitedb.Open(ctx, f.db, cfg)
	if err != nil {
		return nil, openAdvice(f.db, err)
	}
	return db, nil
}

// openAdvice adds what to do to an Open error that does not say it
// already (the library's hints are typed: sqlitedb.HintError).
func openAdvice(path string, err error) error {
	if state.Hint(err) != "" {
		return err // the library already said what to do
	}
	hint := ""
	switch {
	case errors.Is(err, sqlitedb.ErrCorrupt):
		hint = "check that --db names the right file; if it does, restore it from a backup: cortex restore --db " + path + " --from <backup>"
	case errors.Is(err, sqlitedb.ErrReadOnly):
		hint = "check the permissions of " + path + " and its folder"
	case errors.Is(err, sqlitedb.ErrNetworkFS):
		hint = "move the database to a local disk (or --allow-network-fs, unsafe)"
	case errors.Is(err, sqlitedb.ErrBusy):
		hint = "again, or raise --busy-timeout"
	default:
		return err
	}
	return &sqlitedb.HintError{Err: err, Hint: hint}
}

// withHint gives err a hint: what the user can do, without a "Try:"
// prefix. errorText prints it as the "Try:" line after the message; no
// error message of cmd's holds one.
func withHint(err error, hint string) error {
	return &sqlitedb.HintError{Err: err, Hint: hint}
}

// errorText is how the CLI shows err: its message, then the hint of the
// first error in its chain that carries one as a "Try:" line on its own.
// This is the one place a typed hint becomes text.
func errorText(err error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+errUsage.Error())
	if h := state.Hint(err); h != "" {
		msg += "\n" + tryLine(h)
	}
	return msg
}

// tryLine renders a hint as the CLI shows it, on a line of its own after
// the message (errorText) or a health check (cortex health).
func tryLine(hint string) string { return "Try: " + hint }
