package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// sessionColumns are the columns scanSession reads, in its order.
const sessionColumns = `id, created_at, last_active, ttl, expires_at, metadata::text, version, snapshot_count`

// scanSession reads one row of sessionColumns.
func scanSession(row pgx.Row) (state.Session, error) {
	var (
		s   state.Session
		ttl *time.Duration
		exp *time.Time
		md  string
	)
	if err := row.Scan(&s.ID, &s.CreatedAt, &s.LastActive, &ttl, &exp, &md, &s.Version, &s.SnapshotCount); err != nil {
		return state.Session{}, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.LastActive = s.LastActive.UTC()
	if ttl != nil {
		s.TTL = *ttl
	}
	if exp != nil {
		e := exp.UTC()
		s.ExpiresAt = &e
	}
	s.Metadata = json.RawMessage(md)
	return s, nil
}

// ttlParam validates a TTL and turns it into the ttl column's value: nil
// (never) for 0. Sub-microsecond parts are dropped, as PostgreSQL keeps
// microseconds.
func ttlParam(ttl *time.Duration) (*time.Duration, error) {
	if ttl == nil || *ttl == 0 {
		return nil, nil
	}
	if err := state.ValidateTTL(*ttl); err != nil {
		return nil, err
	}
	d := ttl.Truncate(time.Microsecond)
	if d == 0 {
		d = time.Microsecond
	}
	return &d, nil
}

// liveAt is the condition of a session that exists for the API at the
// time in parameter $n: not past its expiry. A session past its TTL is
// absent at once, on every route, whether or not ExpireSessions has
// removed its row yet (issue #14).
func liveAt(n int) string {
	return fmt.Sprintf("(expires_at IS NULL OR expires_at > $%d::timestamptz)", n)
}

// buryExpired deletes the row holding id if it is past its expiry at now,
// in the transaction that creates a new session with that id, so that the
// new session starts with an empty history. PostgreSQL has no single
// writer: the cascade holds only that row and its snapshots' locks.
func buryExpired(ctx context.Context, tx pgx.Tx, id string, now time.Time) error {
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND expires_at IS NOT NULL AND expires_at <= $2`, id, now); err != nil {
		return fmt.Errorf("remove expired session: %w", err)
	}
	return nil
}

// expiresAt is now+ttl, or nil without a TTL.
func expiresAt(now time.Time, ttl *time.Duration) *time.Time {
	if ttl == nil {
		return nil
	}
	e := now.Add(*ttl)
	return &e
}

// CreateSession creates a session; an empty in.ID generates a UUIDv7.
// state.ErrExists when the id is taken, state.ErrInvalid for a bad id,
// metadata or TTL.
func (s *Store) CreateSession(ctx context.Context, in state.SessionInput) (state.Session, error) {
	id := in.ID
	if id == "" {
		id = state.NewID()
	}
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, fmt.Errorf("create session: %w", err)
	}
	md, err := state.ValidateMetadata(in.Metadata, s.cfg.MaxMetadataBytes)
	if err != nil {
		return state.Session{}, fmt.Errorf("create session %s: %w", id, err)
	}
	ttl, err := ttlParam(in.TTL)
	if err != nil {
		return state.Session{}, fmt.Errorf("create session %s: %w", id, err)
	}
	now := s.now()
	var sess state.Session
	err = s.tx(ctx, fmt.Sprintf("create session %s", id), func(tx pgx.Tx) error {
		if err := buryExpired(ctx, tx, id, now); err != nil {
			return err
		}
		var err error
		sess, err = scanSession(tx.QueryRow(ctx, `
			INSERT INTO sessions (id, created_at, last_active, ttl, expires_at, metadata)
			VALUES ($1, $2, $2, $3, $4, $5)
			RETURNING `+sessionColumns,
			id, now, ttl, expiresAt(now, ttl), md))
		return err
	})
	if err != nil {
		return state.Session{}, err
	}
	return sess, nil
}

// PutSession creates the session id, or updates its metadata and TTL (nil
// fields keep the current values), and touches it. created reports which.
func (s *Store) PutSession(ctx context.Context, id string, in state.SessionInput) (state.Session, bool, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, false, fmt.Errorf("put session: %w", err)
	}
	if in.ID != "" && in.ID != id {
		return state.Session{}, false, fmt.Errorf("put session %s: %w", id, state.Invalid("id", "body id %q differs from %q", in.ID, id))
	}
	md, err := state.ValidateMetadata(in.Metadata, s.cfg.MaxMetadataBytes)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("put session %s: %w", id, err)
	}
	ttl, err := ttlParam(in.TTL)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("put session %s: %w", id, err)
	}
	now := s.now()
	var (
		sess    state.Session
		created bool
	)
	err = s.tx(ctx, fmt.Sprintf("put session %s", id), func(tx pgx.Tx) error {
		if err := buryExpired(ctx, tx, id, now); err != nil {
			return err
		}
		// xmax is 0 on a row this statement inserted, and set on one it updated.
		row := tx.QueryRow(ctx, `
		INSERT INTO sessions AS s (id, created_at, last_active, ttl, expires_at, metadata)
		VALUES ($1, $2, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET
			last_active = greatest(s.last_active, EXCLUDED.last_active),
			metadata    = CASE WHEN $6::boolean THEN EXCLUDED.metadata ELSE s.metadata END,
			ttl         = CASE WHEN $7::boolean THEN EXCLUDED.ttl ELSE s.ttl END,
			expires_at  = greatest(s.last_active, EXCLUDED.last_active) + CASE WHEN $7::boolean THEN EXCLUDED.ttl ELSE s.ttl END
		RETURNING `+sessionColumns+`, (xmax = 0)`,
			id, now, ttl, expiresAt(now, ttl), md, in.Metadata != nil, in.TTL != nil)
		var err error
		sess, err = scanSession(scanTail{row, &created})
		return err
	})
	if err != nil {
		return state.Session{}, false, err
	}
	return sess, created, nil
}

// scanTail lets scanSession read a row that has extra columns after
// sessionColumns, scanned into tail.
type scanTail struct {
	row  pgx.Row
	tail any
}

func (r scanTail) Scan(dest ...any) error { return r.row.Scan(append(dest, r.tail)...) }

// GetSession reads a session. state.ErrNotFound if there is none.
func (s *Store) GetSession(ctx context.Context, id string) (state.Session, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, fmt.Errorf("get session: %w", err)
	}
	sess, err := scanSession(s.read.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 AND `+liveAt(2), id, s.now()))
	if err != nil {
		return state.Session{}, notFound(fmt.Sprintf("get session %s", id), err)
	}
	return sess, nil
}

