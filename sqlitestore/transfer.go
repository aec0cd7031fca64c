package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

var (
	_ state.Exporter = (*Store)(nil)
	_ state.Importer = (*Store)(nil)
)

// ExportSessions returns up to limit sessions with an id after after, in id
// order (byte order), as stored. It implements state.Exporter. Errors:
// ErrInvalid (limit), ErrUnavailable.
func (s *Store) ExportSessions(ctx context.Context, after string, limit int) ([]state.Session, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	var out []state.Session
	err := s.read(ctx, func(tx *sqlitedb.Tx) error {
		sessions, err := querySessions(ctx, tx, make([]state.Session, 0, limit), qExportSessions, after, limit)
		out = sessions
		return err
	})
	if err != nil {
		return nil, storeErr("export sessions", err)
	}
	return out, nil
}

// ExportSnapshots returns up to limit snapshots after (afterSession,
// afterVersion) in (session id, version) order, with their state and
// idempotency key, as stored. It implements state.Exporter. Errors:
// ErrInvalid (limit), ErrUnavailable.
func (s *Store) ExportSnapshots(ctx context.Context, afterSession string, afterVersion int64, limit int) ([]state.ExportedSnapshot, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	var out []state.ExportedSnapshot
	err := s.read(ctx, func(tx *sqlitedb.Tx) error {
		out = make([]state.ExportedSnapshot, 0, limit)
		// The rest of afterSession, then the sessions after it.
		if err := exportSnapshots(ctx, tx, &out, qExportSnapshotsRest, afterSession, afterVersion, limit); err != nil {
			return err
		}
		if len(out) == limit {
			return nil
		}
		return exportSnapshots(ctx, tx, &out, qExportSnapshotsAfter, afterSession, limit-len(out))
	})
	if err != nil {
		return nil, storeErr("export snapshots", err)
	}
	return out, nil
}

// exportSnapshots appends the rows of query to out.
func exportSnapshots(ctx context.Context, tx *sqlitedb.Tx, out *[]state.ExportedSnapshot, query string, args ...any) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sn      state.ExportedSnapshot
			created int64
			key     sql.NullString
			ckey    sql.NullString
		)
		if err := rows.Scan(&sn.SessionID, &sn.Version, &created, (*[]byte)(&sn.State),
			(*[]byte)(&sn.Metadata), &sn.SizeBytes, &key, &ckey); err != nil {
			return err
		}
		sn.CreatedAt = fromNanos(created)
		sn.IdempotencyKey = key.String
		sn.Key = ckey.String
		*out = append(*out, sn)
	}
	return rows.Err()
}

// TallySessions returns up to limit sessions' tallies (snapshot rows and
// highest version) after the id after, in id order. It implements
// state.Exporter. Errors: ErrInvalid (limit), ErrUnavailable.
func (s *Store) TallySessions(ctx context.Context, after string, limit int) ([]state.SessionTally, error) {
	if err := state.ValidateExportLimit(limit); err != nil {
		return nil, err
	}
	var out []state.SessionTally
	err := s.read(ctx, func(tx *sqlitedb.Tx) error {
		out = make([]state.SessionTally, 0, limit)
		rows, err := tx.Query(ctx, qTallySessions, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t state.SessionTally
			if err := rows.Scan(&t.SessionID, &t.Snapshots, &t.LatestVersion); err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, storeErr("tally sessions", err)
	}
	return out, nil
}

// ImportSessions upserts sessions by id, every field as given (times keep
// their nanoseconds), in one write transaction. It implements
// state.Importer. Errors: ErrInvalid (id, metadata, TTL), ErrUnavailable,
// ErrStorageFull.
func (s *Store) ImportSessions(ctx context.Context, sessions []state.Session) error {
	for i, sess := range sessions {
		if err := state.ValidateImportSession(sess); err != nil {
			return fmt.Errorf("import session %d (%q): %w", i, sess.ID, err)
		}
	}
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		for _, sess := range sessions {
			var exp sql.NullInt64
			if sess.ExpiresAt != nil {
				exp = sql.NullInt64{Int64: sess.ExpiresAt.UnixNano(), Valid: true}
			}
			if _, err := tx.Exec(ctx, qImportSession, sess.ID, sess.CreatedAt.UnixNano(), sess.LastActive.UnixNano(),
				exp, int64(sess.TTL), string(sess.Metadata), sess.Version, sess.SnapshotCount); err != nil {
				return fmt.Errorf("session %q: %w", sess.ID, err)
			}
		}
		return nil
	})
	return storeErr("import sessions", err)
}

// ImportSnapshots upserts snapshots by (session id, version), every field
// as given, in one write transaction. It implements state.Importer. Errors:
// ErrInvalid, ErrNotFound (a session that does not exist), ErrUnavailable,
// ErrStorageFull.
func (s *Store) ImportSnapshots(ctx context.Context, snapshots []state.ExportedSnapshot) error {
	for i, sn := range snapshots {
		if err := checkImportSnapshot(sn); err != nil {
			return fmt.Errorf("import snapshot %d (%q version %d): %w", i, sn.SessionID, sn.Version, err)
		}
	}
	err := s.write(ctx, func(tx *sqlitedb.Tx) error {
		sids := map[string]int64{}
		for _, sn := range snapshots {
			var key any
			if sn.IdempotencyKey != "" {
				key = sn.IdempotencyKey
			}
			sid, ok := sids[sn.SessionID]
			if !ok {
				// Any row of that id, expired or not: import copies as given.
				k, err := lookupKey(ctx, tx, sn.SessionID, math.MinInt64)
				if errors.Is(err, state.ErrNotFound) {
					return fmt.Errorf("snapshot %d of session %q: import its session first: %w", sn.Version, sn.SessionID, err)
				}
				if err != nil {
					return err
				}
				sid = k.sid
				sids[sn.SessionID] = sid
			}
			_, err := tx.Exec(ctx, qImportSnapshot, sid, sn.Version, sn.CreatedAt.UnixNano(),
				string(sn.State), string(sn.Metadata), sn.SizeBytes, key, sql.NullString{String: sn.Key, Valid: sn.Key != ""})
			if err != nil {
				return fmt.Errorf("snapshot %d of session %q: %w", sn.Version, sn.SessionID, err)
			}
		}
		return nil
	})
	return storeErr("import snapshots", err)
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
	if !state.ValidJSON(sn.State) {
		return state.Invalid("state", "is not valid JSON")
	}
	if !state.ValidJSON(sn.Metadata) {
		return state.Invalid("metadata", "is not valid JSON")
	}
	if sn.SizeBytes < 0 {
		return state.Invalid("size_bytes", "must not be negative")
	}
	return nil
}
