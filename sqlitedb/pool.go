package sqlitedb

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// pool is the set of read-only connections. Acquisition waits at most
// timeout; the waits are counted for Stats.
type pool struct {
	conns   chan *conn
	all     []*conn
	timeout time.Duration

	acquires  atomic.Int64
	waits     atomic.Int64
	waitNanos atomic.Int64
	timeouts  atomic.Int64
	inUse     atomic.Int64
}

func newPool(size int, timeout time.Duration) *pool {
	return &pool{conns: make(chan *conn, size), timeout: timeout}
}

func (p *pool) add(c *conn) {
	p.all = append(p.all, c)
	p.conns <- c
}

// acquire takes a connection, waiting at most p.timeout (ErrPoolTimeout) or
// until ctx ends.
func (p *pool) acquire(ctx context.Context) (*conn, error) {
	p.acquires.Add(1)
	select {
	case c := <-p.conns:
		p.inUse.Add(1)
		return c, nil
	default:
	}
	p.waits.Add(1)
	start := time.Now()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	defer func() { p.waitNanos.Add(int64(time.Since(start))) }()
	select {
	case c := <-p.conns:
		p.inUse.Add(1)
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		p.timeouts.Add(1)
		return nil, fmt.Errorf("%w (%v, %d connections)", ErrPoolTimeout, p.timeout, cap(p.conns))
	}
}

func (p *pool) release(c *conn) {
	p.inUse.Add(-1)
	p.conns <- c
}

// closeAll closes every connection; callers must have released them.
func (p *pool) closeAll() {
	for _, c := range p.all {
		c.close()
	}
	p.all = nil
}

// Read runs fn in a read transaction on one of the read-only connections: fn
// sees one consistent snapshot of the database, unaffected by commits made
// while it runs, and never blocks or is blocked by the writer (in WAL mode).
// It is safe for concurrent use.
//
// Waiting for a free connection is bounded by Config.PoolTimeout
// (ErrPoolTimeout). A write statement in fn fails with ErrReadOnly. ctx
// cancellation interrupts the running statement. fn is retried, like Write's,
// when SQLite reports the database busy.
func (db *DB) Read(ctx context.Context, fn func(*Tx) error) error {
	return db.read(ctx, false, fn)
}

// ReadOne is Read for a function that runs exactly one statement (one
// QueryRow, Query or Exec): SQLite runs a lone statement in a read
// transaction of its own, so ReadOne skips the BEGIN and COMMIT around it,
// two statements fewer per read. A second statement in fn fails with
// ErrNotSingle.
func (db *DB) ReadOne(ctx context.Context, fn func(*Tx) error) error {
	return db.read(ctx, true, fn)
}

// read is Read (single false) and ReadOne (single true).
func (db *DB) read(ctx context.Context, single bool, fn func(*Tx) error) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.ops.Done()
	c, err := db.readers.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.readers.release(c)
	for attempt := 0; ; attempt++ {
		tx := Tx{conn: c, ctx: ctx, readOnly: true, single: single}
		err := c.with(func() error {
			if single {
				return fn(&tx)
			}
			return readOnce(ctx, &tx, fn)
		})
		if err == nil {
			db.lastRead.Store(time.Now().UnixNano())
			return nil
		}
		if !isBusy(err) || attempt+1 >= db.cfg.MaxRetries {
			return db.noteErr(err)
		}
		if !sleepCtx(ctx, backoff(attempt)) {
			return err
		}
	}
}

func readOnce(ctx context.Context, tx *Tx, fn func(*Tx) error) error {
	// BEGIN and COMMIT of a read transaction only take and drop a snapshot:
	// they never wait, so they run uncancellable, sparing the driver a
	// goroutine per statement to watch ctx. fn's statements stay
	// interruptible.
	if _, err := tx.conn.exec(context.WithoutCancel(ctx), "BEGIN"); err != nil {
		return classify(ctx, "begin", err)
	}
	err := fn(tx)
	end := "COMMIT"
	if err != nil {
		end = "ROLLBACK"
	}
	if _, cerr := tx.conn.exec(context.WithoutCancel(ctx), end); cerr != nil && err == nil {
		err = classify(ctx, "commit", cerr)
	}
	return err
}
