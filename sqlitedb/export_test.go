package sqlitedb

// Test-only access to unexported parts, for the external test package.

// CancelIntegrity cancels the running integrity job, if any.
func (db *DB) CancelIntegrity() bool {
	_, ok := db.CancelIntegrityJob("")
	return ok
}

// FileUserVersion reads PRAGMA user_version of the file at path.
var FileUserVersion = fileUserVersion

// InUse reports whether another process has the database at path open
// (through a descriptor of the test's own: see inUse).
var InUse = inUse
