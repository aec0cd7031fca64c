// Package sqlitedb is production SQLite for any Go program: one writer
// connection fed by a queue with group commit, a pool of read-only
// connections, pragmas applied to every connection and read back, busy
// handling by result code with whole-transaction retries, a background
// checkpointer, side-effect-free statistics, health checks, online backup
// and restore, EXPLAIN QUERY PLAN, and migrations. It knows nothing of
// cortex's sessions; any program can use it.
//
// # Usage
//
//	db, err := sqlitedb.Open(ctx, "data/app.db", sqlitedb.Config{})
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//
//	err = db.Write(ctx, func(tx *sqlitedb.Tx) error {
//		_, err := tx.Exec(ctx, "INSERT INTO notes(body) VALUES(?)", "hello")
//		return err
//	})
//
//	var n int
//	err = db.Read(ctx, func(tx *sqlitedb.Tx) error {
//		return tx.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n)
//	})
//
// # Writes
//
// SQLite has one writer at a time. Instead of letting connections contend
// for the lock inside SQLite, every Write is queued to one goroutine that
// owns the only read-write connection. It takes every write waiting in the
// queue (up to Config.MaxBatch), runs the functions in one BEGIN IMMEDIATE
// transaction, commits once and answers each caller: one failing function
// has none of its work committed, and the others commit. A group runs first
// without savepoints; when a function fails, it is rolled back and run
// again with each function in its own SAVEPOINT, so a function may run more
// than once (see Write). A lone write commits at once. This
// group commit is what makes tens of thousands of acknowledged writes per
// second possible, and synchronous=FULL affordable.
//
// Transactions begin IMMEDIATE, so a read-then-write transaction can never
// fail with SQLITE_BUSY_SNAPSHOT (which busy_timeout does not wait for).
// SQLITE_BUSY and SQLITE_LOCKED, recognised by result code, retry the whole
// transaction function with exponential backoff and jitter.
//
// # Durability
//
// In WAL mode with synchronous=NORMAL (the default), a commit survives a
// crash of the process; the last commits before a power loss or an OS crash
// may be rolled back (the database stays consistent). synchronous=FULL
// fsyncs the WAL at every commit and survives those too, at the cost of one
// fsync per group commit. https://www.sqlite.org/pragma.html#pragma_synchronous
//
// # Checkpoints
//
// Commits never run checkpoints (wal_autocheckpoint=0 on every connection):
// a background goroutine runs PASSIVE checkpoints on its own connection
// when the WAL has Config.WALAutoCheckpoint frames not yet copied back, or
// on Config.CheckpointInterval. SQLite starts the WAL over only when no
// reader uses it at the start of a write, which under continuous reads
// almost never happens; so past half of Config.WALLimit a round ends with a
// RESTART checkpoint on the writer, and near the limit the writer runs one
// itself before its next transaction, waiting for readers. A backup or a
// long read can still hold the WAL past the limit: then the checkpointer
// escalates to TRUNCATE, and incomplete checkpoints in a row are reported
// as starvation in Health.
//
// # The WAL write shim
//
// SQLite writes each WAL frame with two pwrite calls. Unless
// Config.NoWALBuffer is set, connections open their files through a small
// VFS shim (walbuf.c) that gathers a transaction's -wal writes and issues
// them as one write when the commit frame is written, inside that call, so
// an error fails the commit and no commit returns before its frames are in
// the OS; the writer asks the shim once more before it acknowledges a
// commit. It is used only with the SQLite versions it was tested with
// (Stats.WALBuffer says whether it is on, and why not). After any I/O error
// on the writer's files, writes are refused (ErrWALFailed) and Health is
// unhealthy until the database is reopened. The power-loss suite
// (TestPowerLoss*, docs/design-walbuf.md) checks both paths, with and
// without the shim.
//
// # Operations
//
// Stats reads figures without side effects; Health runs checks that never
// fail, each with a verdict in package health's vocabulary (shared with
// cortex's stores and HTTP API) and, when something can be done, a hint.
// Checkpoint, Backup, RestoreFile, StartIntegrity (background integrity
// jobs), Explain, Migrate and VerifyFile cover the rest of a database's
// life. Every one has a runnable example.
//
// # Process-wide settings
//
// Importing this package or opening a database changes nothing outside
// the databases it opens. LimitMallocArenas changes the C allocator for the
// whole process, and only a program that owns its process should call it,
// first thing in main. The opt-in page cache wrapper, which changes SQLite
// for the whole process, is a package of its own that this one does not
// import (sqlitedb/pcache).
//
// # Errors
//
// Errors are classified by SQLite result code, never by message text: test
// them with errors.Is against ErrBusy, ErrCorrupt, ErrDiskFull, ErrReadOnly,
// ErrConstraint, ErrIO, ErrWALFailed, ErrPoolTimeout and ErrClosed, or read the extended
// code with CodeOf.
package sqlitedb
