package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

var _ state.Slicer = (*Store)(nil)

// Retention, reclaim and fork copies run in slices: each slice is one
// short transaction that stops at the first statement ending past the
// slice budget (Config.Slices), each statement touching at most
// SliceConfig.Rows rows. PostgreSQL has no single writer, but a long
// transaction still holds its rows' locks, a connection, and a share of
// the server's CPU and I/O that concurrent appends feel; the janitor
// (state.Janitor, through state.Slicer) waits between slices to keep its
// share of the time (JanitorConfig.WriterShare). See
// docs/design-fork-and-delete.md.
//
// Retention and reclaim slices run on a connection of their own (the
// store's janitor pool, one connection), not on the write pool's: the
// write pool is a writer limit of a few connections (half the CPUs), and
// a slice holding one of two cut the appends' connections by half while
// it ran. A slice's WriterTime, which the janitor paces by, is the whole
// transaction as the server sees it, BEGIN to COMMIT, so a slow commit
// counts against the share too.

// sliceClock measures a slice from the start of its transaction.
type sliceClock struct {
	start  time.Time
	budget time.Duration
}

func (s *Store) startSlice() sliceClock {
	return sliceClock{start: time.Now(), budget: s.cfg.Slices.Budget}
}

func (c sliceClock) over() bool { return time.Since(c.start) >= c.budget }

func validPrune(opts state.PruneOptions) error {
	switch {
	case opts.KeepLast < 0:
		return state.Invalid("keep_last", "must not be negative")
	case opts.OlderThan < 0:
		return state.Invalid("older_than", "must not be negative")
	case opts.Limit < 0:
		return state.Invalid("limit", "must not be negative")
	}
	return nil
}

// Prune removes old snapshots: beyond the newest opts.KeepLast of each
// session, and/or created more than opts.OlderThan ago by the store's clock;
// a snapshot goes when either rule says so, and a session's latest snapshot
// never goes. It removes at most opts.Limit (0: state.DefaultPruneLimit) per
// call, in slices (PruneSlice), each its own short transaction, and
// returns how many; call again while that equals the limit.
//
// Several janitors may run at once: each locks the session rows it prunes
// with FOR UPDATE SKIP LOCKED, so they split the work instead of waiting on
// each other, and a session busy with an append is left for the next round.
// Locks are taken session row first, then snapshots, in the order appends and
// deletes take them, so pruning cannot deadlock with them.
func (s *Store) Prune(ctx context.Context, opts state.PruneOptions) (int64, error) {
	if err := validPrune(opts); err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	return state.PruneInSlices(ctx, opts, s.PruneSlice)
}

// PruneSlice removes some of the snapshots opts selects (at most
// opts.Limit; 0: state.DefaultPruneLimit) in one transaction that stops
// once it has used the slice budget; More says work may remain. It
// implements state.Slicer. The scan of sessions resumes, from one slice
// to the next, after the last session the previous one pruned, so a pass
// over many sessions does not read the pruned ones again.
func (s *Store) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	if err := validPrune(opts); err != nil {
		return state.SliceResult{}, fmt.Errorf("prune: %w", err)
	}
	if opts.KeepLast == 0 && opts.OlderThan == 0 {
		return state.SliceResult{}, nil
	}
	limit := int64(opts.Limit)
	if limit == 0 {
		limit = state.DefaultPruneLimit
	}
	var (
		keep   *int64
		cutoff *time.Time
	)
	if opts.KeepLast > 0 {
		k := int64(opts.KeepLast)
		keep = &k
	}
	if opts.OlderThan > 0 {
		c := s.now().Add(-opts.OlderThan)
		cutoff = &c
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	var (
		res   state.SliceResult
		after string
	)
	began := time.Now()
	err := s.txOn(ctx, s.janitor, "prune", func(tx pgx.Tx) error {
		clk := s.startSlice()
		res, after = state.SliceResult{}, s.pruneAfter
		// Custom plans: with the rule's parameters known, each
		// condition is an index range; a generic plan (which PostgreSQL
		// picks for a prepared statement after five runs) cannot drop
		// the unused rule and reads every snapshot of each session it
		// looks at (seconds for a 100k-snapshot one).
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		wrapped := after == ""
		for res.Snapshots < limit {
			n, last, err := pruneChunk(ctx, tx, keep, cutoff, after, min(int64(s.cfg.Slices.Rows), limit-res.Snapshots))
			if err != nil {
				return err
			}
			res.Snapshots += n
			if last == "" {
				// Nothing from after to the end: once more from the
				// start (sessions skipped while busy, and those before
				// after), then done.
				if wrapped {
					after = ""
					return nil
				}
				after, wrapped = "", true
				if clk.over() {
					break
				}
				continue
			}
			after = last
			if clk.over() {
				break
			}
		}
		res.More = true
		return nil
	})
	if err != nil {
		return state.SliceResult{}, err
	}
	res.WriterTime = time.Since(began)
	s.pruneAfter = after
	return res, nil
}

