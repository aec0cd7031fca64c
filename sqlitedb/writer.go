package sqlitedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Request states: a request is run only if the writer moves it from queued
// to taken before its caller gives up (queued to cancelled).
const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

// writeReq is one call of Write (fn) or one exclusive operation that needs
// the writer connection outside any transaction (excl).
type writeReq struct {
	ctx   context.Context
	fn    func(*Tx) error
	excl  func(*conn) error
	done  chan error
	state atomic.Int32
	panic any
}

// savepointGroupsAfterFailure is how many groups run with savepoints after
// a failure in an optimistic group: failures come in streaks (conflicting
// appends), and rerunning every group would cost more than savepoints.
const savepointGroupsAfterFailure = 32

// writer owns the one read-write connection. Only its goroutine touches it.
type writer struct {
	db    *DB
	conn  *conn
	queue chan *writeReq
	tx    Tx

	// savepointGroups is how many more groups run with savepoints from
	// the start, after a group had a failing request.
	savepointGroups int

	guard walGuard

	// Filled per batch, kept to avoid allocations.
	batch   []*writeReq
	results []error

	// Statistics, read by Stats from other goroutines.
	commits     atomic.Int64
	writes      atomic.Int64
	failed      atomic.Int64
	refused     atomic.Int64 // functions' own errors: see refusal
	retries     atomic.Int64
	reruns      atomic.Int64
	batchedReqs atomic.Int64
	maxBatch    atomic.Int64
	commitNanos atomic.Int64
	lastCommit  atomic.Int64 // unix nanos
	// lastErrAt is when a whole group last failed (its BEGIN or COMMIT):
	// Health probes the writer again rather than trust lastCommit.
	lastErrAt atomic.Int64 // unix nanos
	// commitHist and batchHist are the distributions of commitNanos and
	// batchedReqs (histogram.go), made on first use.
	histOnce              sync.Once
	commitHist, batchHist *histogram
	// The checkpoints run on the writer, by kind (CheckpointStats).
	ckGuard, ckTail, ckHalf ckCounter
}

// ckCounter counts checkpoints of one kind on the writer and their time.
type ckCounter struct{ n, nanos atomic.Int64 }

func (c *ckCounter) add(since time.Time) {
	c.n.Add(1)
	c.nanos.Add(int64(time.Since(since)))
}

func (c *ckCounter) stats() WriterCheckpoints {
	return WriterCheckpoints{Count: c.n.Load(), Seconds: float64(c.nanos.Load()) / 1e9}
}

// Write runs fn in a write transaction (BEGIN IMMEDIATE) on the one writer
// connection, and commits. It is safe for concurrent use.
//
// Concurrent calls are grouped: the writer takes every call waiting in its
// queue (up to Config.MaxBatch), runs them in one transaction, commits once,
// then answers each caller. A lone call commits at once: there is no
// artificial delay. An fn that returns an error has none of its work
// committed and its caller gets that error; the others commit.
//
// fn may run more than once. A group first runs optimistically, without
// savepoints (they cost two statements and a statement journal per call).
// When one fn of the group fails, the whole transaction is rolled back and
// the group runs again with each fn in its own SAVEPOINT (and so do the
// next groups, for a while): the fns that ran before it, and the failing
// fn itself, run a second time. When an fn's error breaks the transaction
// (disk full, I/O), the others run again without it. And when SQLite
// reports the database busy (another process holds the lock past
// busy_timeout), the whole transaction is retried with exponential backoff
// and jitter, at most Config.MaxRetries times and while ctx lasts. Only
// the last run's work inside tx is committed, once; anything fn does
// outside tx (counters, messages, files) must be idempotent or deferred
// until Write returns nil. fn must not keep tx after it returns, nor call
// Write or Read.
//
// A caller whose ctx ends before the writer takes its request gets ctx.Err()
// and fn never runs; once fn has started, Write waits for the outcome, so a
// nil error always means committed. Errors are classified (ErrBusy,
// ErrDiskFull, ErrConstraint, …); after ErrClosed nothing ran.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.submit(ctx, &writeReq{ctx: ctx, fn: fn})
}

// exclusive runs fn on the writer connection between transactions.
func (db *DB) exclusive(ctx context.Context, fn func(*conn) error) error {
	return db.submit(ctx, &writeReq{ctx: ctx, excl: fn})
}

