//go:build cgo

package sqlitedb

/*
// The driver's copy of SQLite (or libsqlite3) defines it; weak, so that
// cgo's test link of this package alone succeeds.
extern long long sqlite3_memory_used(void) __attribute__((weak));

static long long cortex_sqlite_memory_used(void) {
	return sqlite3_memory_used ? sqlite3_memory_used() : -1;
}

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static int cortex_limit_arenas(int n) {
#ifdef __GLIBC__
	if (getenv("MALLOC_ARENA_MAX") != NULL) {
		return 0;
	}
	return mallopt(M_ARENA_MAX, n);
#else
	return 0;
#endif
}
*/
import "C"

// LimitMallocArenas caps the C library's malloc arenas at n, unless the
// environment sets MALLOC_ARENA_MAX; it reports whether it did (only with
// glibc). glibc gives threads that call malloc arenas of their own, up to
// 8 per core; cgo runs SQLite's calls on whichever thread runs the
// goroutine, so the page caches' allocations and frees spread over many
// arenas, each keeping what was freed in it, and the process's memory
// creeps up. Measured with cortex bench's mixed load for 5 minutes:
// anonymous memory 34 → 51 MiB and still rising; with 2 arenas, 31 → 37
// MiB, flat after the first minute, at the same throughput. The setting
// is process-wide: a program's main calls it once, early; a library
// should leave it to the program.
func LimitMallocArenas(n int) bool { return C.cortex_limit_arenas(C.int(n)) == 1 }

// SQLiteMemory reports the bytes SQLite has allocated in this process, for
// every database open in it: page caches (up to Config.CacheSizeKiB per
// connection), prepared statements, schemas. -1 when it cannot be read.
func SQLiteMemory() int64 { return int64(C.cortex_sqlite_memory_used()) }
