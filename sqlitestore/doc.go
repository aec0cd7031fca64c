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
// Every write (create, put, touch, delete, append, batch, fork, prune,
// expire) is one function run by sqlitedb.DB.Write: a BEGIN IMMEDIATE
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
// # Retention
//
// Prune and ExpireSessions remove at most a batch per transaction, so
// retention never holds the writer for long; state.Janitor runs them to the
// end, on an interval, for any engine. KeepLast finds the sessions over its
// limit by scanning the sessions table on the read-only connections, where
// an index on snapshot_count would cost every append (schema 2).
package sqlitestore
