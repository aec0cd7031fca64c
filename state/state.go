package state

import (
	"context"
	"encoding/json"
	"time"
)

// Session is one session: its identity, activity and the summary of its
// snapshot history. Times are UTC.
type Session struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastActive time.Time `json:"last_active"`
	// TTL is the idle time after which the session expires; 0 means never.
	// Every touch (an upsert, an append, an explicit touch) moves ExpiresAt to
	// LastActive+TTL.
	TTL       time.Duration `json:"-"`
	ExpiresAt *time.Time    `json:"expires_at,omitempty"`
	// Metadata is a JSON object; "{}" when none was given.
	Metadata json.RawMessage `json:"metadata"`
	// Version is the latest snapshot version, 0 when the session has none.
	Version int64 `json:"version"`
	// SnapshotCount is the number of snapshots currently kept (after pruning
	// it can be smaller than Version).
	SnapshotCount int64 `json:"snapshot_count"`
}

// MarshalJSON adds ttl_seconds beside the fields tagged above.
func (s Session) MarshalJSON() ([]byte, error) {
	type plain Session
	return json.Marshal(struct {
		plain
		TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	}{plain(s), int64(s.TTL / time.Second)})
}

// Snapshot is one version of a session's state.
type Snapshot struct {
	SessionID string    `json:"session_id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// State is any JSON value; nil when the snapshot was read without state
	// (a history page with IncludeState false).
	State json.RawMessage `json:"state,omitempty"`
	// Metadata is a JSON object; "{}" when none was given.
	Metadata  json.RawMessage `json:"metadata"`
	SizeBytes int64           `json:"size_bytes"`
	// Key is the client's name for the snapshot (AppendInput.Key), or "".
	Key string `json:"key,omitempty"`
}

// SessionInput is what a caller may set on a session.
type SessionInput struct {
	// ID is the session id; empty on CreateSession asks for a generated one.
	ID string
	// Metadata is a JSON object, or nil for "{}" (on PutSession of an existing
	// session, nil keeps the current metadata).
	Metadata json.RawMessage
	// TTL is the idle expiry; 0 means never (on PutSession of an existing
	// session, nil keeps the current TTL).
	TTL *time.Duration
}

// AppendInput is one snapshot to append.
type AppendInput struct {
	// State is any JSON value (required), at most the store's MaxStateBytes.
	State json.RawMessage
	// Metadata is a JSON object, or nil for "{}".
	Metadata json.RawMessage
	// ExpectedVersion, when not nil, makes the append conditional: it succeeds
	// only if the session's latest version equals *ExpectedVersion (0: no
	// snapshot yet), else ErrVersionConflict.
	ExpectedVersion *int64
	// IdempotencyKey, when not empty, makes a retried append answer the first
	// append's result instead of appending twice. Keys are per session. A
	// key is bound to its request (Fingerprint: State, Metadata,
	// ExpectedVersion): the key with another request is
	// ErrIdempotencyMismatch, and changes nothing.
	IdempotencyKey string
	// Key, when not empty, is the client's name for the snapshot (an agent
	// framework's checkpoint id): the session id's rules (ValidateKey),
	// unique within the session while the snapshot is kept. The same
	// state and metadata under a taken key answer the first append (with
	// Replayed set); a different snapshot under it is ErrExists.
	Key string
}

// AppendResult describes an appended snapshot.
type AppendResult struct {
	SessionID string    `json:"session_id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	SizeBytes int64     `json:"size_bytes"`
	// Key is AppendInput.Key.
	Key string `json:"key,omitempty"`
	// Replayed is true when an idempotency key matched an earlier append and
	// this result is that append's, not a new one.
	Replayed bool `json:"-"`
}

// BatchItem is one append of a batch.
type BatchItem struct {
	SessionID string
	AppendInput
}

// MaxBatch is the largest number of appends one AppendBatch takes.
const MaxBatch = 1000

