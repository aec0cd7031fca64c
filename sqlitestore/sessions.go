package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

func validTTL(ttl *time.Duration) error {
	if ttl != nil {
		return state.ValidateTTL(*ttl)
	}
	return nil
}

// getSession reads a session live at now (unix ns) in tx; ErrNotFound
// when there is none (also when it is past its expiry: absent at once).
func getSession(ctx context.Context, tx *sqlitedb.Tx, id string, now int64) (state.Session, error) {
	sess, err := scanSession(tx.QueryRow(ctx, qSessionGet, id, now))
	if errors.Is(err, sql.ErrNoRows) {
		return sess, notFound("session %q", id)
	}
	return sess, err
}

// CreateSession creates a session; an empty in.ID generates a UUIDv7.
// Errors: ErrInvalid (id, metadata, negative TTL), ErrExists.
func (s *Store) CreateSession(ctx context.Context, in state.SessionInput) (state.Session, error) {
	id := in.ID
	if id == "" {
		id = state.NewID()
	} else if err := state.ValidateID(id); err != nil {
		return state.Session{}, err
	}
	md, err := state.ValidateMetadata(in.Metadata, s.opts.MaxMetadataBytes)
	if err != nil {
		return state.Session{}, err
	}
	if err := validTTL(in.TTL); err != nil {
		return state.Session{}, err
	}
	var ttl time.Duration
	if in.TTL != nil {
		ttl = *in.TTL
	}
	var sess state.Session
	err = s.write(ctx, func(tx *sqlitedb.Tx) error {
		sess = newSession(id, s.writeNow(), ttl, md)
		if err := buryExpired(ctx, tx, id, sess.CreatedAt.UnixNano()); err != nil {
			return err
		}
		return insertSession(ctx, tx, sess)
	})
	if err != nil {
		return state.Session{}, storeErr("create session", err)
	}
	return sess, nil
}

// writeNow is the time of a write, for write functions to call: read on
// the writer, when the write runs, so that writes are stamped in the order
// they commit (a time read before queueing could commit after a later
// one), and never earlier than the previous write's (a wall clock stepped
// back). So a session's created_at, last_active and expires_at never go
// back: age-based pruning takes the oldest versions, and a touch's
// acknowledged expiry holds.
func (s *Store) writeNow() time.Time {
	for {
		t := s.now()
		last := s.lastWrite.Load()
		if t.UnixNano() < last {
			t = time.Unix(0, last).UTC()
		}
		if s.lastWrite.CompareAndSwap(last, t.UnixNano()) {
			return t
		}
	}
}

func newSession(id string, now time.Time, ttl time.Duration, md json.RawMessage) state.Session {
	sess := state.Session{ID: id, CreatedAt: now, LastActive: now, TTL: ttl, Metadata: md}
	if ttl > 0 {
		e := state.AddTime(now, ttl)
		sess.ExpiresAt = &e
	}
	return sess
}

// buryExpired makes the row holding id a tombstone if it is past its
// expiry at now, in the transaction that creates a new session with that
// id: the new session gets a new sid, and the old one's rows, which only
// that sid reaches, wait for the janitor (qSessionBury). A live holder is
// left as it is (the insert then fails: ErrExists).
func buryExpired(ctx context.Context, tx *sqlitedb.Tx, id string, now int64) error {
	_, err := tx.Exec(ctx, qSessionBury, id, now, nil)
	return err
}

func insertSession(ctx context.Context, tx *sqlitedb.Tx, sess state.Session) error {
	active := sess.LastActive.UnixNano()
	_, err := tx.Exec(ctx, qSessionInsert, sess.ID, sess.CreatedAt.UnixNano(), active,
		expiresAt(active, int64(sess.TTL)), int64(sess.TTL), string(sess.Metadata), sess.Version, sess.SnapshotCount)
	if isUniqueViolation(err) {
		return state.WithCause(fmt.Errorf("session %q: %w", sess.ID, state.ErrExists), err)
	}
	return err
}

