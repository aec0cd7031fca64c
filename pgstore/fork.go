package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// ForkSession creates a session whose history is a copy of the source's
// snapshots up to in.AtVersion (0: the latest), keeping their versions,
// times and metadata. The new session gets the source's metadata and TTL and
// is active now. state.ErrNotFound for a missing session or version,
// state.ErrExists for a taken new id.
func (s *Store) ForkSession(ctx context.Context, sourceID string, in state.ForkInput) (state.Session, error) {
	if err := state.ValidateID(sourceID); err != nil {
		return state.Session{}, fmt.Errorf("fork session: %w", err)
	}
	newID := in.NewID
	if newID == "" {
		newID = state.NewID()
	}
	op := fmt.Sprintf("fork session %s to %s", sourceID, newID)
	if err := state.ValidateID(newID); err != nil {
		return state.Session{}, fmt.Errorf("%s: %w", op, err)
	}
	if in.AtVersion < 0 {
		return state.Session{}, fmt.Errorf("%s: %w", op, state.Invalid("at_version", "must not be negative"))
	}
	if newID == sourceID {
		return state.Session{}, fmt.Errorf("%s: %w", op, state.ErrExists)
	}
	var sess state.Session
	err := s.tx(ctx, op, func(tx pgx.Tx) error {
		now := s.now()
		var (
			latest int64
			ttl    *time.Duration
			md     string
		)
		// FOR SHARE: the source cannot be deleted or appended to while its
		// history is copied; other forks and reads go on.
		err := tx.QueryRow(ctx, `SELECT version, ttl, metadata::text FROM sessions WHERE id = $1 AND `+liveAt(2)+` FOR SHARE`, sourceID, now).
			Scan(&latest, &ttl, &md)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("source session: %w", state.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock source session: %w", err)
		}
		at := in.AtVersion
		if at == 0 {
			at = latest
		}
		if at > latest {
			return fmt.Errorf("version %d (latest is %d): %w", at, latest, state.ErrNotFound)
		}
		if at > 0 {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM state_snapshots WHERE session_id = $1 AND version = $2)`,
				sourceID, at).Scan(&ok); err != nil {
				return fmt.Errorf("find version %d: %w", at, err)
			}
			if !ok {
				return fmt.Errorf("version %d (pruned): %w", at, state.ErrNotFound)
			}
		}
		if err := buryExpired(ctx, tx, newID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO sessions (id, created_at, last_active, ttl, expires_at, metadata, version)
			VALUES ($1, $2, $2, $3, $4, $5, $6)`,
			newID, now, ttl, expiresAt(now, ttl), md, at); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes)
			SELECT $1, version, created_at, state, metadata, size_bytes
			FROM state_snapshots
			WHERE session_id = $2 AND version <= $3`, newID, sourceID, at)
		if err != nil {
			return fmt.Errorf("copy snapshots: %w", err)
		}
		sess, err = scanSession(tx.QueryRow(ctx, `
			UPDATE sessions SET snapshot_count = $2 WHERE id = $1
			RETURNING `+sessionColumns, newID, tag.RowsAffected()))
		if err != nil {
			return fmt.Errorf("count snapshots: %w", err)
		}
		return nil
	})
	if err != nil {
		return state.Session{}, err
	}
	return sess, nil
}
