//go:build cgo

package sqlitedb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// prepareFirst prepares the first statement of query on dc, uncached, and
// reports what SQLite's parser made of it: whether it is read-only
// (sqlite3_stmt_readonly), whether there was no statement at all (only
// whitespace, comments or ";": sqlite3_prepare_v2 then gives a NULL
// statement), and the text after it (prepare's tail, trimmed of spaces).
//
// mattn/go-sqlite3 keeps the statement handle and the tail in unexported
// fields of SQLiteStmt (s and t); they are read here with reflect, and
// TestExplain fails if a driver update renames them.
func prepareFirst(ctx context.Context, dc driver.Conn, query string) (readOnly, empty bool, tail string, err error) {
	ds, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return false, false, "", err
	}
	defer ds.Close()
	ss, ok := ds.(*sqlite3.SQLiteStmt)
	if !ok {
		return false, false, "", fmt.Errorf("prepared statement %T is not the SQLite driver's", ds)
	}
	v := reflect.ValueOf(ss).Elem()
	s, t := v.FieldByName("s"), v.FieldByName("t")
	if s.Kind() != reflect.Pointer || t.Kind() != reflect.String {
		return false, false, "", fmt.Errorf("the SQLite driver's statement has no handle and tail fields (s, t): update prepareFirst")
	}
	return ss.Readonly(), s.IsNil(), t.String(), nil
}
