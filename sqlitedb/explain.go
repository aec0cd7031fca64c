package sqlitedb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
)

// PlanRow is one row of EXPLAIN QUERY PLAN.
// https://www.sqlite.org/eqp.html
type PlanRow struct {
	ID     int    `json:"id"`
	Parent int    `json:"parent"`
	Detail string `json:"detail"`
}

// ErrNotReadOnly: Explain was given something other than one read-only statement.
var ErrNotReadOnly = fmt.Errorf("only a single read-only statement can be explained")

// Explain returns the query plan of one read-only statement. SQLite's
// own parser decides what that is: the text must prepare to exactly one
// statement (what follows it may only be whitespace, comments or ";", so
// a ";" inside a string literal is fine), which SQLite reports read-only
// once prepared (sqlite3_stmt_readonly); anything else is refused with
// ErrNotReadOnly, and a statement SQLite cannot prepare is its error
// (SQLITE_ERROR). It runs on a read-only (query_only) connection, and the
// statement is only planned (EXPLAIN QUERY PLAN never runs it); neither it
// nor its plan is kept in the connection's cache of prepared statements.
func (db *DB) Explain(ctx context.Context, query string, args ...any) ([]PlanRow, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, fmt.Errorf("%w: empty statement", ErrNotReadOnly)
	}
	if up := strings.ToUpper(q); strings.HasPrefix(up, "EXPLAIN") {
		return nil, fmt.Errorf("%w: give the statement without EXPLAIN", ErrNotReadOnly)
	}
	var plan []PlanRow
	err := db.Read(ctx, func(tx *Tx) error {
		c := tx.conn
		ro, empty, tail, err := prepareFirst(ctx, c.dc, q)
		if err != nil {
			return classify(ctx, "", err)
		}
		if empty {
			return fmt.Errorf("%w: no statement, only comments", ErrNotReadOnly)
		}
		for tail != "" {
			// What follows the statement must prepare to nothing.
			_, empty, rest, err := prepareFirst(ctx, c.dc, tail)
			if err != nil || !empty {
				return fmt.Errorf("%w: more than one statement (%q follows the first)", ErrNotReadOnly, clip(tail, 40))
			}
			tail = rest
		}
		if !ro {
			return fmt.Errorf("%w: SQLite reports that this statement writes", ErrNotReadOnly)
		}
		nv, err := c.namedValues(args)
		if err != nil {
			return err
		}
		ds, err := c.dc.(driver.ConnPrepareContext).PrepareContext(ctx, "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			return classify(ctx, "", err)
		}
		defer ds.Close()
		rows, err := ds.(driver.StmtQueryContext).QueryContext(ctx, nv)
		if err != nil {
			return classify(ctx, "", err)
		}
		defer rows.Close()
		dest := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return classify(ctx, "", err)
			}
			if len(dest) < 4 {
				return fmt.Errorf("EXPLAIN QUERY PLAN gave %d columns, want 4", len(dest))
			}
			id, _ := dest[0].(int64)
			parent, _ := dest[1].(int64)
			detail, _ := dest[3].(string)
			plan = append(plan, PlanRow{ID: int(id), Parent: int(parent), Detail: detail})
		}
	})
	return plan, err
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
