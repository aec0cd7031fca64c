//go:build cgo

package sqlitedb_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/cortex-db/cortex/sqlitedb"
)

// Config.OnConnect runs on every connection the DB opens: here it
// registers a Go function that SQL can call, on the writer and readers
// alike.
func ExampleConfig_onConnect() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{
		OnConnect: func(c driver.Conn) error {
			return c.(*sqlite3.SQLiteConn).RegisterFunc("shout", strings.ToUpper, true)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	var s string
	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT shout('hello')").Scan(&s)
	})
	fmt.Println(s, err)
	// Output: HELLO <nil>
}
