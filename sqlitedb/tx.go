package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// Tx is a transaction handed to the function given to Write or Read. It is
// valid only during that call and is not safe for concurrent use.
//
// Statements are prepared once per connection and cached, so repeating the
// same query text is cheap. Errors are classified: test them with errors.Is
// against ErrConstraint, ErrBusy, ErrDiskFull, … .
//
// Inside Write, statements run in the writer's transaction, which may be
// shared with other callers' functions (group commit). The ctx given to a
// statement is checked before it runs, but does not interrupt it once
// started: interrupting SQLite would roll back the other callers' work too.
// Inside Read, ctx cancellation interrupts the running statement.
type Tx struct {
	conn     *conn
	ctx      context.Context // the statements' context: interrupts them
	readOnly bool
	// single: ReadOne's, no BEGIN around it, so a second statement would
	// see another snapshot; ran counts the statements started.
	single bool
	ran    int
}

func (tx *Tx) check(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if tx.single {
		if tx.ran++; tx.ran > 1 {
			return ErrNotSingle
		}
	}
	return nil
}

// Exec runs a statement that returns no rows.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	if err := tx.check(ctx); err != nil {
		return Result{}, err
	}
	res, err := tx.conn.run(tx.ctx, query, args)
	if err != nil {
		return Result{}, classify(ctx, "", err)
	}
	return res, nil
}

// Query runs a statement that returns rows. The caller must close them.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	rows, err := tx.conn.query(tx.ctx, query, args...)
	if err != nil {
		return nil, classify(ctx, "", err)
	}
	return rows, nil
}

// QueryRow runs a statement expected to return at most one row when its
// Scan is called; no row gives sql.ErrNoRows.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	return &Row{tx: tx, ctx: ctx, query: query, args: args}
}

// Row is the result of Tx.QueryRow.
type Row struct {
	tx    *Tx
	ctx   context.Context
	query string
	args  []any
}

// Scan runs the query and copies its first row into dest; sql.ErrNoRows
// when there is none.
func (r *Row) Scan(dest ...any) error {
	if err := r.tx.check(r.ctx); err != nil {
		return err
	}
	err := r.tx.conn.queryRow(r.tx.ctx, r.query, r.args, dest...)
	if err == sql.ErrNoRows {
		return err
	}
	return classify(r.ctx, "", err)
}

// Result is the outcome of Exec.
type Result struct {
	res driver.Result // the driver's; nil when x has the figures
	x   execResult
}

// RowsAffected is the number of rows changed, inserted or deleted.
func (r Result) RowsAffected() (int64, error) {
	if r.res == nil {
		return r.x.RowsAffected()
	}
	return r.res.RowsAffected()
}

// LastInsertId is the rowid of the last inserted row.
func (r Result) LastInsertId() (int64, error) {
	if r.res == nil {
		return r.x.LastInsertId()
	}
	return r.res.LastInsertId()
}
