package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the store's schema migrations (0001_init.sql, …), for
// sqlitedb.DB.Migrate.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder exists: a build error otherwise
	}
	return sub
}

// Migrate brings db's schema up to date with Migrations. Open does it; call
// it before New on a DB you opened yourself.
func Migrate(ctx context.Context, db *sqlitedb.DB) error {
	if _, _, err := db.Migrate(ctx, Migrations()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Config configures Open. The zero value means sqlitedb's defaults and
// state's (1 MiB states, the system clock).
type Config struct {
	// DB configures the SQLite database (journal mode, readers, …).
	DB sqlitedb.Config
	state.Options
}

// Store is state.Store on a SQLite database. It is safe for concurrent use.
// Writes go through the database's single writer (group commit); reads run
// on its read-only pool and never wait for writes.
type Store struct {
	db    *sqlitedb.DB
	opts  state.Options
	ownDB bool
	hints keyHints
	keep  keepScan
	// lastWrite is the time of the latest write (Unix ns), for writeNow.
	lastWrite atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

var _ state.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, applies the schema
// migrations and returns a Store that owns the database: Close closes it.
// Errors are sqlitedb's (ErrCorrupt, ErrReadOnly, ErrNetworkFS, …).
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := New(db, cfg.Options)
	s.ownDB = true
	return s, nil
}

// New returns a Store on db, whose schema must be migrated (see Migrate).
// The Store does not own db: its Close leaves db open.
func New(db *sqlitedb.DB, opts state.Options) *Store {
	return &Store{db: db, opts: opts.WithDefaults()}
}

// DB returns the underlying database, for operations (stats, health,
// checkpoints, backups).
func (s *Store) DB() *sqlitedb.DB { return s.db }

// Close closes the database if the Store opened it. It is idempotent; later
// calls return the first one's result. Calls after Close fail with
// state.ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.ownDB {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

// now is the store's clock, in UTC and whole nanoseconds: exactly what the
// INTEGER columns keep, so returned times equal the ones read back.
func (s *Store) now() time.Time { return fromNanos(s.opts.Now().UnixNano()) }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func expiresAt(lastActive int64, ttl int64) sql.NullInt64 {
	if ttl <= 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: lastActive + ttl, Valid: true}
}

// storeErr names the operation and translates sqlitedb's errors into the
// domain's, keeping both in the chain.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sqlitedb.ErrBusy), errors.Is(err, sqlitedb.ErrClosed),
		errors.Is(err, sqlitedb.ErrPoolTimeout), errors.Is(err, sqlitedb.ErrQueueFull):
		return fmt.Errorf("%s: %w: %w", op, state.ErrUnavailable, err)
	case errors.Is(err, sqlitedb.ErrDiskFull):
		return fmt.Errorf("%s: %w: %w", op, state.ErrStorageFull, err)
	case errors.Is(err, sqlitedb.ErrCorrupt):
		return fmt.Errorf("%s: %w: the database is damaged, restore it from a backup: %w", op, state.ErrUnavailable, err)
	case errors.Is(err, sqlitedb.ErrReadOnly), errors.Is(err, sqlitedb.ErrIO):
		return fmt.Errorf("%s: %w: %w", op, state.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	c, ok := sqlitedb.CodeOf(err)
	return ok && (c == sqlitedb.CodeConstraintPrimaryKey || c == sqlitedb.CodeConstraintUnique)
}

func notFound(what string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(what, args...), state.ErrNotFound)
}

func validTTL(ttl *time.Duration) error {
	if ttl != nil && *ttl < 0 {
		return state.Invalid("ttl", "must not be negative")
	}
	return nil
}

// scanner is *sqlitedb.Row or *sqlitedb.Rows.
type scanner interface{ Scan(dest ...any) error }

