//go:build cgo

package sqlitedb

// #cgo CFLAGS: -I${SRCDIR}/internal/sqliteabi
// #include <stdlib.h>
// int cortex_walbuf_register(const char *name, const char *base, int buffer);
// int cortex_walbuf_wal_index(const char *path, unsigned *mx, unsigned *backfill);
// void cortex_walbuf_counts(long long *writes, long long *calls);
// long long cortex_walbuf_db_syncs(void);
// void cortex_walbuf_break(int on);
// int cortex_walbuf_version(void);
// typedef struct sqlite3_file sqlite3_file;
// sqlite3_file *cortex_vfs_open_wal(const char *path, int *rc);
// int cortex_vfs_read(sqlite3_file *f, void *buf, int n, long long off);
// void cortex_vfs_close(sqlite3_file *f);
import "C"

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"unsafe"
)

// walbufVFS is the name of the VFS shim in walbuf.c over SQLite's default
// VFS; it gathers each transaction's writes to the -wal file into one
// write(2) (SQLite makes two per page). Connections use it unless
// Config.NoWALBuffer is set or it cannot be registered (an SQLite version
// outside the range it was tested with); then they use SQLite's default
// VFS, which is correct and slower. docs/design-walbuf.md has its contract.
const walbufVFS = "cortex-walbuf"

var walbufReg struct {
	mu    sync.Mutex
	names map[string]error // VFS name → registration result
}

// walbufOver registers (once) the shim over the VFS named base ("" for
// SQLite's default) and returns its name, or why it is not available.
// With buffer false the shim only passes calls on, and still answers
// walbufIndex and the cortex_wal_sync pragma (Config.NoWALBuffer).
func walbufOver(base string, buffer bool) (string, error) {
	name := walbufVFS
	if !buffer {
		name += "-nobuf"
	}
	if base != "" {
		name += "-over-" + base
	}
	walbufReg.mu.Lock()
	defer walbufReg.mu.Unlock()
	if err, ok := walbufReg.names[name]; ok {
		return name, err
	}
	if walbufReg.names == nil {
		walbufReg.names = map[string]error{}
	}
	cname := C.CString(name) // kept for the life of the process, as SQLite requires
	var cbase *C.char
	if base != "" {
		cbase = C.CString(base)
		defer C.free(unsafe.Pointer(cbase))
	}
	var err error
	cbuf := C.int(0)
	if buffer {
		cbuf = 1
	}
	switch rc := C.cortex_walbuf_register(cname, cbase, cbuf); rc {
	case 0:
	case 12: // SQLITE_NOTFOUND
		err = fmt.Errorf("SQLite %s is outside the versions walbuf was tested with (3.54.x)", versionString(int(C.cortex_walbuf_version())))
	default:
		err = fmt.Errorf("walbuf could not be registered (SQLite result code %d)", int(rc))
	}
	if err != nil {
		C.free(unsafe.Pointer(cname))
	}
	walbufReg.names[name] = err
	return name, err
}

// walbufReady reports whether the shim over the default VFS is available.
func walbufReady() bool {
	_, err := walbufOver("", true)
	return err == nil
}

// walbufIndex reads mxFrame and nBackfill of the WAL index from the -shm
// mapping of an open connection (through the shim) to the database SQLite
// names path: no descriptor of the -shm is opened. ok is false when no
// such connection has it mapped.
func walbufIndex(path string) (mx, backfill int64, ok bool) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var m, b C.uint
	if C.cortex_walbuf_wal_index(cpath, &m, &b) == 0 {
		return 0, 0, false
	}
	return int64(m), int64(b), true
}

func versionString(n int) string {
	return fmt.Sprintf("%d.%d.%d", n/1_000_000, n/1_000%1_000, n%1_000)
}

// walbufCounts reports, for this process, how many writes SQLite made to
// -wal files through the shim, and how many write calls the shim made for
// them.
func walbufCounts() (writes, calls int64) {
	var w, c C.longlong
	C.cortex_walbuf_counts(&w, &c)
	return int64(w), int64(c)
}

// walbufDBSyncs reports, for this process, how many times the shim synced
// a database file for "PRAGMA cortex_db_sync" (syncDB).
func walbufDBSyncs() int64 { return int64(C.cortex_walbuf_db_syncs()) }

// walbufBreakForTest makes the shim lose track of where transactions end
// (no flush at a commit frame, the WAL-index barrier, or the check
// pragma), so tests can show the power-loss suite catches it.
func walbufBreakForTest(on bool) {
	v := 0
	if on {
		v = 1
	}
	C.cortex_walbuf_break(C.int(v))
}

// vfsFile is a file opened read-only through SQLite's default VFS
// (openWALReadOnly).
type vfsFile struct {
	f    *C.sqlite3_file
	name *C.char
}

// openWALReadOnly opens path, a database's -wal file, read-only through
// SQLite's default VFS: the xOpen, xRead and xClose SQLite itself makes.
// A missing file is fs.ErrNotExist.
func openWALReadOnly(path string) (*vfsFile, error) {
	name := C.CString(path)
	var rc C.int
	f := C.cortex_vfs_open_wal(name, &rc)
	if f == nil {
		C.free(unsafe.Pointer(name))
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fs.ErrNotExist
		}
		return nil, fmt.Errorf("open %s through SQLite's VFS: result code %d", path, int(rc))
	}
	return &vfsFile{f: f, name: name}, nil
}

// ReadAt reads len(p) bytes at off; past the end of the file it returns
// io.EOF.
func (v *vfsFile) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf := C.malloc(C.size_t(len(p)))
	defer C.free(buf)
	switch rc := C.cortex_vfs_read(v.f, buf, C.int(len(p)), C.longlong(off)); rc {
	case 0:
		copy(p, unsafe.Slice((*byte)(buf), len(p)))
		return len(p), nil
	case 10 | 2<<8: // SQLITE_IOERR_SHORT_READ
		return 0, io.EOF
	default:
		return 0, fmt.Errorf("read at %d through SQLite's VFS: result code %d", off, int(rc))
	}
}

// Close closes the file.
func (v *vfsFile) Close() error {
	C.cortex_vfs_close(v.f)
	C.free(unsafe.Pointer(v.name))
	return nil
}
