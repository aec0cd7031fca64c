package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
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
	return state.PruneInSlices(ctx, opts, s.PruneSlice)
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
	// One walk at a time: each call carries them on.
	s.keep.mu.Lock()
	defer s.keep.mu.Unlock()
	var (
		kvs, avs          []victim
		keepDone, ageDone = true, true
		keepMark, ageMark = s.keep.mark(), s.age
	)
	if opts.KeepLast > 0 {
		var err error
		if kvs, keepDone, err = s.keepVictims(ctx, int64(opts.KeepLast), limit); err != nil {
			return state.SliceResult{}, storeErr("prune", err)
		}
	}
	if opts.OlderThan > 0 && int64(len(kvs)) < limit {
		var err error
		if avs, ageDone, err = s.ageVictims(ctx, cutoff, limit-int64(len(kvs))); err != nil {
			s.keep.rollback(keepMark, kvs, 0)
			return state.SliceResult{}, storeErr("prune", err)
		}
	}
	var (
		res      state.SliceResult
		kThrough int
		aThrough int
	)
	if len(kvs)+len(avs) > 0 {
		err := s.write(ctx, func(tx *sqlitedb.Tx) (err error) {
			clk := s.startSlice()
			res, kThrough, aThrough = state.SliceResult{}, 0, 0
			defer func() { res.WriterTime = clk.elapsed() }()
			var cut bool
			if len(kvs) > 0 {
				if res.Snapshots, kThrough, cut, err = pruneVictims(ctx, tx, clk, kvs, false); err != nil {
					return err
				}
			}
			if len(avs) > 0 && !cut {
				n := int64(0)
				if n, aThrough, cut, err = pruneVictims(ctx, tx, clk, avs, len(kvs) > 0); err != nil {
					return err
				}
				res.Snapshots += n
			}
			res.More = cut
			return nil
		})
		if err != nil {
			s.keep.rollback(keepMark, kvs, 0)
			s.age.rollback(ageMark, avs, 0)
			return state.SliceResult{}, storeErr("prune", err)
		}
	}
	if kThrough < len(kvs) {
		// Cut by the budget: the next call reads again from the first
		// row not removed.
		s.keep.rollback(keepMark, kvs, kThrough)
		keepDone = false
	}
	if aThrough < len(avs) {
		s.age.rollback(ageMark, avs, aThrough)
		ageDone = false
	}
	if !keepDone || !ageDone || res.Snapshots >= limit {
		res.More = true
	}
	return res, nil
}

// keepMark is where the KeepLast walk stood before a call.
type keepMark struct {
	lapFrom scanPos
	wrapped bool
}

func (k *keepScan) mark() keepMark { return keepMark{k.lapFrom, k.wrapped} }

// rollback puts the walk back to just before vs[i] (vs come from one
// stretch of the walk, without a wrap or a lap's end inside).
func (k *keepScan) rollback(m keepMark, vs []victim, i int) {
	switch {
	case i >= len(vs):
	case vs[i].bySession:
		k.bySession, k.overAt = true, vs[i].at
	default:
		k.after, k.lapFrom, k.wrapped = vs[i].before, m.lapFrom, m.wrapped
	}
}

// rollback puts the MaxAge walk back to just before vs[i], in the lap it
// was in before the call (m).
func (a *ageScan) rollback(m ageScan, vs []victim, i int) {
	if i < len(vs) {
		a.after, a.lapFrom, a.wrapped = vs[i].before, m.lapFrom, m.wrapped
	}
}