// querySessions runs query in tx and appends the sessions it returns to out.
func querySessions(ctx context.Context, tx *sqlitedb.Tx, out []state.Session, query string, args ...any) ([]state.Session, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return out, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

func scanSession(r scanner) (state.Session, error) {
	var (
		s                 state.Session
		created, active   int64
		expires           sql.NullInt64
		ttl               int64
		metadata          []byte
		version, snapshot int64
	)
	if err := r.Scan(&s.ID, &created, &active, &expires, &ttl, &metadata, &version, &snapshot); err != nil {
		return s, err
	}
	s.CreatedAt, s.LastActive = fromNanos(created), fromNanos(active)
	if expires.Valid {
		t := fromNanos(expires.Int64)
		s.ExpiresAt = &t
	}
	s.TTL = time.Duration(ttl)
	s.Metadata = metadata
	s.Version, s.SnapshotCount = version, snapshot
	return s, nil
}

func scanSnapshot(r scanner, sessionID string) (state.Snapshot, error) {
	var (
		sn      = state.Snapshot{SessionID: sessionID}
		created int64
	)
	if err := r.Scan(&sn.Version, &created, (*[]byte)(&sn.State), (*[]byte)(&sn.Metadata), &sn.SizeBytes); err != nil {
		return sn, err
	}
	sn.CreatedAt = fromNanos(created)
	return sn, nil
}

// getSession reads a session in tx; ErrNotFound when there is none.
func getSession(ctx context.Context, tx *sqlitedb.Tx, id string) (state.Session, error) {
	sess, err := scanSession(tx.QueryRow(ctx, qSessionGet, id))
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
	md, err := state.NormalizeMetadata(in.Metadata)
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
	err = s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		sess = newSession(id, s.writeNow(), ttl, md)
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
		e := now.Add(ttl)
		sess.ExpiresAt = &e
	}
	return sess
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
		if md, err = state.NormalizeMetadata(in.Metadata); err != nil {
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
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		// This function may run twice (a group rerun), the second time
		// finding what the first did not: it changes no captured variable
		// it reads (md stays nil for "keep the metadata").
		now := s.writeNow()
		cur, err := getSession(ctx, tx, id)
		if errors.Is(err, state.ErrNotFound) {
			created = true
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
	err := s.db.ReadOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sess, err = getSession(ctx, tx, id)
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
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		cur, err := getSession(ctx, tx, id)
		if err != nil {
			return err
		}
		sess, err = touch(ctx, tx, cur, s.writeNow())
		return err
	})
	if err != nil {
		return state.Session{}, storeErr("touch session", err)
	}
	return sess, nil
}

// Cursors are opaque to callers: base64url of a tag and the keyset.
const (
	listCursorTag    = "l1:"
	historyCursorTag = "h1:"
)

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c, tag string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), tag) {
		return "", false
	}
	return string(b[len(tag):]), true
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return state.DefaultLimit, nil
	case n < 0 || n > state.MaxLimit:
		return 0, state.Invalid("limit", "must be between 1 and %d", state.MaxLimit)
	}
	return n, nil
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
		since = opts.ActiveSince.UnixNano()
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
	var page state.SessionPage
	err = s.db.Read(ctx, func(tx *sqlitedb.Tx) error {
		sessions, err := querySessions(ctx, tx, make([]state.Session, 0, min(limit, 64)), qSessionList, since, afterActive, afterID, limit+1)
		page = state.SessionPage{Sessions: sessions}
		return err
	})
	if err != nil {
		return state.SessionPage{}, storeErr("list sessions", err)
	}
	if len(page.Sessions) > limit {
		page.Sessions = page.Sessions[:limit]
		last := page.Sessions[limit-1]
		page.NextCursor = encodeCursor(listCursorTag + strconv.FormatInt(last.LastActive.UnixNano(), 10) + ":" + last.ID)
	}
	return page, nil
}

// DeleteSession deletes a session and, by ON DELETE CASCADE, its
// snapshots. Errors: ErrInvalid, ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := state.ValidateID(id); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(ctx, qSessionDelete, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("session %q", id)
		}
		return nil
	})
	return storeErr("delete session", err)
}

// validAppend checks an append's input and returns its normalised metadata.
func (s *Store) validAppend(id string, in state.AppendInput) (json.RawMessage, error) {
	if err := state.ValidateID(id); err != nil {
		return nil, err
	}
	if err := state.ValidateState(in.State, s.opts.MaxStateBytes); err != nil {
		return nil, err
	}
	if in.ExpectedVersion != nil && *in.ExpectedVersion < 0 {
		return nil, state.Invalid("expected_version", "must not be negative")
	}
	return state.NormalizeMetadata(in.Metadata)
}

