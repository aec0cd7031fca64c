//go:build cgo

package pcache_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitedb/pcache"
)

// TestMain installs the wrapper before anything opens a database: it is
// process-wide and SQLite takes it only before it initializes, and this
// package's tests run in a process of their own.
func TestMain(m *testing.M) {
	pcache.Install()
	os.Exit(m.Run())
}

// TestPageCache: with pcache.c's wrapper over SQLite's page cache, a
// workload of page splits, deletes, rolled-back growth and cache spills
// reads back exactly what was committed, through the writer's cache and
// through a fresh connection, and the database passes integrity_check.
// And the wrapper does skip truncates (the splits' scratch page no longer
// makes every commit walk the cache) while passing on the rollbacks'.
func TestPageCache(t *testing.T) {
	if !pcache.Installed() {
		t.Fatal("the page cache wrapper could not be installed")
	}
	errRollback := errors.New("roll back")
	for _, tc := range []struct {
		name string
		cfg  sqlitedb.Config
	}{
		{"default", sqlitedb.Config{}},
		{"small-cache", sqlitedb.Config{CacheSizeKiB: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "p.db")
			db, err := sqlitedb.Open(ctx, path, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
				_, err := tx.Exec(ctx, "CREATE TABLE t(k TEXT PRIMARY KEY, v BLOB NOT NULL)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			passed0, skipped0 := pcache.Counts()
			r := rand.New(rand.NewPCG(3, 4))
			model := map[string]int{} // key: length of its value
			for i := range 300 {
				rollback := i%4 == 3
				n := 20 + r.IntN(60)
				if rollback {
					n = 400 // grows the file, then is undone
				}
				added := map[string]int{}
				var deleted []string
				err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
					for range n {
						k := fmt.Sprintf("%016x", r.Uint64())
						v := make([]byte, 100+r.IntN(900))
						if _, err := tx.Exec(ctx, "INSERT INTO t(k, v) VALUES (?, ?)", k, v); err != nil {
							return err
						}
						added[k] = len(v)
					}
					if i%10 == 9 {
						// Free pages: later growth reuses them.
						lo := fmt.Sprintf("%x", r.IntN(16))
						rows, err := tx.Query(ctx, "DELETE FROM t WHERE k >= ? AND k < ? RETURNING k", lo, lo+"4")
						if err != nil {
							return err
						}
						for rows.Next() {
							var k string
							if err := rows.Scan(&k); err != nil {
								rows.Close()
								return err
							}
							deleted = append(deleted, k)
						}
						if err := rows.Close(); err != nil {
							return err
						}
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				switch {
				case rollback && !errors.Is(err, errRollback):
					t.Fatalf("transaction %d: %v, want the rollback", i, err)
				case rollback:
				case err != nil:
					t.Fatalf("transaction %d: %v", i, err)
				default:
					for k, l := range added {
						model[k] = l
					}
					for _, k := range deleted {
						delete(model, k)
					}
				}
				if i%25 == 24 || rollback {
					var got map[string]int
					if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
						rows, err := tx.Query(ctx, pageCacheQuery)
						if err != nil {
							return err
						}
						defer rows.Close()
						got, err = scanPageCacheRows(rows)
						return err
					}); err != nil {
						t.Fatal(err)
					}
					comparePageCacheModel(t, got, model, fmt.Sprintf("after transaction %d, the writer", i))
				}
			}
			plain, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&vfs=unix")
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			rows, err := plain.QueryContext(ctx, pageCacheQuery)
			if err != nil {
				t.Fatal(err)
			}
			got, err := scanPageCacheRows(rows)
			rows.Close()
			if err != nil {
				t.Fatal(err)
			}
			comparePageCacheModel(t, got, model, "a fresh connection")
			var ok string
			if err := plain.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
				t.Fatalf("integrity_check: %q, %v", ok, err)
			}
			passed, skipped := pcache.Counts()
			t.Logf("truncates: %d passed on, %d skipped", passed-passed0, skipped-skipped0)
			if skipped == skipped0 {
				t.Error("no truncate was skipped: the wrapper does nothing")
			}
			if passed == passed0 {
				t.Error("no truncate was passed on, though transactions that grew the file rolled back")
			}
		})
	}
}

const pageCacheQuery = "SELECT k, length(v) FROM t ORDER BY k"

func scanPageCacheRows(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (map[string]int, error) {
	got := map[string]int{}
	for rows.Next() {
		var k string
		var l int
		if err := rows.Scan(&k, &l); err != nil {
			return nil, err
		}
		got[k] = l
	}
	return got, rows.Err()
}

func comparePageCacheModel(t *testing.T, got, model map[string]int, who string) {
	t.Helper()
	if len(got) != len(model) {
		t.Fatalf("%s reads %d rows, want %d", who, len(got), len(model))
	}
	for k, l := range model {
		if got[k] != l {
			t.Fatalf("%s reads key %s with %d bytes, want %d", who, k, got[k], l)
		}
	}
}
