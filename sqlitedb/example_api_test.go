package sqlitedb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb"
)

// exampleDB opens a database with a notes table in a fresh folder; done
// closes it and removes the folder.
func exampleDB() (db *sqlitedb.DB, dir string, done func()) {
	ctx := context.Background()
	dir, _ = os.MkdirTemp("", "example")
	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{})
	if err != nil {
		panic(err)
	}
	if _, _, err := db.Migrate(ctx, exampleMigrations); err != nil {
		panic(err)
	}
	return db, dir, func() { db.Close(); os.RemoveAll(dir) }
}

var exampleMigrations = fstest.MapFS{
	"0001_notes.sql": {Data: []byte("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);")},
}

// Open with the settings for a program that must not lose an acknowledged
// write to a power loss: synchronous=FULL fsyncs the WAL at every (group)
// commit. The zero Config is the defaults (WAL, synchronous=NORMAL, a 5s
// busy timeout, …).
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Config{Synchronous: "full"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	fmt.Println(db.Config().JournalMode, db.Config().Synchronous, db.Config().BusyTimeout)
	// Output: wal full 5s
}

// A Write function that fails has none of its work committed; Write
// returns its error. Constraint violations are told apart by result code.
func ExampleDB_Write() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	insert := func(body string) error {
		return db.Write(ctx, func(tx *sqlitedb.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO notes(body) VALUES(?)", body)
			return err
		})
	}
	fmt.Println(insert("hello"))
	err := insert("hello")
	fmt.Println(errors.Is(err, sqlitedb.ErrConstraint))
	// Output:
	// <nil>
	// true
}

// Read runs a function in a read transaction on a pooled read-only
// connection: one consistent snapshot, concurrent with the writer.
func ExampleDB_Read() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()
	db.Batch(ctx, "INSERT INTO notes(body) VALUES(?)", [][]any{{"a"}, {"b"}})

	var bodies []string
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		rows, err := tx.Query(ctx, "SELECT body FROM notes ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b string
			if err := rows.Scan(&b); err != nil {
				return err
			}
			bodies = append(bodies, b)
		}
		return rows.Err()
	})
	fmt.Println(bodies, err)
	// Output: [a b] <nil>
}

// ReadOne is Read for a function that runs a single statement: it needs
// no transaction around it.
func ExampleDB_ReadOne() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	var n int
	err := db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n)
	})
	fmt.Println(n, err)
	// Output: 0 <nil>
}

// Batch loads many rows with one prepared statement in one transaction:
// all of them or none.
func ExampleDB_Batch() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	err := db.Batch(ctx, "INSERT INTO notes(body) VALUES(?)", [][]any{{"x"}, {"y"}, {"x"}})
	var n int
	db.ReadOne(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n)
	})
	fmt.Println(errors.Is(err, sqlitedb.ErrConstraint), n)
	// Output: true 0
}

// Migrate applies numbered .sql files in order, each in its own
// transaction, and records the schema version in PRAGMA user_version.
func ExampleDB_Migrate() {
	ctx := context.Background()
	db, _, done := exampleDB() // at version 1
	defer done()

	more := fstest.MapFS{
		"0001_notes.sql": exampleMigrations["0001_notes.sql"],
		"0002_tags.sql":  {Data: []byte("ALTER TABLE notes ADD COLUMN tag TEXT;")},
	}
	from, to, err := db.Migrate(ctx, more)
	fmt.Println(from, to, err)
	// Output: 1 2 <nil>
}

// LoadMigrations reads and checks migrations without applying them.
func ExampleLoadMigrations() {
	ms, err := sqlitedb.LoadMigrations(exampleMigrations)
	fmt.Println(len(ms), ms[0].Version, err)
	// Output: 1 1 <nil>
}

// Health never fails: each check has a verdict (package health's
// vocabulary) and says why; the report's verdict is the worst.
func ExampleDB_Health() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	h := db.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityQuick})
	for _, c := range h.Checks {
		if c.Name == "reader" || c.Name == "writer" || c.Name == "integrity" {
			fmt.Println(c.Name, c.Status)
		}
	}
	fmt.Println(h.Status == health.Healthy || h.Status == health.Degraded) // degraded on a full disk
	// Output:
	// reader healthy
	// writer healthy
	// integrity healthy
	// true
}

