//go:build sqlite_trace

package sqlitestore_test

// The writer's exact work per append, as SQLite sees it: every statement
// SQLite starts on the writer connection (sqlite3_trace_v2,
// SQLITE_TRACE_STMT, which also reports each trigger program it runs),
// logged from the Go path during appends. bench/floor/floor.c must run the
// same statements in the same order; this is the proof (docs/performance.md,
// "The floor"). Needs the driver's trace build tag:
//
//	go test -tags sqlite_trace -run TestAppendStatements -v ./sqlitestore

import (
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// stmtLog records the statements SQLite starts, by connection.
type stmtLog struct {
	mu    sync.Mutex
	on    bool
	lines []traced
}

type traced struct {
	conn uintptr
	sql  string
}

func (l *stmtLog) hook(dc driver.Conn) error {
	return dc.(*sqlite3.SQLiteConn).SetTrace(&sqlite3.TraceConfig{
		EventMask: sqlite3.TraceStmt,
		Callback: func(ti sqlite3.TraceInfo) int {
			l.mu.Lock()
			if l.on {
				l.lines = append(l.lines, traced{ti.ConnHandle, strings.Join(strings.Fields(ti.StmtOrTrigger), " ")})
			}
			l.mu.Unlock()
			return 0
		},
	})
}

func (l *stmtLog) record(fn func()) []traced {
	l.mu.Lock()
	l.on, l.lines = true, nil
	l.mu.Unlock()
	fn()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.lines
}

// writerLines keeps the statements of the connection that ran BEGIN
// IMMEDIATE (the writer), numbered.
func writerLines(lines []traced) []string {
	var w uintptr
	for _, l := range lines {
		if l.sql == "BEGIN IMMEDIATE" {
			w = l.conn
			break
		}
	}
	var out []string
	for _, l := range lines {
		if l.conn == w {
			out = append(out, l.sql)
		}
	}
	return out
}

func TestAppendStatements(t *testing.T) {
	var log stmtLog
	path := filepath.Join(t.TempDir(), "cortex.db")
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{DB: sqlitedb.Config{OnConnect: log.hook}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := []byte(`{"data":"` + strings.Repeat("x", 500) + `"}`)
	for i := range 8 {
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: fmt.Sprintf("s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	show := func(name string, lines []string) {
		t.Logf("%s: %d statements on the writer", name, len(lines))
		for i, l := range lines {
			t.Logf("  %2d  %s", i+1, l)
		}
	}
	// The first append to a session: no hint yet, so it looks the id up.
	show("first append to a session (no hint)", writerLines(log.record(func() {
		if _, err := s.AppendSnapshot(ctx, "s0", state.AppendInput{State: st}); err != nil {
			t.Fatal(err)
		}
	})))
	// The benchmark's steady state: the hint is there.
	steady := writerLines(log.record(func() {
		if _, err := s.AppendSnapshot(ctx, "s0", state.AppendInput{State: st}); err != nil {
			t.Fatal(err)
		}
	}))
	show("append with a hint (the steady state)", steady)
	show("append with an idempotency key", writerLines(log.record(func() {
		if _, err := s.AppendSnapshot(ctx, "s0", state.AppendInput{State: st, IdempotencyKey: "k1"}); err != nil {
			t.Fatal(err)
		}
	})))
	show("replay of that key", writerLines(log.record(func() {
		if _, err := s.AppendSnapshot(ctx, "s0", state.AppendInput{State: st, IdempotencyKey: "k1"}); err != nil {
			t.Fatal(err)
		}
	})))
	// A group: appends from 8 goroutines at once (hints warm).
	for i := range 8 {
		if _, err := s.AppendSnapshot(ctx, fmt.Sprintf("s%d", i), state.AppendInput{State: st}); err != nil {
			t.Fatal(err)
		}
	}
	group := writerLines(log.record(func() {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 4 {
					if _, err := s.AppendSnapshot(ctx, fmt.Sprintf("s%d", i), state.AppendInput{State: st}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}))
	// Summarise each group as counts of each statement.
	var groups []string
	var cur map[string]int
	var order []string
	for _, l := range group {
		if l == "BEGIN IMMEDIATE" {
			cur, order = map[string]int{}, nil
		}
		if cur == nil {
			continue
		}
		if cur[l] == 0 {
			order = append(order, l)
		}
		cur[l]++
		if l == "PRAGMA cortex_walbuf_check" {
			var parts []string
			for _, o := range order {
				parts = append(parts, fmt.Sprintf("%d× %.40s", cur[o], o))
			}
			groups = append(groups, strings.Join(parts, " | "))
			cur = nil
		}
	}
	t.Logf("32 appends from 8 goroutines: %d groups", len(groups))
	for _, g := range groups {
		t.Logf("  %s", g)
	}
	// What floor.c runs must be these; fail if the steady state changes
	// so that the floor is looked at again.
	want := []string{"BEGIN IMMEDIATE", "UPDATE sessions SET version", "INSERT INTO state_snapshots", "COMMIT", "PRAGMA cortex_walbuf_check"}
	if len(steady) != len(want) {
		t.Fatalf("steady-state append ran %d statements on the writer, want %d (update bench/floor/floor.c): %q", len(steady), len(want), steady)
	}
	for i, w := range want {
		if !strings.HasPrefix(steady[i], w) {
			t.Fatalf("statement %d = %q, want %q… (update bench/floor/floor.c)", i+1, steady[i], w)
		}
	}
}
