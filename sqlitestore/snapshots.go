package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

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
	if in.Key != "" {
		if err := state.ValidateKey(in.Key); err != nil {
			return nil, err
		}
	}
	return state.ValidateMetadata(in.Metadata, s.opts.MaxMetadataBytes)
}

// fingerprint is the request fingerprint an append with an idempotency key
// records beside it (nil without a key: no hashing on the common path).
func fingerprint(in state.AppendInput, md json.RawMessage) any {
	if in.IdempotencyKey == "" {
		return nil
	}
	return state.Fingerprint(in, md)
}

// appendTx is one append inside a write transaction: answer a known
// idempotency key; else move the session to its next version and touch it,
// if it exists and is at the expected version, and insert the snapshot at
// that version. With a hint of the session's key, that is two statements;
// only a missing or stale hint, or a conflict, reads the session by id.
//
// fp is the request's fingerprint (fingerprint), nil without a key. A key
// recorded with another fingerprint is state.ErrIdempotencyMismatch; one
// recorded before fingerprints were kept (schema 4 and older) answers any
// request, as it did.
func appendTx(ctx context.Context, tx *sqlitedb.Tx, hints *keyHints, id string, in state.AppendInput, md json.RawMessage, fp any, now time.Time) (state.AppendResult, error) {
	// The key first: a retried conditional append must get its first
	// answer, not a conflict with the version it created itself. A key
	// found means the session exists: its snapshots go with it.
	var key any
	if in.IdempotencyKey != "" {
		key = in.IdempotencyKey
		r := state.AppendResult{SessionID: id, Replayed: true}
		var (
			created int64
			was     sql.NullInt64
		)
		err := tx.QueryRow(ctx, qIdempotent, id, in.IdempotencyKey, now.UnixNano()).Scan(&r.Version, &created, &r.SizeBytes, &was)
		if err == nil {
			if was.Valid && was.Int64 != fp.(int64) {
				return state.AppendResult{}, fmt.Errorf("session %q: %w", id, state.KeyMismatch(in.IdempotencyKey, r.Version))
			}
			r.CreatedAt = fromNanos(created)
			return r, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return state.AppendResult{}, err
		}
	}
	if in.Key != "" {
		if r, found, err := keyedAppend(ctx, tx, id, in, md, now.UnixNano()); found || err != nil {
			return r, err
		}
	}
	at := now.UnixNano()
	k, hinted := hints.get(id)
	if !hinted {
		var err error
		if k, err = lookupKey(ctx, tx, id, at); err != nil {
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
		if k, err = lookupKey(ctx, tx, id, at); err != nil {
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
	var a sqlitedb.Args // typed: no argument boxed (an allocation each)
	a.Int(k.sid).Int(r.Version).Int(at).Text(textOf(in.State)).Text(textOf(md)).Int(r.SizeBytes)
	if key, ok := key.(string); ok {
		a.Text(key)
	} else {
		a.Null()
	}
	if fp, ok := fp.(int64); ok {
		a.Int(fp)
	} else {
		a.Null()
	}
	if _, err := tx.ExecArgs(ctx, qSnapshotInsert, &a); err != nil {
		return state.AppendResult{}, err
	}
	if in.Key != "" {
		if _, err := tx.Exec(ctx, qSnapshotSetKey, k.sid, r.Version, in.Key); err != nil {
			return state.AppendResult{}, err
		}
		r.Key = in.Key
	}
	hints.set(id, sessionKey{sid: k.sid, version: r.Version})
	return r, nil
}

// textOf is b as a string without copying it, to bind as TEXT (a []byte
// binds as a BLOB): string(b) copied each state (up to 1 MiB) on the
// writer, the bound of every append, only for the driver to copy it
// again. b must not change while the statement runs: it is the caller's
// input, read only during the call, and neither the driver nor SQLite
// keeps it after the statement (sqlitedb binds from its own buffer; the
// driver's fallback binds SQLITE_TRANSIENT, a copy).
func textOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// keyedAppend answers an append whose client key a snapshot of the
// session already has: the same state and metadata replay it (found);
// others are ErrExists. found is false when the key is free.
func keyedAppend(ctx context.Context, tx *sqlitedb.Tx, id string, in state.AppendInput, md json.RawMessage, now int64) (r state.AppendResult, found bool, err error) {
	sn, err := scanSnapshot(tx.QueryRow(ctx, qSnapshotByKey, id, now, in.Key), id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if !bytes.Equal(sn.State, in.State) || !bytes.Equal(sn.Metadata, md) {
		return r, true, fmt.Errorf("snapshot key %q of session %q is taken by version %d, a different snapshot: %w", in.Key, id, sn.Version, state.ErrExists)
	}
	return state.AppendResult{SessionID: id, Version: sn.Version, CreatedAt: sn.CreatedAt, SizeBytes: sn.SizeBytes, Key: in.Key, Replayed: true}, true, nil
}

// SnapshotByKey reads the snapshot with client key key. Errors: ErrInvalid,
// ErrNotFound.
func (s *Store) SnapshotByKey(ctx context.Context, sessionID, key string) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, err
	}
	if err := state.ValidateKey(key); err != nil {
		return state.Snapshot{}, err
	}
	var sn state.Snapshot
	err := s.readOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sn, err = scanSnapshot(tx.QueryRow(ctx, qSnapshotByKey, sessionID, s.now().UnixNano(), key), sessionID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("snapshot with key %q of session %q", key, sessionID)
		}
		return err
	})
	if err != nil {
		return state.Snapshot{}, storeErr("snapshot by key", err)
	}
	return sn, nil
}

