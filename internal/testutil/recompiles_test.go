//go:build cgo

package testutil_test

import (
	"context"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// TestRecompiles: the statement shape SQLite recompiles on every new
// binding is counted, the CAST form is not, and a write statement runs in
// a transaction that is rolled back.
func TestRecompiles(t *testing.T) {
	ctx := context.Background()
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(a TEXT, b INTEGER, PRIMARY KEY (a, b)); INSERT INTO t VALUES('x', 1), ('y', 2)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sets := [][]any{{"x"}, {"y"}, {"x"}}
	n, err := testutil.Recompiles(ctx, db, "SELECT b FROM t WHERE a = ? ORDER BY b DESC LIMIT 1", sets...)
	if err != nil || n == 0 {
		t.Errorf("a = ? ORDER BY b: %d recompiles, %v; want some", n, err)
	}
	n, err = testutil.Recompiles(ctx, db, "SELECT b FROM t WHERE a = CAST(? AS TEXT) ORDER BY b DESC LIMIT 1", sets...)
	if err != nil || n != 0 {
		t.Errorf("a = CAST(? AS TEXT) ORDER BY b: %d recompiles, %v; want 0", n, err)
	}
	n, err = testutil.Recompiles(ctx, db, "DELETE FROM t WHERE a = ?", sets...)
	if err != nil || n != 0 {
		t.Errorf("DELETE: %d recompiles, %v; want 0", n, err)
	}
	var c int
	if err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&c)
	}); err != nil || c != 2 {
		t.Errorf("%d rows after Recompiles ran a DELETE (%v), want 2: it must roll back", c, err)
	}
	if _, err := testutil.Recompiles(ctx, db, "SELECT nope FROM t"); err == nil {
		t.Error("a statement that does not compile: no error")
	}
}
