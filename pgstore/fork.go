package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// ForkSession creates a session whose history is a copy of the source's
// snapshots up to in.AtVersion (0: the latest), keeping their versions,
// times and metadata. The new session gets the source's metadata and TTL and
// is active now. state.ErrNotFound for a missing session or version (also
// when the source is deleted or expires before the copy ends),
// state.ErrExists for a taken new id.
//
// The copy runs in slices (Config.Slices), each its own short
// transaction, under a hidden row that holds the new id (migration 0005):
//
//  1. The first slice reads the source (FOR SHARE, for that slice only),
//     checks the version, buries an expired or deleted holder of the new
//     id, inserts the new row hidden (expires_at at the epoch, version 0,
//     fork_token set) and starts the copy.
//  2. Each copy slice locks the hidden row by its token, renews its lease
//     and copies snapshots newest first, SliceConfig.Rows per statement;
//     between slices the fork waits (SliceConfig.ForkShare). The source is
//     not locked: appends to it go on. Retention only removes a session's
//     oldest snapshots, so if it prunes the source meanwhile the copy
//     simply ends higher, with no hole.
//  3. The last slice checks the source is still the same live session
//     (same created_at) and makes the row visible with its count and
//     times, clearing the token.
//
// Until then the fork is absent from every route and announces nothing.
// A create of the new id meanwhile buries the hidden row and wins (the
// fork then fails with state.ErrExists); a fork that fails leaves its row
// a tombstone for the janitor, one whose process died leaves it hidden
// until its lease (SliceConfig.ForkLease) runs out. Small forks take one
// transaction.
func (s *Store) ForkSession(ctx context.Context, sourceID string, in state.ForkInput) (state.Session, error) {
	if err := state.ValidateID(sourceID); err != nil {
		return state.Session{}, fmt.Errorf("fork session: %w", err)
	}
	newID := in.NewID
	if newID == "" {
		newID = state.NewID()
	}
	op := fmt.Sprintf("fork session %s to %s", sourceID, newID)
	if err := state.ValidateID(newID); err != nil {
		return state.Session{}, fmt.Errorf("%s: %w", op, err)
	}
	if in.AtVersion < 0 {
		return state.Session{}, fmt.Errorf("%s: %w", op, state.Invalid("at_version", "must not be negative"))
	}
	if newID == sourceID {
		return state.Session{}, fmt.Errorf("%s: %w", op, state.ErrExists)
	}
	f := &fork{s: s, src: sourceID, id: newID, token: state.NewID()}
	sess, err := f.run(ctx, in.AtVersion)
	if err != nil {
		if f.started {
			f.abandon(ctx)
		}
		return state.Session{}, fmt.Errorf("%s: %w", op, err)
	}
	return sess, nil
}

// fork is one ForkSession's copy.
type fork struct {
	s       *Store
	src, id string
	token   string // the hidden row's fork_token

	started    bool      // the hidden row was committed
	srcCreated time.Time // the source's created_at: its identity
	at         int64     // the fork point
	next       int64     // the highest version not copied yet; 0: done
	copied     int64     // snapshots copied by committed slices
	slices     int
}

func (f *fork) run(ctx context.Context, at int64) (state.Session, error) {
	s := f.s
	var (
		sess state.Session
		done bool
	)
	for {
		var (
			k   int64
			err error
		)
		start := time.Now()
		if !f.started {
			k, done, sess, err = f.first(ctx, at)
		} else {
			k, done, sess, err = f.slice(ctx)
		}
		if err != nil {
			return state.Session{}, err
		}
		w := time.Since(start)
		f.started = true
		f.copied += k
		f.slices++
		if done {
			return sess, nil
		}
		if h := s.forkHook; h != nil {
			if err := h(ctx, f.id, f.slices); err != nil {
				return state.Session{}, err
			}
		}
		if share := s.cfg.Slices.ForkShare; share < 1 {
			if err := state.Sleep(ctx, time.Duration(float64(w)*(1/share-1))); err != nil {
				return state.Session{}, err
			}
		}
	}
}

