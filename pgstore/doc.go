// Package pgstore implements state.Store on PostgreSQL, with pgx and its
// connection pool: the backend for deployments that outgrow one machine
// (several app servers, high write concurrency, very large databases).
//
// # Usage
//
//	st, err := pgstore.Open(ctx, "postgres://cortex@db:5432/cortex", pgstore.Config{})
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	sess, err := st.CreateSession(ctx, state.SessionInput{})
//	res, err := st.AppendSnapshot(ctx, sess.ID, state.AppendInput{State: json.RawMessage(`{"step":1}`)})
//
// # Schema
//
// Open applies the embedded migrations (migrations/NNNN_name.sql) in one
// transaction under a transaction-level advisory lock, and records each in
// schema_migrations; several servers starting at once are safe, and a database
// migrated by a newer cortex is refused. Tables are sessions and
// state_snapshots, as on SQLite, with ON DELETE CASCADE from sessions.
//
// # Concurrency
//
// An append locks its session's row (SELECT … FOR UPDATE) in the transaction
// that inserts the snapshot, so versions are gapless per session under any
// number of goroutines and processes, and an append cannot race a delete: it
// either sees the session or fails with state.ErrNotFound. Prune and
// ExpireSessions lock with SKIP LOCKED, so several janitors share the work.
//
// # Slices
//
// Work whose size grows with the data runs in slices (Config.Slices), each
// its own short transaction: reclaiming deleted and expired sessions and
// retention (state.Slicer, which state.Janitor paces to its share), and
// the copy of ForkSession, under a hidden row that becomes the new session
// in the copy's last slice. See docs/design-fork-and-delete.md.
// Serialization failures and deadlocks are retried with backoff.
//
// # Errors
//
// SQLSTATE codes are translated into the state errors at this boundary:
// unique_violation → state.ErrExists, disk_full → state.ErrStorageFull, lost
// connections, shutdowns (57P0x), connection exceptions (08xxx) and too many
// connections → state.ErrUnavailable. The pool reconnects by itself when the
// server comes back.
package pgstore
