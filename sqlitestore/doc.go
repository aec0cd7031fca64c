// Package sqlitestore implements state.Store on SQLite, through sqlitedb:
// sessions and their versioned snapshots in one local file, no server.
//
// # Usage
//
//	store, err := sqlitestore.Open(ctx, "data/cortex.db", sqlitestore.Config{})
//	if err != nil { … }
//	defer store.Close()
//	sess, _ := store.CreateSession(ctx, state.SessionInput{})
//	res, err := store.AppendSnapshot(ctx, sess.ID, state.AppendInput{State: []byte(`{"step":1}`)})
//	latest, err := store.LatestSnapshot(ctx, sess.ID)
//
// Open applies the embedded schema migrations (migrations/NNNN_*.sql, by
// PRAGMA user_version). New wraps a sqlitedb.DB you opened and migrated
// yourself (see Migrate).
//
// # Transactions
//
// Every write (create, put, touch, delete, append, batch, and each slice
// of a fork, prune or reclaim) is one function run by sqlitedb.DB.Write: a BEGIN IMMEDIATE
// transaction on the single writer connection, grouped with the writes
// waiting beside it (group commit). An append answers a known idempotency
// key, then updates the session's version, snapshot_count, last_active and
// expires_at if it is at the expected version (ErrNotFound if it is gone: a
// late append never resurrects a session), and inserts the snapshot at
// version+1, all in that one transaction, so versions have no gaps and no
// duplicates. Reads run on the read-only pool
// (sqlitedb.DB.Read) and see one consistent snapshot of the database.
//
// # Schema
//
// Tables sessions and state_snapshots, as DESIGN.md names them. A session
// has an integer key (sid, never reused) beside its text id, and its
// snapshots reference the key (schema 3): small index entries, integer
// compares, and an append finds its session row with one search, by a
// key the store remembers. Times are INTEGER unix nanoseconds, UTC; JSON is
// TEXT, as given. Every statement the
// store runs is in queries.go and is served by an index: TestQueryPlans runs
// EXPLAIN QUERY PLAN on each and fails on a full scan.
//
// # Errors
//
// The state package's errors, wrapped, tested with errors.Is: sqlitedb's
// ErrBusy, ErrClosed, ErrPoolTimeout and ErrQueueFull become
// state.ErrUnavailable, ErrDiskFull becomes state.ErrStorageFull, a taken
// session id state.ErrExists; the original stays in the chain.
//
// # Expiry, delete, retention and forks in slices
//
// A session past its TTL is absent from every method at once: every
// statement that names a session checks its expiry against the store's
// clock; the janitor only reclaims the space. DeleteSession makes the
// session a tombstone in one short write (its row renamed to '~' || sid,
// expires_at 0): absent at once, its id free at once for a fresh session
// (a new sid, so none of the old rows are reachable from it). Creating a
// session over an expired one's id buries that one the same way, in the
// creating transaction.
//
// The rows of tombstones and expired sessions are reclaimed, retention
// (Prune) runs, and forks copy, in slices: write transactions that stop
// after SliceConfig.Budget (10 ms) of writer time, so appends run between
// them (state.Slicer; the state.Janitor paces the slices to a share of the
// writer's time). A fork is hidden (a tombstone) until its last slice
// gives it its id: all or nothing, also when the process dies mid-fork.
// KeepLast finds the sessions over its limit by scanning the sessions
// table on the read-only connections, where an index on snapshot_count
// would cost every append (schema 2). See docs/design-fork-and-delete.md.
package sqlitestore
