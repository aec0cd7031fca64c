package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// MaxIdempotencyKeyLen is the longest idempotency key.
const MaxIdempotencyKeyLen = 255

// lockedSession is a session row locked FOR UPDATE by the current
// transaction, with the changes appends made to it so far.
type lockedSession struct {
	id         string
	version    int64
	ttl        *time.Duration
	lastActive time.Time
	added      int64 // snapshots appended in this transaction
}

// checkAppend validates one append's input and returns its normalised
// metadata.
func (s *Store) checkAppend(sessionID string, in state.AppendInput) (json.RawMessage, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return nil, err
	}
	if err := state.ValidateState(in.State, s.cfg.MaxStateBytes); err != nil {
		return nil, err
	}
	md, err := state.ValidateMetadata(in.Metadata, s.cfg.MaxMetadataBytes)
	if err != nil {
		return nil, err
	}
	if in.ExpectedVersion != nil && *in.ExpectedVersion < 0 {
		return nil, state.Invalid("expected_version", "must not be negative")
	}
	if len(in.IdempotencyKey) > MaxIdempotencyKeyLen {
		return nil, state.Invalid("idempotency_key", "longer than %d bytes", MaxIdempotencyKeyLen)
	}
	if in.Key != "" {
		if err := state.ValidateKey(in.Key); err != nil {
			return nil, err
		}
	}
	return md, nil
}

// lockSessions locks the rows of ids (deduplicated, in id order so that
// concurrent batches cannot deadlock) and returns them by id.
// state.ErrNotFound names the first missing session.
func lockSessions(ctx context.Context, tx pgx.Tx, ids []string, now time.Time) (map[string]*lockedSession, error) {
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	sort.Strings(uniq)
	rows, err := tx.Query(ctx, `
		SELECT id, version, ttl, last_active FROM sessions
		WHERE id = ANY($1::text[]) AND `+liveAt(2)+`
		ORDER BY id
		FOR UPDATE`, uniq, now)
	if err != nil {
		return nil, fmt.Errorf("lock sessions: %w", err)
	}
	locked := make(map[string]*lockedSession, len(uniq))
	for rows.Next() {
		ls := &lockedSession{}
		if err := rows.Scan(&ls.id, &ls.version, &ls.ttl, &ls.lastActive); err != nil {
			rows.Close()
			return nil, fmt.Errorf("lock sessions: %w", err)
		}
		locked[ls.id] = ls
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock sessions: %w", err)
	}
	for _, id := range ids {
		if locked[id] == nil {
			return nil, fmt.Errorf("session %s: %w", id, state.ErrNotFound)
		}
	}
	return locked, nil
}

// lockedNow is the time of an append to the locked sessions: the store's
// clock read after the locks, so appends are stamped in the order they
// commit, and never earlier than a locked session's last activity (another
// server's clock may run ahead). Versions' created_at thus never go back,
// which age-based pruning relies on.
func (s *Store) lockedNow(locked map[string]*lockedSession) time.Time {
	now := s.now()
	for _, ls := range locked {
		if ls.lastActive.After(now) {
			now = ls.lastActive
		}
	}
	return now
}

