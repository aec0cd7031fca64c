//go:build !cgo

package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io/fs"
	"net/url"
	"unsafe"
)

// Built without cgo (CGO_ENABLED=0, or no C compiler found), there is no
// SQLite: the driver is SQLite's C source (see driver.go). The program
// still builds, so that it can serve PostgreSQL, and every SQLite open
// fails with errNoCgo, which says what to do.
var errNoCgo error = &HintError{
	Err:  errors.New("this program was built without cgo, and cortex's SQLite driver is SQLite's C source built through cgo"),
	Hint: "install a C compiler (apt-get install gcc) and build with CGO_ENABLED=1, or use PostgreSQL (--db postgres://…)",
}

type connector struct{}

func openPool(string, url.Values, []pragma) *sql.DB { return sql.OpenDB(connector{}) }

func newConnector(string, url.Values, []pragma) connector { return connector{} }

func openPoolHook(string, url.Values, []pragma, func(driver.Conn) error) *sql.DB {
	return sql.OpenDB(connector{})
}

func (connector) Connect(context.Context) (driver.Conn, error) { return nil, errNoCgo }

func (c connector) Driver() driver.Driver { return noDriver{} }

type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) { return nil, errNoCgo }

type backup struct{}

func (*backup) Step(int) (bool, error) { return false, errNoCgo }
func (*backup) Remaining() int         { return 0 }
func (*backup) PageCount() int         { return 0 }
func (*backup) Finish() error          { return errNoCgo }

func startBackup(driver.Conn, driver.Conn) (*backup, error) { return nil, errNoCgo }

func driverCode(error) (int, bool) { return 0, false }

// SQLiteMemory reports -1: there is no SQLite in this build.
func SQLiteMemory() int64 { return -1 }

// LimitMallocArenas does nothing without cgo: Go's own allocator serves
// the whole program.
func LimitMallocArenas(int) bool { return false }

// driverMissing is errNoCgo: this build has no SQLite driver.
func driverMissing() error { return errNoCgo }

// LibVersion is "": a build without cgo has no SQLite.
func LibVersion() string { return "" }

// walbufOver fails: there is no SQLite in this build.
func walbufOver(string, bool) (string, error) { return "", errNoCgo }

// openWALReadOnly finds no file: there is no SQLite in this build (and
// Open fails before it would be called).
func openWALReadOnly(string) (interface {
	ReadAt([]byte, int64) (int, error)
	Close() error
}, error) {
	return nil, fs.ErrNotExist
}

// walbufIndex finds nothing: there is no SQLite in this build.
func walbufIndex(string) (int64, int64, bool) { return 0, 0, false }

// dbFilename is empty: there is no SQLite in this build.
func dbFilename(driver.Conn) string { return "" }

func prepareFirst(context.Context, driver.Conn, string) (bool, bool, string, error) {
	return false, false, "", errNoCgo
}

// The one-call statement path (stmtexec.go) needs cgo.
type execBuf struct{}

type execResult struct{ changes, rowid int64 }

func (r execResult) LastInsertId() (int64, error) { return r.rowid, nil }
func (r execResult) RowsAffected() (int64, error) { return r.changes, nil }

func rawStmt(driver.Stmt) unsafe.Pointer { return nil }

func (*execBuf) stmtExec(unsafe.Pointer, []driver.NamedValue) (execResult, bool, error) {
	return execResult{}, false, nil
}

func (*execBuf) stmtExecArgs(unsafe.Pointer, *Args) (execResult, error) {
	return execResult{}, errNoCgo
}

var errNoRawCopy = errNoCgo

func rawCopy(driver.Conn, uintptr, int64, int64, []byte, bool) error { return errNoCgo }

func newRawBuf(n int) ([]byte, func()) { return make([]byte, n), func() {} }

type dirtyBits struct{ n uint64 }

func (*dirtyBits) count() int64 { return 0 }
func (*dirtyBits) free()        {}

func copyPages(driver.Conn, uintptr, *dirtyBits, int64, int64, int64, []byte, bool, int64) (int64, int64, error) {
	return 0, 0, errNoCgo
}

type dirtySet struct{}

func dirtyStart(string, int64) (*dirtySet, error) { return nil, errNoCgo }
func (*dirtySet) swap() (*dirtyBits, error)       { return nil, errNoCgo }
func (*dirtySet) stop()                           {}
