package sqlitedb

import (
	"context"
	"fmt"
)

// Argument kinds, as stmtexec.c reads them.
const (
	argNull  = 0
	argInt   = 1
	argFloat = 2
	argText  = 3
	argBlob  = 4
)

// MaxArgs is the most arguments an Args holds.
const MaxArgs = 8

// Args are a statement's arguments, by type, for Tx.ExecArgs: integers,
// text and NULL, each kept as itself. Exec's ...any boxes every argument
// into an interface, and the writer's statements keep them past the call,
// so each integer over 255 and each string is an allocation (9 per append
// on the store's path). The zero value is empty; add the arguments in
// order:
//
//	var a sqlitedb.Args
//	tx.ExecArgs(ctx, q, a.Int(at).Int(sid).Text(id))
type Args struct {
	n    int
	kind [MaxArgs]uint8 // argNull, argInt, argText
	num  [MaxArgs]int64
	text [MaxArgs]string
}

func (a *Args) add(kind uint8, n int64, s string) *Args {
	if a.n < MaxArgs {
		a.kind[a.n], a.num[a.n], a.text[a.n] = kind, n, s
	}
	a.n++ // past MaxArgs: ExecArgs refuses the statement
	return a
}

// Int adds an integer argument.
func (a *Args) Int(v int64) *Args { return a.add(argInt, v, "") }

// Text adds a text argument (bound as TEXT, not copied).
func (a *Args) Text(v string) *Args { return a.add(argText, 0, v) }

// Null adds a NULL argument.
func (a *Args) Null() *Args { return a.add(argNull, 0, "") }

// values is a's arguments as Exec takes them (each boxed: the path for a
// statement not yet cached on the writer, or a cancellable context).
func (a *Args) values() []any {
	v := make([]any, a.n)
	for i := range v {
		switch a.kind[i] {
		case argInt:
			v[i] = a.num[i]
		case argText:
			v[i] = a.text[i]
		}
	}
	return v
}

// ExecArgs is Exec with typed arguments: on the writer, a statement run
// before (cached) is bound from a in one cgo call, with no allocation;
// otherwise it runs as Exec does.
func (tx *Tx) ExecArgs(ctx context.Context, query string, a *Args) (Result, error) {
	if err := tx.check(ctx); err != nil {
		return Result{}, err
	}
	if a.n > MaxArgs {
		return Result{}, fmt.Errorf("exec: %d arguments, at most %d fit in an Args: use Exec", a.n, MaxArgs)
	}
	res, err := tx.conn.runArgs(tx.ctx, query, a)
	if err != nil {
		return Result{}, classify(ctx, "", err)
	}
	return res, nil
}

// runArgs runs query with a: through stmtExec when query is the cached
// statement of its hot slot (as run does), else through run.
func (c *conn) runArgs(ctx context.Context, query string, a *Args) (Result, error) {
	h := &c.hot[hotSlot(query)]
	if h.s != nil && !h.s.busy && ctx.Done() == nil && h.query == query {
		s := h.s
		s.busy = true
		defer c.release(s)
		x, err := c.xb.stmtExecArgs(s.raw, a)
		if err != nil {
			return Result{}, err
		}
		return Result{x: x}, nil
	}
	return c.run(ctx, query, a.values())
}
