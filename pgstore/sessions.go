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
	if *ttl < 0 {
		return nil, state.Invalid("ttl", "must not be negative")
	}
	d := ttl.Truncate(time.Microsecond)
	if d == 0 {
		d = time.Microsecond
	}
	return &d, nil
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
	md, err := state.NormalizeMetadata(in.Metadata)
	if err != nil {
		return state.Session{}, fmt.Errorf("create session %s: %w", id, err)
	}
	ttl, err := ttlParam(in.TTL)
	if err != nil {
		return state.Session{}, fmt.Errorf("create session %s: %w", id, err)
	}
	now := s.now()
	row := s.pool.QueryRow(ctx, `
		INSERT INTO sessions (id, created_at, last_active, ttl, expires_at, metadata)
		VALUES ($1, $2, $2, $3, $4, $5)
		RETURNING `+sessionColumns,
		id, now, ttl, expiresAt(now, ttl), md)
	sess, err := scanSession(row)
	if err != nil {
		return state.Session{}, translate(fmt.Sprintf("create session %s", id), err)
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
	md, err := state.NormalizeMetadata(in.Metadata)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("put session %s: %w", id, err)
	}
	ttl, err := ttlParam(in.TTL)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("put session %s: %w", id, err)
	}
	now := s.now()
	// xmax is 0 on a row this statement inserted, and set on one it updated.
	row := s.pool.QueryRow(ctx, `
		INSERT INTO sessions AS s (id, created_at, last_active, ttl, expires_at, metadata)
		VALUES ($1, $2, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET
			last_active = greatest(s.last_active, EXCLUDED.last_active),
			metadata    = CASE WHEN $6::boolean THEN EXCLUDED.metadata ELSE s.metadata END,
			ttl         = CASE WHEN $7::boolean THEN EXCLUDED.ttl ELSE s.ttl END,
			expires_at  = greatest(s.last_active, EXCLUDED.last_active) + CASE WHEN $7::boolean THEN EXCLUDED.ttl ELSE s.ttl END
		RETURNING `+sessionColumns+`, (xmax = 0)`,
		id, now, ttl, expiresAt(now, ttl), md, in.Metadata != nil, in.TTL != nil)
	var (
		sess    state.Session
		created bool
	)
	sess, err = scanSession(scanTail{row, &created})
	if err != nil {
		return state.Session{}, false, translate(fmt.Sprintf("put session %s", id), err)
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
	sess, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
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
		WHERE id = $1
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
		t := opts.ActiveSince.UTC()
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
	filter, err := state.ParseMetadataFilter(opts.Metadata)
	if err != nil {
		return state.SessionPage{}, fmt.Errorf("list sessions: %w", err)
	}
	if filter != nil {
		// The GIN index of session_metadata (migration 0004) finds the
		// matches; they are sorted for the page.
		b, _ := json.Marshal(filter)
		args = append(args, string(b))
		where = append(where, fmt.Sprintf("id IN (SELECT session_id FROM session_metadata WHERE metadata @> $%d::jsonb)", len(args)))
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	q += fmt.Sprintf(` ORDER BY last_active DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return state.SessionPage{}, translate("list sessions", err)
	}
	sessions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (state.Session, error) { return scanSession(r) })
	if err != nil {
		return state.SessionPage{}, translate("list sessions", err)
	}
	page := state.SessionPage{Sessions: sessions}
	if len(sessions) > limit {
		page.Sessions = sessions[:limit]
		last := page.Sessions[limit-1]
		page.NextCursor = encodeSessionCursor(last.LastActive, last.ID)
	}
	if page.Sessions == nil {
		page.Sessions = []state.Session{}
	}
	return page, nil
}

// DeleteSession deletes a session; its snapshots and idempotency keys go with
// it (ON DELETE CASCADE). state.ErrNotFound if there is none.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := state.ValidateID(id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	if err != nil {
		return translate(fmt.Sprintf("delete session %s", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete session %s: %w", id, state.ErrNotFound)
	}
	return nil
}