// Stats reads figures without side effects: no checkpoint, no lock.
func ExampleDB_Stats() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	st, err := db.Stats(ctx)
	fmt.Println(st.JournalMode, st.SchemaVersion, err)
	// Output: wal 1 <nil>
}

// Explain shows how SQLite runs a read-only statement.
func ExampleDB_Explain() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	plan, err := db.Explain(ctx, "SELECT id FROM notes WHERE body = ?", "x")
	for _, r := range plan {
		fmt.Println(r.Detail)
	}
	_, err2 := db.Explain(ctx, "DELETE FROM notes")
	fmt.Println(err, errors.Is(err2, sqlitedb.ErrNotReadOnly))
	// Output:
	// SEARCH notes USING COVERING INDEX sqlite_autoindex_notes_1 (body=?)
	// <nil> true
}

// An integrity job runs in the background; Health reports the last one.
func ExampleDB_StartIntegrity() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	job, err := db.StartIntegrity(sqlitedb.IntegrityFull, sqlitedb.VerifyConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	db.WaitIntegrity(ctx) // returns at once when the job has already ended
	job, _ = db.IntegrityJobByID(job.ID)
	fmt.Println(job.State, job.Result.OK)
	// Output: done true
}

// RestoreFile replaces a database no process has open with a backup,
// verified first; the previous file is kept beside it.
func ExampleRestoreFile() {
	ctx := context.Background()
	db, dir, done := exampleDB()
	defer done()
	db.Batch(ctx, "INSERT INTO notes(body) VALUES(?)", [][]any{{"kept"}})
	backup := filepath.Join(dir, "backup.db")
	if _, err := db.Backup(ctx, backup, nil); err != nil {
		fmt.Println(err)
		return
	}

	target := filepath.Join(dir, "restored.db")
	res, err := sqlitedb.RestoreFile(ctx, target, backup, sqlitedb.RestoreOptions{})
	fmt.Println(res.Check, err)
	v, err := sqlitedb.VerifyFile(ctx, target)
	fmt.Println(v, err)
	// Output:
	// quick <nil>
	// 1 <nil>
}

// Errors carry SQLite's result code; CodeOf reads the extended one.
func ExampleCodeOf() {
	ctx := context.Background()
	db, _, done := exampleDB()
	defer done()

	err := db.Batch(ctx, "INSERT INTO notes(body) VALUES(?)", [][]any{{"x"}, {"x"}})
	code, ok := sqlitedb.CodeOf(err)
	fmt.Println(code == sqlitedb.CodeConstraintUnique, ok)
	// Output: true true
}

// A HintError says what the user can do; Hint finds it anywhere in an
// error's chain, and it is never part of the message.
func ExampleHint() {
	err := fmt.Errorf("start: %w", &sqlitedb.HintError{Op: "open app.db", Err: sqlitedb.ErrReadOnly, Hint: "make the folder writable"})
	fmt.Println(err)
	fmt.Println(sqlitedb.Hint(err))
	// Output:
	// start: open app.db: database is read-only
	// make the folder writable
}

// ParseCheckpointMode reads a mode as a flag gives it.
func ExampleParseCheckpointMode() {
	m, err := sqlitedb.ParseCheckpointMode("TRUNCATE")
	fmt.Println(m, err)
	// Output: truncate <nil>
}

// Held tells, through SQLite's own locks, whether any connection has the
// database open: the check to make before touching its files from outside
// SQLite.
func ExampleHeld() {
	ctx := context.Background()
	db, dir, done := exampleDB()
	defer done()

	open, err := sqlitedb.Held(ctx, db.Path())
	fmt.Println(open, err)
	db.Close()
	open, err = sqlitedb.Held(ctx, filepath.Join(dir, "app.db"))
	fmt.Println(open, err)
	// Output:
	// true <nil>
	// false <nil>
}

// LimitMallocArenas is process-wide: a program's main calls it first
// thing, before opening databases; a library never does.
func ExampleLimitMallocArenas() {
	sqlitedb.LimitMallocArenas(2) // false where MALLOC_ARENA_MAX is set, or without glibc
	fmt.Println("arenas limited for the whole process")
	// Output: arenas limited for the whole process
}
