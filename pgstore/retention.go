package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// Prune removes old snapshots: beyond the newest opts.KeepLast of each
// session, and/or created more than opts.OlderThan ago by the store's clock;
// a snapshot goes when either rule says so, and a session's latest snapshot
// never goes. It removes at most opts.Limit (0: state.DefaultPruneLimit) per
// call and returns how many; call again while that equals the limit.
//
// Several janitors may run at once: each locks the session rows it prunes
// with FOR UPDATE SKIP LOCKED, so they split the work instead of waiting on
// each other, and a session busy with an append is left for the next round.
// Locks are taken session row first, then snapshots, in the order appends and
// deletes take them, so pruning cannot deadlock with them.
func (s *Store) Prune(ctx context.Context, opts state.PruneOptions) (int64, error) {
	switch {
	case opts.KeepLast < 0:
		return 0, fmt.Errorf("prune: %w", state.Invalid("keep_last", "must not be negative"))
	case opts.OlderThan < 0:
		return 0, fmt.Errorf("prune: %w", state.Invalid("older_than", "must not be negative"))
	case opts.Limit < 0:
		return 0, fmt.Errorf("prune: %w", state.Invalid("limit", "must not be negative"))
	}
	if opts.KeepLast == 0 && opts.OlderThan == 0 {
		return 0, nil
	}
	limit := opts.Limit
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
	var removed int64
	err := s.tx(ctx, "prune", func(tx pgx.Tx) error {
		removed = 0
		if opts.OlderThan > 0 {
			c := s.now().Add(-opts.OlderThan)
			cutoff = &c
		}
		// Versions are gapless from a session's oldest kept snapshot to its
		// latest (pruning only ever removes the oldest), so "beyond the
		// newest KeepLast" is version <= latest - KeepLast.
		//
		// The session rows are locked first, whole, and the snapshots
		// chosen after: a FOR UPDATE SKIP LOCKED on the join itself tries
		// the lock once per joined row, so while an append held a session
		// it skipped that session's oldest snapshots and, once the append
		// committed, took newer ones, leaving holes in the history.
		rows, err := tx.Query(ctx, `
			WITH se AS (
				SELECT s.id, s.version FROM sessions s
				WHERE EXISTS (
					SELECT 1 FROM state_snapshots sn
					WHERE sn.session_id = s.id AND sn.version < s.version
					  AND (($1::bigint IS NOT NULL AND sn.version <= s.version - $1)
					    OR ($2::timestamptz IS NOT NULL AND sn.created_at < $2)))
				ORDER BY s.id
				LIMIT $3
				FOR UPDATE SKIP LOCKED
			)
			SELECT sn.session_id, sn.version
			FROM se
			JOIN state_snapshots sn ON sn.session_id = se.id
			WHERE sn.version < se.version
			  AND (($1::bigint IS NOT NULL AND sn.version <= se.version - $1)
			    OR ($2::timestamptz IS NOT NULL AND sn.created_at < $2))
			ORDER BY sn.session_id, sn.version
			LIMIT $3`, keep, cutoff, limit)
		if err != nil {
			return fmt.Errorf("find snapshots: %w", err)
		}
		var (
			ids      []string
			versions []int64
		)
		for rows.Next() {
			var (
				id string
				v  int64
			)
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return fmt.Errorf("find snapshots: %w", err)
			}
			ids = append(ids, id)
			versions = append(versions, v)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find snapshots: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		// Count what the DELETE removed, not what the SELECT found: a row
		// read before another janitor's commit may already be gone.
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
			return fmt.Errorf("delete snapshots: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// reclaimChunk bounds the rows (snapshots, or idempotency keys) one
// reclaim transaction deletes.
const reclaimChunk = 1000

// ExpireSessions reclaims up to limit (0: state.DefaultPruneLimit) sessions
// that are deleted (tombstones, see DeleteSession) or whose expires_at is
// at or before the store's clock, with their snapshots, and returns how
// many. Each transaction deletes at most reclaimChunk rows of one session
// (its oldest snapshots first, then its idempotency keys, and last its
// row), so a session of any size goes in short transactions. Such sessions
// are absent from every route already. Several janitors may run it at once
// (FOR UPDATE SKIP LOCKED); a session touched while this runs is re-checked
// and kept.
func (s *Store) ExpireSessions(ctx context.Context, limit int) (int64, error) {
	if limit < 0 {
		return 0, fmt.Errorf("expire sessions: %w", state.Invalid("limit", "must not be negative"))
	}
	if limit == 0 {
		limit = state.DefaultPruneLimit
	}
	now := s.now()
	var n int64
	for n < int64(limit) {
		var (
			id   string
			gone bool
		)
		err := s.tx(ctx, "expire sessions", func(tx pgx.Tx) error {
			id, gone = "", false
			err := tx.QueryRow(ctx, `
				SELECT id FROM sessions
				WHERE expires_at IS NOT NULL AND expires_at <= $1
				ORDER BY expires_at
				LIMIT 1
				FOR UPDATE SKIP LOCKED`, now).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `
				DELETE FROM state_snapshots WHERE session_id = $1 AND version IN (
					SELECT version FROM state_snapshots WHERE session_id = $1 ORDER BY version LIMIT $2)`, id, reclaimChunk)
			if err != nil || tag.RowsAffected() == reclaimChunk {
				return err
			}
			tag, err = tx.Exec(ctx, `
				DELETE FROM snapshot_idempotency_keys WHERE session_id = $1 AND key IN (
					SELECT key FROM snapshot_idempotency_keys WHERE session_id = $1 LIMIT $2)`, id, reclaimChunk)
			if err != nil || tag.RowsAffected() == reclaimChunk {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
			gone = err == nil
			return err
		})
		if err != nil {
			return n, err
		}
		if id == "" {
			break
		}
		if gone {
			n++
		}
	}
	return n, nil
}