// keepScan is where KeepLast retention's walk of the snapshots stands:
// successive PruneSlice calls carry it on, in the order of the
// state_snapshots_created_at index (created_at, session, version), round
// the table once per lap.
//
// Why in that order: a session's snapshots are spread over the whole file
// when many sessions append at once, so removing them session by session
// (the old way) touched one cold table page and one cold index page per
// row, each read from disk on the writer: 0.7 ms of writer time per
// pruned row at 5M snapshots (7.7 GB) on a loaded machine. The created_at
// order is the order the rows were written in, so the rows one slice
// removes lie together in the file (the writer reads their pages in
// ascending order, and they share pages), and the reader finds them by
// walking that index alone (about 30 bytes an entry, not the 1.5 KB rows).
type keepScan struct {
	mu sync.Mutex
	// after is the entry the walk resumes after; lapFrom the entry its lap
	// began after, wrapped that it has passed the index's end since.
	after, lapFrom scanPos
	wrapped        bool
	// keep is the KeepLast the cutoffs were found for.
	keep int64
	// stats count the walks' reads (for tests and benchmarks).
	stats walkStats
	// bySession says this lap removes the few snapshots over KeepLast
	// session by session (the sids in over, from overAt on) instead of
	// walking the index (sessionVictims).
	bySession bool
	over      []int64
	overAt    int
	// cutoffs caches, per session (sid), the newest version the lap
	// removes (its (keep+1)th newest when the session was first met in
	// the lap; 0: none). Appends only add newer versions, so a cutoff found
	// earlier in the lap stays safe: it never reaches the newest keep.
	cutoffs map[int64]int64
}

// walkStats count what the retention walks read on the read-only
// connections: read transactions, index entries, cutoff lookups (and the
// most in one read transaction), sessions rows.
type walkStats struct {
	reads, entries, lookups, maxLookups, sessions atomic.Int64
}

// scanPos is an entry of state_snapshots_created_at.
type scanPos struct{ at, sid, version int64 }

// scanStart is before every entry; scanEnd after every entry.
var (
	scanStart = scanPos{math.MinInt64, math.MinInt64, math.MinInt64}
	scanEnd   = scanPos{math.MaxInt64, math.MaxInt64, math.MaxInt64}
)

// maxCutoffs bounds keepScan.cutoffs; past it the cache starts over.
const maxCutoffs = 1 << 20

// keepScanBudget is the most index entries one PruneSlice reads looking
// for victims, so that a call on a table with none comes back soon.
const keepScanBudget = 1 << 16

// victim is a snapshot row KeepLast retention removes: its rowid, session,
// version, the session's cutoff when it was found, and the walk's position
// just before it.
type victim struct {
	rowid, sid, version, cutoff int64
	before                      scanPos
	// bySession: found by sessionVictims, at is its session's place in
	// keepScan.over (before is not used).
	bySession bool
	at        int
	// noKey says the reader found the row without an idempotency key
	// (keys never change), so the writer need not keep one.
	noKey bool
}

