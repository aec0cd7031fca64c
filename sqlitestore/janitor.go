package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// DefaultJanitorInterval is the period of RunJanitor when none is given.
const DefaultJanitorInterval = time.Minute

// JanitorConfig says what retention removes. The zero value expires
// sessions past their TTL every DefaultJanitorInterval, in batches of
// state.DefaultPruneLimit, and prunes no snapshots.
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
	// state.DefaultPruneLimit), so the janitor never holds the writer for
	// long: between its batches, other writes run.
	Batch int
	// Logger receives the errors of RunJanitor's passes; nil discards them.
	Logger *slog.Logger
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Interval <= 0 {
		c.Interval = DefaultJanitorInterval
	}
	if c.Batch <= 0 {
		c.Batch = state.DefaultPruneLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// JanitorStats count the janitor's work since the Store was created.
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

// JanitorStats returns the janitor's counters. It is safe for concurrent use.
func (s *Store) JanitorStats() JanitorStats {
	c := &s.janitor
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

// JanitorPass runs retention once, to the end: Prune (KeepLast, MaxAge) and
// then ExpireSessions, each in batches of cfg.Batch rows, one short write
// transaction per batch, until a batch comes back short. Its work is added
// to JanitorStats, also when it fails part-way (the batches already
// committed stay committed); a failure counts in JanitorStats.Errors unless
// it is ctx ending. Errors: ctx's, and those of Prune and
// ExpireSessions (state.ErrUnavailable, …).
func (s *Store) JanitorPass(ctx context.Context, cfg JanitorConfig) (JanitorResult, error) {
	cfg = cfg.withDefaults()
	var r JanitorResult
	err := s.janitorPass(ctx, cfg, &r)
	c := &s.janitor
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

func (s *Store) janitorPass(ctx context.Context, cfg JanitorConfig, r *JanitorResult) error {
	if cfg.KeepLast > 0 || cfg.MaxAge > 0 {
		opts := state.PruneOptions{KeepLast: cfg.KeepLast, OlderThan: cfg.MaxAge, Limit: cfg.Batch}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := s.Prune(ctx, opts)
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
		n, err := s.ExpireSessions(ctx, cfg.Batch)
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

// RunJanitor runs JanitorPass now and then every cfg.Interval, until ctx
// ends (it returns nil then) or the database is closed (it returns
// sqlitedb.ErrClosed). A failed pass is counted in JanitorStats, logged to
// cfg.Logger, and tried again at the next interval. Run it in its own
// goroutine; it is safe to run beside any other use of the Store.
func (s *Store) RunJanitor(ctx context.Context, cfg JanitorConfig) error {
	cfg = cfg.withDefaults()
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.JanitorPass(ctx, cfg); err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, sqlitedb.ErrClosed):
				return err
			}
			cfg.Logger.Warn("janitor pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Stats are the store's figures: the database's and the janitor's.
type Stats struct {
	DB      sqlitedb.Stats `json:"db"`
	Janitor JanitorStats   `json:"janitor"`
}

// Stats reads the database's statistics (without side effects) and the
// janitor's counters.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	db, err := s.db.Stats(ctx)
	if err != nil {
		return Stats{}, storeErr("stats", err)
	}
	return Stats{DB: db, Janitor: s.JanitorStats()}, nil
}
