package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cortex-db/cortex/sqlitedb"
)

// restoreCmd is `cortex restore --from`: replace the database's content
// with a backup.
type restoreCmd struct {
	db    dbFlags
	json  bool
	from  string
	force bool
	// verify is --verify-only: check that file and change nothing.
	verify string
}

func (c *restoreCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", "restore --from <backup> [flags]", stderr)
	c.db.register(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.StringVar(&c.from, "from", "", "the backup file to restore (checked before anything changes)")
	fs.BoolVar(&c.force, "force", false, "restore even while another process has the database open: its connections see the restored content at once")
	fs.StringVar(&c.verify, "verify-only", "", "check this restored file (integrity_check, schema version) before a server uses it, and change nothing")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if c.verify != "" {
		return verifyOnly(ctx, c.verify, c.json, stdout)
	}
	if c.from == "" {
		return fmt.Errorf("--from is required\nTry: cortex restore --db %s --from ./cortex-backup.db: %w", c.db.db, errUsage)
	}
	if c.db.isPostgres() {
		return fmt.Errorf("cortex restore works on a SQLite file, and --db is a PostgreSQL URL\nTry: pg_restore, or cortex migrate from a SQLite backup")
	}
	if _, err := os.Stat(c.from); err != nil {
		return fmt.Errorf("backup %s: %w\nTry: --from <an existing backup file>", c.from, err)
	}
	if !c.force {
		inUse, err := sqlitedb.InUse(c.db.db)
		if err != nil {
			return fmt.Errorf("check whether %s is in use: %w\nTry: stop the processes using it, then --force", c.db.db, err)
		}
		if inUse {
			return fmt.Errorf("database %s is in use by another process (a running cortex serve?)\nTry: stop that process first, or --force to restore under it (its clients see the restored content at once)", c.db.db)
		}
	}
	// The database may not exist yet: restoring into a new file is how a
	// lost database comes back.
	cfg := c.db.sqliteConfig()
	cfg.CheckpointInterval = -1
	cfg.Readers = 1
	db, err := sqlitedb.Open(ctx, c.db.db, cfg)
	if err != nil {
		if errors.Is(err, sqlitedb.ErrCorrupt) {
			return fmt.Errorf("%w\nTry: move the damaged %s (and its -wal, -shm) aside, then run this restore again to a fresh file", err, c.db.db)
		}
		return openAdvice(c.db.db, err)
	}
	defer db.Close()
	if c.force {
		// Under a running process, the schema must stay the one it runs
		// on: it upgrades an older one only when it opens the database.
		live, lerr := db.UserVersion(ctx)
		from, ferr := sqlitedb.FileUserVersion(ctx, c.from)
		if lerr == nil && ferr == nil && live != 0 && live != from {
			return fmt.Errorf("backup %s is at schema %d and %s at schema %d: a process using the database would go on with statements for the other schema; nothing was changed\nTry: stop the processes using %s, then restore without --force (the next open upgrades an older schema)",
				c.from, from, c.db.db, live, c.db.db)
		}
	}
	if err := db.Restore(ctx, c.from); err != nil {
		if errors.Is(err, sqlitedb.ErrCorrupt) {
			return fmt.Errorf("%w\nTry: an older backup; %s was not changed", err, c.db.db)
		}
		return fmt.Errorf("%w\nTry: check %s; the database was not changed", err, c.from)
	}
	res := map[string]any{"restored": true, "path": db.Path(), "from": c.from}
	if c.json {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "restored %s from %s\n", db.Path(), c.from)
	return nil
}