// sessionKey is what the store knows of a session for appending to it:
// its integer key (sessions.sid) and its latest version.
type sessionKey struct {
	sid     int64
	version int64
}

// keyHints remembers each session's key and the version its last append
// gave it, so that the next append needs no lookup: its UPDATE names the
// session by sid and the version it expects (… WHERE sid = ? AND version =
// ?), and its new version is that one plus one. A hint is never trusted:
// when it is stale (a rolled-back group, a deleted session, another
// process's append) the UPDATE changes no row and the append looks the
// session up by id. The UPDATE checks the id too: sids are not reused
// (AUTOINCREMENT), but a restore in place brings back the backup's, and a
// stale hint must match no other session. Bounded: cleared when full.
type keyHints struct {
	mu sync.Mutex
	m  map[string]sessionKey
}

const maxKeyHints = 1 << 16

func (h *keyHints) get(id string) (sessionKey, bool) {
	h.mu.Lock()
	k, ok := h.m[id]
	h.mu.Unlock()
	return k, ok
}

func (h *keyHints) set(id string, k sessionKey) {
	h.mu.Lock()
	if h.m == nil || len(h.m) >= maxKeyHints {
		h.m = make(map[string]sessionKey)
	}
	if _, ok := h.m[id]; !ok {
		id = strings.Clone(id) // not a slice of a larger request buffer
	}
	h.m[id] = k
	h.mu.Unlock()
}

// lookupKey reads a session's key and version by id.
func lookupKey(ctx context.Context, tx *sqlitedb.Tx, id string) (sessionKey, error) {
	var k sessionKey
	err := tx.QueryRow(ctx, qSessionKey, id).Scan(&k.sid, &k.version)
	if errors.Is(err, sql.ErrNoRows) {
		return k, notFound("session %q", id)
	}
	return k, err
}