// first is the first slice: checks, the hidden row, the copy's start.
func (f *fork) first(ctx context.Context, at int64) (k int64, done bool, sess state.Session, err error) {
	s := f.s
	err = s.tx(ctx, "fork: start", func(tx pgx.Tx) error {
		clk := s.startSlice()
		k, done, sess = 0, false, state.Session{}
		now := s.now()
		var (
			latest int64
			ttl    *time.Duration
			md     string
		)
		// FOR SHARE for this slice only: the version checked is still
		// there when the copy's first chunk reads it.
		// set_config: the copied rows are not announced (migration 0005),
		// set here to spare the slice a round trip.
		err := tx.QueryRow(ctx, `SELECT version, ttl, metadata::text, created_at, set_config('cortex.quiet', 'on', true)
			FROM sessions WHERE id = $1 AND `+liveAt(2)+` FOR SHARE`, f.src, now).
			Scan(&latest, &ttl, &md, &f.srcCreated, nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("source session: %w", state.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock source session: %w", err)
		}
		f.at = at
		if f.at == 0 {
			f.at = latest
		}
		if f.at > latest {
			return fmt.Errorf("version %d (latest is %d): %w", f.at, latest, state.ErrNotFound)
		}
		if f.at > 0 {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM state_snapshots WHERE session_id = $1 AND version = $2)`,
				f.src, f.at).Scan(&ok); err != nil {
				return fmt.Errorf("find version %d: %w", f.at, err)
			}
			if !ok {
				return fmt.Errorf("version %d (pruned): %w", f.at, state.ErrNotFound)
			}
		}
		if err := buryExpired(ctx, tx, f.id, now); err != nil {
			return err
		}
		// Hidden: at the epoch like a tombstone (no route sees it, and
		// deleting it announces nothing), version 0 (retention never
		// touches it), the token (the janitor leaves it alone while its
		// lease, last_active, is fresh).
		if _, err := tx.Exec(ctx, `
			INSERT INTO sessions (id, created_at, last_active, ttl, expires_at, metadata, version, fork_token)
			VALUES ($1, $2, $2, $3, 'epoch'::timestamptz, $4, 0, $5)`,
			f.id, now, ttl, md, f.token); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		f.next = f.at
		k, done, sess, err = f.copy(ctx, tx, clk)
		return err
	})
	return k, done, sess, err
}

// slice is a copy slice, and the last one when the copy ends in it.
func (f *fork) slice(ctx context.Context) (k int64, done bool, sess state.Session, err error) {
	s := f.s
	next := f.next
	err = s.tx(ctx, "fork: copy", func(tx pgx.Tx) error {
		clk := s.startSlice()
		k, done, sess, f.next = 0, false, state.Session{}, next
		// Locks the hidden row, renews its lease, and quiets the copy
		// (migration 0005) in one round trip.
		err := tx.QueryRow(ctx, `UPDATE sessions SET last_active = $3 WHERE id = $1 AND fork_token = $2
			RETURNING set_config('cortex.quiet', 'on', true)`, f.id, f.token, s.now()).Scan(nil)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock the new session: %w", err)
		}
		if err != nil {
			// A create of the id buried the hidden row, or the janitor
			// took it over after its lease ran out.
			return fmt.Errorf("the new id was taken while the history was copied: %w", state.ErrExists)
		}
		k, done, sess, err = f.copy(ctx, tx, clk)
		return err
	})
	return k, done, sess, err
}

// copy copies chunks of the source's snapshots, newest first, from
// f.next down, until the budget is used or none is left; then, in the same
// transaction, it makes the fork visible. Its caller has set cortex.quiet
// for the transaction.
func (f *fork) copy(ctx context.Context, tx pgx.Tx, clk sliceClock) (k int64, done bool, sess state.Session, err error) {
	s := f.s
	rows := int64(s.cfg.Slices.Rows)
	for f.next > 0 {
		var (
			n   int64
			low int64
		)
		if err := tx.QueryRow(ctx, `
			WITH c AS (
				INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes)
				SELECT $1, version, created_at, state, metadata, size_bytes
				FROM state_snapshots
				WHERE session_id = $2 AND version <= $3
				ORDER BY version DESC
				LIMIT $4
				RETURNING version
			)
			SELECT count(*), coalesce(min(version), 0) FROM c`, f.id, f.src, f.next, rows).Scan(&n, &low); err != nil {
			return 0, false, state.Session{}, fmt.Errorf("copy snapshots: %w", err)
		}
		k += n
		if n < rows {
			f.next = 0
			break
		}
		f.next = low - 1
		if clk.over() {
			return k, false, state.Session{}, nil
		}
	}
	// The source must still be the session the copy started from: one
	// deleted (or expired) meanwhile, even if created again, is gone.
	now := s.now()
	var same bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND created_at = $2 AND `+liveAt(3)+`)`,
		f.src, f.srcCreated, now).Scan(&same); err != nil {
		return 0, false, state.Session{}, fmt.Errorf("check source session: %w", err)
	}
	if !same {
		return 0, false, state.Session{}, fmt.Errorf("source session deleted while its history was copied: %w", state.ErrNotFound)
	}
	sess, err = scanSession(tx.QueryRow(ctx, `
		UPDATE sessions SET created_at = $3, last_active = $3, expires_at = $3::timestamptz + ttl,
			version = $4, snapshot_count = $5, fork_token = NULL
		WHERE id = $1 AND fork_token = $2
		RETURNING `+sessionColumns, f.id, f.token, now, f.at, f.copied+k))
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, state.Session{}, fmt.Errorf("the new id was taken while the history was copied: %w", state.ErrExists)
	}
	if err != nil {
		return 0, false, state.Session{}, fmt.Errorf("finish the new session: %w", err)
	}
	return k, true, sess, nil
}

// abandon turns the hidden row of a failed fork into a plain tombstone,
// which the janitor reclaims in slices; if this fails too, the row's lease
// runs out and the janitor takes it then.
func (f *fork) abandon(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = f.s.pool.Exec(ctx, `UPDATE sessions SET fork_token = NULL WHERE id = $1 AND fork_token = $2`, f.id, f.token)
}
