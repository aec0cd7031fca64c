package sqlitedb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"unsafe"
)

// maxCachedStmts bounds a connection's prepared-statement cache.
const maxCachedStmts = 256

// conn is one SQLite connection owned by this package, with a cache of
// prepared statements: preparing costs more than running most statements.
// A conn is used by one goroutine at a time.
//
// Statements run on the driver's connection directly, not through
// database/sql: on the hot paths database/sql's per-call machinery (Rows,
// locks, argument conversion) cost as much as SQLite's own work, measured
// 6.5 → 3.2 µs for a point query and 7.8 → 6.2 µs for an UPDATE. The driver
// connection is only used inside with, as database/sql's Conn.Raw requires.
type conn struct {
	c     *sql.Conn
	dc    driver.Conn // set only inside with
	stmts map[string]*stmt
	kinds map[string]bool // query text → rowless(query)
	// nv is reused for each statement's arguments: the driver binds them
	// before the call returns and keeps none.
	nv []driver.NamedValue
	// xb holds the arguments of statements run through stmtExec.
	xb execBuf
	// hot finds the cached statements stmtExec runs without hashing
	// their text: by where the text is (query texts are mostly
	// constants), checked by comparing it, which for the same string is
	// a pointer comparison. Two map lookups hashed the text (~250 bytes
	// for an append's INSERT) twice per statement.
	hot [64]hotStmt
}

// hotStmt is an entry of conn.hot.
type hotStmt struct {
	query string
	s     *stmt
}

// hotSlot is query's entry in conn.hot.
func hotSlot(query string) int {
	return int((uintptr(unsafe.Pointer(unsafe.StringData(query)))>>3)^uintptr(len(query))) & 63
}

// stmt is a prepared statement; busy while its rows are open, so a nested
// use of the same query text prepares a second one.
type stmt struct {
	s      driver.Stmt
	raw    unsafe.Pointer // its sqlite3_stmt, for stmtExec; nil: the driver runs it
	busy   bool
	cached bool // in conn.stmts; otherwise closed on release
}

func newConn(c *sql.Conn) *conn {
	return &conn{c: c, stmts: make(map[string]*stmt), kinds: make(map[string]bool)}
}

// with runs fn holding the driver connection. Calls do not nest.
func (c *conn) with(fn func() error) error {
	return c.c.Raw(func(dc any) error {
		d, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T is not a driver.Conn", dc)
		}
		c.dc = d
		defer func() { c.dc = nil }()
		return fn()
	})
}

// prepare returns a prepared statement for query: the cached one, or a
// fresh uncached one (closed by the caller through release) when the cached
// one is in use.
func (c *conn) prepare(ctx context.Context, query string) (*stmt, error) {
	cached, ok := c.stmts[query]
	if ok && !cached.busy {
		return cached, nil
	}
	ds, err := c.dc.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &stmt{s: ds}
	if ok {
		return s, nil // the cached one is in use: this one is closed on release
	}
	if len(c.stmts) >= maxCachedStmts {
		c.clearStmts()
	}
	s.cached = true
	s.raw = rawStmt(ds)
	c.stmts[query] = s
	return s, nil
}

// release marks s free again, or closes it when it is not cached.
func (c *conn) release(s *stmt) {
	s.busy = false
	if !s.cached {
		s.s.Close()
	}
}