// keepVictims walks state_snapshots_created_at from s.keep.after, in read
// transactions of SliceConfig.KeepScanRange entries on the read-only
// connections, and returns up to limit rows that KeepLast keep removes,
// from one stretch of the walk (none across the index's end or the lap's).
// done reports that the walk finished its lap (the whole index since the
// lap began) and starts a new one. It must hold s.keep.mu; it moves
// s.keep.after past the entries it read.
//
// Every read transaction is short (readBudget, lookupsPerRead): a reader
// holds the WAL from the frame its transaction began at, so while one
// runs, the background checkpointer copies nothing newer and the WAL
// fills; the writer's guard then copies all of it itself (a RESTART on
// the writer), and appends wait for that copy. Measured at 1M snapshots
// under 4 appending clients: the pass's first read transaction, which
// looked up the cutoffs of 459 sessions met for the first time, held the
// WAL 176 ms; the checkpointer copied 31 of 7,760 frames meanwhile; the
// guard's RESTART then copied 14,222 frames on the writer in 114 ms, and
// appends waited 149-164 ms (BENCHMARKS.md, "Session 12, retain5").
func (s *Store) keepVictims(ctx context.Context, keep, limit int64) (vs []victim, done bool, err error) {
	k := &s.keep
	if k.after == (scanPos{}) {
		k.after, k.lapFrom = scanStart, scanStart
	}
	if k.cutoffs == nil || k.keep != keep {
		// Another KeepLast: a new lap, from where the walk stands (the
		// old lap's cutoffs and sessions were for the old KeepLast).
		k.cutoffs, k.keep = map[int64]int64{}, keep
		k.lapFrom, k.wrapped, k.bySession = k.after, false, false
	}
	newLap := func() {
		k.lapFrom, k.wrapped = k.after, false
		clear(k.cutoffs)
	}
	if k.after == k.lapFrom && !k.wrapped && !k.bySession {
		// A lap begins: the sessions table says which sessions hold
		// more than keep snapshots (snapshot_count is exact). None:
		// nothing to walk for. Few rows to remove among many (the
		// steady state: what was appended since the last pass): they
		// are found session by session, not by a walk of the whole
		// index.
		over, excess, total, err := s.overKeep(ctx, keep)
		if err != nil {
			return nil, false, err
		}
		if len(over) == 0 {
			return nil, true, nil
		}
		if excess*sparseRatio < total && len(over) <= maxOverSessions {
			k.bySession, k.over, k.overAt = true, over, 0
		}
	}
	if k.bySession {
		return s.sessionVictims(ctx, keep, limit)
	}
	var scanned int64
	for int64(len(vs)) < limit && scanned < keepScanBudget {
		hi := scanEnd
		if k.wrapped {
			hi = k.lapFrom
		}
		page, short, err := s.scanRange(ctx, k.after, hi)
		if err != nil {
			return nil, false, err
		}
		var (
			n    int64
			last = k.after
		)
		base := len(vs)
		for i := range page {
			if int64(len(vs)) >= limit {
				break
			}
			v := page[i]
			c, ok := k.cutoffs[v.sid]
			if !ok {
				// Looked up with the next sessions of the page not
				// met yet, in a read transaction of their own.
				if err := s.lookupCutoffs(ctx, page[i:], keep); err != nil {
					return nil, false, err
				}
				c = k.cutoffs[v.sid]
			}
			here := v.before
			v.before = last
			n++
			last = here
			if v.version <= c {
				v.cutoff = c
				vs = append(vs, v)
			}
		}
		end := short && int64(len(vs)) < limit
		if retainWarm && !retainOldWay && len(vs) > base {
			if err := s.read(ctx, func(tx *sqlitedb.Tx) error { return warmVictims(ctx, tx, vs[base:]) }); err != nil {
				return nil, false, err
			}
		}
		k.after = last
		scanned += n
		if end {
			// Read to hi: the index's end (wrap round) or the lap's start.
			if k.wrapped || k.lapFrom == scanStart {
				k.after = hi
				if !k.wrapped {
					k.after = scanStart
				}
				newLap()
				return vs, true, nil
			}
			// The rest of the lap is from the index's start, next call
			// (vs stay one stretch of the walk).
			k.after, k.wrapped = scanStart, true
			return vs, false, nil
		}
	}
	return vs, false, nil
}

// Bounds of each read transaction of the retention walks (keepVictims,
// ageVictims): one stops at the first row past readBudget (reading the
// index, at least minRangeRows first) or after lookupsPerRead cutoff
// lookups, whichever comes first.
const (
	lookupsPerRead = 32
	minRangeRows   = 64
)

// readBudget: see lookupsPerRead (a variable for tests, which set it out
// of the way so that only the counts bound a read transaction).
var readBudget = 2 * time.Millisecond

// scanRange reads, in one read transaction, the entries of
// state_snapshots_created_at after from and up to hi: at most
// SliceConfig.KeepScanRange, fewer when readBudget runs out first. short
// says it read every entry up to hi. Each victim's before is, for now, its
// own position.
func (s *Store) scanRange(ctx context.Context, from, hi scanPos) (page []victim, short bool, err error) {
	return scanBudgeted(ctx, s, func(rows *sqlitedb.Rows) (victim, error) {
		var v victim
		err := rows.Scan(&v.before.at, &v.sid, &v.version, &v.rowid)
		v.before.sid, v.before.version = v.sid, v.version
		return v, err
	}, qPruneScan, from.at, from.sid, from.version, hi.at, hi.sid, hi.version, s.slices.KeepScanRange)
}

