package sqlitedb

// Test-only access to unexported parts, for the external test package.

// CancelIntegrity cancels the running integrity job, if any.
func (db *DB) CancelIntegrity() bool {
	_, ok := db.CancelIntegrityJob("")
	return ok
}

// FileUserVersion reads PRAGMA user_version of the file at path.
var FileUserVersion = fileUserVersion