// ListOptions selects a page of sessions, newest-active first.
type ListOptions struct {
	// ActiveSince, when not zero, keeps sessions active at or after it.
	ActiveSince time.Time
	// Limit is the page size: 0 means DefaultLimit, more than MaxLimit is
	// ErrInvalid.
	Limit int
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
	// Metadata, when not empty, keeps the sessions whose metadata has each
	// of its top-level keys with an equal value: a JSON object of scalars
	// (strings, numbers, booleans, null), such as {"user":"ada","n":3}.
	// See ParseMetadataFilter. Index-backed on every backend.
	Metadata json.RawMessage
}

// SessionPage is one page of sessions.
type SessionPage struct {
	Sessions []Session `json:"sessions"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// HistoryOptions selects a page of a session's snapshots, newest first.
type HistoryOptions struct {
	// Limit is the page size: 0 means DefaultLimit, more than MaxLimit is
	// ErrInvalid.
	Limit int
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
	// Before, when > 0, keeps versions lower than it.
	Before int64
	// Metadata, when not empty, keeps the snapshots whose metadata has each
	// of its top-level keys with an equal value, as ListOptions.Metadata.
	// It walks the session's history (no index): a page may read many
	// snapshots to find Limit matches.
	Metadata json.RawMessage
	// IncludeState returns each snapshot's state; without it State is nil.
	// Either way the page is bounded by MaxPageStateBytes (states and
	// metadata): it may end before Limit snapshots, with NextCursor set to
	// continue after its last one.
	IncludeState bool
}

// SnapshotPage is one page of a session's history.
type SnapshotPage struct {
	Snapshots []Snapshot `json:"snapshots"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Page sizes for ListSessions and History.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// MaxPageStateBytes is the byte budget of one page: of History, with or
// without states, and of ListSessions. It bounds the states and metadata
// a page holds, so that a page of MaxLimit large states or metadata cannot
// hold gigabytes in memory. Items are taken in page order while the bytes
// taken so far (len(Snapshot.State) + len(Snapshot.Metadata), or
// len(Session.Metadata)) sum to less than MaxPageStateBytes: a page always
// holds at least one item, ends at the first item that brings its bytes to
// MaxPageStateBytes or more, and so holds less than MaxPageStateBytes plus
// its last item. A page cut short this way has NextCursor set when more
// items remain, like a page cut by Limit; the last page never has one.
const MaxPageStateBytes = 16 << 20

// ForkInput describes a fork.
type ForkInput struct {
	// NewID is the new session's id; empty asks for a generated one.
	NewID string
	// AtVersion is the last version copied; 0 means the latest.
	AtVersion int64
}

// PruneOptions says which snapshots retention removes. A session's latest
// snapshot is never pruned.
type PruneOptions struct {
	// KeepLast, when > 0, keeps only the newest KeepLast snapshots per session.
	KeepLast int
	// OlderThan, when > 0, removes snapshots created longer ago than it.
	OlderThan time.Duration
	// Limit bounds the snapshots removed by one call (0: DefaultPruneLimit), so
	// that a janitor never holds the writer for long; call again while the
	// result equals Limit.
	Limit int
}

// DefaultPruneLimit is the batch size of Prune and ExpireSessions when the
// caller gives none.
const DefaultPruneLimit = 500

// Store is the sessions and snapshots repository. Implementations are safe for
// concurrent use. Every method returns the domain errors of this package
// (ErrNotFound, ErrInvalid, …), wrapped; test them with errors.Is.
type Store interface {
	// CreateSession creates a session; an empty in.ID generates one.
	// ErrExists if the id is taken.
	CreateSession(ctx context.Context, in SessionInput) (Session, error)
	// PutSession creates the session id or updates its metadata and TTL, and
	// touches it. created reports which.
	PutSession(ctx context.Context, id string, in SessionInput) (s Session, created bool, err error)
	// GetSession reads a session. ErrNotFound if there is none.
	GetSession(ctx context.Context, id string) (Session, error)
	// TouchSession marks a session active now. ErrNotFound if there is none.
	TouchSession(ctx context.Context, id string) (Session, error)
	// ListSessions pages through sessions, newest-active first, at most
	// opts.Limit per page and ending early once the page's metadata
	// reaches MaxPageStateBytes.
	ListSessions(ctx context.Context, opts ListOptions) (SessionPage, error)
	// DeleteSession deletes a session with its snapshots: it is absent from
	// every method, and its id free for a fresh session, as soon as this
	// returns (the space may be reclaimed later, in the background).
	// ErrNotFound if there is none.
	DeleteSession(ctx context.Context, id string) error

	// AppendSnapshot appends a snapshot to an existing session (ErrNotFound
	// otherwise) and touches it. ErrVersionConflict when in.ExpectedVersion
	// does not match; ErrTooLarge when the state or metadata is over its
	// limit; ErrIdempotencyMismatch when in.IdempotencyKey was used for
	// another request.
	AppendSnapshot(ctx context.Context, sessionID string, in AppendInput) (AppendResult, error)
	// AppendBatch appends up to MaxBatch snapshots, all or nothing; results
	// are in the order of items.
	AppendBatch(ctx context.Context, items []BatchItem) ([]AppendResult, error)
	// LatestSnapshot reads a session's latest snapshot. ErrNotFound when the
	// session does not exist or has no snapshot.
	LatestSnapshot(ctx context.Context, sessionID string) (Snapshot, error)
	// GetSnapshot reads one version. ErrNotFound when there is no such
	// session or version.
	GetSnapshot(ctx context.Context, sessionID string, version int64) (Snapshot, error)
	// History pages through a session's snapshots, newest first, at most
	// opts.Limit per page and ending early once the page's states and
	// metadata reach MaxPageStateBytes (see there). ErrNotFound when the
	// session does not exist.
	History(ctx context.Context, sessionID string, opts HistoryOptions) (SnapshotPage, error)
	// SnapshotByKey reads the snapshot appended with AppendInput.Key key.
	// ErrNotFound when the session does not exist or no kept snapshot has
	// that key.
	SnapshotByKey(ctx context.Context, sessionID, key string) (Snapshot, error)
	// ForkSession creates a new session whose history is a copy of the
	// source's up to in.AtVersion (versions keep their numbers). ErrNotFound
	// for a missing session or version, ErrExists for a taken new id.
	ForkSession(ctx context.Context, sourceID string, in ForkInput) (Session, error)

	// Prune removes old snapshots by opts and returns how many it removed.
	Prune(ctx context.Context, opts PruneOptions) (int64, error)
	// ExpireSessions deletes up to limit (0: DefaultPruneLimit) sessions whose
	// ExpiresAt has passed, with their snapshots, and returns how many. Such
	// sessions are absent from every method already, from the moment their
	// expiry passes; this reclaims their space (on SQLite, also that of
	// deleted sessions, in slices: see Slicer).
	ExpireSessions(ctx context.Context, limit int) (int64, error)

	// Watch reports the changes of a session from the snapshot after
	// afterVersion on (see Watcher.Next), until ctx ends or the watcher is
	// closed. Changes made by other processes on the same database are
	// reported too. ErrNotFound when there is no such session.
	Watch(ctx context.Context, sessionID string, afterVersion int64) (*Watcher, error)

	// Close releases the store's resources; it is idempotent.
	Close() error
}

// Options are the behaviour settings every backend shares. The zero value
// means the documented defaults.
type Options struct {
	// MaxStateBytes bounds a snapshot's state; 0 means DefaultMaxStateBytes.
	MaxStateBytes int
	// MaxMetadataBytes bounds a session's and a snapshot's metadata; 0
	// means DefaultMaxMetadataBytes.
	MaxMetadataBytes int
	// Now is the clock; nil means time.Now. Tests inject one to drive TTLs.
	Now func() time.Time
}

// DefaultMaxStateBytes is the default bound on a snapshot's state: 1 MiB.
const DefaultMaxStateBytes = 1 << 20

// WithDefaults returns o with zero fields replaced by their defaults.
func (o Options) WithDefaults() Options {
	if o.MaxStateBytes <= 0 {
		o.MaxStateBytes = DefaultMaxStateBytes
	}
	if o.MaxMetadataBytes <= 0 {
		o.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
