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
		return nil, fmt.Errorf("cortex %s works on a SQLite file, and --db is a PostgreSQL URL\nTry: PostgreSQL has its own tools (psql, pg_dump, pg_stat_*); for the server's view use GET /v1/admin/stats or /v1/admin/health", cmd)
	}
	if _, err := os.Stat(f.db); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("database %s does not exist\nTry: --db <path to the database> (or CORTEX_DB)", f.db)
		}
		return nil, fmt.Errorf("database %s: %w", f.db, err)
	}
	cfg := f.sqliteConfig()
	cfg.CheckpointInterval = -1
	cfg.WALAutoCheckpoint = -1
	cfg.NoCloseCheckpoint = true
	cfg.Readers = 2
	db, err := sqlitedb.Open(ctx, f.db, cfg)
	if err != nil {
		return nil, openAdvice(f.db, err)
	}
	return db, nil
}

// openAdvice adds what to do to an Open error.
func openAdvice(path string, err error) error {
	if strings.Contains(err.Error(), "Try:") {
		return err // the library already said what to do
	}
	switch {
	case errors.Is(err, sqlitedb.ErrCorrupt):
		return fmt.Errorf("%w\nTry: check that --db names the right file; if it does, restore it from a backup: cortex restore --db %s --from <backup>", err, path)
	case errors.Is(err, sqlitedb.ErrReadOnly):
		return fmt.Errorf("%w\nTry: check the permissions of %s and its folder", err, path)
	case errors.Is(err, sqlitedb.ErrNetworkFS):
		return fmt.Errorf("%w\nTry: move the database to a local disk (or --allow-network-fs, unsafe)", err)
	case errors.Is(err, sqlitedb.ErrBusy):
		return fmt.Errorf("%w\nTry: again, or raise --busy-timeout", err)
	}
	return err
}