// TouchSession marks a session active now and moves its expiry. The
// clock is read before the row lock, so a touch never moves last_active
// back: one that waited behind a later one keeps the later time.
// state.ErrNotFound if there is none.
func (s *Store) TouchSession(ctx context.Context, id string) (state.Session, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, fmt.Errorf("touch session: %w", err)
	}
	sess, err := scanSession(s.pool.QueryRow(ctx, `
		UPDATE sessions SET last_active = greatest(last_active, $2::timestamptz),
			expires_at = greatest(last_active, $2::timestamptz) + ttl
		WHERE id = $1 AND `+liveAt(2)+`
		RETURNING `+sessionColumns, id, s.now()))
	if err != nil {
		return state.Session{}, notFound(fmt.Sprintf("touch session %s", id), err)
	}
	return sess, nil
}

// notFound translates err, turning pgx.ErrNoRows into state.ErrNotFound.
func notFound(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, state.ErrNotFound)
	}
	return translate(op, err)
}

// pageLimit applies the page size rules of ListOptions and HistoryOptions.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return state.DefaultLimit, nil
	case limit < 0:
		return 0, state.Invalid("limit", "must not be negative")
	case limit > state.MaxLimit:
		return 0, state.Invalid("limit", "must be at most %d", state.MaxLimit)
	}
	return limit, nil
}