// PutSession creates session id, or updates its metadata (unless
// in.Metadata is nil) and TTL (unless in.TTL is nil) and touches it.
// Errors: ErrInvalid.
func (s *Store) PutSession(ctx context.Context, id string, in state.SessionInput) (state.Session, bool, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, false, err
	}
	var md json.RawMessage
	if in.Metadata != nil {
		var err error
		if md, err = state.ValidateMetadata(in.Metadata, s.opts.MaxMetadataBytes); err != nil {
			return state.Session{}, false, err
		}
	}
	if err := validTTL(in.TTL); err != nil {
		return state.Session{}, false, err
	}
	var (
		sess    state.Session
		created bool
	)
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		// This function may run twice (a group rerun), the second time
		// finding what the first did not: it changes no captured variable
		// it reads (md stays nil for "keep the metadata").
		now := s.writeNow()
		cur, err := getSession(ctx, tx, id, now.UnixNano())
		if errors.Is(err, state.ErrNotFound) {
			created = true
			if err := buryExpired(ctx, tx, id, now.UnixNano()); err != nil {
				return err
			}
			var ttl time.Duration
			if in.TTL != nil {
				ttl = *in.TTL
			}
			m := md
			if m == nil {
				m = json.RawMessage("{}")
			}
			sess = newSession(id, now, ttl, m)
			return insertSession(ctx, tx, sess)
		}
		if err != nil {
			return err
		}
		created = false
		if md != nil {
			cur.Metadata = md
		}
		if in.TTL != nil {
			cur.TTL = *in.TTL
		}
		sess, err = touch(ctx, tx, cur, now)
		return err
	})
	if err != nil {
		return state.Session{}, false, storeErr("put session", err)
	}
	if !created && (in.Metadata != nil || in.TTL != nil) {
		s.hub.Publish(state.Change{Kind: state.EventSession, SessionID: id})
	}
	return sess, created, nil
}

// touch writes cur's metadata and TTL with last_active = now.
func touch(ctx context.Context, tx *sqlitedb.Tx, cur state.Session, now time.Time) (state.Session, error) {
	active := now.UnixNano()
	exp := expiresAt(active, int64(cur.TTL))
	if _, err := tx.Exec(ctx, qSessionUpdate, active, exp, int64(cur.TTL), string(cur.Metadata), cur.ID); err != nil {
		return cur, err
	}
	cur.LastActive = now
	cur.ExpiresAt = nil
	if exp.Valid {
		t := fromNanos(exp.Int64)
		cur.ExpiresAt = &t
	}
	return cur, nil
}

// GetSession reads a session. Errors: ErrInvalid, ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string) (state.Session, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, err
	}
	var sess state.Session
	err := s.readOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sess, err = getSession(ctx, tx, id, s.now().UnixNano())
		return err
	})
	return sess, storeErr("get session", err)
}

// TouchSession marks a session active now, moving its expiry. Errors:
// ErrInvalid, ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, id string) (state.Session, error) {
	if err := state.ValidateID(id); err != nil {
		return state.Session{}, err
	}
	var sess state.Session
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		cur, err := getSession(ctx, tx, id, now.UnixNano())
		if err != nil {
			return err
		}
		sess, err = touch(ctx, tx, cur, now)
		return err
	})
	if err != nil {
		return state.Session{}, storeErr("touch session", err)
	}
	return sess, nil
}