// AppendSnapshot appends a snapshot to an existing session and touches it,
// in one transaction on the writer (group commit). Errors: ErrInvalid,
// ErrTooLarge, ErrNotFound, ErrVersionConflict (a *state.ConflictError).
func (s *Store) AppendSnapshot(ctx context.Context, sessionID string, in state.AppendInput) (state.AppendResult, error) {
	md, err := s.validAppend(sessionID, in)
	if err != nil {
		return state.AppendResult{}, err
	}
	fp := fingerprint(in, md)
	var r state.AppendResult
	err = s.write(ctx, func(tx *sqlitedb.Tx) (err error) {
		r, err = appendTx(ctx, tx, &s.hints, sessionID, in, md, fp, s.writeNow())
		return err
	})
	if err != nil {
		return state.AppendResult{}, storeErr("append snapshot", err)
	}
	s.publishAppend(r, md)
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
	fps := make([]any, len(items))
	var keyFps []int64 // by item, when some item has a key
	for i, it := range items {
		md, err := s.validAppend(it.SessionID, it.AppendInput)
		if err != nil {
			return nil, fmt.Errorf("batch item %d: %w", i, err)
		}
		mds[i], fps[i] = md, fingerprint(it.AppendInput, md)
		if fp, ok := fps[i].(int64); ok {
			if keyFps == nil {
				keyFps = make([]int64, len(items))
			}
			keyFps[i] = fp
		}
	}
	if keyFps != nil {
		if err := state.BatchKeys(items, keyFps); err != nil {
			return nil, err
		}
	}
	results := make([]state.AppendResult, len(items))
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		now := s.writeNow()
		for i, it := range items {
			r, err := appendTx(ctx, tx, &s.hints, it.SessionID, it.AppendInput, mds[i], fps[i], now)
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
	for i, r := range results {
		s.publishAppend(r, mds[i])
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
	err := s.readOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sn, err = scanSnapshot(tx.QueryRow(ctx, qLatest, sessionID, s.now().UnixNano()), sessionID)
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
	err := s.readOne(ctx, func(tx *sqlitedb.Tx) (err error) {
		sn, err = scanSnapshot(tx.QueryRow(ctx, qSnapshotGet, sessionID, s.now().UnixNano(), version), sessionID)
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
	filter, err := state.ParseMetadataFilter(opts.Metadata)
	if err != nil {
		return state.SnapshotPage{}, err
	}
	query := qHistoryNoState
	var extra []any
	if opts.IncludeState {
		query = qHistory
	}
	if filter != nil {
		b, _ := json.Marshal(filter)
		extra = []any{string(b), len(filter)}
		query = qHistoryWhereNoState
		if opts.IncludeState {
			query = qHistoryWhere
		}
	}
	var (
		page state.SnapshotPage
		more bool // older snapshots remain after the page
	)
	now := s.now().UnixNano()
	err = s.read(ctx, func(tx *sqlitedb.Tx) error {
		page, more = state.SnapshotPage{Snapshots: make([]state.Snapshot, 0, min(limit, 64))}, false
		var one int
		if err := tx.QueryRow(ctx, qSessionExists, sessionID, now).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound("session %q", sessionID)
		} else if err != nil {
			return err
		}
		snaps, m, full, err := historyRows(ctx, tx, query, sessionID, now, below, limit, page.Snapshots, extra...)
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
		if filter != nil {
			err = tx.QueryRow(ctx, qHistoryMoreWhere, sessionID, now, last, 1, extra[0], extra[1]).Scan(&one)
		} else {
			err = tx.QueryRow(ctx, qHistoryMore, sessionID, now, last).Scan(&one)
		}
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
// stops reading as soon as their states and metadata reach
// state.MaxPageStateBytes: full
// reports that stop. It asks for limit+1 rows, and more reports that a row
// after the limit'th came. The rows are closed when it returns, whatever is
// left of them unread.
func historyRows(ctx context.Context, tx *sqlitedb.Tx, query, sessionID string, now, below int64, limit int, snaps []state.Snapshot, extra ...any) (_ []state.Snapshot, more, full bool, err error) {
	rows, err := tx.Query(ctx, query, append([]any{sessionID, now, below, limit + 1}, extra...)...)
	if err != nil {
		return nil, false, false, err
	}
	defer rows.Close()
	held := 0 // state and metadata bytes in the page
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
		if held += len(sn.State) + len(sn.Metadata); held >= state.MaxPageStateBytes {
			full = true
			break
		}
	}
	return snaps, more, full, rows.Err()
}
