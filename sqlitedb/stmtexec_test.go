//go:build cgo

package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestWrite_OneCallStatements: the writer's statements run in one cgo
// call each (stmtexec.go) and bind every kind of argument as the driver
// does, report changes and rowids, and fail with the same classified
// errors; arguments it does not bind itself go through the driver.
func TestWrite_OneCallStatements(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v ANY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t (k, v) VALUES (?, ?)`
	at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	rows := []struct {
		k        string
		v        any
		wantType string
		want     string
	}{
		{"null", nil, "null", ""},
		{"int", int64(-9007199254740993), "integer", "-9007199254740993"},
		{"int32", int32(7), "integer", "7"}, // converted first, as database/sql does
		{"float", 1.5, "real", "1.5"},
		{"true", true, "integer", "1"},
		{"false", false, "integer", "0"},
		{"text", "héllo\x00world", "text", "héllo\x00world"},
		{"empty text", "", "text", ""},
		{"blob", []byte{0, 1, 2}, "blob", "\x00\x01\x02"},
		{"empty blob", []byte{}, "blob", ""},
		{"nil blob", []byte(nil), "null", ""},
		{"time", at, "text", ""}, // the driver's own formatting
		{"named", sql.Named("", "x"), "text", "x"},
	}
	var timeText string
	if err := db.Write(ctx, func(tx *Tx) error {
		for i, r := range rows {
			res, err := tx.Exec(ctx, ins, r.k, r.v)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Errorf("%s: RowsAffected = %d", r.k, n)
			}
			if id, _ := res.LastInsertId(); id != int64(i+1) {
				t.Errorf("%s: LastInsertId = %d, want %d", r.k, id, i+1)
			}
		}
		s := tx.conn.stmts[ins]
		if s == nil || s.raw == nil {
			t.Errorf("the INSERT is not cached with its sqlite3_stmt: %+v", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Compare with what the driver itself binds for a time.
	if err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT v FROM t WHERE k = 'time'`).Scan(&timeText)
	}); err != nil {
		t.Fatal(err)
	}
	rows[11].want = timeText
	for _, r := range rows {
		var typ string
		var got []byte
		err := db.Read(ctx, func(tx *Tx) error {
			return tx.QueryRow(ctx, `SELECT typeof(v), CAST(v AS BLOB) FROM t WHERE k = ?`, r.k).Scan(&typ, &got)
		})
		if err != nil {
			t.Fatalf("%s: %v", r.k, err)
		}
		if typ != r.wantType || string(got) != r.want {
			t.Errorf("%s: stored %s %q, want %s %q", r.k, typ, got, r.wantType, r.want)
		}
	}
	// An error: classified by its extended code, the transaction rolled
	// back alone, the statement usable again.
	err = db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, ins, "int", int64(1))
		return err
	})
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("duplicate key: %v, want ErrConstraint", err)
	}
	if code, ok := CodeOf(err); !ok || code != 2067 { // SQLITE_CONSTRAINT_UNIQUE
		t.Errorf("duplicate key: code %d, %v; want 2067", code, ok)
	}
	// A wrong number of arguments: SQLite's own error.
	err = db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, ins, "a", int64(1), int64(2))
		return err
	})
	if code, ok := CodeOf(err); !ok || code != 25 { // SQLITE_RANGE
		t.Errorf("three arguments for two: %v (code %d), want SQLITE_RANGE", err, code)
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE t SET v = ? WHERE k LIKE ?`, int64(3), "%e%")
		if n, _ := res.RowsAffected(); err == nil && n != 7 {
			t.Errorf("UPDATE changed %d rows, want 7", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestExecArgs_TypedNoAllocations: Tx.ExecArgs binds integers, text and
// NULL as Exec does (the first run, through the driver, and the next ones,
// the cached statement in one cgo call), reports changes and rowids, and
// on the cached path allocates nothing: Exec boxes each integer over 255
// and each string into an interface the writer keeps (9 allocations per
// append on the store's path).
func TestExecArgs_TypedNoAllocations(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, i ANY, s ANY, n ANY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t (i, s, n) VALUES (?, ?, ?)`
	var allocs float64
	if err := db.Write(ctx, func(tx *Tx) error {
		for i := range 2 { // the driver's path, then the cached one
			var a Args
			res, err := tx.ExecArgs(ctx, ins, a.Int(-1<<40-int64(i)).Text("héllo\x00world").Null())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Errorf("run %d: %d rows affected, want 1", i, n)
			}
			if id, _ := res.LastInsertId(); id != int64(i+1) {
				t.Errorf("run %d: rowid %d, want %d", i, id, i+1)
			}
		}
		var runErr error
		allocs = testing.AllocsPerRun(200, func() {
			var a Args
			if _, err := tx.ExecArgs(ctx, ins, a.Int(1<<40).Text("x").Null()); err != nil {
				runErr = err
			}
		})
		return runErr
	}); err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("ExecArgs of a cached statement: %v allocations per run, want 0", allocs)
	}
	for i := range 2 {
		var ti, ts, tn, s string
		var v int64
		if err := db.Read(ctx, func(tx *Tx) error {
			return tx.QueryRow(ctx, `SELECT typeof(i), i, typeof(s), s, typeof(n) FROM t WHERE id = ?`, i+1).Scan(&ti, &v, &ts, &s, &tn)
		}); err != nil {
			t.Fatal(err)
		}
		if ti != "integer" || v != -1<<40-int64(i) || ts != "text" || s != "héllo\x00world" || tn != "null" {
			t.Errorf("row %d: %s %d, %s %q, %s; want integer %d, text %q, null", i+1, ti, v, ts, s, tn, -1<<40-int64(i), "héllo\x00world")
		}
	}

	// More arguments than an Args holds: refused, nothing run.
	if err := db.Write(ctx, func(tx *Tx) error {
		var a Args
		for range MaxArgs + 1 {
			a.Int(1)
		}
		_, err := tx.ExecArgs(ctx, ins, &a)
		return err
	}); err == nil {
		t.Fatal("ExecArgs with more than MaxArgs arguments: no error")
	}
}
