package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// checkFileModes looks at the modes of a SQLite database and its -wal and
// -shm files, by path (nothing is opened): any bit for the group or others
// is warned about, since sessions may hold anything their clients put in
// them, and SQLite gives a new -wal and -shm the database file's mode. With
// fix, the files that exist are brought to 0600 instead.
//
// Not by default: a file made readable for a group on purpose (a backup
// agent running as another user) would stop working silently; the warning
// names the flag.
func checkFileModes(db string, fix bool, log *slog.Logger) error {
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check the mode of %s: %w", p, err)
		}
		mode := st.Mode().Perm()
		if !st.Mode().IsRegular() || mode&0o077 == 0 {
			continue
		}
		if !fix {
			log.Warn("the database file can be read by other users; start with --fix-permissions to make it 0600 (or chmod 600 it and its -wal and -shm)",
				"path", p, "mode", fmt.Sprintf("%#o", mode))
			continue
		}
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("--fix-permissions: chmod 600 %s: %w", p, err)
		}
		log.Info("file mode fixed", "path", p, "was", fmt.Sprintf("%#o", mode), "now", "0600")
	}
	return nil
}
