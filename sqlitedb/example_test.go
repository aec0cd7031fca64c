package sqlitedb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/cortex-db/cortex/sqlitedb"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	migrations := fstest.MapFS{
		"0001_notes.sql": {Data: []byte("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);")},
	}
	if _, _, err := db.Migrate(ctx, migrations); err != nil {
		fmt.Println(err)
		return
	}

	err = db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO notes(body) VALUES(?)", "hello")
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	var body string
	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT body FROM notes WHERE id = 1").Scan(&body)
	})
	fmt.Println(body, err)
	// Output: hello <nil>
}

func ExampleDB_Backup() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, _ := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{})
	defer db.Close()
	db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES(42)")
		return err
	})

	res, err := db.Backup(ctx, filepath.Join(dir, "app-backup.db"), func(p sqlitedb.BackupProgress) {
		// called after each step: p.PagesDone of p.PagesTotal
	})
	fmt.Println(res.Integrity, err)
	// Output: ok <nil>
}

func ExampleDB_Checkpoint() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, _ := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{})
	defer db.Close()

	res, err := db.Checkpoint(ctx, sqlitedb.Truncate)
	fmt.Println(res.Busy, res.Remaining(), err)
	// Output: false 0 <nil>
}
