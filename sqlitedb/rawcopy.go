//go:build cgo

package sqlitedb

// #include <stdlib.h>
// typedef struct sqlite3 sqlite3;
// int cortex_raw_copy_ready(void);
// int cortex_raw_copy(sqlite3 *db, int fd, long long off, long long n, char *buf, int bufLen);
import "C"

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"syscall"
	"unsafe"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// errNoRawCopy: this build cannot read the database file through SQLite's
// handle (the driver is not mattn/go-sqlite3, or its layout changed).
var errNoRawCopy = errors.New("the file copy needs the driver's connection handle, which this build does not expose")

// rawConn is the sqlite3 handle under a driver connection, or nil. The
// driver keeps it in an unexported field; reflect reads it without
// changing anything (as rawStmt does for statements).
func rawConn(dc driver.Conn) unsafe.Pointer {
	c, ok := dc.(*sqlite3.SQLiteConn)
	if !ok || c == nil || C.cortex_raw_copy_ready() == 0 {
		return nil
	}
	f := reflect.ValueOf(c).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil
	}
	return f.UnsafePointer()
}

// rawCopy copies n bytes at off of dc's main database file to fd at the
// same offset, through buf (rawcopy.c).
func rawCopy(dc driver.Conn, fd uintptr, off, n int64, buf []byte) error {
	h := rawConn(dc)
	if h == nil {
		return errNoRawCopy
	}
	// buf is C memory (see newRawBuf): passing a Go slice would pin it
	// for each call, and this runs once per chunk.
	rc := C.cortex_raw_copy((*C.sqlite3)(h), C.int(fd), C.longlong(off), C.longlong(n), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
	switch {
	case rc == 0:
		return nil
	case rc < 0:
		return fmt.Errorf("write the copy: %w", syscall.Errno(-rc))
	default:
		return sqlite3.Error{Code: sqlite3.ErrNo(rc & 0xff), ExtendedCode: sqlite3.ErrNoExtended(rc)}
	}
}

// newRawBuf allocates n bytes of C memory for rawCopy; free releases it.
func newRawBuf(n int) (buf []byte, free func()) {
	p := C.malloc(C.size_t(n))
	return unsafe.Slice((*byte)(p), n), func() { C.free(p) }
}