// bump runs qAppendBump and reports whether it changed the session's row.
func bump(ctx context.Context, tx *sqlitedb.Tx, at int64, k sessionKey, id string) (bool, error) {
	res, err := tx.Exec(ctx, qAppendBump, at, k.sid, k.version, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// appendTx is one append inside a write transaction: answer a known
// idempotency key; else move the session to its next version and touch it,
// if it exists and is at the expected version, and insert the snapshot at
// that version. With a hint of the session's key, that is two statements;
// only a missing or stale hint, or a conflict, reads the session by id.
func appendTx(ctx context.Context, tx *sqlitedb.Tx, hints *keyHints, id string, in state.AppendInput, md json.RawMessage, now time.Time) (state.AppendResult, error) {
	// The key first: a retried conditional append must get its first
	// answer, not a conflict with the version it created itself. A key
	// found means the session exists: its snapshots go with it.
	var key any
	if in.IdempotencyKey != "" {
		key = in.IdempotencyKey
		r := state.AppendResult{SessionID: id, Replayed: true}
		var created int64
		err := tx.QueryRow(ctx, qIdempotent, id, in.IdempotencyKey).Scan(&r.Version, &created, &r.SizeBytes)
		if err == nil {
			r.CreatedAt = fromNanos(created)
			return r, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return state.AppendResult{}, err
		}
	}
	at := now.UnixNano()
	k, hinted := hints.get(id)
	if !hinted {
		var err error
		if k, err = lookupKey(ctx, tx, id); err != nil {
			return state.AppendResult{}, err
		}
	}
	cur := k.version // the session's version, as far as we know
	if in.ExpectedVersion != nil {
		k.version = *in.ExpectedVersion
	}
	ok, err := bump(ctx, tx, at, k, id)
	if err == nil && !ok && hinted {
		// The hint may be stale: look again, and bump by what is there.
		if k, err = lookupKey(ctx, tx, id); err != nil {
			return state.AppendResult{}, err
		}
		cur = k.version
		if in.ExpectedVersion != nil {
			k.version = *in.ExpectedVersion
		}
		ok, err = bump(ctx, tx, at, k, id)
	}
	if err != nil {
		return state.AppendResult{}, err
	}
	if !ok {
		// The session is at cur, not at the version expected.
		if in.ExpectedVersion == nil {
			return state.AppendResult{}, fmt.Errorf("session %q changed while it was being appended to", id)
		}
		return state.AppendResult{}, &state.ConflictError{Expected: *in.ExpectedVersion, Actual: cur}
	}
	r := state.AppendResult{SessionID: id, Version: k.version + 1, CreatedAt: now, SizeBytes: int64(len(in.State))}
	if _, err := tx.Exec(ctx, qSnapshotInsert, k.sid, r.Version, at, string(in.State), string(md), r.SizeBytes, key); err != nil {
		return state.AppendResult{}, err
	}
	hints.set(id, sessionKey{sid: k.sid, version: r.Version})
	return r, nil
}

// AppendSnapshot appends a snapshot to an existing session and touches it,
// in one transaction on the writer (group commit). Errors: ErrInvalid,
// ErrTooLarge, ErrNotFound, ErrVersionConflict (a *state.ConflictError).
func (s *Store) AppendSnapshot(ctx context.Context, sessionID string, in state.AppendInput) (state.AppendResult, error) {
	md, err := s.validAppend(sessionID, in)
	if err != nil {
		return state.AppendResult{}, err
	}
	var r state.AppendResult
	err = s.db.Write(ctx, func(tx *sqlitedb.Tx) (err error) {
		r, err = appendTx(ctx, tx, &s.hints, sessionID, in, md, s.writeNow())
		return err
	})
	if err != nil {
		return state.AppendResult{}, storeErr("append snapshot", err)
	}
	return r, nil
}

// AppendBatch appends up to state.MaxBatch snapshots in one transaction:
// all of them or, on the first error, none. Errors: those of
// AppendSnapshot, naming the item; ErrInvalid for an empty or oversized batch.
func (s *Store) AppendBatch(ctx context.Context, items []state.BatchItem) ([]state.AppendResult, error) {
	if len(items) == 0 {
		return nil, state.Invalid("items", "must not be empty")
	}
	if len(items) > state.MaxBatch {
		return nil, state.Invalid("items", "%d items, more than %d", len(items), state.MaxBatch)
	}
	mds := make([]json.RawMessage, len(items))
	for i, it := range items {
		md, err := s.validAppend(it.SessionID, it.AppendInput)
		if err != nil {
			return nil, fmt.Errorf("batch item %d: %w", i, err)
		}
		mds[i] = md
	}
	results := make([]state.AppendResult, len(items))
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		for i, it := range items {
			r, err := appendTx(ctx, tx, &s.hints, it.SessionID, it.AppendInput, mds[i], now)
			if err != nil {
				return fmt.Errorf("batch item %d: %w", i, err)
			}
			results[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("append batch", err)
	}
	return results, nil
}

// LatestSnapshot reads a session's latest snapshot. Errors: ErrInvalid,
// ErrNotFound (no session or no snapshot).
func (s *Store) LatestSnapshot(ctx context.Context, sessionID string) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, err
	}
	var sn state.Snapshot
	err := s.db.ReadOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sn, err = scanSnapshot(tx.QueryRow(ctx, qLatest, sessionID), sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("latest snapshot of session %q", sessionID)
		}
		return err
	})
	if err != nil {
		return state.Snapshot{}, storeErr("latest snapshot", err)
	}
	return sn, nil
}

// GetSnapshot reads one version. Errors: ErrInvalid, ErrNotFound.
func (s *Store) GetSnapshot(ctx context.Context, sessionID string, version int64) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, err
	}
	var sn state.Snapshot
	err := s.db.ReadOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sn, err = scanSnapshot(tx.QueryRow(ctx, qSnapshotGet, sessionID, version), sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("snapshot %d of session %q", version, sessionID)
		}
		return err
	})
	if err != nil {
		return state.Snapshot{}, storeErr("get snapshot", err)
	}
	return sn, nil
}

