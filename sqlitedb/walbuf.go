//go:build cgo

package sqlitedb

// int cortex_walbuf_register(void);
// void cortex_walbuf_counts(long long *writes, long long *calls);
import "C"

import "sync"

// walbufVFS is the name of the VFS shim in walbuf.c, which gathers each
// transaction's writes to the -wal file into one write(2) (SQLite makes two
// per page). Every connection this package opens uses it, when it could be
// registered; otherwise they use SQLite's default VFS, which is correct
// and slower.
const walbufVFS = "cortex-walbuf"

var walbufOnce = sync.OnceValue(func() bool { return C.cortex_walbuf_register() == 0 })

// walbufReady registers the shim on first use and reports whether it is
// available.
func walbufReady() bool { return walbufOnce() }

// walbufCounts reports, for this process, how many writes SQLite made to
// -wal files through the shim, and how many write calls the shim made for
// them.
func walbufCounts() (writes, calls int64) {
	var w, c C.longlong
	C.cortex_walbuf_counts(&w, &c)
	return int64(w), int64(c)
}
