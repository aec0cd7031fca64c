package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

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
		key     sql.NullString
	)
	if err := r.Scan(&sn.Version, &created, (*[]byte)(&sn.State), (*[]byte)(&sn.Metadata), &sn.SizeBytes, &key); err != nil {
		return sn, err
	}
	sn.CreatedAt = fromNanos(created)
	sn.Key = key.String
	return sn, nil
}
