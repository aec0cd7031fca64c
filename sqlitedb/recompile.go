package sqlitedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// Recompiles runs query once with each of argSets, in a transaction on
// the writer that is rolled back (a write statement changes nothing), and
// reports how many times SQLite compiled the statement again after
// preparing it. A run that fails on a constraint still counts: the
// statement was compiled and run. It is a diagnostic for the authors of hot statements: it
// should be 0. SQLite recompiles a statement on every new binding of a
// parameter whose value its planner looked at (for example, measured on
// SQLite 3.54, "text_col = ?" with an ORDER BY on the next column of the
// index), which costs more than running a point query.
func (db *DB) Recompiles(ctx context.Context, query string, argSets ...[]any) (int, error) {
	var n int
	err := db.exclusive(ctx, func(c *conn) error {
		{
			count, stop, err := countCompiles(c.dc)
			if err != nil {
				return err
			}
			defer stop()
			if _, err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
				return classify(ctx, "begin", err)
			}
			defer c.exec(context.WithoutCancel(ctx), "ROLLBACK")
			before := count()
			s, err := c.dc.(driver.ConnPrepareContext).PrepareContext(ctx, query)
			if err != nil {
				return classify(ctx, "prepare", err)
			}
			defer s.Close()
			once := count() - before
			if once == 0 {
				return fmt.Errorf("recompiles: SQLite compiled %q without consulting the authorizer", query)
			}
			for i, args := range argSets {
				nv, err := c.namedValues(args)
				if err != nil {
					return err
				}
				rows, err := s.(driver.StmtQueryContext).QueryContext(ctx, nv)
				if errors.Is(classify(ctx, "", err), ErrConstraint) {
					continue // it was compiled and run
				}
				if err != nil {
					return classify(ctx, fmt.Sprintf("run with argument set %d", i+1), err)
				}
				dest := make([]driver.Value, len(rows.Columns()))
				for {
					if err := rows.Next(dest); err == io.EOF {
						break
					} else if err != nil {
						rows.Close()
						return classify(ctx, fmt.Sprintf("run with argument set %d", i+1), err)
					}
				}
				if err := rows.Close(); err != nil {
					return classify(ctx, "close", err)
				}
			}
			n = (count() - before - once) / once
			return nil
		}
	})
	return n, err
}