// ListSessions pages through sessions, newest-active first. Errors:
// ErrInvalid (limit, cursor).
func (s *Store) ListSessions(ctx context.Context, opts state.ListOptions) (state.SessionPage, error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return state.SessionPage{}, err
	}
	since := int64(math.MinInt64)
	if !opts.ActiveSince.IsZero() {
		// Saturated: a time past 2262 keeps no session, one before 1678
		// every session.
		since = state.UnixNanos(opts.ActiveSince)
	}
	afterActive, afterID := int64(math.MaxInt64), ""
	if opts.Cursor != "" {
		v, ok := decodeCursor(opts.Cursor, listCursorTag)
		active, id, found := strings.Cut(v, ":")
		n, perr := strconv.ParseInt(active, 10, 64)
		if !ok || !found || perr != nil || state.ValidateID(id) != nil {
			return state.SessionPage{}, state.Invalid("cursor", "is not a cursor this listing returned")
		}
		afterActive, afterID = n, id
	}
	filter, err := state.ParseMetadataFilter(opts.Metadata)
	if err != nil {
		return state.SessionPage{}, err
	}
	now := s.now().UnixNano()
	query, args := qSessionList, []any{since, afterActive, afterID, now, limit + 1}
	var (
		page state.SessionPage
		more bool
	)
	err = s.read(ctx, func(tx *sqlitedb.Tx) error {
		if filter != nil {
			first, err := rarestKey(ctx, tx, filter)
			if err != nil {
				return err
			}
			query, args = qSessionSearch, append(searchArgs(filter, first, since, afterActive, afterID, limit+1), now)
		}
		var sessions []state.Session
		sessions, more, err = listRows(ctx, tx, make([]state.Session, 0, min(limit, 64)), limit, query, args...)
		page = state.SessionPage{Sessions: sessions}
		return err
	})
	if err != nil {
		return state.SessionPage{}, storeErr("list sessions", err)
	}
	if more {
		last := page.Sessions[len(page.Sessions)-1]
		page.NextCursor = encodeCursor(listCursorTag + strconv.FormatInt(last.LastActive.UnixNano(), 10) + ":" + last.ID)
	}
	return page, nil
}

// listRows appends ListSessions' rows to out: up to limit sessions, and
// fewer once their metadata reaches state.MaxPageStateBytes (the page byte
// budget, see there). more reports that sessions remain after the page.
func listRows(ctx context.Context, tx *sqlitedb.Tx, out []state.Session, limit int, query string, args ...any) (_ []state.Session, more bool, err error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return out, false, err
	}
	defer rows.Close()
	held := 0
	for rows.Next() {
		if len(out) == limit || held >= state.MaxPageStateBytes {
			return out, true, nil
		}
		sess, err := scanSession(rows)
		if err != nil {
			return out, false, err
		}
		out = append(out, sess)
		held += len(sess.Metadata)
	}
	return out, false, rows.Err()
}

// DeleteSession deletes a session: in one short write it becomes a
// tombstone (qSessionBury), absent from every route at once and its id
// free for a new session at once; the janitor reclaims its snapshots in
// slices of bounded writer time (ExpireSessions, ReclaimSlice), so
// deleting a session of any size never holds the writer for long.
// Errors: ErrInvalid, ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := state.ValidateID(id); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(ctx, qSessionBury, id, nil, s.writeNow().UnixNano())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("session %q", id)
		}
		return nil
	})
	if err == nil {
		s.hub.Publish(state.Change{Kind: state.EventDeleted, SessionID: id})
	}
	return storeErr("delete session", err)
}

// rarestKeyCap bounds the index entries rarestKey counts per key.
const rarestKeyCap = 1000

// rarestKey picks the filter key a search walks: the one with the fewest
// matching sessions, counted in the index up to rarestKeyCap each (ties:
// sorted order), so that {"tenant":…,"user":…} walks the user's few
// sessions, not the tenant's many.
func rarestKey(ctx context.Context, tx *sqlitedb.Tx, filter map[string]json.RawMessage) (string, error) {
	keys := make([]string, 0, len(filter))
	for k := range filter {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 1 {
		return keys[0], nil
	}
	best, bestN := "", int64(math.MaxInt64)
	for _, k := range keys {
		rows, err := tx.Query(ctx, qTagCount, k, "["+string(filter[k])+"]", rarestKeyCap)
		if err != nil {
			return "", err
		}
		var n int64
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		if n < bestN {
			best, bestN = k, n
		}
	}
	return best, nil
}

// searchArgs are qSessionSearch's arguments: the key first and its value
// searched in the index, the others checked.
func searchArgs(filter map[string]json.RawMessage, first string, since, afterActive int64, afterID string, limit int) []any {
	rest := make(map[string]json.RawMessage, len(filter)-1)
	for k, v := range filter {
		if k != first {
			rest[k] = v
		}
	}
	restJSON, _ := json.Marshal(rest)
	return []any{first, "[" + string(filter[first]) + "]", string(restJSON), len(rest), since, afterActive, afterID, limit}
}
