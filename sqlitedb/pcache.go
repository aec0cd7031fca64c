//go:build cgo

package sqlitedb

// int cortex_pcache_install(void);
// void cortex_pcache_counts(long long *passed, long long *skipped);
import "C"

// pcacheInstalled reports whether pcache.c's wrapper over SQLite's page
// cache is in place. It is installed at package initialization, before
// anything in the process can have opened a database (SQLite takes page
// cache settings only before it initializes); when it could not be,
// connections use SQLite's page cache as it is, which is correct and
// slower to commit.
var pcacheInstalled = C.cortex_pcache_install() == 0

// pcacheCounts reports, for this process, the page cache truncates the
// wrapper passed on to SQLite's cache and those it skipped because they
// could remove nothing.
func pcacheCounts() (passed, skipped int64) {
	var p, s C.longlong
	C.cortex_pcache_counts(&p, &s)
	return int64(p), int64(s)
}
