//go:build cgo

package sqlitedb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWALBuffer: with the write-gathering shim, every commit is complete
// in the -wal file when Write returns, as a connection through SQLite's
// plain VFS sees it; it holds for one-page commits, for commits larger
// than one write call (128 KiB) and than the buffer (1 MiB), for sync=full,
// and for a small page cache, whose spills write frames mid-transaction,
// read them back and overwrite them. And the shim does gather: far fewer
// write calls than SQLite's writes.
func TestWALBuffer(t *testing.T) {
	if !walbufReady() {
		t.Fatal("the WAL write shim could not be registered")
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"normal", Config{}},
		{"full", Config{Synchronous: "full"}},
		{"small-cache", Config{CacheSizeKiB: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "w.db")
			db, err := Open(ctx, path, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Write(ctx, func(tx *Tx) error {
				_, err := tx.Exec(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			plain := openPool(path, url.Values{"vfs": {"unix"}, "mode": {"ro"}}, nil)
			defer plain.Close()

			writes0, calls0 := walbufCounts()
			r := rand.New(rand.NewPCG(1, 2))
			rows, total := 0, 0
			digest := sha256.New()
			for i := range 60 {
				// Rows per commit: mostly a few, sometimes ~200 KiB, a
				// few times ~3 MiB.
				n := 1 + r.IntN(4)
				switch {
				case i%20 == 19:
					n = 700
				case i%5 == 4:
					n = 50
				}
				blobs := make([][]byte, n)
				for j := range blobs {
					blobs[j] = make([]byte, 1000+r.IntN(7000))
					for k := range blobs[j] {
						blobs[j][k] = byte(r.Uint32())
					}
				}
				err := db.Write(ctx, func(tx *Tx) error {
					for _, b := range blobs {
						if _, err := tx.Exec(ctx, "INSERT INTO t(b) VALUES (?)", b); err != nil {
							return err
						}
					}
					// Read back in the transaction: with a small cache, from
					// frames the spill wrote.
					var c int
					if err := tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&c); err != nil {
						return err
					}
					if c != rows+n {
						return fmt.Errorf("in the transaction: %d rows, want %d", c, rows+n)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("commit %d: %v", i, err)
				}
				rows += n
				for _, b := range blobs {
					total += len(b)
					digest.Write(b)
				}
				var c, sum int
				if err := plain.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(length(b)), 0) FROM t").Scan(&c, &sum); err != nil {
					t.Fatal(err)
				}
				if c != rows || sum != total {
					t.Fatalf("after commit %d, another connection sees %d rows of %d bytes, want %d of %d", i, c, sum, rows, total)
				}
			}
			all := sha256.New()
			q, err := plain.QueryContext(ctx, "SELECT b FROM t ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			for q.Next() {
				var b []byte
				if err := q.Scan(&b); err != nil {
					t.Fatal(err)
				}
				all.Write(b)
			}
			if err := q.Err(); err != nil {
				t.Fatal(err)
			}
			q.Close()
			if !bytes.Equal(all.Sum(nil), digest.Sum(nil)) {
				t.Fatal("another connection reads different bytes than were written")
			}
			writes, calls := walbufCounts()
			writes, calls = writes-writes0, calls-calls0
			t.Logf("%d writes to the -wal, %d write calls", writes, calls)
			if writes == 0 || calls*4 > writes {
				t.Errorf("%d writes to the -wal went out in %d calls: not gathered", writes, calls)
			}
		})
	}
}

// TestSQLiteMemory: the figure cortex bench reports is SQLite's own count,
// and it grows with what an open database caches.
func TestSQLiteMemory(t *testing.T) {
	before := SQLiteMemory()
	if before < 0 {
		t.Fatal("SQLiteMemory: SQLite's memory count cannot be read")
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO t SELECT randomblob(4000) FROM n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if after := SQLiteMemory(); after < before+1<<20 {
		t.Errorf("SQLiteMemory: %d bytes before opening and writing ~2 MiB, %d after: want at least 1 MiB more", before, after)
	}
}

// TestLimitMallocArenas: with glibc and no MALLOC_ARENA_MAX in the
// environment the cap is set; with the variable set, the user's choice
// stands.
func TestLimitMallocArenas(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("glibc's mallopt: Linux only")
	}
	t.Setenv("MALLOC_ARENA_MAX", "4")
	if LimitMallocArenas(2) {
		t.Error("LimitMallocArenas overrode MALLOC_ARENA_MAX from the environment")
	}
	os.Unsetenv("MALLOC_ARENA_MAX")
	if !LimitMallocArenas(2) {
		t.Error("LimitMallocArenas(2) did not set the cap (is this glibc?)")
	}
}
