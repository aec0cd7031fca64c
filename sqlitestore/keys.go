package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"github.com/cortex-db/cortex/sqlitedb"
)

// sessionKey is what the store knows of a session for appending to it:
// its integer key (sessions.sid) and its latest version.
type sessionKey struct {
	sid     int64
	version int64
}

// keyHints remembers each session's key and the version its last append
// gave it, so that the next append needs no lookup: its UPDATE names the
// session by sid and the version it expects (… WHERE sid = ? AND version =
// ?), and its new version is that one plus one. A hint is never trusted:
// when it is stale (a rolled-back group, a deleted session, another
// process's append) the UPDATE changes no row and the append looks the
// session up by id. The UPDATE checks the id too: sids are not reused
// (AUTOINCREMENT), but a restore in place brings back the backup's, and a
// stale hint must match no other session. Bounded: cleared when full.
type keyHints struct {
	mu sync.Mutex
	m  map[string]sessionKey
}

const maxKeyHints = 1 << 16

func (h *keyHints) get(id string) (sessionKey, bool) {
	h.mu.Lock()
	k, ok := h.m[id]
	h.mu.Unlock()
	return k, ok
}

func (h *keyHints) set(id string, k sessionKey) {
	h.mu.Lock()
	if h.m == nil || len(h.m) >= maxKeyHints {
		h.m = make(map[string]sessionKey)
	}
	if _, ok := h.m[id]; !ok {
		id = strings.Clone(id) // not a slice of a larger request buffer
	}
	h.m[id] = k
	h.mu.Unlock()
}

// lookupKey reads the key and version of the session id live at now
// (unix ns); ErrNotFound for none, also for one past its expiry.
func lookupKey(ctx context.Context, tx *sqlitedb.Tx, id string, now int64) (sessionKey, error) {
	var k sessionKey
	err := tx.QueryRow(ctx, qSessionKey, id, now).Scan(&k.sid, &k.version)
	if errors.Is(err, sql.ErrNoRows) {
		return k, notFound("session %q", id)
	}
	return k, err
}

// bump runs qAppendBump and reports whether it changed the session's row.
func bump(ctx context.Context, tx *sqlitedb.Tx, at int64, k sessionKey, id string) (bool, error) {
	var a sqlitedb.Args // typed: no argument boxed (an allocation each)
	res, err := tx.ExecArgs(ctx, qAppendBump, a.Int(at).Int(k.sid).Int(k.version).Text(id))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
