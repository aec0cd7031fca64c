package sqlitedb

import "context"

// VerifyFile checks a database file that no process is using (a restored
// copy, a backup) before a server uses it: it must be a SQLite database and
// pass PRAGMA integrity_check, read through a read-only connection that
// changes nothing. It returns the file's schema version (PRAGMA
// user_version). A failed check wraps ErrCorrupt.
func VerifyFile(ctx context.Context, path string) (schemaVersion int, err error) {
	if err := checkFile(ctx, path); err != nil {
		return 0, err
	}
	return fileUserVersion(ctx, path)
}
