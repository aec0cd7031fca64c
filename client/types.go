package client

import (
	"encoding/json"
	"time"
)

// Session is a session as the server answers it.
type Session struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastActive time.Time `json:"last_active"`
	// ExpiresAt is when the session expires unless touched; nil: never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// TTLSeconds is the idle time after which it expires; 0: never.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// Metadata is a JSON object ("{}" when none was given).
	Metadata json.RawMessage `json:"metadata"`
	// Version is the latest snapshot's version, 0 when none.
	Version int64 `json:"version"`
	// SnapshotCount is the number of snapshots kept.
	SnapshotCount int64 `json:"snapshot_count"`
}

// Snapshot is one version of a session's state.
type Snapshot struct {
	SessionID string    `json:"session_id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// State is the JSON value appended; nil in a history page or event
	// read without IncludeState.
	State json.RawMessage `json:"state,omitempty"`
	// Metadata is a JSON object ("{}" when none was given).
	Metadata  json.RawMessage `json:"metadata"`
	SizeBytes int64           `json:"size_bytes"`
	// Key is the snapshot's key, when it was appended with one.
	Key string `json:"key,omitempty"`
}

// ETag returns the snapshot's entity tag, "\"<version>\"".
func (s Snapshot) ETag() string { return etag(s.Version) }

// AppendResult is the answer of an append.
type AppendResult struct {
	SessionID string    `json:"session_id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	SizeBytes int64     `json:"size_bytes"`
	Key       string    `json:"key,omitempty"`
	// Replayed is true when the server answered an earlier identical
	// request (the same Idempotency-Key or snapshot key) instead of
	// appending.
	Replayed bool `json:"-"`
}

// SessionPage is one page of a session listing.
type SessionPage struct {
	Sessions []Session `json:"sessions"`
	// NextCursor is the next page's cursor; "" on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// SnapshotPage is one page of a history.
type SnapshotPage struct {
	Snapshots []Snapshot `json:"snapshots"`
	// NextCursor is the next page's cursor; "" on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}
