//go:build cgo

package sqlitedb

// #include <stdlib.h>
// typedef struct sqlite3 sqlite3;
// int cortex_raw_copy_ready(void);
// void *cortex_raw_buf(size_t n);
// int cortex_raw_copy(sqlite3 *db, int fd, long long off, long long n, char *buf, int bufLen, int shortOK);
// int cortex_copy_pages(sqlite3 *db, int fd, const unsigned char *bits, unsigned long long from, unsigned long long to,
//                       int pageSize, char *buf, int bufLen, int shortOK, long long maxPages, long long *copied,
//                       unsigned long long *next);
// void *cortex_dirty_start(const char *name, unsigned long long pages);
// int cortex_dirty_swap(void *set, unsigned char **bits, unsigned long long *nbits);
// void cortex_dirty_stop(void *set);
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

// rawErr turns rawcopy.c's result into an error.
func rawErr(rc C.int) error {
	switch {
	case rc == 0:
		return nil
	case rc < 0:
		return fmt.Errorf("write the copy: %w", syscall.Errno(-rc))
	default:
		return sqlite3.Error{Code: sqlite3.ErrNo(rc & 0xff), ExtendedCode: sqlite3.ErrNoExtended(rc)}
	}
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// rawCopy copies n bytes at off of dc's main database file to fd at the
// same offset, through buf (C memory: newRawBuf). A read past the file's
// end is zero-filled and, with shortOK, not an error.
func rawCopy(dc driver.Conn, fd uintptr, off, n int64, buf []byte, shortOK bool) error {
	h := rawConn(dc)
	if h == nil {
		return errNoRawCopy
	}
	return rawErr(C.cortex_raw_copy((*C.sqlite3)(h), C.int(fd), C.longlong(off), C.longlong(n),
		(*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), cBool(shortOK)))
}

// copyPages copies the pages of dc's main database file set in bits
// (a dirtySet's), from page from to page to-1, to fd, stopping once it
// copied maxPages (0: all); it returns how many it copied and the page to
// go on from (to, or past the set's end, when it got there).
func copyPages(dc driver.Conn, fd uintptr, bits *dirtyBits, from, to, pageSize int64, buf []byte, shortOK bool, maxPages int64) (copied, next int64, err error) {
	h := rawConn(dc)
	if h == nil {
		return 0, from, errNoRawCopy
	}
	to = min(to, int64(bits.n))
	if from >= to {
		return 0, to, nil
	}
	var n C.longlong
	var nx C.ulonglong
	err = rawErr(C.cortex_copy_pages((*C.sqlite3)(h), C.int(fd), (*C.uchar)(bits.p), C.ulonglong(from), C.ulonglong(to),
		C.int(pageSize), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), cBool(shortOK), C.longlong(maxPages), &n, &nx))
	return int64(n), int64(nx), err
}

// newRawBuf allocates n bytes of C memory for rawCopy, aligned for
// O_DIRECT; free releases it. It panics when memory ran out, as Go's
// allocator does.
func newRawBuf(n int) (buf []byte, free func()) {
	p := C.cortex_raw_buf(C.size_t(n))
	if p == nil {
		panic("sqlitedb: out of memory for the file copy's buffer")
	}
	return unsafe.Slice((*byte)(p), n), func() { C.free(p) }
}

// dirtyBits is a set of page numbers the shim tracked (walbuf.c), in C
// memory.
type dirtyBits struct {
	p unsafe.Pointer
	n uint64 // bits
}

// count is how many pages are set.
func (b *dirtyBits) count() int64 {
	var n int64
	for _, x := range unsafe.Slice((*byte)(b.p), b.n/8) {
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

func (b *dirtyBits) free() {
	C.free(b.p)
	b.p = nil
}

// dirtySet is a set the shim keeps of the pages written to a database's
// WAL (walbuf.c), in C memory.
type dirtySet struct{ p unsafe.Pointer }

// dirtyStart starts a set of the pages written to the WAL of the database
// SQLite names name (the shim must be on).
func dirtyStart(name string, pages int64) (*dirtySet, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	p := C.cortex_dirty_start(cname, C.ulonglong(pages))
	if p == nil {
		return nil, errors.New("track the pages written: out of memory")
	}
	return &dirtySet{p: p}, nil
}

// swap takes the pages written since dirtyStart or the last swap.
func (s *dirtySet) swap() (*dirtyBits, error) {
	var p *C.uchar
	var n C.ulonglong
	if rc := C.cortex_dirty_swap(s.p, &p, &n); rc != 0 {
		return nil, errors.New("track the pages written: the set was lost (out of memory)")
	}
	return &dirtyBits{p: unsafe.Pointer(p), n: uint64(n)}, nil
}

// stop ends the set.
func (s *dirtySet) stop() {
	if s.p != nil {
		C.cortex_dirty_stop(s.p)
		s.p = nil
	}
}