// pruneSessions bounds the sessions one prune statement locks (and
// whose candidates it sorts): appends to them wait for the slice.
const pruneSessions = 16

// pruneChunk removes up to rows snapshots of the sessions from id after
// on (by id) that keep or cutoff select, each session's oldest first, and
// returns how many and the last session it pruned ("" if none).
//
// Versions are gapless from a session's oldest kept snapshot to its
// latest (pruning only ever removes the oldest), so "beyond the newest
// KeepLast" is version <= latest - KeepLast.
//
// The session rows are locked first, whole, and the snapshots chosen
// after: a FOR UPDATE SKIP LOCKED on the join itself tries the lock once
// per joined row, so while an append held a session it skipped that
// session's oldest snapshots and, once the append committed, took newer
// ones, leaving holes in the history. Rows of version 0 (a fork being
// copied, see fork.go) have nothing older than their latest and are never
// pruned.
func pruneChunk(ctx context.Context, tx pgx.Tx, keep *int64, cutoff *time.Time, after string, rows int64) (int64, string, error) {
	r, err := tx.Query(ctx, `
		WITH se AS (
			SELECT s.id, s.version FROM sessions s
			WHERE s.id >= $4 AND EXISTS (
				SELECT 1 FROM state_snapshots sn
				WHERE sn.session_id = s.id AND sn.version < s.version
				  AND (($1::bigint IS NOT NULL AND sn.version <= s.version - $1)
				    OR ($2::timestamptz IS NOT NULL AND sn.created_at < $2)))
			ORDER BY s.id
			LIMIT $5
			FOR UPDATE SKIP LOCKED
		)
		SELECT sn.session_id, sn.version
		FROM se
		JOIN state_snapshots sn ON sn.session_id = se.id
		WHERE sn.version < se.version
		  AND (($1::bigint IS NOT NULL AND sn.version <= se.version - $1)
		    OR ($2::timestamptz IS NOT NULL AND sn.created_at < $2))
		ORDER BY sn.session_id, sn.version
		LIMIT $3`, keep, cutoff, rows, after, min(rows, pruneSessions))
	if err != nil {
		return 0, "", fmt.Errorf("find snapshots: %w", err)
	}
	var (
		ids      []string
		versions []int64
	)
	for r.Next() {
		var (
			id string
			v  int64
		)
		if err := r.Scan(&id, &v); err != nil {
			r.Close()
			return 0, "", fmt.Errorf("find snapshots: %w", err)
		}
		ids = append(ids, id)
		versions = append(versions, v)
	}
	if err := r.Err(); err != nil {
		return 0, "", fmt.Errorf("find snapshots: %w", err)
	}
	if len(ids) == 0 {
		return 0, "", nil
	}
	// Count what the DELETE removed, not what the SELECT found: a row
	// read before another janitor's commit may already be gone.
	var removed int64
	if err := tx.QueryRow(ctx, `
		WITH gone AS (
			DELETE FROM state_snapshots sn
			USING unnest($1::text[], $2::bigint[]) AS v(session_id, version)
			WHERE sn.session_id = v.session_id AND sn.version = v.version
			RETURNING sn.session_id
		), counted AS (
			UPDATE sessions se SET snapshot_count = se.snapshot_count - g.n
			FROM (SELECT session_id, count(*) AS n FROM gone GROUP BY session_id) g
			WHERE se.id = g.session_id
		)
		SELECT count(*) FROM gone`, ids, versions).Scan(&removed); err != nil {
		return 0, "", fmt.Errorf("delete snapshots: %w", err)
	}
	// The last session may have more: the next chunk starts at it.
	return removed, ids[len(ids)-1], nil
}