// scanBudgeted runs query, a walk of state_snapshots_created_at, in one
// read transaction and reads its rows with scan: all of them, at most
// SliceConfig.KeepScanRange, or fewer when readBudget runs out first
// (after minRangeRows). short says it read every entry the walk had.
func scanBudgeted[T any](ctx context.Context, s *Store, scan func(*sqlitedb.Rows) (T, error), query string, args ...any) (page []T, short bool, err error) {
	err = s.read(ctx, func(tx *sqlitedb.Tx) error {
		t0 := time.Now()
		page, short = page[:0], true // as new, if run again
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scan(rows)
			if err != nil {
				return err
			}
			page = append(page, e)
			if len(page) >= minRangeRows && time.Since(t0) >= readBudget {
				short = false // stopped early: more may follow
				return rows.Close()
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if int64(len(page)) >= s.slices.KeepScanRange {
			short = false
		}
		return nil
	})
	s.keep.stats.reads.Add(1)
	s.keep.stats.entries.Add(int64(len(page)))
	return page, short, err
}

// lookupCutoffs finds, in one short read transaction, the cutoffs of
// page's sessions not met yet in the lap, in page order: page[0]'s at
// least, then more until lookupsPerRead or readBudget.
func (s *Store) lookupCutoffs(ctx context.Context, page []victim, keep int64) error {
	k := &s.keep
	if len(k.cutoffs) >= maxCutoffs-lookupsPerRead {
		clear(k.cutoffs)
	}
	var lookups int64
	err := s.read(ctx, func(tx *sqlitedb.Tx) error {
		t0 := time.Now()
		lookups = 0
		for _, v := range page {
			if _, ok := k.cutoffs[v.sid]; ok {
				continue
			}
			if lookups >= lookupsPerRead || (lookups > 0 && time.Since(t0) >= readBudget) {
				return nil
			}
			var cut sql.NullInt64
			if err := tx.QueryRow(ctx, qPruneCutoff, v.sid, keep).Scan(&cut); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			k.cutoffs[v.sid] = cut.Int64 // NULL: nothing to remove
			lookups++
		}
		return nil
	})
	k.stats.reads.Add(1)
	k.stats.lookups.Add(lookups)
	if lookups > k.stats.maxLookups.Load() {
		k.stats.maxLookups.Store(lookups)
	}
	return err
}

// overKeep reads the sessions table in read transactions of
// overKeepRange rows and returns the live sessions holding more than keep
// snapshots (at most maxOverSessions+1 of them), the snapshots they hold
// beyond keep (excess) and every session's snapshots (total).
func (s *Store) overKeep(ctx context.Context, keep int64) (over []int64, excess, total int64, err error) {
	var after int64 = math.MinInt64
	for {
		var (
			n    int64
			from = after
			base = len(over)
			ex   = excess
			tot  = total
		)
		err := s.read(ctx, func(tx *sqlitedb.Tx) error {
			n, after, over, excess, total = 0, from, over[:base], ex, tot // as new, if run again
			rows, err := tx.Query(ctx, qOverKeep, from, keep, overKeepRange)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var sid, count int64
				var live bool
				if err := rows.Scan(&sid, &count, &live); err != nil {
					return err
				}
				n++
				after = sid
				total += count
				if live && count > keep {
					excess += count - keep
					if len(over) <= maxOverSessions {
						over = append(over, sid)
					}
				}
			}
			return rows.Err()
		})
		s.keep.stats.reads.Add(1)
		s.keep.stats.sessions.Add(n)
		if err != nil || n < overKeepRange {
			return over, excess, total, err
		}
	}
}

// overKeepRange is the most sessions rows one read transaction of
// overKeep reads.
const overKeepRange = 4096

// A lap removes by session (sessionVictims) when the snapshots to remove
// are fewer than 1/sparseRatio of all and held by at most maxOverSessions
// sessions: then reading each such session's oldest rows (its primary-key
// range) reads far less than walking the whole created_at index, and the
// writer's cost per row is the same (a sparse victim's table page is a
// page of its own either way).
const (
	sparseRatio     = 64
	maxOverSessions = 1 << 16
)

// sessionVictims returns up to limit rows KeepLast keep removes from the
// sessions in s.keep.over, from overAt on, each session's oldest first,
// read in short read transactions (lookupsPerRead sessions, readBudget).
// done reports the lap finished. It must hold s.keep.mu.
func (s *Store) sessionVictims(ctx context.Context, keep, limit int64) (vs []victim, done bool, err error) {
	k := &s.keep
	for k.overAt < len(k.over) && int64(len(vs)) < limit {
		var (
			base = len(vs)
			at   = k.overAt
		)
		err := s.read(ctx, func(tx *sqlitedb.Tx) error {
			t0 := time.Now()
			vs, at = vs[:base], k.overAt // as new, if run again
			for n := 0; at < len(k.over) && int64(len(vs)) < limit; n++ {
				if n >= lookupsPerRead || (n > 0 && time.Since(t0) >= readBudget) {
					return nil
				}
				sid := k.over[at]
				var cut sql.NullInt64
				if err := tx.QueryRow(ctx, qPruneCutoff, sid, keep).Scan(&cut); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
				if cut.Valid {
					rows, err := tx.Query(ctx, qSessionOldest, sid, cut.Int64, limit-int64(len(vs)))
					if err != nil {
						return err
					}
					for rows.Next() {
						v := victim{sid: sid, cutoff: cut.Int64, bySession: true, at: at}
						if err := rows.Scan(&v.rowid, &v.version); err != nil {
							rows.Close()
							return err
						}
						vs = append(vs, v)
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						return err
					}
					if int64(len(vs)) >= limit {
						return nil // this session may hold more: next call
					}
				}
				at++
			}
			return nil
		})
		k.stats.reads.Add(1)
		k.stats.lookups.Add(int64(at - k.overAt))
		if err != nil {
			return nil, false, err
		}
		k.overAt = at
	}
	if k.overAt >= len(k.over) {
		k.bySession = false
		return vs, true, nil
	}
	return vs, false, nil
}

