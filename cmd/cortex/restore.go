package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/cortex-db/cortex/sqlitedb"
)

// restoreCmd is `cortex restore --from`: replace the database file with a
// backup, with no process holding it.
type restoreCmd struct {
	db             dbFlags
	json           bool
	from           string
	check          string
	discardCurrent bool
	force          bool
	// verify is --verify-only: check that file and change nothing.
	verify string
}

func (c *restoreCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", "restore --from <backup> [flags]   (stop the server first: restore refuses while the database is open)", stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.StringVar(&c.from, "from", "", "the backup file to restore")
	fs.StringVar(&c.check, "check", "quick", "verify the copy before it replaces the database: quick (quick_check), full (integrity_check) or none")
	fs.BoolVar(&c.discardCurrent, "discard-current", false, "remove the current database instead of keeping it as <name>.replaced-<time>")
	fs.BoolVar(&c.force, "force", false, "removed: restore no longer runs under a running server (see docs/operations-at-scale.md)")
	fs.StringVar(&c.verify, "verify-only", "", "check this restored file (integrity_check, schema version) before a server uses it, and change nothing")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if c.verify != "" {
		return verifyOnly(ctx, c.verify, c.json, stdout)
	}
	if c.force {
		return withHint(fmt.Errorf("--force is gone: a restore under a running server swapped the pages under its open connections and their cached state (statement caches, cached keys), and went through the WAL at twice the database's size: %w", errUsage), fmt.Sprintf("stop the server, run cortex restore --db %s --from %s, start the server", c.db.db, c.from))
	}
	if c.from == "" {
		return withHint(fmt.Errorf("--from is required: %w", errUsage), fmt.Sprintf("cortex restore --db %s --from ./cortex-backup.db", c.db.db))
	}
	switch c.check {
	case "quick", "full", "none":
	default:
		return fmt.Errorf("--check %q: want quick, full or none: %w", c.check, errUsage)
	}
	if c.db.isPostgres() {
		return withHint(fmt.Errorf("cortex restore works on a SQLite file, and --db is a PostgreSQL URL"), "pg_restore, or cortex migrate from a SQLite backup")
	}
	if _, err := os.Stat(c.from); err != nil {
		return withHint(fmt.Errorf("backup %s: %w", c.from, err), "--from <an existing backup file>")
	}
	p := newCountProgress(stderr, c.json, "restore", "MiB")
	res, err := sqlitedb.RestoreFile(ctx, c.db.db, c.from, sqlitedb.RestoreOptions{
		Check:          sqlitedb.IntegrityMode(c.check),
		DiscardCurrent: c.discardCurrent,
		Progress:       func(done, total int64) { p.set(done>>20, total>>20) },
	})
	p.done(err == nil)
	if err != nil {
		switch {
		case errors.Is(err, sqlitedb.ErrInUse):
			return withHint(err, fmt.Sprintf("stop the server (or whatever has %s open), then run this restore again; nothing was changed", c.db.db))
		case errors.Is(err, sqlitedb.ErrDiskFull):
			return withHint(err, fmt.Sprintf("free space beside %s; nothing was changed", c.db.db))
		case errors.Is(err, sqlitedb.ErrCorrupt):
			return withHint(err, fmt.Sprintf("an older backup, or --discard-current if the current database is the damaged one; %s was not changed", c.db.db))
		}
		return withHint(err, fmt.Sprintf("check %s; the database was not changed", c.from))
	}
	if c.json {
		return writeJSON(stdout, res)
	}
	rows := [][2]string{
		{"path", res.Path},
		{"from", res.From},
		{"bytes", strconv.FormatInt(res.Bytes, 10) + " (" + formatBytes(res.Bytes) + ")"},
		{"copy_ms", strconv.FormatInt(res.CopyMS, 10)},
		{"check", string(res.Check) + " in " + strconv.FormatInt(res.CheckMS, 10) + " ms"},
	}
	if res.Replaced != "" {
		rows = append(rows, [2]string{"replaced", res.Replaced + " (the previous database; remove it when you no longer need it)"})
	} else {
		rows = append(rows, [2]string{"replaced", "(none kept)"})
	}
	return table(stdout, rows)
}
