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

// Explain returns the query plan of one read-only statement. It runs on a
// read-only (query_only) connection, and only a single SELECT, VALUES or
// WITH statement that SQLite itself reports read-only once prepared
// (sqlite3_stmt_readonly) is planned; anything else is refused with
// ErrNotReadOnly. A ";" anywhere but at the end is refused too, even in a
// string literal. The statement is only planned (EXPLAIN QUERY PLAN never
// runs it), and neither it nor its plan is kept in the connection's cache
// of prepared statements.
func (db *DB) Explain(ctx context.Context, query string, args ...any) ([]PlanRow, error) {
	q := strings.TrimSpace(query)
	q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	if q == "" {
		return nil, fmt.Errorf("%w: empty statement", ErrNotReadOnly)
	}
	if strings.Contains(q, ";") {
		return nil, fmt.Errorf("%w: more than one statement", ErrNotReadOnly)
	}
	if up := strings.ToUpper(q); strings.HasPrefix(up, "EXPLAIN") {
		return nil, fmt.Errorf("%w: give the statement without EXPLAIN", ErrNotReadOnly)
	}
	if !isReadOnlyStatement(q) {
		return nil, fmt.Errorf("%w: %q", ErrNotReadOnly, firstWord(q))
	}
	var plan []PlanRow
	err := db.Read(ctx, func(tx *Tx) error {
		c := tx.conn
		ro, err := stmtReadOnly(ctx, c.dc, q)
		if err != nil {
			return classify(ctx, "", err)
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

func firstWord(q string) string {
	if f := strings.Fields(q); len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return ""
}

// isReadOnlyStatement accepts SELECT, VALUES and WITH … SELECT statements.
func isReadOnlyStatement(q string) bool {
	switch firstWord(q) {
	case "SELECT", "VALUES", "WITH":
		return true
	}
	return false
}
