// Package testutil has helpers shared by cortex's tests.
package testutil

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
)

// MustOpenDB opens a fresh database file in t.TempDir() and closes it at
// cleanup, failing the test if Close reports an error or a reader
// connection was not given back.
func MustOpenDB(tb testing.TB, cfg sqlitedb.Config) *sqlitedb.DB {
	tb.Helper()
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "test.db"), cfg)
}

// MustOpenDBAt is MustOpenDB on a given path.
func MustOpenDBAt(tb testing.TB, path string, cfg sqlitedb.Config) *sqlitedb.DB {
	tb.Helper()
	db, err := sqlitedb.Open(context.Background(), path, cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		st, err := db.Stats(context.Background())
		if err == nil && st.Readers.InUse != 0 {
			tb.Errorf("%d reader connections not given back", st.Readers.InUse)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("close %s: %v", path, err)
		}
	})
	return db
}