func (db *DB) submit(ctx context.Context, req *writeReq) error {
	if err := db.enter(); err != nil {
		return err
	}
	defer db.ops.Done()
	if err := db.walErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req.done = make(chan error, 1)
	select {
	case db.w.queue <- req:
	default:
		select {
		case db.w.queue <- req:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrQueueFull, ctx.Err())
		}
	}
	var err error
	select {
	case err = <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err()
		}
		err = <-req.done
	}
	if req.panic != nil {
		panic(req.panic)
	}
	return db.noteErr(err)
}

func (w *writer) loop() {
	for req := range w.queue {
		w.batch = append(w.batch[:0], req)
		// Let the callers answered by the last commit run and queue their
		// next writes before the batch is cut: on few cores they are
		// runnable but not running. With nothing else runnable this
		// returns at once, so a lone write is not delayed.
		runtime.Gosched()
	drain:
		for len(w.batch) < w.db.cfg.MaxBatch {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break drain
				}
				w.batch = append(w.batch, r)
			default:
				break drain
			}
		}
		w.guardWAL()
		w.runBatch(w.batch)
		clear(w.batch)
	}
}

// runBatch runs the functions of a batch in one transaction, and exclusive
// operations alone, in queue order.
func (w *writer) runBatch(batch []*writeReq) {
	start := 0
	for i, r := range batch {
		if r.excl == nil {
			continue
		}
		w.runGroup(batch[start:i])
		start = i + 1
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			r.done <- w.runExclusive(r)
		}
	}
	w.runGroup(batch[start:])
}

func (w *writer) runExclusive(r *writeReq) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panic = p
		}
	}()
	return r.excl(w.conn)
}

// runGroup is group commit: the requests of a group in one transaction,
// each isolated by a savepoint when one of them fails, one commit.
func (w *writer) runGroup(reqs []*writeReq) {
	pending := reqs[:0:0]
	for _, r := range reqs {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			pending = append(pending, r)
		}
	}
	ctx := w.db.wctx
	forceSavepoints := false
	for attempt := 0; len(pending) > 0; attempt++ {
		retry := func(err error) bool {
			if !isBusy(err) || attempt+1 >= w.db.cfg.MaxRetries {
				return false
			}
			w.retries.Add(1)
			return sleepBackoff(ctx, attempt, pending)
		}
		if err := w.begin(); err != nil {
			if retry(err) {
				continue
			}
			w.finish(pending, nil, err)
			return
		}
		if cap(w.results) < len(pending) {
			w.results = make([]error, len(pending))
		}
		results := w.results[:len(pending)]
		clear(results)
		// Savepoints isolate each request's work, but cost two statements
		// and a statement journal per request. Most groups have no
		// failure, so a group first runs without them; if a request fails,
		// the whole transaction is rolled back and the group runs again
		// with savepoints (and so do the next groups, for a while).
		single := len(pending) == 1
		savepoints := !single && (forceSavepoints || w.savepointGroups > 0)
		if savepoints && w.savepointGroups > 0 {
			w.savepointGroups--
		}
		broken := -1
		rerun := false
		for i, r := range pending {
			if err := r.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			if !savepoints {
				if err := w.call(r); err != nil {
					results[i] = err
					broken = i
					rerun = !single && !breaksTx(err)
					break
				}
				continue
			}
			if _, err := w.conn.exec(ctx, "SAVEPOINT g"); err != nil {
				results[i] = classify(ctx, "savepoint", err)
				broken = i
				break
			}
			if err := w.call(r); err != nil {
				results[i] = err
				if breaksTx(err) {
					broken = i
					break
				}
				if _, rerr := w.conn.exec(ctx, "ROLLBACK TO g"); rerr != nil {
					broken = i
					break
				}
			}
			if _, err := w.conn.exec(ctx, "RELEASE g"); err != nil {
				results[i] = classify(ctx, "release savepoint", err)
				broken = i
				break
			}
		}
		if rerun {
			// An ordinary failure in an optimistic group: run it again,
			// isolating each request. Not a retry: attempts stay as they were.
			w.rollback()
			w.reruns.Add(1)
			w.savepointGroups = savepointGroupsAfterFailure
			forceSavepoints = true
			attempt--
			continue
		}
		if broken >= 0 {
			// The transaction cannot go on: roll it all back, answer the
			// request that broke it, and run the others again.
			w.rollback()
			bad := pending[broken]
			berr := results[broken]
			if retry(berr) {
				continue
			}
			w.finish([]*writeReq{bad}, nil, berr)
			pending = append(pending[:broken:broken], pending[broken+1:]...)
			continue
		}
		t0 := time.Now()
		if err := w.commit(); err != nil {
			w.rollback()
			if retry(err) {
				continue
			}
			w.finish(pending, nil, err)
			return
		}
		w.commits.Add(1)
		w.commitNanos.Add(int64(time.Since(t0)))
		w.histograms().observe(time.Since(t0), len(pending))
		w.lastCommit.Store(time.Now().UnixNano())
		w.batchedReqs.Add(int64(len(pending)))
		if n := int64(len(pending)); n > w.maxBatch.Load() {
			w.maxBatch.Store(n)
		}
		w.finish(pending, results, nil)
		return
	}
}

