package sqlitestore

import (
	"context"
	"encoding/json"

	"github.com/cortex-db/cortex/state"
)

// Watch reports the changes of a session (see state.Watcher). The store's
// own writes feed it, after each commit: a watcher of a SQLite store sees
// the writes of this Store, not those of another process on the same file.
// ErrInvalid, ErrNotFound.
func (s *Store) Watch(ctx context.Context, sessionID string, afterVersion int64) (*state.Watcher, error) {
	return s.hub.Watch(ctx, s, sessionID, afterVersion)
}

// Watchers returns the number of open watchers.
func (s *Store) Watchers() int64 { return s.hub.Watchers() }

// publishAppend tells the watchers of r's session about it.
func (s *Store) publishAppend(r state.AppendResult, md json.RawMessage) {
	if r.Replayed {
		return
	}
	s.hub.Publish(state.Change{Kind: state.EventSnapshot, SessionID: r.SessionID, Snapshot: &state.Snapshot{
		SessionID: r.SessionID, Version: r.Version, CreatedAt: r.CreatedAt, Metadata: md, SizeBytes: r.SizeBytes,
	}})
}
