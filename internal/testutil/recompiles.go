//go:build cgo

package testutil

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"

	"github.com/cortex-db/cortex/sqlitedb"
)

// Recompiles runs query once with each of argSets on a connection of its
// own to db's file, in a transaction that is rolled back (a write
// statement changes nothing), and reports how many times SQLite compiled
// the statement again after preparing it. A run that fails on a constraint
// still counts: the statement was compiled and run. It should be 0 for a
// hot statement: SQLite recompiles a statement on every new binding of a
// parameter whose value its planner looked at (measured on SQLite 3.54:
// "text_col = ?" with an ORDER BY on the next column of the index), which
// costs more than running a point query.
//
// It counts compilations with an authorizer, which SQLite consults on
// every compile. db's writer must be idle (the transaction is IMMEDIATE).
func Recompiles(ctx context.Context, db *sqlitedb.DB, query string, argSets ...[]any) (int, error) {
	pool, err := sql.Open("sqlite3", "file:"+db.Path()+"?_busy_timeout=5000")
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	conn, err := pool.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	n := 0
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("driver connection %T has no authorizer", dc)
		}
		compiles := 0
		c.RegisterAuthorizer(func(int, string, string, string) int { compiles++; return sqlite3.SQLITE_OK })
		defer c.RegisterAuthorizer(nil)
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK", nil)
		before := compiles
		s, err := c.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer s.Close()
		once := compiles - before
		if once == 0 {
			return fmt.Errorf("recompiles: SQLite compiled %q without consulting the authorizer", query)
		}
		for i, args := range argSets {
			nv := make([]driver.NamedValue, len(args))
			for j, a := range args {
				nv[j] = driver.NamedValue{Ordinal: j + 1, Value: a}
			}
			rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, nv)
			var se sqlite3.Error
			if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
				continue // it was compiled and run
			}
			if err != nil {
				return fmt.Errorf("run with argument set %d: %w", i+1, err)
			}
			dest := make([]driver.Value, len(rows.Columns()))
			for {
				if err := rows.Next(dest); err == io.EOF {
					break
				} else if err != nil {
					rows.Close()
					return fmt.Errorf("run with argument set %d: %w", i+1, err)
				}
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("close: %w", err)
			}
		}
		n = (compiles - before - once) / once
		return nil
	})
	return n, err
}
