package sqlitedb

import (
	"context"
	"fmt"
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
// read-only (query_only) connection and prepares the statement first:
// anything that is not a single statement SQLite reports as read-only is
// refused with ErrNotReadOnly, so no write can ever run through it.
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
	var plan []PlanRow
	err := db.Read(ctx, func(tx *Tx) error {
		// Three guards: only SELECT/VALUES/WITH is accepted, the statement
		// is only planned (EXPLAIN QUERY PLAN never runs it), and the
		// connection is query_only, so even a WITH … DELETE cannot write.
		if !isReadOnlyStatement(q) {
			return fmt.Errorf("%w: %q", ErrNotReadOnly, firstWord(q))
		}
		rows, err := tx.Query(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r PlanRow
			var notused int
			if err := rows.Scan(&r.ID, &r.Parent, &notused, &r.Detail); err != nil {
				return err
			}
			plan = append(plan, r)
		}
		return rows.Err()
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
