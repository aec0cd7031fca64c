package sqlitestore

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// placeholders counts a statement's parameters: the highest ?N, or the
// number of plain ? (the store's SQL has no ? inside string literals).
func placeholders(q string) int {
	n, plain := 0, 0
	for _, m := range regexp.MustCompile(`\?(\d*)`).FindAllStringSubmatch(q, -1) {
		if m[1] == "" {
			plain++
			continue
		}
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return max(n, plain)
}

// plan returns the EXPLAIN QUERY PLAN details of q. sqlitedb.DB.Explain
// takes read-only statements only, and half of the store's are writes, so
// this plans them in a read transaction: EXPLAIN QUERY PLAN never runs the
// statement, and the reader is query_only besides.
func plan(t *testing.T, db *sqlitedb.DB, q string) []string {
	t.Helper()
	ctx := context.Background()
	args := make([]any, placeholders(q))
	for i := range args {
		args[i] = int64(1)
	}
	var details []string
	err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
		rows, err := tx.Query(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				return err
			}
			details = append(details, detail)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("explain %q: %v", q, err)
	}
	return details
}

// fullScan matches a plan step that reads a whole table: SQLite reports
// "SCAN <table>" alone, or "SCAN <table> USING [COVERING] INDEX …" when it
// reads a whole index instead; both are flagged, as every query the store
// runs must SEARCH. (https://www.sqlite.org/eqp.html)
var fullScan = regexp.MustCompile(`^SCAN (\S+)`)

func scans(details []string) []string {
	var bad []string
	for _, d := range details {
		// A VIRTUAL TABLE is json_each over a parameter (a search's
		// filter) or over one row's metadata: never a table.
		if m := fullScan.FindStringSubmatch(d); m != nil && m[1] != "CONSTANT" && !strings.Contains(d, " VIRTUAL TABLE ") {
			bad = append(bad, d)
		}
	}
	return bad
}

// TestQueryPlans runs EXPLAIN QUERY PLAN on every statement the store runs
// and fails on any full scan of a table, or a temporary b-tree for sorting.
func TestQueryPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A little data and ANALYZE would not change these plans; the indexes
	// must serve the statements on an empty database, as on a large one.
	names := make([]string, 0, len(queries))
	for name := range queries {
		names = append(names, name)
	}
	sort.Strings(names)
	// ON DELETE CASCADE runs this for every session deleted; its plan is not
	// in the DELETE's, so it is checked on its own.
	checked := map[string]string{"CascadeDelete": `DELETE FROM state_snapshots WHERE session_id = ?`}
	for name, q := range queries {
		checked[name] = q
	}
	names = append(names, "CascadeDelete")
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			details := plan(t, s.DB(), checked[name])
			t.Logf("%s", strings.Join(details, " | "))
			for _, d := range scans(details) {
				if !scanOnce[name] {
					t.Errorf("full scan: %s\nin %s", d, checked[name])
				}
			}
			for _, d := range details {
				// A metadata search sorts its matches: an index on
				// (key, value, last_active) would change on every append.
				if strings.HasPrefix(d, "USE TEMP B-TREE") && name != "SessionSearch" {
					t.Errorf("sort without an index: %s\nin %s", d, checked[name])
				}
			}
		})
	}
}

// TestQueryPlansDetectScans checks the checker: statements that cannot use
// an index are reported.
func TestQueryPlansDetectScans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		`SELECT id FROM sessions WHERE metadata = ?`,
		`SELECT session_id FROM state_snapshots WHERE size_bytes > ?`,
		`SELECT count(*) FROM state_snapshots`,
		`DELETE FROM state_snapshots WHERE version = ?`,
	} {
		if len(scans(plan(t, s.DB(), q))) == 0 {
			t.Errorf("no full scan reported for %q: %v", q, plan(t, s.DB(), q))
		}
	}
}

// TestQueriesListed checks that the store runs no SQL missing from
// queries: every tx.Exec/Query/QueryRow in its source, and every call of
// exportSnapshots, takes a q… constant listed there (or the variable
// query, which History and exportSnapshots set to one of them).
func TestQueriesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`(?:tx\.(?:Exec|Query|QueryRow)\(ctx, |exportSnapshots\(ctx, tx, &out, )([^,)]+)`)
	calls := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			calls++
			arg := m[1]
			if arg == "query" {
				continue
			}
			if _, ok := queries[strings.TrimPrefix(arg, "q")]; !ok || !strings.HasPrefix(arg, "q") {
				t.Errorf("%s: statement %s is not listed in queries", f, arg)
			}
		}
	}
	// qSessionSearch, qHistoryWhere and qHistoryWhereNoState run only
	// through variables (querySessions' and historyRows' query).
	if calls < len(queries)-3 {
		t.Errorf("found %d statement calls for %d queries: is the pattern still right?", calls, len(queries))
	}
}

// recompileArgs are two argument sets for q that bind a different value
// to every parameter: a statement SQLite recompiles on a new binding shows
// it on the second.
func recompileArgs(q string) [][]any {
	a, b := make([]any, placeholders(q)), make([]any, placeholders(q))
	for i := range a {
		a[i], b[i] = int64(5), int64(7)
	}
	return [][]any{a, b, a}
}

// TestNoRecompile runs every statement the store runs with changing
// arguments and fails when SQLite compiles it again on a new binding
// (see the note on the snapshot reads in queries.go).
func TestNoRecompile(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "recompile.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, q := range queries {
		n, err := testutil.Recompiles(context.Background(), s.DB(), q, recompileArgs(q)...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if n != 0 {
			t.Errorf("%s: SQLite compiled it %d more times on new arguments\nin %s", name, n, q)
		}
	}
}

// TestNoRecompileDetects checks the checker on the statement shape that
// SQLite recompiles.
func TestNoRecompileDetects(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "recompile.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := `SELECT version FROM state_snapshots WHERE session_id = ? ORDER BY version DESC LIMIT 1`
	n, err := testutil.Recompiles(context.Background(), s.DB(), q, recompileArgs(q)...)
	if err != nil || n == 0 {
		t.Fatalf("Recompiles = %d, %v; want > 0 for %s", n, err, q)
	}
}