// History pages through a session's snapshots, newest first, in one read
// transaction. With opts.IncludeState it stops reading rows once the page's
// states reach state.MaxPageStateBytes. Errors: ErrInvalid (id, limit,
// cursor, before), ErrNotFound.
func (s *Store) History(ctx context.Context, sessionID string, opts state.HistoryOptions) (state.SnapshotPage, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.SnapshotPage{}, err
	}
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return state.SnapshotPage{}, err
	}
	if opts.Before < 0 {
		return state.SnapshotPage{}, state.Invalid("before", "must not be negative")
	}
	below := int64(math.MaxInt64)
	if opts.Before > 0 {
		below = opts.Before
	}
	if opts.Cursor != "" {
		v, ok := decodeCursor(opts.Cursor, historyCursorTag)
		n, perr := strconv.ParseInt(v, 10, 64)
		if !ok || perr != nil || n < 1 {
			return state.SnapshotPage{}, state.Invalid("cursor", "is not a cursor this history returned")
		}
		below = min(below, n)
	}
	query := qHistoryNoState
	if opts.IncludeState {
		query = qHistory
	}
	var (
		page state.SnapshotPage
		more bool // older snapshots remain after the page
	)
	err = s.db.Read(ctx, func(tx *sqlitedb.Tx) error {
		page, more = state.SnapshotPage{Snapshots: make([]state.Snapshot, 0, min(limit, 64))}, false
		var one int
		if err := tx.QueryRow(ctx, qSessionExists, sessionID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound("session %q", sessionID)
		} else if err != nil {
			return err
		}
		snaps, m, full, err := historyRows(ctx, tx, query, sessionID, below, limit, page.Snapshots)
		if err != nil {
			return err
		}
		page.Snapshots, more = snaps, m
		if !full {
			return nil
		}
		// The page reached its state budget: rather than read the next row
		// (the driver copies its state), ask whether there is one.
		last := snaps[len(snaps)-1].Version
		err = tx.QueryRow(ctx, qHistoryMore, sessionID, last).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		more = err == nil
		return err
	})
	if err != nil {
		return state.SnapshotPage{}, storeErr("history", err)
	}
	if more {
		last := page.Snapshots[len(page.Snapshots)-1].Version
		page.NextCursor = encodeCursor(historyCursorTag + strconv.FormatInt(last, 10))
	}
	return page, nil
}

// historyRows appends History's rows to snaps, up to limit snapshots, and
// stops reading as soon as their states reach state.MaxPageStateBytes: full
// reports that stop. It asks for limit+1 rows, and more reports that a row
// after the limit'th came. The rows are closed when it returns, whatever is
// left of them unread.
func historyRows(ctx context.Context, tx *sqlitedb.Tx, query, sessionID string, below int64, limit int, snaps []state.Snapshot) (_ []state.Snapshot, more, full bool, err error) {
	rows, err := tx.Query(ctx, query, sessionID, below, limit+1)
	if err != nil {
		return nil, false, false, err
	}
	defer rows.Close()
	held := 0 // state bytes in the page; stays 0 without IncludeState
	for rows.Next() {
		if len(snaps) == limit {
			more = true
			break
		}
		sn, err := scanSnapshot(rows, sessionID)
		if err != nil {
			return nil, false, false, err
		}
		snaps = append(snaps, sn)
		if held += len(sn.State); held >= state.MaxPageStateBytes {
			full = true
			break
		}
	}
	return snaps, more, full, rows.Err()
}

// ForkSession creates a session whose history is a copy of the source's up
// to in.AtVersion (0: the latest), with the source's metadata and TTL, in
// one transaction. Errors: ErrInvalid, ErrNotFound (source or version),
// ErrExists (new id).
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
	var sess state.Session
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		src, err := getSession(ctx, tx, sourceID)
		if err != nil {
			return err
		}
		at := in.AtVersion
		if at == 0 {
			at = src.Version
		}
		if at > 0 {
			var one int
			err := tx.QueryRow(ctx, qSnapshotExists, sourceID, at).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("snapshot %d of session %q", at, sourceID)
			}
			if err != nil {
				return err
			}
		}
		sess = newSession(newID, now, src.TTL, src.Metadata)
		sess.Version = at
		if err := insertSession(ctx, tx, sess); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, qForkCopy, newID, sourceID, at)
		if err != nil {
			return err
		}
		if sess.SnapshotCount, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qSetCount, sess.SnapshotCount, newID)
		return err
	})
	if err != nil {
		return state.Session{}, storeErr("fork session", err)
	}
	return sess, nil
}

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
	var n int64
	err := s.db.Write(ctx, func(tx *sqlitedb.Tx) error {
		n = 0
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
			n++
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("expire sessions", err)
	}
	return n, nil
}