// warmVictims reads, on a reader, the pages the writer will change to
// remove vs: each row's table page and its primary-key index entry (the
// walk has just read their state_snapshots_created_at entries), so that on
// a file larger than the page cache the writer finds them in the OS cache
// instead of reading them from disk. It also notes which rows hold no
// idempotency key, so the writer runs one statement for those, not two.
// Only with retainWarm (off: see there).
func warmVictims(ctx context.Context, tx *sqlitedb.Tx, vs []victim) error {
	for i := range vs {
		v := &vs[i]
		var hasKey sql.NullBool
		var n int64
		err := tx.QueryRow(ctx, qPruneWarm, v.rowid, v.sid, v.version).Scan(&hasKey, &n)
		if errors.Is(err, sql.ErrNoRows) {
			continue // gone already: the writer's statements find nothing
		}
		if err != nil {
			return err
		}
		v.noKey = hasKey.Valid && !hasKey.Bool
	}
	return nil
}

// retainOldWay runs KeepLast retention as session 10 left it (no warming
// on the reader, both statements per row, the budget looked at every
// pruneChunk rows): BenchmarkRetentionWindow's paired runs set it. Never
// set outside benchmarks.
var retainOldWay bool

// retainWarm turns warmVictims on. Off: measured under 4 appending
// clients on a shared 2-core machine, warming cut the writer's time per
// row (23 against 32 µs; 30 against 68–124 µs once the file was out of
// the page cache) but the reader's extra reads cost the appends more than
// the writer time saved (57–72% of their baseline against 71–96%):
// BENCHMARKS.md, "Session 11, retain4". BenchmarkRetentionWindow's "new"
// runs and TestPruneKeepLast_ManySessionsInSlices turn it on.
var retainWarm bool

// pruneVictims removes the rows vs (in the walk's order, each only if it is
// still its session's and at or below its cutoff), keeping their
// idempotency keys, until the slice's budget is used (cut); it looks at the
// budget before every row but the first. It returns how many rows it
// removed and how many of vs it went through. (Removing a slice's rows in
// primary-key order instead was measured in session 11 and not kept:
// BENCHMARKS.md, "Session 11, retain4".)
//
// started says the slice already removed rows: then the budget is looked
// at before the first row too.
func pruneVictims(ctx context.Context, tx *sqlitedb.Tx, clk sliceClock, vs []victim, started bool) (removed int64, through int, cut bool, err error) {
	// retainOldWay: the budget every pruneChunk rows, every key kept.
	every, keyless := 1, true
	if retainOldWay {
		every, keyless = pruneChunk, false
	}
	per := map[int64]int64{}
	for i, v := range vs {
		// The budget is looked at before every row but the first: a slice
		// ends at most one row past it.
		if (i > 0 || started) && i%every == 0 && clk.over() {
			cut = true
			break
		}
		if !keyless || !v.noKey {
			if _, err := tx.Exec(ctx, qPruneRowKeepKey, v.rowid, v.sid, v.cutoff); err != nil {
				return 0, 0, false, err
			}
		}
		r, err := tx.Exec(ctx, qPruneRowDelete, v.rowid, v.sid, v.cutoff)
		if err != nil {
			return 0, 0, false, err
		}
		if n, _ := r.RowsAffected(); n > 0 {
			per[v.sid] += n
			removed += n
		}
		through = i + 1
	}
	// Each session's count once per slice, not once per row.
	for sid, n := range per {
		if _, err := tx.Exec(ctx, qUncount, n, sid); err != nil {
			return 0, 0, false, err
		}
	}
	return removed, through, cut, nil
}

