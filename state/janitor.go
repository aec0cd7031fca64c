package state

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultJanitorInterval is the period of Janitor.Run when none is given.
const DefaultJanitorInterval = time.Minute

// DefaultWriterShare is the share of writer time the janitor may use when
// its store runs retention in slices (Slicer): after a slice that held the
// writer for w, it waits w*(1/share-1) before the next.
const DefaultWriterShare = 0.1

// Slicer is implemented by stores whose retention work holds a single
// writer (sqlitestore) and so runs in slices of bounded writer time, each
// its own short write transaction. The Janitor uses it when its store has
// it, to pace the slices (JanitorConfig.WriterShare) and report the writer
// time they used; otherwise it calls Prune and ExpireSessions.
type Slicer interface {
	// PruneSlice removes, in one write transaction of bounded writer time,
	// some of the snapshots opts selects (at most opts.Limit; 0:
	// DefaultPruneLimit). More says work may remain.
	PruneSlice(ctx context.Context, opts PruneOptions) (SliceResult, error)
	// ReclaimSlice removes, in one write transaction of bounded writer
	// time, rows of deleted and expired sessions (both already absent from
	// every route). More says work may remain.
	ReclaimSlice(ctx context.Context) (SliceResult, error)
}

// SliceResult is what one slice of retention work did.
type SliceResult struct {
	// Snapshots are the snapshot rows removed; Sessions the sessions whose
	// last rows the slice removed (expired or deleted ones, by
	// ReclaimSlice).
	Snapshots int64
	Sessions  int64
	// WriterTime is the time the slice's work held the writer.
	WriterTime time.Duration
	// More says the slice stopped on its bounds: call again.
	More bool
}

// ReclaimInSlices is ExpireSessions over a store's sliced reclaim: it calls
// slice, each time with the number of sessions still to reclaim, until
// limit sessions (0: DefaultPruneLimit) are reclaimed or a slice says no
// more remain, and returns how many. A negative limit is the caller's to
// refuse.
func ReclaimInSlices(ctx context.Context, limit int, slice func(ctx context.Context, max int) (SliceResult, error)) (int64, error) {
	if limit == 0 {
		limit = DefaultPruneLimit
	}
	var n int64
	for n < int64(limit) {
		r, err := slice(ctx, int(int64(limit)-n))
		n += r.Sessions
		if err != nil {
			return n, err
		}
		if !r.More {
			break
		}
	}
	return n, nil
}

// PruneInSlices is Prune over a store's PruneSlice: it calls slice, each
// time with opts.Limit set to the snapshots still to remove, until
// opts.Limit snapshots (0: DefaultPruneLimit) are removed or a slice says
// no more remain, and returns how many. Invalid options are the caller's
// to refuse.
func PruneInSlices(ctx context.Context, opts PruneOptions, slice func(ctx context.Context, opts PruneOptions) (SliceResult, error)) (int64, error) {
	limit := int64(opts.Limit)
	if limit == 0 {
		limit = DefaultPruneLimit
	}
	var removed int64
	for removed < limit {
		o := opts
		o.Limit = int(limit - removed)
		r, err := slice(ctx, o)
		removed += r.Snapshots
		if err != nil {
			return removed, err
		}
		if !r.More {
			break
		}
	}
	return removed, nil
}

// JanitorConfig says what retention removes. The zero value expires
// sessions past their TTL every DefaultJanitorInterval, in batches of
// DefaultPruneLimit, and prunes no snapshots.
type JanitorConfig struct {
	// Interval is the time between passes (0: DefaultJanitorInterval).
	Interval time.Duration
	// KeepLast, when > 0, keeps only the newest KeepLast snapshots of each
	// session.
	KeepLast int
	// MaxAge, when > 0, removes snapshots older than it (never a session's
	// latest).
	MaxAge time.Duration
	// Batch bounds the rows one write transaction removes (0:
	// DefaultPruneLimit), so the janitor never holds the writer for
	// long: between its batches, other writes run.
	Batch int
	// WriterShare bounds the share of writer time the janitor takes when
	// its store runs retention in slices (Slicer): in (0, 1], 0 means
	// DefaultWriterShare.
	WriterShare float64
	// Logger receives the errors of Run's passes; nil discards them.
	Logger *slog.Logger
	// sleep waits between slices; nil: a timer. Tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultJanitorInterval
	}
	if c.Batch <= 0 {
		c.Batch = DefaultPruneLimit
	}
	if c.WriterShare <= 0 || c.WriterShare > 1 {
		c.WriterShare = DefaultWriterShare
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.sleep == nil {
		c.sleep = Sleep
	}
	return c
}

