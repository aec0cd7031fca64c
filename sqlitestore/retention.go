package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// Prune removes up to opts.Limit (0: state.DefaultPruneLimit) snapshots
// that KeepLast or OlderThan select, never a session's latest, in one short
// write transaction, and keeps snapshot_count exact. It returns how many it
// removed; call again while that equals the limit. Errors: ErrInvalid.
func (s *Store) Prune(ctx context.Context, opts state.PruneOptions) (int64, error) {
	if opts.KeepLast < 0 || opts.OlderThan < 0 || opts.Limit < 0 {
		return 0, state.Invalid("prune options", "KeepLast, OlderThan and Limit must not be negative")
	}
	if opts.KeepLast == 0 && opts.OlderThan == 0 {
		return 0, nil
	}
	limit := int64(opts.Limit)
	if limit == 0 {
		limit = state.DefaultPruneLimit
	}
	cutoff := s.now().Add(-opts.OlderThan).UnixNano()
	var cands []int64 // sids
	var round bool
	if opts.KeepLast > 0 {
		// One KeepLast pass at a time: each resumes where the last ended.
		s.keep.mu.Lock()
		defer s.keep.mu.Unlock()
		var err error
		if cands, round, err = s.keepCandidates(ctx, s.keep.after, int64(opts.KeepLast), limit); err != nil {
			return 0, storeErr("prune", err)
		}
	}
	var removed int64
	var done int
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) (err error) {
		removed, done = 0, 0
		if len(cands) > 0 {
			if removed, done, err = pruneKeepLast(ctx, tx, cands, int64(opts.KeepLast), limit); err != nil {
				return err
			}
		}
		if opts.OlderThan > 0 && removed < limit {
			n, err := pruneOlderThan(ctx, tx, cutoff, limit-removed)
			if err != nil {
				return err
			}
			removed += n
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("prune", err)
	}
	switch {
	case done < len(cands):
		// The next call starts at the first session not finished.
		s.keep.after = cands[done] - 1
	case !round && len(cands) > 0:
		s.keep.after = cands[len(cands)-1]
	}
	return removed, nil
}

// keepScan is where KeepLast retention's scans of the sessions table
// resume: successive Prune calls walk the table round, rather than
// reading its first rows again each time.
type keepScan struct {
	mu    sync.Mutex
	after int64 // sid
}

// keepScanRange is the sids of the sessions table one read transaction
// of keepCandidates covers: a few milliseconds of reading, so no reader
// holds an old snapshot (and the WAL) for long.
var keepScanRange int64 = 16384

// keepCandidates finds up to limit sessions (their sids) with more than
// keep snapshots, scanning the sessions table in sid (rowid) order from just
// after sid after to its end, then from its start up to after, in ranges
// of keepScanRange sids, each on a read-only connection: no index serves
// snapshot_count, because maintaining one would cost every append
// (migration 0002), and this scan runs off the writer. round reports that
// the scan went all the way round without reaching limit. A session added
// meanwhile is found by a later call.
func (s *Store) keepCandidates(ctx context.Context, after, keep, limit int64) (cands []int64, round bool, err error) {
	var top int64
	if err := s.db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, qMaxSid).Scan(&top)
	}); err != nil {
		return nil, false, err
	}
	if after >= top {
		after = 0
	}
	pos, end, wrapped := after, top, false
	for {
		if pos >= end {
			if wrapped || after == 0 {
				return cands, true, nil
			}
			pos, end, wrapped = 0, after, true
			continue
		}
		hi := min(pos+keepScanRange, end)
		err := s.db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
			rows, err := tx.Query(ctx, qPruneKeepScan, pos, hi, keep, limit-int64(len(cands)))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var sid int64
				if err := rows.Scan(&sid); err != nil {
					return err
				}
				cands = append(cands, sid)
			}
			return rows.Err()
		})
		if err != nil {
			return nil, false, err
		}
		if int64(len(cands)) >= limit {
			return cands, false, nil
		}
		pos = hi
	}
}

// pruneKeepLast removes the snapshots of the sessions cands (sids) beyond
// the newest keep, up to limit in all, in cands' order. It returns how many it removed and how
// many of cands it finished (a session cut short by limit is not).
func pruneKeepLast(ctx context.Context, tx *sqlitedb.Tx, cands []int64, keep, limit int64) (removed int64, done int, err error) {
	for _, sid := range cands {
		if removed >= limit {
			break
		}
		var cut int64
		err := tx.QueryRow(ctx, qPruneKeepCutoff, sid, keep).Scan(&cut)
		if errors.Is(err, sql.ErrNoRows) {
			done++ // no longer over (pruned, or deleted, since the scan)
			continue
		}
		if err != nil {
			return removed, done, err
		}
		budget := limit - removed
		if _, err := tx.Exec(ctx, qPruneKeepKeys, sid, cut, budget); err != nil {
			return removed, done, err
		}
		res, err := tx.Exec(ctx, qPruneKeepDelete, sid, cut, budget)
		if err != nil {
			return removed, done, err
		}
		n, _ := res.RowsAffected()
		if _, err := tx.Exec(ctx, qUncount, n, sid); err != nil {
			return removed, done, err
		}
		removed += n
		if n < budget {
			done++
		}
	}
	return removed, done, nil
}

func pruneOlderThan(ctx context.Context, tx *sqlitedb.Tx, cutoff, limit int64) (int64, error) {
	rows, err := tx.Query(ctx, qPruneOld, cutoff, limit)
	if err != nil {
		return 0, err
	}
	type victim struct {
		sid     int64
		version int64
	}
	var vs []victim
	for rows.Next() {
		var v victim
		if err := rows.Scan(&v.sid, &v.version); err != nil {
			rows.Close()
			return 0, err
		}
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	perSession := map[int64]int64{}
	for _, v := range vs {
		if _, err := tx.Exec(ctx, qSnapshotKeepKey, v.sid, v.version); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, qSnapshotDelete, v.sid, v.version); err != nil {
			return 0, err
		}
		perSession[v.sid]++
	}
	for sid, n := range perSession {
		if _, err := tx.Exec(ctx, qUncount, n, sid); err != nil {
			return 0, err
		}
	}
	return int64(len(vs)), nil
}

// ExpireSessions deletes up to limit (0: state.DefaultPruneLimit) sessions
// whose expiry has passed, with their snapshots, in one write transaction,
// and returns how many. Errors: ErrInvalid (negative limit).
func (s *Store) ExpireSessions(ctx context.Context, limit int) (int64, error) {
	if limit < 0 {
		return 0, state.Invalid("limit", "must not be negative")
	}
	if limit == 0 {
		limit = state.DefaultPruneLimit
	}
	now := s.now().UnixNano()
	var (
		n       int64
		expired []string
	)
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		n, expired = 0, nil
		rows, err := tx.Query(ctx, qExpired, now, limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, qSessionDelete, id); err != nil {
				return err
			}
			expired = append(expired, id)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("expire sessions", err)
	}
	for _, id := range expired {
		s.hub.Publish(state.Change{Kind: state.EventDeleted, SessionID: id})
	}
	return n, nil
}
