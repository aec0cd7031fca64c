//go:build cgo

package sqlitedb

// int cortex_pcache_install(void);
// void cortex_pcache_counts(long long *passed, long long *skipped);
import "C"

import (
	"sync"
	"sync/atomic"
)

var (
	pcacheOK   atomic.Bool
	pcacheOnce = sync.OnceValue(func() bool {
		ok := C.cortex_pcache_install() == 0
		pcacheOK.Store(ok)
		return ok
	})
)

// InstallPageCacheWrapper puts pcache.c's wrapper over SQLite's default
// page cache, for the whole process: every SQLite database any code in the
// process opens uses it afterwards (SQLITE_CONFIG_PCACHE2). The wrapper
// skips the page cache truncates that can remove nothing, which a page
// split's scratch page otherwise makes walk the whole cache at each commit
// (pcache.c has the details); it never changes what the cache holds.
//
// It is not installed unless this is called: a library must not change
// SQLite for the rest of its process. Call it first thing in main, before
// anything opens a database (SQLite takes page cache settings only before
// it initializes); it reports whether the wrapper is in place, and calling
// it again does nothing. BENCHMARKS.md has its measured effect.
func InstallPageCacheWrapper() bool { return pcacheOnce() }

// pcacheInstalled reports whether InstallPageCacheWrapper has put the
// wrapper in place.
func pcacheInstalled() bool { return pcacheOK.Load() }

// pcacheCounts reports, for this process, the page cache truncates the
// wrapper passed on to SQLite's cache and those it skipped because they
// could remove nothing.
func pcacheCounts() (passed, skipped int64) {
	var p, s C.longlong
	C.cortex_pcache_counts(&p, &s)
	return int64(p), int64(s)
}
