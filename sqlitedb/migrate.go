package sqlitedb

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d+)_([A-Za-z0-9_.-]+)\.sql$`)

// LoadMigrations reads the migrations in the root of fsys: files named
// NNNN_name.sql, ordered by number. Numbers start at 1 and have no gaps or
// duplicates.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: want a name like 0001_create_tables.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (versions start at 1, no gaps or duplicates)", m.Name, i+1)
		}
	}
	return ms, nil
}

// Migrate applies the migrations in fsys (see LoadMigrations) newer than
// the database's PRAGMA user_version, in order, each in its own write
// transaction that also sets user_version, so a failed migration leaves
// the database at the previous version. It returns the versions before and
// after. A database newer than the migrations is an error: this program is
// older than the schema.
//
// A migration that creates a partial index with a non-deterministic
// predicate (datetime('now'), CURRENT_TIMESTAMP, random(), …) is refused:
// SQLite accepts such a CREATE INDEX, then fails every INSERT into the
// table ("non-deterministic use of … in an index").
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) (from, to int, err error) {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return 0, 0, err
	}
	err = db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, "PRAGMA user_version").Scan(&from)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if from > len(ms) {
		return from, from, &HintError{Err: fmt.Errorf("database schema version %d is newer than this program's %d", from, len(ms)), Hint: "upgrade cortex"}
	}
	to = from
	for _, m := range ms[from:] {
		err := db.Write(ctx, func(tx *Tx) error {
			var cur int
			if err := tx.QueryRow(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
				return err
			}
			if cur >= m.Version {
				return nil // another process applied it meanwhile
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if err := checkPartialIndexes(ctx, tx); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version))
			return err
		})
		if err != nil {
			return from, to, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		to = m.Version
	}
	return from, to, nil
}

// nonDeterministic matches SQL that makes an index predicate depend on
// when or how often it is evaluated.
var nonDeterministic = regexp.MustCompile(`(?i)'now'|current_(time|date|timestamp)|random\s*\(|randomblob\s*\(|changes\s*\(|last_insert_rowid\s*\(`)

// checkPartialIndexes refuses partial indexes whose WHERE clause is not
// deterministic. https://www.sqlite.org/partialindex.html
func checkPartialIndexes(ctx context.Context, tx *Tx) error {
	rows, err := tx.Query(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			return err
		}
		i := strings.LastIndex(strings.ToUpper(sql), " WHERE ")
		if i < 0 {
			continue
		}
		if where := sql[i:]; nonDeterministic.MatchString(where) {
			return &HintError{Err: fmt.Errorf("partial index %s has a non-deterministic predicate (%s): SQLite would fail every INSERT into its table", name, strings.TrimSpace(where)), Hint: "a deterministic predicate such as WHERE expires_at IS NOT NULL"}
		}
	}
	return rows.Err()
}

// UserVersion reads the database's PRAGMA user_version: the newest schema
// migration applied (see Migrate).
func (db *DB) UserVersion(ctx context.Context) (int, error) {
	var v int
	err := db.ReadOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, "PRAGMA user_version").Scan(&v)
	})
	return v, err
}

// fileUserVersion reads PRAGMA user_version of the database file at path,
// read-only, without opening it for use (a backup, before a restore).
func fileUserVersion(ctx context.Context, path string) (int, error) {
	d, err := openFileRO(path)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	var v int
	if err := d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, classify(ctx, "read the schema version", err)
	}
	return v, nil
}
