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
	// Logger receives the errors of Run's passes; nil discards them.
	Logger *slog.Logger
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultJanitorInterval
	}
	if c.Batch <= 0 {
		c.Batch = DefaultPruneLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Janitor runs retention on any Store in small batches: Prune (KeepLast,
// MaxAge) then ExpireSessions, one short write transaction per batch, so it
// never holds a SQLite writer for long, and is safe beside several janitors
// on PostgreSQL. Its methods are safe for concurrent use.
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
	// SnapshotsPruned and SessionsExpired are the rows removed.
	SnapshotsPruned int64 `json:"snapshots_pruned"`
	SessionsExpired int64 `json:"sessions_expired"`
	// Errors counts failed passes; LastError is the latest one's message.
	Errors    int64  `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// LastPassAt is when the latest pass ended, nil before the first.
	LastPassAt *time.Time `json:"last_pass_at,omitempty"`
}

type janitorCounters struct {
	passes, batches, pruned, expired, errors atomic.Int64
	lastPass                                 atomic.Int64 // unix nanos
	mu                                       sync.Mutex
	lastErr                                  string
}

// Stats returns the janitor's counters.
func (j *Janitor) Stats() JanitorStats {
	c := &j.c
	st := JanitorStats{
		Passes:          c.passes.Load(),
		Batches:         c.batches.Load(),
		SnapshotsPruned: c.pruned.Load(),
		SessionsExpired: c.expired.Load(),
		Errors:          c.errors.Load(),
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
	SnapshotsPruned int64 `json:"snapshots_pruned"`
	SessionsExpired int64 `json:"sessions_expired"`
	Batches         int64 `json:"batches"`
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
