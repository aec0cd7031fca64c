package sqlitedb

import (
	"context"
	"database/sql"
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
type Tx struct {
	conn     *conn
	ctx      context.Context // the connection's context: interrupts the statement
	readOnly bool
}

func (tx *Tx) check(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs a statement that returns no rows.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	s, err := tx.conn.stmt(tx.ctx, query)
	if err != nil {
		return nil, classify(ctx, "prepare", err)
	}
	res, err := s.ExecContext(tx.ctx, args...)
	if err != nil {
		return nil, classify(ctx, "", err)
	}
	return res, nil
}

// Query runs a statement that returns rows. The caller must close them.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	s, err := tx.conn.stmt(tx.ctx, query)
	if err != nil {
		return nil, classify(ctx, "prepare", err)
	}
	rows, err := s.QueryContext(tx.ctx, args...)
	if err != nil {
		return nil, classify(ctx, "", err)
	}
	return &Rows{Rows: rows}, nil
}

// QueryRow runs a statement expected to return at most one row. Errors are
// deferred to Row.Scan; no row gives sql.ErrNoRows.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if err := tx.check(ctx); err != nil {
		return &Row{err: err}
	}
	s, err := tx.conn.stmt(tx.ctx, query)
	if err != nil {
		return &Row{err: classify(ctx, "prepare", err)}
	}
	return &Row{row: s.QueryRowContext(tx.ctx, args...)}
}

// Rows is *sql.Rows whose errors are classified.
type Rows struct {
	*sql.Rows
}

// Scan copies the current row into dest.
func (r *Rows) Scan(dest ...any) error { return classify(nil, "", r.Rows.Scan(dest...)) }

// Err returns the error met during iteration, if any.
func (r *Rows) Err() error { return classify(nil, "", r.Rows.Err()) }

// Row is the result of QueryRow.
type Row struct {
	row *sql.Row
	err error
}

// Scan copies the row into dest; sql.ErrNoRows when there was none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return classify(nil, "", r.row.Scan(dest...))
}
