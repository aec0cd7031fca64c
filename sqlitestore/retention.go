package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

var _ state.Slicer = (*Store)(nil)

// Retention, reclaim and fork copies run on the single writer in slices:
// each slice is one write transaction that stops at the first statement
// ending past the slice budget (SliceConfig.Budget), so appends run between
// slices and none waits behind a whole pass. See
// docs/design-fork-and-delete.md.

// sliceClock measures a slice's writer time from the start of its write
// function.
type sliceClock struct {
	start  time.Time
	budget time.Duration
}

func (s *Store) startSlice() sliceClock {
	return sliceClock{start: time.Now(), budget: s.slices.Budget}
}

func (c sliceClock) over() bool             { return time.Since(c.start) >= c.budget }
func (c sliceClock) elapsed() time.Duration { return time.Since(c.start) }
func pruneLimit(opts state.PruneOptions) int64 {
	if opts.Limit == 0 {
		return state.DefaultPruneLimit
	}
	return int64(opts.Limit)
}

func validPrune(opts state.PruneOptions) error {
	if opts.KeepLast < 0 || opts.OlderThan < 0 || opts.Limit < 0 {
		return state.Invalid("prune options", "KeepLast, OlderThan and Limit must not be negative")
	}
	return nil
}

// Prune removes up to opts.Limit (0: state.DefaultPruneLimit) snapshots
// that KeepLast or OlderThan select, never a session's latest, in slices
// of bounded writer time (PruneSlice), and keeps snapshot_count exact. It
// returns how many it removed; call again while that equals the limit.
// Errors: ErrInvalid.
func (s *Store) Prune(ctx context.Context, opts state.PruneOptions) (int64, error) {
	if err := validPrune(opts); err != nil {
		return 0, err
	}
	limit := pruneLimit(opts)
	var removed int64
	for removed < limit {
		o := opts
		o.Limit = int(limit - removed)
		r, err := s.PruneSlice(ctx, o)
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

// PruneSlice removes some of the snapshots that opts selects (at most
// opts.Limit), in one write transaction that stops once it has used the
// slice budget; More says work may remain. It implements state.Slicer.
// Errors: ErrInvalid.
func (s *Store) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	if err := validPrune(opts); err != nil {
		return state.SliceResult{}, err
	}
	if opts.KeepLast == 0 && opts.OlderThan == 0 {
		return state.SliceResult{}, nil
	}
	limit := pruneLimit(opts)
	// Saturated, never wrapped.
	cutoff := state.UnixNanos(s.now().Add(-opts.OlderThan))
	var cands []int64 // sids
	var round bool
	if opts.KeepLast > 0 {
		// One KeepLast pass at a time: each resumes where the last ended.
		s.keep.mu.Lock()
		defer s.keep.mu.Unlock()
		var err error
		if cands, round, err = s.keepCandidates(ctx, s.keep.after, int64(opts.KeepLast), limit); err != nil {
			return state.SliceResult{}, storeErr("prune", err)
		}
	}
	var (
		res  state.SliceResult
		done int
	)
	err := s.write(ctx, func(tx *sqlitedb.Tx) (err error) {
		clk := s.startSlice()
		res, done = state.SliceResult{}, 0
		defer func() { res.WriterTime = clk.elapsed() }()
		var cut bool
		if len(cands) > 0 {
			if res.Snapshots, done, cut, err = pruneKeepLast(ctx, tx, clk, cands, int64(opts.KeepLast), limit); err != nil {
				return err
			}
		}
		if opts.OlderThan > 0 && res.Snapshots < limit && !cut {
			n, c, err := pruneOlderThan(ctx, tx, clk, cutoff, limit-res.Snapshots)
			if err != nil {
				return err
			}
			res.Snapshots += n
			cut = c
		}
		res.More = cut || res.Snapshots >= limit
		return nil
	})
	if err != nil {
		return state.SliceResult{}, storeErr("prune", err)
	}
	switch {
	case done < len(cands):
		// The next call starts at the first session not finished.
		s.keep.after = cands[done] - 1
	case !round && len(cands) > 0:
		s.keep.after = cands[len(cands)-1]
	}
	return res, nil
}

// keepScan is where KeepLast retention's scans of the sessions table
// resume: successive Prune calls walk the table round, rather than
// reading its first rows again each time.
type keepScan struct {
	mu    sync.Mutex
	after int64 // sid
}

// keepCandidates finds up to limit sessions (their sids) with more than
// keep snapshots, scanning the sessions table in sid (rowid) order from just
// after sid after to its end, then from its start up to after, in ranges
// of SliceConfig.KeepScanRange sids, each on a read-only connection: no
// index serves snapshot_count, because maintaining one would cost every
// append (migration 0002), and this scan runs off the writer. round reports
// that the scan went all the way round without reaching limit. A session
// added meanwhile is found by a later call.
func (s *Store) keepCandidates(ctx context.Context, after, keep, limit int64) (cands []int64, round bool, err error) {
	var top int64
	if err := s.readOne(ctx, func(tx *sqlitedb.Tx) error {
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
		hi := min(pos+s.slices.KeepScanRange, end)
		err := s.readOne(ctx, func(tx *sqlitedb.Tx) error {
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

// pruneChunk is the most snapshot rows one retention or reclaim statement
// removes, so that a slice can stop soon after its budget.
const pruneChunk = 16

// pruneKeepLast removes the snapshots of the sessions cands (sids) beyond
// the newest keep, up to limit in all, in cands' order, until the slice's
// budget is used (cut). It returns how many it removed and how many of
// cands it finished (a session cut short is not).
func pruneKeepLast(ctx context.Context, tx *sqlitedb.Tx, clk sliceClock, cands []int64, keep, limit int64) (removed int64, done int, cut bool, err error) {
	for _, sid := range cands {
		if removed >= limit {
			break
		}
		if removed > 0 && clk.over() {
			return removed, done, true, nil
		}
		var last int64
		err := tx.QueryRow(ctx, qPruneKeepCutoff, sid, keep).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			done++ // no longer over (pruned, or deleted, since the scan)
			continue
		}
		if err != nil {
			return removed, done, false, err
		}
		finished := false
		for removed < limit {
			budget := min(limit-removed, pruneChunk)
			if _, err := tx.Exec(ctx, qPruneKeepKeys, sid, last, budget); err != nil {
				return removed, done, false, err
			}
			res, err := tx.Exec(ctx, qPruneKeepDelete, sid, last, budget)
			if err != nil {
				return removed, done, false, err
			}
			n, _ := res.RowsAffected()
			if _, err := tx.Exec(ctx, qUncount, n, sid); err != nil {
				return removed, done, false, err
			}
			removed += n
			if n < budget {
				finished = true
				break
			}
			if clk.over() {
				return removed, done, true, nil
			}
		}
		if finished {
			done++
		}
	}
	return removed, done, false, nil
}

// pruneOlderThan removes up to limit snapshots created before cutoff,
// never a session's latest, until the slice's budget is used (cut).
func pruneOlderThan(ctx context.Context, tx *sqlitedb.Tx, clk sliceClock, cutoff, limit int64) (int64, bool, error) {
	rows, err := tx.Query(ctx, qPruneOld, cutoff, limit)
	if err != nil {
		return 0, false, err
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
			return 0, false, err
		}
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	perSession := map[int64]int64{}
	var n int64
	cut := false
	for _, v := range vs {
		if n > 0 && clk.over() {
			cut = true
			break
		}
		if _, err := tx.Exec(ctx, qSnapshotKeepKey, v.sid, v.version); err != nil {
			return 0, false, err
		}
		if _, err := tx.Exec(ctx, qSnapshotDelete, v.sid, v.version); err != nil {
			return 0, false, err
		}
		perSession[v.sid]++
		n++
	}
	for sid, k := range perSession {
		if _, err := tx.Exec(ctx, qUncount, k, sid); err != nil {
			return 0, false, err
		}
	}
	return n, cut, nil
}

// ExpireSessions reclaims up to limit (0: state.DefaultPruneLimit)
// sessions that are past their expiry or deleted, with their snapshots,
// in slices of bounded writer time (ReclaimSlice), and returns how many.
// Such sessions are absent from every route already (expiry needs no
// janitor); this only gives their space back. Errors: ErrInvalid
// (negative limit).
func (s *Store) ExpireSessions(ctx context.Context, limit int) (int64, error) {
	if limit < 0 {
		return 0, state.Invalid("limit", "must not be negative")
	}
	if limit == 0 {
		limit = state.DefaultPruneLimit
	}
	var n int64
	for n < int64(limit) {
		r, err := s.reclaimSlice(ctx, int(int64(limit)-n))
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

// reclaimBatch is the most sessions one ReclaimSlice looks at.
const reclaimBatch = 64

// ReclaimSlice reclaims the rows of deleted and expired sessions (and of
// forks that never finished) in one write transaction that stops once it
// has used the slice budget; More says work may remain. It implements
// state.Slicer.
func (s *Store) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	return s.reclaimSlice(ctx, reclaimBatch)
}

// reclaimSlice reclaims up to max sessions: an expired one is first made a
// tombstone (its id free, qBurySid); then its snapshots and kept
// idempotency keys go, a chunk at a time, oldest first, and last its row.
// A session cut short by the budget is carried on by the next slice.
func (s *Store) reclaimSlice(ctx context.Context, max int) (state.SliceResult, error) {
	var (
		res     state.SliceResult
		expired []string // sessions found expired here, made tombstones
	)
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		clk := s.startSlice()
		res, expired = state.SliceResult{}, nil
		defer func() { res.WriterTime = clk.elapsed() }()
		building := s.forks.snapshot()
		rows, err := tx.Query(ctx, qReclaimFind, s.writeNow().UnixNano(), max+len(building)+1)
		if err != nil {
			return err
		}
		type victim struct {
			sid int64
			id  string
		}
		var vs []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.sid, &v.id); err != nil {
				rows.Close()
				return err
			}
			if _, b := building[v.sid]; !b {
				vs = append(vs, v)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(vs) > max {
			vs, res.More = vs[:max], true
		}
		for _, v := range vs {
			if !strings.HasPrefix(v.id, tombPrefix) {
				if _, err := tx.Exec(ctx, qBurySid, v.sid); err != nil {
					return err
				}
				expired = append(expired, v.id)
			}
			gone, err := reclaimSession(ctx, tx, clk, v.sid, &res)
			if err != nil {
				return err
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
		return nil
	})
	if err != nil {
		return state.SliceResult{}, storeErr("reclaim sessions", err)
	}
	// A TTL expiry's "deleted" event, when the janitor finds it expired.
	for _, id := range expired {
		s.hub.Publish(state.Change{Kind: state.EventDeleted, SessionID: id})
	}
	return res, nil
}

// reclaimSession removes the rows of the tombstone sid until the slice's
// budget is used; gone reports that it removed the last of them.
func reclaimSession(ctx context.Context, tx *sqlitedb.Tx, clk sliceClock, sid int64, res *state.SliceResult) (gone bool, err error) {
	for {
		r, err := tx.Exec(ctx, qReclaimChunk, sid, pruneChunk)
		if err != nil {
			return false, err
		}
		n, _ := r.RowsAffected()
		res.Snapshots += n
		if n < pruneChunk {
			break
		}
		if clk.over() {
			return false, nil
		}
	}
	for {
		r, err := tx.Exec(ctx, qReclaimKeys, sid, pruneChunk)
		if err != nil {
			return false, err
		}
		if n, _ := r.RowsAffected(); n < pruneChunk {
			break
		}
		if clk.over() {
			return false, nil
		}
	}
	_, err = tx.Exec(ctx, qReclaimSession, sid)
	return err == nil, err
}