// ExpireSessions reclaims up to limit (0: state.DefaultPruneLimit) sessions
// that are deleted (tombstones, see DeleteSession) or whose expires_at is
// at or before the store's clock, with their snapshots, and returns how
// many, in slices (ReclaimSlice), each its own short transaction. Such
// sessions are absent from every route already. Several janitors may run
// it at once (FOR UPDATE SKIP LOCKED); a session touched while this runs
// is re-checked and kept.
func (s *Store) ExpireSessions(ctx context.Context, limit int) (int64, error) {
	if limit < 0 {
		return 0, fmt.Errorf("expire sessions: %w", state.Invalid("limit", "must not be negative"))
	}
	return state.ReclaimInSlices(ctx, limit, s.reclaimSlice)
}

// reclaimBatch is the most sessions one ReclaimSlice reclaims.
const reclaimBatch = 64

// ReclaimSlice reclaims rows of deleted and expired sessions (and of forks
// whose copy was abandoned) in one transaction that stops once it has
// used the slice budget; More says work may remain. It implements
// state.Slicer.
func (s *Store) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	return s.reclaimSlice(ctx, reclaimBatch)
}

// reclaimSlice reclaims up to maxSessions sessions, tombstones first (they
// sort first on expires_at): each one's oldest snapshots in chunks of
// SliceConfig.Rows, then its idempotency keys, and last its row. A
// session cut short by the budget is carried on by the next slice. The
// hidden row of a fork being copied is left alone until its lease has run
// out (fork.go); then its token is cleared first, so that the fork, if it
// still runs, stops at its next slice.
func (s *Store) reclaimSlice(ctx context.Context, maxSessions int) (state.SliceResult, error) {
	now := s.now()
	stale := now.Add(-s.cfg.Slices.ForkLease)
	rows := s.cfg.Slices.Rows
	var res state.SliceResult
	began := time.Now()
	err := s.txOn(ctx, s.janitor, "expire sessions", func(tx pgx.Tx) error {
		clk := s.startSlice()
		res = state.SliceResult{}
		for res.Sessions < int64(maxSessions) {
			var (
				id     string
				hidden bool
			)
			err := tx.QueryRow(ctx, `
				SELECT id, fork_token IS NOT NULL FROM sessions
				WHERE expires_at IS NOT NULL AND expires_at <= $1
				  AND (fork_token IS NULL OR last_active < $2)
				ORDER BY expires_at
				LIMIT 1
				FOR UPDATE SKIP LOCKED`, now, stale).Scan(&id, &hidden)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("find a session to reclaim: %w", err)
			}
			if hidden {
				if _, err := tx.Exec(ctx, `UPDATE sessions SET fork_token = NULL WHERE id = $1`, id); err != nil {
					return fmt.Errorf("take over abandoned fork %s: %w", id, err)
				}
			}
			gone, err := s.reclaimSession(ctx, tx, clk, id, rows, &res)
			if err != nil {
				return fmt.Errorf("reclaim session %s: %w", id, err)
			}
			if !gone {
				res.More = true
				return nil
			}
			res.Sessions++
			if clk.over() {
				res.More = true
				return nil
			}
		}
		res.More = true
		return nil
	})
	if err != nil {
		return state.SliceResult{}, err
	}
	res.WriterTime = time.Since(began)
	return res, nil
}

// reclaimSession removes the rows of the session id (locked, absent from
// every route) until the slice's budget is used; gone reports that it
// removed the last of them, its row.
func (s *Store) reclaimSession(ctx context.Context, tx pgx.Tx, clk sliceClock, id string, rows int, res *state.SliceResult) (gone bool, err error) {
	for {
		tag, err := tx.Exec(ctx, `
			DELETE FROM state_snapshots WHERE session_id = $1 AND version IN (
				SELECT version FROM state_snapshots WHERE session_id = $1 ORDER BY version LIMIT $2)`, id, rows)
		if err != nil {
			return false, err
		}
		res.Snapshots += tag.RowsAffected()
		if tag.RowsAffected() < int64(rows) {
			break
		}
		if clk.over() {
			return false, nil
		}
	}
	for {
		tag, err := tx.Exec(ctx, `
			DELETE FROM snapshot_idempotency_keys WHERE session_id = $1 AND key IN (
				SELECT key FROM snapshot_idempotency_keys WHERE session_id = $1 LIMIT $2)`, id, rows)
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() < int64(rows) {
			break
		}
		if clk.over() {
			return false, nil
		}
	}
	_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err == nil, err
}
