//go:build cgo

package sqlitedb

/*
// The driver's copy of SQLite (or libsqlite3) defines it; weak, so that
// cgo's test link of this package alone succeeds.
extern long long sqlite3_memory_used(void) __attribute__((weak));

static long long cortex_sqlite_memory_used(void) {
	return sqlite3_memory_used ? sqlite3_memory_used() : -1;
}
*/
import "C"

// SQLiteMemory reports the bytes SQLite has allocated in this process, for
// every database open in it: page caches (up to Config.CacheSizeKiB per
// connection), prepared statements, schemas. -1 when it cannot be read.
func SQLiteMemory() int64 { return int64(C.cortex_sqlite_memory_used()) }