// Janitor runs retention on any Store in small batches: Prune (KeepLast,
// MaxAge) then ExpireSessions, one short write transaction per batch, so it
// never holds a SQLite writer for long, and is safe beside several janitors
// on PostgreSQL. On a Slicer (sqlitestore) it runs PruneSlice and
// ReclaimSlice instead, waiting between slices so that it uses at most
// WriterShare of the writer's time, and reports that time in
// JanitorStats. Expiry itself needs no janitor: a session past its TTL is
// absent at once; the janitor reclaims the space. Its methods are safe
// for concurrent use.
type Janitor struct {
	store Store
	cfg   JanitorConfig
	c     janitorCounters
}

// NewJanitor returns a janitor for store; it does nothing until Pass or Run.
func NewJanitor(store Store, cfg JanitorConfig) *Janitor {
	return &Janitor{store: store, cfg: cfg.withDefaults()}
}

// JanitorStats count the janitor's work since it was created.
type JanitorStats struct {
	// Passes are the completed passes; Batches the write transactions they ran.
	Passes  int64 `json:"passes"`
	Batches int64 `json:"batches"`
	// SnapshotsPruned and SessionsExpired are the rows removed;
	// SnapshotsReclaimed the snapshots of expired and deleted sessions
	// removed on a Slicer.
	SnapshotsPruned    int64 `json:"snapshots_pruned"`
	SessionsExpired    int64 `json:"sessions_expired"`
	SnapshotsReclaimed int64 `json:"snapshots_reclaimed"`
	// Slices are the slices run on a Slicer (also counted in Batches);
	// WriterSeconds the writer time they used, MaxSliceSeconds the
	// longest one; SleepSeconds the time the janitor waited between them
	// to keep to its writer share.
	Slices          int64   `json:"slices"`
	WriterSeconds   float64 `json:"writer_seconds"`
	MaxSliceSeconds float64 `json:"max_slice_seconds"`
	SleepSeconds    float64 `json:"sleep_seconds"`
	// Errors counts failed passes; LastError is the latest one's message.
	Errors    int64  `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// LastPassAt is when the latest pass ended, nil before the first.
	LastPassAt *time.Time `json:"last_pass_at,omitempty"`
}

type janitorCounters struct {
	passes, batches, pruned, expired, errors atomic.Int64
	reclaimed                                atomic.Int64
	slices, writerNs, maxSliceNs, sleepNs    atomic.Int64
	lastPass                                 atomic.Int64 // unix nanos
	mu                                       sync.Mutex
	lastErr                                  string
}

// Stats returns the janitor's counters.
func (j *Janitor) Stats() JanitorStats {
	c := &j.c
	st := JanitorStats{
		Passes:             c.passes.Load(),
		Batches:            c.batches.Load(),
		SnapshotsPruned:    c.pruned.Load(),
		SessionsExpired:    c.expired.Load(),
		SnapshotsReclaimed: c.reclaimed.Load(),
		Errors:             c.errors.Load(),
		Slices:             c.slices.Load(),
		WriterSeconds:      time.Duration(c.writerNs.Load()).Seconds(),
		MaxSliceSeconds:    time.Duration(c.maxSliceNs.Load()).Seconds(),
		SleepSeconds:       time.Duration(c.sleepNs.Load()).Seconds(),
	}
	if n := c.lastPass.Load(); n != 0 {
		t := time.Unix(0, n).UTC()
		st.LastPassAt = &t
	}
	c.mu.Lock()
	st.LastError = c.lastErr
	c.mu.Unlock()
	return st
}

// JanitorResult is what one pass removed.
type JanitorResult struct {
	SnapshotsPruned    int64 `json:"snapshots_pruned"`
	SessionsExpired    int64 `json:"sessions_expired"`
	SnapshotsReclaimed int64 `json:"snapshots_reclaimed"`
	Batches            int64 `json:"batches"`
}

// Pass runs retention once, to the end: Prune (KeepLast, MaxAge) and
// then ExpireSessions, each in batches of cfg.Batch rows, one short write
// transaction per batch, until a batch comes back short. Its work is added
// to JanitorStats, also when it fails part-way (the batches already
// committed stay committed); a failure counts in JanitorStats.Errors unless
// it is ctx ending. Errors: ctx's, and those of Prune and
// ExpireSessions (ErrUnavailable, …).
func (j *Janitor) Pass(ctx context.Context) (JanitorResult, error) {
	var r JanitorResult
	err := j.pass(ctx, &r)
	c := &j.c
	c.batches.Add(r.Batches)
	c.pruned.Add(r.SnapshotsPruned)
	c.expired.Add(r.SessionsExpired)
	c.reclaimed.Add(r.SnapshotsReclaimed)
	if err != nil {
		if ctx.Err() != nil {
			return r, err // stopped by the caller, not a failure
		}
		c.errors.Add(1)
		c.mu.Lock()
		c.lastErr = err.Error()
		c.mu.Unlock()
		return r, fmt.Errorf("janitor pass: %w", err)
	}
	c.passes.Add(1)
	c.lastPass.Store(time.Now().UnixNano())
	return r, nil
}

func (j *Janitor) pass(ctx context.Context, r *JanitorResult) error {
	cfg := j.cfg
	if sl, ok := j.store.(Slicer); ok {
		return j.slicedPass(ctx, sl, r)
	}
	if cfg.KeepLast > 0 || cfg.MaxAge > 0 {
		opts := PruneOptions{KeepLast: cfg.KeepLast, OlderThan: cfg.MaxAge, Limit: cfg.Batch}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := j.store.Prune(ctx, opts)
			if err != nil {
				return err
			}
			r.Batches++
			r.SnapshotsPruned += n
			if n < int64(cfg.Batch) {
				break
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := j.store.ExpireSessions(ctx, cfg.Batch)
		if err != nil {
			return err
		}
		r.Batches++
		r.SessionsExpired += n
		if n < int64(cfg.Batch) {
			return nil
		}
	}
}

// slicedPass is pass on a Slicer: slice after slice, each followed by a
// wait that keeps the janitor's writer time to cfg.WriterShare. Each of
// its two phases (prune, reclaim) ends after at most one Interval (at
// least a minute), so a
// pass ends even when appends add work faster than the janitor's share
// removes it; the next pass carries on.
func (j *Janitor) slicedPass(ctx context.Context, sl Slicer, r *JanitorResult) error {
	cfg := j.cfg
	run := func(slice func() (SliceResult, error), rows *int64) error {
		end := time.Now().Add(max(cfg.Interval, time.Minute))
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := slice()
			if err != nil {
				return err
			}
			r.Batches++
			j.c.slices.Add(1)
			w := res.WriterTime
			j.c.writerNs.Add(int64(w))
			for {
				m := j.c.maxSliceNs.Load()
				if int64(w) <= m || j.c.maxSliceNs.CompareAndSwap(m, int64(w)) {
					break
				}
			}
			*rows += res.Snapshots
			r.SessionsExpired += res.Sessions
			if !res.More || time.Now().After(end) {
				return nil
			}
			pause := time.Duration(float64(w) * (1/cfg.WriterShare - 1))
			j.c.sleepNs.Add(int64(pause))
			if err := cfg.sleep(ctx, pause); err != nil {
				return err
			}
		}
	}
	if cfg.KeepLast > 0 || cfg.MaxAge > 0 {
		opts := PruneOptions{KeepLast: cfg.KeepLast, OlderThan: cfg.MaxAge, Limit: cfg.Batch}
		if err := run(func() (SliceResult, error) { return sl.PruneSlice(ctx, opts) }, &r.SnapshotsPruned); err != nil {
			return err
		}
	}
	return run(func() (SliceResult, error) { return sl.ReclaimSlice(ctx) }, &r.SnapshotsReclaimed)
}

// Sleep waits d, or until ctx ends (then it returns ctx's error): the
// pause between slices, for the janitor and the stores' paced work.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run runs Pass now and then every Interval until ctx ends; it returns
// nil then. A failed pass is counted in Stats, logged to the config's
// Logger, and tried again at the next interval. Run it in its own
// goroutine, and cancel ctx before closing the Store.
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := j.Pass(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			j.cfg.Logger.Warn("janitor pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
