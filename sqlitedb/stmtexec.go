//go:build cgo

package sqlitedb

// int cortex_stmt_exec_ready(void);
// typedef struct sqlite3_stmt sqlite3_stmt;
// int cortex_stmt_exec(sqlite3_stmt *s, int n, const long long *args, const char *buf, long long *out, char *msg, int msgLen);
import "C"

import (
	"database/sql/driver"
	"math"
	"reflect"
	"sync"
	"unsafe"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// The writer's statements in one cgo call each (stmtexec.c): the driver
// makes one per argument, one to reset and one to step. Measured on the
// store's appends at 64 goroutines with callgrind (BENCHMARKS.md, "The
// writer at the floor"): 16.3 crossings into C per append, now 2.25, and
// 61.2k → 52.5k instructions per append.

// stmtExecReady reports whether stmtexec.c found SQLite's functions.
var stmtExecReady = sync.OnceValue(func() bool { return C.cortex_stmt_exec_ready() != 0 })

// rawStmt is the sqlite3_stmt under a driver statement, or nil when it is
// not the driver's (or the fast path is off). The driver keeps it in an
// unexported field; reflect reads it without changing anything.
func rawStmt(ds driver.Stmt) unsafe.Pointer {
	s, ok := ds.(*sqlite3.SQLiteStmt)
	if !ok || s == nil || !stmtExecReady() {
		return nil
	}
	f := reflect.ValueOf(s).Elem().FieldByName("s")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil
	}
	return f.UnsafePointer()
}

// execBuf is a connection's argument buffers for stmtExec, reused.
type execBuf struct {
	args []C.longlong
	buf  []byte
	// out and msg are here, not on the stack: what is passed to C
	// escapes, and would be allocated at each call.
	out [3]C.longlong
	msg [256]C.char
}

// execResult is stmtExec's driver.Result.
type execResult struct{ changes, rowid int64 }

func (r execResult) LastInsertId() (int64, error) { return r.rowid, nil }
func (r execResult) RowsAffected() (int64, error) { return r.changes, nil }

// stmtError is an SQLite error from stmtExec, with its result codes, as
// the driver's errors carry them (driverCode reads both).
type stmtError struct {
	code, extended int
	msg            string
}

func (e *stmtError) Error() string { return e.msg }

// stmtExec runs the prepared statement raw once with nv, in one cgo call.
// ok is false when an argument is of a kind it does not bind (the caller
// then uses the driver); err is SQLite's error.
func (b *execBuf) stmtExec(raw unsafe.Pointer, nv []driver.NamedValue) (res execResult, ok bool, err error) {
	if cap(b.args) < 2*len(nv) {
		b.args = make([]C.longlong, 2*len(nv))
	}
	args := b.args[:2*len(nv)]
	b.buf = b.buf[:0]
	for i, a := range nv {
		if a.Name != "" || a.Ordinal != i+1 {
			return res, false, nil
		}
		switch v := a.Value.(type) {
		case nil:
			args[2*i], args[2*i+1] = argNull, 0
		case int64:
			args[2*i], args[2*i+1] = argInt, C.longlong(v)
		case bool:
			args[2*i], args[2*i+1] = argInt, 0
			if v {
				args[2*i+1] = 1
			}
		case float64:
			args[2*i], args[2*i+1] = argFloat, C.longlong(math.Float64bits(v))
		case string:
			args[2*i], args[2*i+1] = C.longlong(argText|len(v)<<8), C.longlong(len(b.buf))
			b.buf = append(b.buf, v...)
		case []byte:
			if v == nil { // as the driver binds it
				args[2*i], args[2*i+1] = argNull, 0
				continue
			}
			args[2*i], args[2*i+1] = C.longlong(argBlob|len(v)<<8), C.longlong(len(b.buf))
			b.buf = append(b.buf, v...)
		default:
			return res, false, nil
		}
	}
	res, err = b.call(raw, len(nv), args)
	return res, true, err
}

// stmtExecArgs is stmtExec with typed arguments (Args): nothing boxed,
// nothing allocated once the buffers have grown.
func (b *execBuf) stmtExecArgs(raw unsafe.Pointer, a *Args) (execResult, error) {
	if cap(b.args) < 2*a.n {
		b.args = make([]C.longlong, 2*a.n)
	}
	args := b.args[:2*a.n]
	b.buf = b.buf[:0]
	for i := range a.n {
		switch a.kind[i] {
		case argInt:
			args[2*i], args[2*i+1] = argInt, C.longlong(a.num[i])
		case argText:
			v := a.text[i]
			args[2*i], args[2*i+1] = C.longlong(argText|len(v)<<8), C.longlong(len(b.buf))
			b.buf = append(b.buf, v...)
		default:
			args[2*i], args[2*i+1] = argNull, 0
		}
	}
	return b.call(raw, a.n, args)
}

// call runs raw with n arguments encoded in args and b.buf, in one cgo call.
func (b *execBuf) call(raw unsafe.Pointer, n int, args []C.longlong) (res execResult, err error) {
	var argp *C.longlong
	if len(args) > 0 {
		argp = &args[0]
	}
	var bufp *C.char
	if len(b.buf) > 0 {
		bufp = (*C.char)(unsafe.Pointer(&b.buf[0]))
	}
	out := &b.out
	rc := C.cortex_stmt_exec((*C.sqlite3_stmt)(raw), C.int(n), argp, bufp, &out[0], &b.msg[0], C.int(len(b.msg)))
	if rc != 0 {
		ext := int(out[2])
		if ext == 0 {
			ext = int(rc)
		}
		return res, &stmtError{code: int(rc) & 0xff, extended: ext, msg: C.GoString(&b.msg[0])}
	}
	return execResult{changes: int64(out[0]), rowid: int64(out[1])}, nil
}