// ListSessions pages through sessions, newest-active first (ties by id,
// descending), with keyset cursors.
func (s *Store) ListSessions(ctx context.Context, opts state.ListOptions) (state.SessionPage, error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return state.SessionPage{}, fmt.Errorf("list sessions: %w", err)
	}
	var since *time.Time
	if !opts.ActiveSince.IsZero() {
		// Stored times are whole microseconds: round up, so that a session
		// active a fraction of a microsecond before ActiveSince stays out.
		// Clamped to the times sqlitestore keeps (1678 to 2262), so
		// that both engines answer alike.
		t := opts.ActiveSince.UTC()
		if t.Before(state.MinNanosTime) {
			t = state.MinNanosTime
		} else if t.After(state.MaxNanosTime) {
			t = state.MaxNanosTime
		}
		if tr := t.Truncate(time.Microsecond); tr.Before(t) {
			t = tr.Add(time.Microsecond)
		}
		since = &t
	}
	var (
		afterT  *time.Time
		afterID *string
	)
	if opts.Cursor != "" {
		t, id, err := decodeSessionCursor(opts.Cursor)
		if err != nil {
			return state.SessionPage{}, fmt.Errorf("list sessions: %w", err)
		}
		afterT, afterID = &t, &id
	}
	// The query is built for the options given, so that each shape gets a
	// plan that walks sessions_last_active_idx from the right place.
	var (
		where []string
		args  []any
	)
	if since != nil {
		args = append(args, *since)
		where = append(where, fmt.Sprintf("last_active >= $%d", len(args)))
	}
	if afterT != nil {
		args = append(args, *afterT, *afterID)
		where = append(where, fmt.Sprintf("(last_active, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, s.now())
	where = append(where, liveAt(len(args)))
	filter, err := state.ParseMetadataFilter(opts.Metadata)
	if err != nil {
		return state.SessionPage{}, fmt.Errorf("list sessions: %w", err)
	}
	if filter != nil {
		// The GIN index of session_metadata (migration 0003) finds the
		// matches; they are sorted for the page.
		b, _ := json.Marshal(filter)
		args = append(args, string(b))
		where = append(where, fmt.Sprintf("id IN (SELECT session_id FROM session_metadata WHERE metadata @> $%d::jsonb)", len(args)))
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions WHERE ` + strings.Join(where, " AND ")
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY last_active DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.read.Query(ctx, q, args...)
	if err != nil {
		return state.SessionPage{}, translate("list sessions", err)
	}
	// Up to limit sessions, fewer once their metadata reaches
	// state.MaxPageStateBytes (the page byte budget, see there).
	var (
		page = state.SessionPage{Sessions: make([]state.Session, 0, min(limit, 64))}
		more bool
		held int
	)
	for rows.Next() {
		if len(page.Sessions) == limit || held >= state.MaxPageStateBytes {
			more = true
			break
		}
		sess, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return state.SessionPage{}, translate("list sessions", err)
		}
		page.Sessions = append(page.Sessions, sess)
		held += len(sess.Metadata)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return state.SessionPage{}, translate("list sessions", err)
	}
	if more {
		last := page.Sessions[len(page.Sessions)-1]
		page.NextCursor = encodeSessionCursor(last.LastActive, last.ID)
	}
	if page.Sessions == nil {
		page.Sessions = []state.Session{}
	}
	return page, nil
}

// DeleteSession deletes a session: it is absent from every route at once
// and its id free, and the janitor (ReclaimSlice, ExpireSessions) reclaims
// its snapshots and idempotency keys in slices (Config.Slices), each its
// own short transaction. The delete itself is one UPDATE of the session row whatever
// the session's size: its expires_at becomes the epoch (the tombstone that
// every route's live predicate hides), and the "deleted" notification is
// sent in the same transaction. Creating a session with the same id before
// the reclaim ends deletes what is left in that create's transaction.
// state.ErrNotFound if there is none (also if it is past its expiry).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := state.ValidateID(id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	var found bool
	err := s.tx(ctx, fmt.Sprintf("delete session %s", id), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET expires_at = 'epoch'::timestamptz WHERE id = $1 AND `+liveAt(2), id, s.now())
		if err != nil {
			return err
		}
		if found = tag.RowsAffected() > 0; !found {
			return nil
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('cortex_watch', json_build_object('k', 'd', 'id', $1::text)::text)`, id)
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("delete session %s: %w", id, state.ErrNotFound)
	}
	return nil
}
