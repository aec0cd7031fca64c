package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

var (
	_ state.Exporter = (*Store)(nil)
	_ state.Importer = (*Store)(nil)
)

// ExportSessions returns up to limit sessions with an id after after, in the
// primary key's order (the database's collation), as stored. It implements
// state.Exporter. Errors: state.ErrInvalid (limit), state.ErrUnavailable.
func (s *Store) ExportSessions(ctx context.Context, after string, limit int) ([]state.Session, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, translate("export sessions", err)
	}
	defer rows.Close()
	out := make([]state.Session, 0, limit)
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, translate("export sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export sessions", err)
	}
	return out, nil
}

// ExportSnapshots returns up to limit snapshots after (afterSession,
// afterVersion) in primary-key order, with their state (the stored text,
// byte for byte) and the idempotency key that created them. Keys kept for
// snapshots that were pruned are not exported. It implements
// state.Exporter. Errors: state.ErrInvalid (limit), state.ErrUnavailable.
func (s *Store) ExportSnapshots(ctx context.Context, afterSession string, afterVersion int64, limit int) ([]state.ExportedSnapshot, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT s.session_id, s.version, s.created_at, s.state::text, s.metadata::text, s.size_bytes, k.key, s.key
		FROM state_snapshots AS s
		LEFT JOIN snapshot_idempotency_keys AS k ON k.session_id = s.session_id AND k.version = s.version
		WHERE (s.session_id, s.version) > ($1, $2)
		ORDER BY s.session_id, s.version
		LIMIT $3`, afterSession, afterVersion, limit)
	if err != nil {
		return nil, translate("export snapshots", err)
	}
	defer rows.Close()
	out := make([]state.ExportedSnapshot, 0, limit)
	for rows.Next() {
		var (
			sn        state.ExportedSnapshot
			st, md    string
			key, ckey *string
			createdAt time.Time
		)
		if err := rows.Scan(&sn.SessionID, &sn.Version, &createdAt, &st, &md, &sn.SizeBytes, &key, &ckey); err != nil {
			return nil, translate("export snapshots", err)
		}
		sn.CreatedAt = createdAt.UTC()
		sn.State, sn.Metadata = json.RawMessage(st), json.RawMessage(md)
		if key != nil {
			sn.IdempotencyKey = *key
		}
		if ckey != nil {
			sn.Key = *ckey
		}
		out = append(out, sn)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("export snapshots", err)
	}
	return out, nil
}

// TallySessions returns up to limit sessions' tallies (snapshot rows and
// highest version, counted from state_snapshots) after the id after, in
// primary-key order. It implements state.Exporter. Errors:
// state.ErrInvalid (limit), state.ErrUnavailable.
func (s *Store) TallySessions(ctx context.Context, after string, limit int) ([]state.SessionTally, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT s.id, t.n, t.v
		FROM (SELECT id FROM sessions WHERE id > $1 ORDER BY id LIMIT $2) AS s
		CROSS JOIN LATERAL (
			SELECT count(*), coalesce(max(version), 0) FROM state_snapshots WHERE session_id = s.id
		) AS t(n, v)
		ORDER BY s.id`, after, limit)
	if err != nil {
		return nil, translate("tally sessions", err)
	}
	defer rows.Close()
	out := make([]state.SessionTally, 0, limit)
	for rows.Next() {
		var t state.SessionTally
		if err := rows.Scan(&t.SessionID, &t.Snapshots, &t.LatestVersion); err != nil {
			return nil, translate("tally sessions", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("tally sessions", err)
	}
	return out, nil
}

// ImportSessions upserts sessions by id, every field as given, in one
// transaction. PostgreSQL keeps microseconds: sub-microsecond parts of times
// and TTLs are dropped (a TTL under a microsecond becomes one). It
// implements state.Importer. Errors: state.ErrInvalid, state.ErrUnavailable,
// state.ErrStorageFull.
func (s *Store) ImportSessions(ctx context.Context, sessions []state.Session) error {
	if len(sessions) == 0 {
		return nil
	}
	n := len(sessions)
	var (
		ids     = make([]string, n)
		created = make([]time.Time, n)
		active  = make([]time.Time, n)
		ttls    = make([]*int64, n)
		expires = make([]*time.Time, n)
		mds     = make([]string, n)
		vers    = make([]int64, n)
		counts  = make([]int64, n)
	)
	for i, sess := range sessions {
		if err := state.ValidateImportSession(sess); err != nil {
			return fmt.Errorf("import session %d (%q): %w", i, sess.ID, err)
		}
		ids[i], created[i], active[i] = sess.ID, sess.CreatedAt, sess.LastActive
		if sess.TTL > 0 {
			us := max(sess.TTL.Microseconds(), 1)
			ttls[i] = &us
		}
		expires[i] = sess.ExpiresAt
		mds[i], vers[i], counts[i] = string(sess.Metadata), sess.Version, sess.SnapshotCount
	}
	return s.tx(ctx, "import sessions", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO sessions (id, created_at, last_active, ttl, expires_at, metadata, version, snapshot_count)
			SELECT id, ca, la, t * interval '1 microsecond', ea, md::json, v, c
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::timestamptz[],
				$6::text[], $7::bigint[], $8::bigint[]) AS u(id, ca, la, t, ea, md, v, c)
			ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, last_active = excluded.last_active,
				ttl = excluded.ttl, expires_at = excluded.expires_at, metadata = excluded.metadata,
				version = excluded.version, snapshot_count = excluded.snapshot_count`,
			ids, created, active, ttls, expires, mds, vers, counts)
		if err != nil {
			return fmt.Errorf("upsert sessions: %w", err)
		}
		return nil
	})
}

// ImportSnapshots upserts snapshots by (session id, version), every field
// as given, and the idempotency keys they carry, in one transaction. It
// implements state.Importer. Errors: state.ErrInvalid, state.ErrNotFound
// (a session that does not exist), state.ErrUnavailable,
// state.ErrStorageFull.
func (s *Store) ImportSnapshots(ctx context.Context, snapshots []state.ExportedSnapshot) error {
	if len(snapshots) == 0 {
		return nil
	}
	n := len(snapshots)
	var (
		sids    = make([]string, n)
		vers    = make([]int64, n)
		created = make([]time.Time, n)
		states  = make([]string, n)
		mds     = make([]string, n)
		sizes   = make([]int64, n)
		ckeys   = make([]*string, n)

		kSids, kKeys  []string
		kVers, kSizes []int64
		kCreated      []time.Time
	)
	for i, sn := range snapshots {
		if err := checkImportSnapshot(sn); err != nil {
			return fmt.Errorf("import snapshot %d (%q version %d): %w", i, sn.SessionID, sn.Version, err)
		}
		sids[i], vers[i], created[i] = sn.SessionID, sn.Version, sn.CreatedAt
		states[i], mds[i], sizes[i] = string(sn.State), string(sn.Metadata), sn.SizeBytes
		ckeys[i] = keyParam(sn.Key)
		if sn.IdempotencyKey != "" {
			kSids = append(kSids, sn.SessionID)
			kKeys = append(kKeys, sn.IdempotencyKey)
			kVers = append(kVers, sn.Version)
			kCreated = append(kCreated, sn.CreatedAt)
			kSizes = append(kSizes, sn.SizeBytes)
		}
	}
	return s.tx(ctx, "import snapshots", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes, key)
			SELECT sid, v, ca, st::json, md::json, sz, ck
			FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[], $7::text[])
				AS u(sid, v, ca, st, md, sz, ck)
			ON CONFLICT (session_id, version) DO UPDATE SET created_at = excluded.created_at,
				state = excluded.state, metadata = excluded.metadata, size_bytes = excluded.size_bytes, key = excluded.key`,
			sids, vers, created, states, mds, sizes, ckeys)
		if err != nil {
			return fmt.Errorf("upsert snapshots (import their sessions first): %w", err)
		}
		if len(kKeys) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO snapshot_idempotency_keys (session_id, key, version, created_at, size_bytes)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::bigint[])
			ON CONFLICT (session_id, key) DO UPDATE SET version = excluded.version,
				created_at = excluded.created_at, size_bytes = excluded.size_bytes`,
			kSids, kKeys, kVers, kCreated, kSizes)
		if err != nil {
			return fmt.Errorf("upsert idempotency keys: %w", err)
		}
		return nil
	})
}

func checkImportSnapshot(sn state.ExportedSnapshot) error {
	if err := state.ValidateID(sn.SessionID); err != nil {
		return err
	}
	if sn.Version < 1 {
		return state.Invalid("version", "must be at least 1")
	}
	if sn.Key != "" {
		if err := state.ValidateKey(sn.Key); err != nil {
			return err
		}
	}
	if len(sn.IdempotencyKey) > MaxIdempotencyKeyLen {
		return state.Invalid("idempotency_key", "longer than %d bytes", MaxIdempotencyKeyLen)
	}
	if sn.SizeBytes < 0 {
		return state.Invalid("size_bytes", "must not be negative")
	}
	// state and metadata are checked by the json columns.
	return nil
}