// bind prepares query and converts args, marking the statement in use.
func (c *conn) bind(ctx context.Context, query string, args []any) (*stmt, []driver.NamedValue, error) {
	s, err := c.prepare(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	nv, err := c.namedValues(args)
	if err != nil {
		c.release(s)
		return nil, nil, err
	}
	s.busy = true
	return s, nv, nil
}

func (c *conn) exec(ctx context.Context, query string, args ...any) (driver.Result, error) {
	r, err := c.run(ctx, query, args)
	if err != nil {
		return nil, err
	}
	if r.res != nil {
		return r.res, nil
	}
	return r.x, nil
}

// run is exec, its result as a Result: a statement run by stmtExec gives
// its figures without an allocation.
func (c *conn) run(ctx context.Context, query string, args []any) (Result, error) {
	h := &c.hot[hotSlot(query)]
	if h.s != nil && !h.s.busy && ctx.Done() == nil && h.query == query {
		nv, err := c.namedValues(args)
		if err != nil {
			return Result{}, err
		}
		return c.runRaw(ctx, h.s, nv)
	}
	if !c.rowless(query) {
		// The driver's Exec of a prepared statement takes one step and
		// leaves a statement that returned a row active (holding its
		// locks) until its next use, and it runs only the first statement
		// of a text. Its connection-level Exec runs every statement to the
		// end and finalizes it.
		nv, err := c.namedValues(args)
		if err != nil {
			return Result{}, err
		}
		res, err := c.dc.(driver.ExecerContext).ExecContext(ctx, query, nv)
		return Result{res: res}, err
	}
	s, nv, err := c.bind(ctx, query, args)
	if err != nil {
		return Result{}, err
	}
	if s.raw != nil && s.cached && ctx.Done() == nil {
		*h = hotStmt{query: query, s: s}
		s.busy = false
		return c.runRaw(ctx, s, nv)
	}
	res, err := s.s.(driver.StmtExecContext).ExecContext(ctx, nv)
	c.release(s)
	return Result{res: res}, err
}

// runRaw runs s, a cached statement with its sqlite3_stmt, on a context
// that cannot be cancelled (the writer's): no interrupt to watch for, so
// it runs in one cgo call (stmtexec.go) instead of the driver's one per
// argument; through the driver when an argument is of a kind stmtExec
// does not bind.
func (c *conn) runRaw(ctx context.Context, s *stmt, nv []driver.NamedValue) (Result, error) {
	s.busy = true
	defer c.release(s)
	x, ok, err := c.xb.stmtExec(s.raw, nv)
	if !ok {
		res, err := s.s.(driver.StmtExecContext).ExecContext(ctx, nv)
		return Result{res: res}, err
	}
	if err != nil {
		return Result{}, err
	}
	return Result{x: x}, nil
}

// rowless reports whether query is one statement that returns no rows,
// which is when a cached prepared statement can run it; remembered per
// query text.
func (c *conn) rowless(query string) bool {
	r, ok := c.kinds[query]
	if !ok {
		if len(c.kinds) >= maxCachedStmts {
			clear(c.kinds)
		}
		r = rowless(query)
		c.kinds[query] = r
	}
	return r
}

// rowless reports whether query is one statement that returns no rows.
// False positives are impossible; a false negative (a semicolon or the
// word RETURNING in a string literal, a statement kind not listed) only
// costs the cache.
func rowless(query string) bool {
	if i := strings.IndexByte(query, ';'); i >= 0 && strings.TrimSpace(query[i+1:]) != "" {
		return false
	}
	q := strings.TrimSpace(query)
	sp := strings.IndexAny(q, " \t\r\n")
	if sp < 0 {
		sp = len(q)
	}
	switch strings.ToUpper(q[:sp]) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return !containsFold(q, "RETURNING")
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}

// containsFold reports whether s contains the upper-case ASCII word w in
// any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// queryRow runs query and scans its first row into dest; sql.ErrNoRows
// when there is none.
func (c *conn) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return rows.Scan(dest...)
}

func (c *conn) query(ctx context.Context, query string, args ...any) (*Rows, error) {
	s, nv, err := c.bind(ctx, query, args)
	if err != nil {
		return nil, err
	}
	dr, err := s.s.(driver.StmtQueryContext).QueryContext(ctx, nv)
	if err != nil {
		c.release(s)
		return nil, err
	}
	return &Rows{rows: dr, vals: make([]driver.Value, len(dr.Columns())), done: func() { c.release(s) }}, nil
}

// namedValues converts arguments as database/sql does: driver.Valuer,
// pointers and named basic types become driver values. The slice is the
// conn's, valid until its next statement.
func (c *conn) namedValues(args []any) ([]driver.NamedValue, error) {
	if cap(c.nv) < len(args) {
		c.nv = make([]driver.NamedValue, len(args))
	}
	nv := c.nv[:len(args)]
	clear(nv)
	for i, a := range args {
		nv[i].Ordinal = i + 1
		if na, ok := a.(sql.NamedArg); ok {
			nv[i].Name = na.Name
			a = na.Value
		}
		switch a.(type) {
		case nil, int64, float64, bool, []byte, string:
			nv[i].Value = a
			continue
		}
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		nv[i].Value = v
	}
	return nv, nil
}

// clearStmts empties the cache; a statement in use is closed when it is
// released.
func (c *conn) clearStmts() {
	clear(c.hot[:])
	for q, s := range c.stmts {
		s.cached = false
		s.raw = nil
		if !s.busy {
			s.s.Close()
		}
		delete(c.stmts, q)
	}
}

func (c *conn) close() error {
	if len(c.stmts) > 0 {
		c.with(func() error { c.clearStmts(); return nil })
	}
	return c.c.Close()
}
