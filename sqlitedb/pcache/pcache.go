//go:build cgo

// Package pcache is an opt-in wrapper over SQLite's default page cache
// that skips the end-of-transaction truncates that can remove nothing
// (pcache.c has the details: a page split's scratch page otherwise makes
// every commit after a split walk the whole cache).
//
// # Process-wide
//
// Install changes SQLite for the whole process (SQLITE_CONFIG_PCACHE2):
// every SQLite database any code in the process opens afterwards, through
// any driver, uses the wrapper. That is why it is a package of its own that
// sqlitedb does not import: importing sqlitedb changes nothing outside the
// databases it opens, and only a program that owns its process and opts in
// (first thing in main) links this. cortex itself does not: paired
// measurements showed no reliable gain (BENCHMARKS.md).
//
//	func main() {
//		pcache.Install() // before anything opens a database
//		…
//	}
package pcache

// int cortex_pcache_install(void);
// void cortex_pcache_counts(long long *passed, long long *skipped);
import "C"

import (
	"sync"
	"sync/atomic"
)

var (
	installed atomic.Bool
	once      = sync.OnceValue(func() bool {
		ok := C.cortex_pcache_install() == 0
		installed.Store(ok)
		return ok
	})
)

// Install puts the wrapper over SQLite's default page cache for the whole
// process and reports whether it is in place. It never changes what the
// cache holds. Call it before anything in the process opens a SQLite
// database: SQLite takes page cache settings only before it initializes,
// and after that Install reports false. Calling it again does nothing and
// reports the first call's result. Safe for concurrent use.
func Install() bool { return once() }

// Installed reports whether Install has put the wrapper in place.
func Installed() bool { return installed.Load() }

// Counts reports, for this process, the page cache truncates the wrapper
// passed on to SQLite's cache and those it skipped because they could
// remove nothing. Both are 0 unless Install succeeded.
func Counts() (passed, skipped int64) {
	var p, s C.longlong
	C.cortex_pcache_counts(&p, &s)
	return int64(p), int64(s)
}