// pruneChunk is the most snapshot rows one reclaim statement removes, and
// how often KeepLast retention looks at the slice's budget, so that a
// slice can stop soon after its budget.
const pruneChunk = 16

// ageScan is where MaxAge retention's walk stands: like keepScan's, in
// the order of state_snapshots_created_at, on the read-only connections,
// from the index's start to the cutoff once per lap; a lap that began
// part-way (after a call cut short) wraps round to the index's start and
// ends where it began. Only the rows it finds go to the writer, each
// removed by its rowid (qPruneRowDelete), so no slice's writer time goes
// to finding them (the old way ran qPruneOld on the writer: a cold walk of
// the index and of sessions inside the slice). Rows older than the cutoff
// stay so only while they are their session's latest, so a walk with
// nothing to remove reads at most one entry per session (and the rows of
// deleted sessions not yet reclaimed), then one entry past the cutoff.
type ageScan struct {
	after, lapFrom scanPos
	wrapped        bool
}

// ageHi is the walk's upper bound hi, lowered to the last entry before
// cutoff: the read's index range itself then ends at the cutoff (SQLite
// does not end a row-value range at a bound on its first column alone,
// and would read every newer entry to find none: measured, 1.8 s for a
// MaxAge pass with nothing older than its cutoff at 0.8M).
func ageHi(hi scanPos, cutoff int64) scanPos {
	if cutoff == math.MinInt64 {
		return scanStart
	}
	lim := scanPos{cutoff - 1, math.MaxInt64, math.MaxInt64}
	if lim.less(hi) {
		return lim
	}
	return hi
}

// less orders entries as state_snapshots_created_at does.
func (p scanPos) less(q scanPos) bool {
	if p.at != q.at {
		return p.at < q.at
	}
	if p.sid != q.sid {
		return p.sid < q.sid
	}
	return p.version < q.version
}

// ageVictims walks state_snapshots_created_at from s.age.after, in short
// read transactions (readBudget, SliceConfig.KeepScanRange entries), and
// returns up to limit rows created before cutoff that are not their
// session's latest (nor a deleted session's), from one stretch of the
// walk. done reports the lap finished (the walk starts over next call).
// It must hold s.keep.mu.
func (s *Store) ageVictims(ctx context.Context, cutoff, limit int64) (vs []victim, done bool, err error) {
	a := &s.age
	if a.after == (scanPos{}) {
		a.after, a.lapFrom = scanStart, scanStart
	}
	var scanned int64
	for int64(len(vs)) < limit && scanned < keepScanBudget {
		hi := scanEnd
		if a.wrapped {
			hi = a.lapFrom
		}
		hi = ageHi(hi, cutoff)
		type entry struct {
			v     victim
			prune bool
		}
		f := a.after
		page, short, err := scanBudgeted(ctx, s, func(rows *sqlitedb.Rows) (entry, error) {
			var e entry
			err := rows.Scan(&e.v.before.at, &e.v.sid, &e.v.version, &e.v.rowid, &e.prune)
			e.v.before.sid, e.v.before.version = e.v.sid, e.v.version
			return e, err
		}, qAgeScan, f.at, f.sid, f.version, hi.at, hi.sid, hi.version, cutoff, s.slices.KeepScanRange)
		if err != nil {
			return nil, false, err
		}
		last := a.after
		for _, e := range page {
			if int64(len(vs)) >= limit {
				break
			}
			v := e.v
			here := v.before
			v.before = last
			last = here
			scanned++
			if e.prune {
				v.cutoff = v.version
				vs = append(vs, v)
			}
		}
		a.after = last
		if short && int64(len(vs)) < limit {
			// Read to the cutoff (or to the lap's start, wrapped).
			if a.wrapped || a.lapFrom == scanStart {
				a.after, a.lapFrom, a.wrapped = scanStart, scanStart, false
				return vs, true, nil
			}
			a.after, a.wrapped = scanStart, true
			return vs, false, nil
		}
	}
	return vs, false, nil
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
	return state.ReclaimInSlices(ctx, limit, s.reclaimSlice)
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
