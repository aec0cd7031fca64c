package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/cortex-db/cortex/sqlitedb"
)

// restoreCmd is `cortex restore --from`: replace the database's content
// with a backup.
type restoreCmd struct {
	db    dbFlags
	json  bool
	from  string
	force bool
}

func (c *restoreCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", "restore --from <backup> [flags]", stderr)
	c.db.register(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.StringVar(&c.from, "from", "", "the backup file to restore (checked before anything changes)")
	fs.BoolVar(&c.force, "force", false, "restore even while another process has the database open: its connections see the restored content at once")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
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
		inUse, err := databaseInUse(c.db.db)
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

// SQLite's lock bytes in the database file (os_unix.c, sqlite3.c): the
// SHARED range starts two bytes past PENDING_BYTE (1 GiB) and is 510 bytes
// long.
const (
	sharedFirst = 0x40000000 + 2
	sharedSize  = 510
)

// databaseInUse reports whether another process has the database at path
// open. In WAL mode every connection holds a SHARED lock on the database
// file for as long as it is open (that is how the last one to close knows
// it may checkpoint and delete the WAL), so a non-blocking attempt at the
// EXCLUSIVE lock, released at once, tells. A database in a rollback journal
// mode holds no lock between transactions and reads as not in use.
func databaseInUse(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: sharedFirst, Len: sharedSize}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return true, nil
		}
		return false, err
	}
	lk.Type = unix.F_UNLCK
	return false, unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
}
