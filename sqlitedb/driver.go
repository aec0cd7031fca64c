//go:build cgo

package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// The SQLite driver is github.com/mattn/go-sqlite3: SQLite's own C source
// (3.54.1, built through cgo). It replaced the pure-Go modernc.org/sqlite
// (the same C, translated to Go) because the writer is the bound on every
// write path, and the translation runs SQLite's work about twice as slowly:
// profiled on the store's appends, the statements' own execution took ~19
// of the writer's ~44 µs per append. BENCHMARKS.md has the before and after.
//
// Everything else in this package sees only database/sql/driver
// interfaces; the driver-specific parts are here: opening connections with
// our pragmas, the online-backup API, and reading the result code out of
// an error.

// connector opens connections to one database file with the pragmas
// applied, in order, to each (a pooled connection reopened later gets
// them too).
type connector struct {
	dsn       string
	pragmas   []pragma
	drv       *sqlite3.SQLiteDriver
	onConnect func(driver.Conn) error // Config.OnConnect
}

// openPool returns a database/sql pool over path whose connections get
// pragmas. q adds SQLite URI parameters, such as mode=ro.
func openPool(path string, q url.Values, pragmas []pragma) *sql.DB {
	return sql.OpenDB(newConnector(path, q, pragmas))
}

// openPoolHook is openPool with Config.OnConnect run on each connection.
func openPoolHook(path string, q url.Values, pragmas []pragma, onConnect func(driver.Conn) error) *sql.DB {
	c := newConnector(path, q, pragmas)
	c.onConnect = onConnect
	return sql.OpenDB(c)
}

func newConnector(path string, q url.Values, pragmas []pragma) *connector {
	if q == nil {
		q = url.Values{}
	}
	// Each connection is used by one goroutine at a time (the writer, a
	// reader checked out of the pool, the checkpointer), so SQLite's
	// per-connection mutex is not needed.
	q.Set("_mutex", "no")
	if !q.Has("vfs") && walbufReady() {
		q.Set("vfs", walbufVFS)
	}
	c := &connector{dsn: fileURI(path, q), pragmas: pragmas}
	c.drv = &sqlite3.SQLiteDriver{ConnectHook: c.hook}
	return c
}

func (c *connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c *connector) Driver() driver.Driver { return c.drv }

func (c *connector) hook(sc *sqlite3.SQLiteConn) error {
	for _, p := range c.pragmas {
		if _, err := sc.Exec("PRAGMA "+p.name+" = "+p.value, nil); err != nil {
			return fmt.Errorf("pragma %s: %w", p.name, err)
		}
	}
	if c.onConnect != nil {
		if err := c.onConnect(sc); err != nil {
			return fmt.Errorf("Config.OnConnect: %w", err)
		}
	}
	return nil
}

// backup is a running online backup (https://www.sqlite.org/backup.html).
type backup = sqlite3.SQLiteBackup

// startBackup begins copying the main database of src into dst's.
func startBackup(dst, src driver.Conn) (*backup, error) {
	d, ok := dst.(*sqlite3.SQLiteConn)
	if !ok {
		return nil, fmt.Errorf("driver connection %T has no backup API", dst)
	}
	s, ok := src.(*sqlite3.SQLiteConn)
	if !ok {
		return nil, fmt.Errorf("driver connection %T has no backup API", src)
	}
	return d.Backup("main", s, "main")
}

// driverCode returns the extended result code of a driver error.
func driverCode(err error) (int, bool) {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return int(se.ExtendedCode), true
	}
	var pe *sqlite3.Error
	if errors.As(err, &pe) && pe != nil {
		return int(pe.ExtendedCode), true
	}
	var xe *stmtError
	if errors.As(err, &xe) {
		return xe.extended, true
	}
	return 0, false
}

// driverMissing is nil: this build has the SQLite driver.
func driverMissing() error { return nil }

// LibVersion is the version of the SQLite compiled in ("3.54.1").
func LibVersion() string {
	v, _, _ := sqlite3.Version()
	return v
}

// dbFilename is the main database's file name as SQLite has it
// (sqlite3_db_filename): the name walbufIndex looks it up by.
func dbFilename(dc driver.Conn) string {
	if c, ok := dc.(*sqlite3.SQLiteConn); ok {
		return c.GetFilename("main")
	}
	return ""
}
