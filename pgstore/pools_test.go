package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// TestStore_ReadsDoNotWaitForWriters: with every write connection held
// (appends queued on all of them, as under 64 appending goroutines), the
// reads still answer: they have a pool of their own. On one shared pool
// they waited for a write connection (reads fell from 35k/s to 217/s).
// The read pool refuses writes.
func TestStore_ReadsDoNotWaitForWriters(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{MaxConns: 2, ReadConns: 2})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := st.Pool().Config().MaxConns; got != 2 {
		t.Fatalf("write pool of %d connections, want 2", got)
	}
	var held []*pgxpool.Conn
	for range st.Pool().Config().MaxConns {
		c, err := st.Pool().Acquire(bg)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	// Not a timing assertion: without a pool of their own the reads wait
	// for a write connection, which never comes back while held; the
	// deadline only turns that wait into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if _, err := st.LatestSnapshot(ctx, "s"); err != nil {
		t.Fatalf("LatestSnapshot with every write connection held: %v", err)
	}
	if _, err := st.GetSession(ctx, "s"); err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if _, err := st.ListSessions(ctx, state.ListOptions{}); err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	if _, err := st.History(ctx, "s", state.HistoryOptions{IncludeState: true}); err != nil {
		t.Fatalf("History: %v", err)
	}
	if _, err := st.GetSnapshot(ctx, "s", 1); err != nil {
		t.Fatalf("GetSnapshot: %v", err)
	}
	if _, err := st.ReadPool().Exec(ctx, `DELETE FROM sessions`); err == nil {
		t.Fatal("the read pool took a write")
	}
}
