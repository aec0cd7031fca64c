package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// ForkSession creates a session whose history is a copy of the source's up
// to in.AtVersion (0: the latest), with the source's metadata and TTL.
//
// The copy runs in slices of bounded writer time (SliceConfig.Budget), so a
// fork of any size never holds the writer for long: the first slice
// inserts the new session hidden (id '~f…', expires_at 0: a tombstone
// nothing can see), the next ones copy its snapshots newest first, and the
// last gives it its id, all or nothing: a fork that fails, is cancelled, or
// whose process dies part-way stays a tombstone the janitor reclaims, and
// its id was never taken. Retention pruning the source meanwhile removes
// only the oldest versions, so copying newest first leaves no hole: the
// fork holds the source's history as it is when the copy ends. See
// docs/design-fork-and-delete.md.
//
// Errors: ErrInvalid, ErrNotFound (source or version; also a source
// deleted or expired before the copy ended), ErrExists (new id).
func (s *Store) ForkSession(ctx context.Context, sourceID string, in state.ForkInput) (state.Session, error) {
	if err := state.ValidateID(sourceID); err != nil {
		return state.Session{}, err
	}
	newID := in.NewID
	if newID == "" {
		newID = state.NewID()
	} else if err := state.ValidateID(newID); err != nil {
		return state.Session{}, err
	}
	if in.AtVersion < 0 {
		return state.Session{}, state.Invalid("at_version", "must not be negative")
	}
	sess, err := s.fork(ctx, sourceID, newID, in.AtVersion)
	if err != nil {
		return state.Session{}, storeErr("fork session", err)
	}
	return sess, nil
}

// forkSet is the sids of the forks a Store is building: reclaim leaves
// them alone until the fork ends (a process that dies leaves them to the
// next janitor).
type forkSet struct {
	mu sync.Mutex
	m  map[int64]struct{}
}

func (f *forkSet) add(sid int64) {
	f.mu.Lock()
	if f.m == nil {
		f.m = make(map[int64]struct{})
	}
	f.m[sid] = struct{}{}
	f.mu.Unlock()
}

func (f *forkSet) remove(sid int64) {
	f.mu.Lock()
	delete(f.m, sid)
	f.mu.Unlock()
}

func (f *forkSet) snapshot() map[int64]struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[int64]struct{}, len(f.m))
	for k := range f.m {
		m[k] = struct{}{}
	}
	return m
}

// forkChunk is the most snapshots one copy statement takes: one, so that
// a slice ends within one state's copy (≤ MaxStateBytes) of its budget.
const forkChunk = 1

func (s *Store) fork(ctx context.Context, sourceID, newID string, atVersion int64) (state.Session, error) {
	var (
		srcSid, sid int64 // the source's key, the new session's
		at, oldest  int64 // the last version copied, the source's oldest
		sess        state.Session
	)
	// Slice 1: check, and insert the new session hidden.
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		var one int
		err := tx.QueryRow(ctx, qSessionExists, newID, now.UnixNano()).Scan(&one)
		if err == nil {
			return fmt.Errorf("session %q: %w", newID, state.ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var (
			ttl    int64
			md     []byte
			latest int64
		)
		err = tx.QueryRow(ctx, qForkSource, sourceID, now.UnixNano()).Scan(&srcSid, &ttl, &md, &latest)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("session %q", sourceID)
		}
		if err != nil {
			return err
		}
		at = atVersion
		if at == 0 {
			at = latest
		}
		oldest = 0
		if at > 0 {
			if at > latest {
				return notFound("snapshot %d of session %q", at, sourceID)
			}
			if err := tx.QueryRow(ctx, qOldest, srcSid).Scan(&oldest); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if oldest == 0 || oldest > at {
				return notFound("snapshot %d of session %q", at, sourceID)
			}
		}
		res, err := tx.Exec(ctx, qForkBegin, tombPrefix+"f"+state.NewID(), now.UnixNano(), ttl, string(md), at)
		if err != nil {
			return err
		}
		if sid, err = res.LastInsertId(); err != nil {
			return err
		}
		s.forks.add(sid) // before commit: a reclaim slice runs only after it
		sess = state.Session{ID: newID, Metadata: md, Version: at}
		sess.TTL = time.Duration(ttl)
		return nil
	})
	if err != nil {
		if sid != 0 {
			s.forks.remove(sid)
		}
		return state.Session{}, err
	}
	defer s.forks.remove(sid)
	if s.forkHook != nil {
		s.forkHook()
	}
	// Copy slices, newest first, each until the budget is used.
	next := at // the highest version not copied yet; 0: done
	var copied int64
	for next > 0 {
		base := copied
		var held time.Duration
		err := s.write(ctx, func(tx *sqlitedb.Tx) error {
			clk := s.startSlice()
			defer func() { held = clk.elapsed() }()
			hi, n := next, int64(0)
			for hi > 0 {
				r, err := tx.Exec(ctx, qForkCopy, sid, srcSid, hi, forkChunk)
				if err != nil {
					return err
				}
				k, _ := r.RowsAffected()
				n += k
				if k < forkChunk {
					hi = 0 // the source has nothing older
					break
				}
				if err := tx.QueryRow(ctx, qOldest, sid).Scan(&hi); err != nil {
					return err
				}
				hi-- // below the oldest copied
				if clk.over() {
					break
				}
			}
			next, copied = hi, base+n
			return nil
		})
		if err != nil {
			return state.Session{}, err
		}
		if s.forkHook != nil {
			s.forkHook()
		}
		// Leave the writer to others for as long as the slice held it: a
		// fork takes at most half the writer's time.
		if next > 0 {
			if err := state.Sleep(ctx, held); err != nil {
				return state.Session{}, err
			}
		}
	}
	// Last slice: the source must still be the session we copied, and the
	// new id free (an expired holder is buried); then the fork appears.
	err = s.write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		var one int
		err := tx.QueryRow(ctx, qForkAlive, srcSid, sourceID, now.UnixNano()).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("session %q (deleted or expired while it was being forked)", sourceID)
		}
		if err != nil {
			return err
		}
		sess.SnapshotCount = copied
		if err := buryExpired(ctx, tx, newID, now.UnixNano()); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, qForkFinish, newID, now.UnixNano(), sess.SnapshotCount, sid)
		if isUniqueViolation(err) {
			return state.WithCause(fmt.Errorf("session %q: %w", newID, state.ErrExists), err)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// Reclaimed by another process's janitor: nothing to show.
			return fmt.Errorf("fork of session %q to %q was removed before it was complete; fork again", sourceID, newID)
		}
		sess.CreatedAt, sess.LastActive = now, now
		if sess.TTL > 0 {
			e := now.Add(sess.TTL)
			sess.ExpiresAt = &e
		}
		return nil
	})
	if err != nil {
		return state.Session{}, err
	}
	return sess, nil
}
