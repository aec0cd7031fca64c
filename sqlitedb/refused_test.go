package sqlitedb_test

import (
	"errors"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// A write function's own error (a store's not found, version conflict) and
// a constraint its statement met are refusals, counted apart from the
// engine's failures.
func TestStats_RefusalsAreNotFailures(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	mustExec(t, db, "INSERT INTO t VALUES(1)")
	write := func(fn func(tx *sqlitedb.Tx) error) {
		if err := db.Write(ctx, fn); err == nil {
			t.Fatal("write: no error")
		}
	}
	write(func(tx *sqlitedb.Tx) error { return errors.New("session not found") })
	write(func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO t VALUES(1)") // UNIQUE: "already exists"
		return err
	})
	write(func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO missing VALUES(1)") // a fault of the program
		return err
	})
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Writer.Refused != 2 || st.Writer.Failed != 1 {
		t.Fatalf("refused %d, failed %d; want 2 refusals and 1 failure", st.Writer.Refused, st.Writer.Failed)
	}
}