// finish answers each request: its own result, or err for all.
func (w *writer) finish(reqs []*writeReq, results []error, err error) {
	if err != nil {
		w.lastErrAt.Store(time.Now().UnixNano())
	}
	for i, r := range reqs {
		e := err
		if results != nil {
			e = results[i]
		}
		switch {
		case e == nil:
			w.writes.Add(1)
		case r.panic == nil && refusal(e):
			w.refused.Add(1)
		default:
			w.failed.Add(1)
			if errors.Is(e, ErrIO) {
				// The writer's files had an I/O error: what the WAL
				// holds is unknown, so no further write is accepted.
				w.db.noteWALErr(e)
			}
		}
		r.done <- e
	}
}

func (w *writer) call(r *writeReq) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panic = p
			err = fmt.Errorf("write function panicked: %v", p)
		}
	}()
	w.tx.ctx = w.db.wctx
	return r.fn(&w.tx)
}

func (w *writer) begin() error {
	if m := w.db.repl; m != nil {
		t0 := time.Now()
		defer func() { m.beginNanos.Add(int64(time.Since(t0))) }()
	}
	_, err := w.conn.exec(w.db.wctx, "BEGIN IMMEDIATE")
	return classify(context.Background(), "begin immediate", err)
}

// walbufCheck is the pragma walbuf.c answers on a database file: it
// writes out the -wal's pending bytes and fails with the first write or
// sync error the -wal file has had. Other VFSes ignore it.
const walbufCheck = "PRAGMA cortex_walbuf_check"

// commit commits, and with walbuf asks it whether every byte of the
// transaction reached the -wal file (walbufCheck), so that no commit is
// acknowledged over a failed write. An I/O error here latches
// ErrWALFailed: the WAL's contents are unknown.
func (w *writer) commit() error {
	_, err := w.conn.exec(w.db.wctx, "COMMIT")
	if err == nil && w.db.walbufOn {
		// Prepared each time: SQLite hands the pragma to the VFS while
		// compiling it, so a cached statement would not ask again.
		_, err = w.conn.dc.(driver.ExecerContext).ExecContext(w.db.wctx, walbufCheck, nil)
		if err != nil {
			err = classify(context.Background(), "commit: walbuf check", err)
			w.db.noteWALErr(err)
			return fmt.Errorf("%w: %w", ErrWALFailed, err)
		}
	}
	err = classify(context.Background(), "commit", err)
	if errors.Is(err, ErrIO) {
		w.db.noteWALErr(err)
	}
	return err
}

// rollback ends the transaction, if SQLite has not already done so.
func (w *writer) rollback() {
	_, _ = w.conn.exec(w.db.wctx, "ROLLBACK")
}

// refusal reports whether a write function's error is its own decision
// (a store's not found, version conflict, already exists: ordinary
// outcomes for its caller) rather than a failure of the engine: an error
// that carries no SQLite result code, or a constraint violation, which
// the function's statement met and its savepoint rolled back alone.
func refusal(err error) bool {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrQueueFull) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := CodeOf(err); !ok {
		return true
	}
	return errors.Is(err, ErrConstraint)
}