// appendLocked appends one snapshot to a session this transaction has
// locked, or answers an earlier append with the same idempotency key.
// fp is the request's fingerprint (state.Fingerprint), used only with a
// key: a key recorded with another fingerprint is
// state.ErrIdempotencyMismatch; one recorded before fingerprints were kept
// (schema 1) answers any request, as it did.
func appendLocked(ctx context.Context, tx pgx.Tx, ls *lockedSession, in state.AppendInput, md json.RawMessage, fp int64, now time.Time) (state.AppendResult, error) {
	if in.IdempotencyKey != "" {
		res := state.AppendResult{SessionID: ls.id, Replayed: true}
		var was *int64
		err := tx.QueryRow(ctx, `
			SELECT version, created_at, size_bytes, fingerprint FROM snapshot_idempotency_keys
			WHERE session_id = $1 AND key = $2`, ls.id, in.IdempotencyKey).
			Scan(&res.Version, &res.CreatedAt, &res.SizeBytes, &was)
		if err == nil {
			if was != nil && *was != fp {
				return state.AppendResult{}, fmt.Errorf("session %s: %w", ls.id, state.KeyMismatch(in.IdempotencyKey, res.Version))
			}
			res.CreatedAt = res.CreatedAt.UTC()
			return res, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return state.AppendResult{}, fmt.Errorf("read idempotency key: %w", err)
		}
	}
	if in.Key != "" {
		if res, found, err := keyedAppend(ctx, tx, ls.id, in, md); found || err != nil {
			return res, err
		}
	}
	if in.ExpectedVersion != nil && *in.ExpectedVersion != ls.version {
		return state.AppendResult{}, &state.ConflictError{Expected: *in.ExpectedVersion, Actual: ls.version}
	}
	res := state.AppendResult{
		SessionID: ls.id,
		Version:   ls.version + 1,
		CreatedAt: now,
		SizeBytes: int64(len(in.State)),
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes, key)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		ls.id, res.Version, now, in.State, md, res.SizeBytes, keyParam(in.Key)); err != nil {
		return state.AppendResult{}, fmt.Errorf("insert snapshot: %w", err)
	}
	if in.IdempotencyKey != "" {
		if _, err := tx.Exec(ctx, `
			INSERT INTO snapshot_idempotency_keys (session_id, key, version, created_at, size_bytes, fingerprint)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			ls.id, in.IdempotencyKey, res.Version, now, res.SizeBytes, fp); err != nil {
			return state.AppendResult{}, fmt.Errorf("record idempotency key: %w", err)
		}
	}
	ls.version = res.Version
	ls.added++
	res.Key = in.Key
	return res, nil
}

// keyParam is the key column's value: NULL for no key.
func keyParam(key string) *string {
	if key == "" {
		return nil
	}
	return &key
}

// keyedAppend answers an append whose client key a snapshot of the
// session already has: the same state and metadata replay it (found);
// others are state.ErrExists. found is false when the key is free. The
// session's row lock keeps the answer true until commit.
func keyedAppend(ctx context.Context, tx pgx.Tx, id string, in state.AppendInput, md json.RawMessage) (res state.AppendResult, found bool, err error) {
	sn, err := scanSnapshot(tx.QueryRow(ctx, `
		SELECT `+snapshotColumns+`, state::text FROM state_snapshots
		WHERE session_id = $1 AND key = $2`, id, in.Key))
	if errors.Is(err, pgx.ErrNoRows) {
		return res, false, nil
	}
	if err != nil {
		return res, false, fmt.Errorf("read snapshot key: %w", err)
	}
	if !bytes.Equal(sn.State, in.State) || !bytes.Equal(sn.Metadata, md) {
		return res, true, fmt.Errorf("snapshot key %q of session %q is taken by version %d, a different snapshot: %w", in.Key, id, sn.Version, state.ErrExists)
	}
	return state.AppendResult{SessionID: id, Version: sn.Version, CreatedAt: sn.CreatedAt, SizeBytes: sn.SizeBytes, Key: in.Key, Replayed: true}, true, nil
}

// SnapshotByKey reads the snapshot with client key key, with its state.
// state.ErrNotFound when there is no such session or key.
func (s *Store) SnapshotByKey(ctx context.Context, sessionID, key string) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, fmt.Errorf("snapshot by key: %w", err)
	}
	if err := state.ValidateKey(key); err != nil {
		return state.Snapshot{}, fmt.Errorf("snapshot by key: %w", err)
	}
	sn, err := scanSnapshot(s.pool.QueryRow(ctx, `
		SELECT `+snapshotColumns+`, state::text FROM state_snapshots
		WHERE session_id = $1 AND key = $2`, sessionID, key))
	if err != nil {
		return state.Snapshot{}, notFound(fmt.Sprintf("snapshot %s with key %s", sessionID, key), err)
	}
	return sn, nil
}

// saveLocked writes back the version, count and activity of the sessions
// that got snapshots.
func saveLocked(ctx context.Context, tx pgx.Tx, locked map[string]*lockedSession, now time.Time) error {
	for _, ls := range locked {
		if ls.added == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `
			UPDATE sessions SET version = $2, snapshot_count = snapshot_count + $3,
				last_active = $4::timestamptz, expires_at = $4::timestamptz + ttl
			WHERE id = $1`, ls.id, ls.version, ls.added, now); err != nil {
			return fmt.Errorf("update session %s: %w", ls.id, err)
		}
	}
	return nil
}

// AppendSnapshot appends a snapshot to an existing session and touches it.
// The session's row is locked for the transaction, so versions are gapless
// under concurrent appends. state.ErrNotFound without the session,
// *state.ConflictError when in.ExpectedVersion is not the latest,
// state.ErrTooLarge over MaxStateBytes. A retry with the same
// IdempotencyKey answers the first result, with Replayed set.
func (s *Store) AppendSnapshot(ctx context.Context, sessionID string, in state.AppendInput) (state.AppendResult, error) {
	md, err := s.checkAppend(sessionID, in)
	if err != nil {
		return state.AppendResult{}, fmt.Errorf("append snapshot to %s: %w", sessionID, err)
	}
	var fp int64
	if in.IdempotencyKey != "" {
		fp = state.Fingerprint(in, md)
	}
	var res state.AppendResult
	err = s.tx(ctx, "append snapshot to "+sessionID, func(tx pgx.Tx) error {
		locked, err := lockSessions(ctx, tx, []string{sessionID}, s.now())
		if err != nil {
			return err
		}
		now := s.lockedNow(locked)
		res, err = appendLocked(ctx, tx, locked[sessionID], in, md, fp, now)
		if err != nil {
			return err
		}
		return saveLocked(ctx, tx, locked, now)
	})
	if err != nil {
		return state.AppendResult{}, err
	}
	return res, nil
}

// AppendBatch appends 1 to state.MaxBatch snapshots in one transaction, all
// or nothing (state.ErrInvalid for an empty or oversized batch); results are in the order of items. Items may name the same
// session several times; each sees the ones before it.
func (s *Store) AppendBatch(ctx context.Context, items []state.BatchItem) ([]state.AppendResult, error) {
	if len(items) > state.MaxBatch {
		return nil, fmt.Errorf("append batch: %w", state.Invalid("items", "%d items is more than the limit of %d", len(items), state.MaxBatch))
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("append batch: %w", state.Invalid("items", "must not be empty"))
	}
	mds := make([]json.RawMessage, len(items))
	ids := make([]string, len(items))
	fps := make([]int64, len(items))
	for i, it := range items {
		md, err := s.checkAppend(it.SessionID, it.AppendInput)
		if err != nil {
			return nil, fmt.Errorf("append batch: item %d (session %s): %w", i, it.SessionID, err)
		}
		mds[i], ids[i] = md, it.SessionID
		if it.IdempotencyKey != "" {
			fps[i] = state.Fingerprint(it.AppendInput, md)
		}
	}
	if err := state.BatchKeys(items, fps); err != nil {
		return nil, fmt.Errorf("append batch: %w", err)
	}
	var results []state.AppendResult
	err := s.tx(ctx, "append batch", func(tx pgx.Tx) error {
		results = make([]state.AppendResult, len(items))
		locked, err := lockSessions(ctx, tx, ids, s.now())
		if err != nil {
			return err
		}
		now := s.lockedNow(locked)
		for i, it := range items {
			results[i], err = appendLocked(ctx, tx, locked[it.SessionID], it.AppendInput, mds[i], fps[i], now)
			if err != nil {
				return fmt.Errorf("item %d (session %s): %w", i, it.SessionID, err)
			}
		}
		return saveLocked(ctx, tx, locked, now)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// snapshotColumns are the columns scanSnapshot reads; state is NULL when a
// history page leaves it out.
const snapshotColumns = `session_id, version, created_at, metadata::text, size_bytes, key`

func scanSnapshot(row pgx.Row) (state.Snapshot, error) {
	var (
		sn     state.Snapshot
		md     *string
		stateT *string
		key    *string
	)
	if err := row.Scan(&sn.SessionID, &sn.Version, &sn.CreatedAt, &md, &sn.SizeBytes, &key, &stateT); err != nil {
		return state.Snapshot{}, err
	}
	if key != nil {
		sn.Key = *key
	}
	sn.CreatedAt = sn.CreatedAt.UTC()
	if md != nil { // NULL only on a history row past the page budget
		sn.Metadata = json.RawMessage(*md)
	}
	if stateT != nil {
		sn.State = json.RawMessage(*stateT)
	}
	return sn, nil
}

// LatestSnapshot reads a session's latest snapshot, with its state.
// state.ErrNotFound when the session does not exist or has no snapshot.
func (s *Store) LatestSnapshot(ctx context.Context, sessionID string) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, fmt.Errorf("latest snapshot: %w", err)
	}
	sn, err := scanSnapshot(s.read.QueryRow(ctx, `
		SELECT `+snapshotColumns+`, state::text FROM state_snapshots
		WHERE session_id = $1 AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND `+liveAt(2)+`)
		ORDER BY version DESC
		LIMIT 1`, sessionID, s.now()))
	if err != nil {
		return state.Snapshot{}, notFound(fmt.Sprintf("latest snapshot of session %q", sessionID), err)
	}
	return sn, nil
}

// GetSnapshot reads one version, with its state. state.ErrNotFound when
// there is no such session or version.
func (s *Store) GetSnapshot(ctx context.Context, sessionID string, version int64) (state.Snapshot, error) {
	if err := state.ValidateID(sessionID); err != nil {
		return state.Snapshot{}, fmt.Errorf("get snapshot: %w", err)
	}
	if version <= 0 {
		return state.Snapshot{}, fmt.Errorf("get snapshot %s@%d: %w", sessionID, version, state.ErrNotFound)
	}
	sn, err := scanSnapshot(s.read.QueryRow(ctx, `
		SELECT `+snapshotColumns+`, state::text FROM state_snapshots
		WHERE session_id = $1 AND version = $2
		  AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND `+liveAt(3)+`)`, sessionID, version, s.now()))
	if err != nil {
		return state.Snapshot{}, notFound(fmt.Sprintf("get snapshot %s@%d", sessionID, version), err)
	}
	return sn, nil
}

// History pages through a session's snapshots, newest first, keyset-paged
// on version; with opts.IncludeState a page ends early once its states
// reach state.MaxPageStateBytes. state.ErrNotFound when the session does
// not exist.
func (s *Store) History(ctx context.Context, sessionID string, opts state.HistoryOptions) (state.SnapshotPage, error) {
	op := "history of " + sessionID
	if err := state.ValidateID(sessionID); err != nil {
		return state.SnapshotPage{}, fmt.Errorf("history: %w", err)
	}
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return state.SnapshotPage{}, fmt.Errorf("%s: %w", op, err)
	}
	if opts.Before < 0 {
		return state.SnapshotPage{}, fmt.Errorf("%s: %w", op, state.Invalid("before", "must not be negative"))
	}
	var bound *int64 // versions below it
	if opts.Before > 0 {
		b := opts.Before
		bound = &b
	}
	if opts.Cursor != "" {
		v, err := decodeHistoryCursor(opts.Cursor)
		if err != nil {
			return state.SnapshotPage{}, fmt.Errorf("%s: %w", op, err)
		}
		if bound == nil || v < *bound {
			bound = &v
		}
	}
	filter, err := state.ParseMetadataFilter(opts.Metadata)
	if err != nil {
		return state.SnapshotPage{}, fmt.Errorf("%s: %w", op, err)
	}
	var filterJSON []byte
	where := ""
	if filter != nil {
		// The filter object is the last parameter. Not indexed: it walks
		// the session's history in the primary key's order.
		filterJSON, _ = json.Marshal(filter)
		where = " AND metadata::jsonb @> $5::jsonb" // $4 is the page byte budget
	}
	// Without a bound, a huge version stands for none: one query shape,
	// always a range scan of the primary key. limit+1 rows: a row after the
	// limit'th says there are more.
	//
	// Closing pgx rows early still reads every row the query returns, so
	// the page byte budget is applied by the server too: it sends a row's
	// metadata (and, with IncludeState, its state) only while the rows
	// before it (their metadata, plus their states' size_bytes, the length
	// of the json text, which PostgreSQL keeps verbatim) sum to less than
	// MaxPageStateBytes. The first row past the budget comes without them,
	// which says that the page has more; the rest are small.
	weight := `octet_length(metadata::text)`
	stateCol := `NULL::text`
	if opts.IncludeState {
		weight = `(size_bytes + octet_length(metadata::text))`
		stateCol = `CASE WHEN sum(` + weight + `) OVER w - ` + weight + ` < $4 THEN state::text END`
	}
	query := `
		SELECT session_id, version, created_at,
			CASE WHEN sum(` + weight + `) OVER w - ` + weight + ` < $4 THEN metadata::text END,
			size_bytes, key, ` + stateCol + `
		FROM state_snapshots
		WHERE session_id = $1 AND version < $2` + where + `
		WINDOW w AS (ORDER BY version DESC ROWS UNBOUNDED PRECEDING)
		ORDER BY version DESC
		LIMIT $3`
	var (
		page state.SnapshotPage
		more bool // older snapshots remain after the page
	)
	// One read-only transaction, so that "no such session" and the page come
	// from the same moment.
	now := s.now()
	err = pgx.BeginTxFunc(ctx, s.read, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND `+liveAt(2)+`)`, sessionID, now).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return state.ErrNotFound
		}
		upper := int64(math.MaxInt64)
		if bound != nil {
			upper = *bound
		}
		args := []any{sessionID, upper, limit + 1, int64(state.MaxPageStateBytes)}
		if filter != nil {
			args = append(args, string(filterJSON))
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		page.Snapshots, more = nil, false
		held := 0 // state and metadata bytes in the page
		for rows.Next() {
			// The budget is checked here as well, on the bytes held, so
			// that it holds whatever size_bytes says.
			if len(page.Snapshots) == limit || held >= state.MaxPageStateBytes {
				more = true
				break
			}
			sn, err := scanSnapshot(rows)
			if err != nil {
				return err
			}
			if sn.Metadata == nil || (opts.IncludeState && sn.State == nil) { // past the server's budget
				more = true
				break
			}
			page.Snapshots = append(page.Snapshots, sn)
			held += len(sn.State) + len(sn.Metadata)
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return state.SnapshotPage{}, translate(op, err)
	}
	if more {
		page.NextCursor = encodeHistoryCursor(page.Snapshots[len(page.Snapshots)-1].Version)
	}
	if page.Snapshots == nil {
		page.Snapshots = []state.Snapshot{}
	}
	return page, nil
}
