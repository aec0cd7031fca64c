//go:build cgo

// Package crashvfs is a test harness for power loss: an SQLite VFS that
// journals every write, sync, truncate and delete made to the database,
// -wal and rollback journal files it opens, and a replayer that builds the
// files as a power cut at any point of that journal could have left them.
//
// The VFS passes every call on to SQLite's default ("unix") VFS, so the
// workload runs on real files at full speed; the journal is kept in memory.
// Only tests import this package: it is not part of sqlitedb's API and not
// linked into any binary. Its C half needs SQLite's symbols, which the
// SQLite driver linked into the same test binary provides.
package crashvfs

// #cgo CFLAGS: -I${SRCDIR}/../sqliteabi
// #include <stdlib.h>
// int crashvfs_register(void);
// void crashvfs_start(void);
// int crashvfs_stop(void);
// void crashvfs_mark(long long v);
// long crashvfs_nops(void);
// void crashvfs_op(long i, int *kind, int *file, long long *off, long long *len, const unsigned char **data);
// const char *crashvfs_name(int i);
// void crashvfs_fail(long after);
// long crashvfs_failed(void);
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

// Name is the VFS's name, for a connection's vfs= URI parameter.
const Name = "cortex-crash"

var registerOnce = sync.OnceValue(func() error {
	if rc := C.crashvfs_register(); rc != 0 {
		return errors.New("crashvfs: could not register the VFS (is an SQLite driver linked in?)")
	}
	return nil
})

// Register registers the VFS with SQLite; it is safe to call more than once.
func Register() error { return registerOnce() }

// Start empties the journal and starts recording. One recording at a time
// per process: tests that use it must not run in parallel.
func Start() { C.crashvfs_start() }

// Stop stops recording and returns the journal.
func Stop() (Journal, error) {
	if C.crashvfs_stop() != 0 {
		return Journal{}, errors.New("crashvfs: the journal ran out of memory")
	}
	n := int(C.crashvfs_nops())
	ops := make([]Op, n)
	for i := range n {
		var kind, file C.int
		var off, length C.longlong
		var data *C.uchar
		C.crashvfs_op(C.long(i), &kind, &file, &off, &length, &data)
		o := Op{Kind: Kind(kind)}
		if file >= 0 {
			o.File = C.GoString(C.crashvfs_name(file))
		}
		switch o.Kind {
		case OpWrite:
			o.Off = int64(off)
			o.Data = C.GoBytes(unsafe.Pointer(data), C.int(length))
		case OpTruncate:
			o.Off = int64(off)
		case OpMark:
			o.Mark = int64(off)
		}
		ops[i] = o
	}
	return Journal{Ops: ops}, nil
}

// Mark journals a marker: a test's note that, at this point, it holds an
// acknowledgement (say, commit v returned).
func Mark(v int64) { C.crashvfs_mark(C.longlong(v)) }

// FailWALWrites makes every write to a -wal file fail with
// SQLITE_IOERR_WRITE once after more have succeeded; after < 0 turns it
// off. It returns how many writes failed since the last call.
func FailWALWrites(after int) (failed int) {
	n := int(C.crashvfs_failed())
	C.crashvfs_fail(C.long(after))
	return n
}
