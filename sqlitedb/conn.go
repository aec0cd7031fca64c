package sqlitedb

import (
	"context"
	"database/sql"
)

// maxCachedStmts bounds a connection's prepared-statement cache.
const maxCachedStmts = 256

// conn is one SQLite connection owned by this package, with a cache of
// prepared statements: preparing costs more than running most statements.
// A conn is used by one goroutine at a time.
type conn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
}

func newConn(c *sql.Conn) *conn {
	return &conn{c: c, stmts: make(map[string]*sql.Stmt)}
}

// stmt returns the cached prepared statement for query, preparing it once.
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		c.clearStmts()
	}
	c.stmts[query] = s
	return s, nil
}

func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (c *conn) clearStmts() {
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

func (c *conn) close() error {
	c.clearStmts()
	return c.c.Close()
}
