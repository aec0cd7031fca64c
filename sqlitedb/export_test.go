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

// SetFileChunkBytes sets how much one call of the file copy copies, and
// returns a function that puts it back.
func SetFileChunkBytes(n int) func() {
	old := fileChunkBytes
	fileChunkBytes = n
	return func() { fileChunkBytes = old }
}

// SkipFileCopy makes BackupAuto skip the file copy, as if no moment with
// the WAL all in the file came, and returns a function that puts it back.
func SkipFileCopy() func() {
	noFileCopy = true
	return func() { noFileCopy = false }
}
