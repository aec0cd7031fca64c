package state

import (
	"context"
)

// Exporter and Importer are optional interfaces of a Store, for copying a
// database faithfully to another engine (cortex migrate): unlike
// AppendSnapshot, which assigns the next version and the store's time, they
// read and write rows as they are stored, with their ids, versions, times,
// counters, metadata and state bytes.
//
// Paging is by key, in the exporting engine's own order of its primary keys
// (SQLite compares ids byte by byte, PostgreSQL by the database's collation),
// so a caller passes back the last key of a page and never compares keys
// across engines.

// ExportedSnapshot is one snapshot row as stored, with its state and the
// idempotency key its append carried ("" for none).
type ExportedSnapshot struct {
	Snapshot
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// SessionTally is what a session holds, counted from its snapshot rows (not
// from the session's counters): the number of snapshots and the highest
// version (0 when it has none).
type SessionTally struct {
	SessionID     string `json:"session_id"`
	Snapshots     int64  `json:"snapshots"`
	LatestVersion int64  `json:"latest_version"`
}

// Exporter reads a store's rows as they are stored, in pages. It is safe
// for concurrent use. A page shorter than limit is the last one. Pages are
// separate reads: for a consistent copy, stop the writers first.
type Exporter interface {
	// ExportSessions returns up to limit sessions whose id sorts after
	// after ("" for the first page), in id order, with every field as
	// stored (Version and SnapshotCount are the session's counters).
	ExportSessions(ctx context.Context, after string, limit int) ([]Session, error)
	// ExportSnapshots returns up to limit snapshots, with their state, that
	// sort after (afterSession, afterVersion) in (session id, version) order;
	// ("", 0) starts at the first.
	ExportSnapshots(ctx context.Context, afterSession string, afterVersion int64, limit int) ([]ExportedSnapshot, error)
	// TallySessions returns up to limit sessions' tallies after the id
	// after, in id order, counted from the snapshot rows.
	TallySessions(ctx context.Context, after string, limit int) ([]SessionTally, error)
}

// Importer writes rows exactly as given, replacing the rows with the same
// keys (an upsert), so that running an import again duplicates nothing. It
// is safe for concurrent use. Each call is one transaction: all of its rows
// or none.
type Importer interface {
	// ImportSessions upserts sessions by id with every field as given,
	// including Version and SnapshotCount.
	ImportSessions(ctx context.Context, sessions []Session) error
	// ImportSnapshots upserts snapshots by (session id, version) with every
	// field as given; their sessions must exist (ErrNotFound otherwise).
	ImportSnapshots(ctx context.Context, snapshots []ExportedSnapshot) error
}

// ValidateImportSession checks a session given to Importer.ImportSessions:
// a valid id, JSON metadata, and no negative TTL, version or count.
func ValidateImportSession(sess Session) error {
	if err := ValidateID(sess.ID); err != nil {
		return err
	}
	if !ValidJSON(sess.Metadata) {
		return Invalid("metadata", "is not valid JSON")
	}
	if sess.TTL < 0 {
		return Invalid("ttl", "must not be negative")
	}
	if sess.Version < 0 || sess.SnapshotCount < 0 {
		return Invalid("version", "version and snapshot count must not be negative")
	}
	return nil
}

// ValidateExportLimit checks an Exporter page size: at least 1.
func ValidateExportLimit(limit int) error {
	if limit < 1 {
		return Invalid("limit", "must be at least 1")
	}
	return nil
}
