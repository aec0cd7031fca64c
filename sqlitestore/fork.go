package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

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
