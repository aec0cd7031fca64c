package pgstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// TestWatch_AcrossServers: a watcher on one store (server A) sees the
// appends, metadata changes and delete made through another store (server
// B) on the same database, also across a lost listener connection: the
// append made while it was down comes from the history.
func TestWatch_AcrossServers(t *testing.T) {
	a, url := openStore(t, pgstore.Config{})
	b, err := pgstore.Open(bg, url, pgstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	w, err := a.Watch(bg, "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := statetest.NextEvent(t, w); ev.Kind != state.EventSession {
		t.Fatalf("first event %+v", ev)
	}
	if _, err := b.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`), Metadata: js(`{"m":1}`)}); err != nil {
		t.Fatal(err)
	}
	ev := statetest.NextEvent(t, w)
	if ev.Kind != state.EventSnapshot || ev.Snapshot.Version != 1 || string(ev.Snapshot.Metadata) != `{"m": 1}` && string(ev.Snapshot.Metadata) != `{"m":1}` {
		t.Fatalf("event %+v %+v, want snapshot 1", ev, ev.Snapshot)
	}

	// Cut the listener's connection; append while it may be down.
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	var pid int
	if err := conn.QueryRow(bg, `SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN cortex_watch' AND datname = current_database()`).Scan(&pid); err != nil {
		t.Fatalf("find the listener: %v", err)
	}
	if _, err := conn.Exec(bg, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AppendSnapshot(bg, "s", state.AppendInput{State: js(`2`)}); err != nil {
		t.Fatal(err)
	}
	if ev := statetest.NextEvent(t, w); ev.Kind != state.EventSnapshot || ev.Snapshot.Version != 2 {
		t.Fatalf("event %+v, want snapshot 2 after the listener's reconnect", ev)
	}
	// A new listener is up (an event, not a delay): later appends come live.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN cortex_watch' AND datname = current_database() AND pid <> $1`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := b.AppendSnapshot(bg, "s", state.AppendInput{State: js(`3`)}); err != nil {
		t.Fatal(err)
	}
	if ev := statetest.NextEvent(t, w); ev.Kind != state.EventSnapshot || ev.Snapshot.Version != 3 {
		t.Fatalf("event %+v, want snapshot 3", ev)
	}
	if _, _, err := b.PutSession(bg, "s", state.SessionInput{Metadata: js(`{"user":"ada"}`)}); err != nil {
		t.Fatal(err)
	}
	if ev := statetest.NextEvent(t, w); ev.Kind != state.EventSession || string(ev.Session.Metadata) != `{"user":"ada"}` {
		t.Fatalf("event %+v, want the session's new metadata", ev)
	}
	if err := b.DeleteSession(bg, "s"); err != nil {
		t.Fatal(err)
	}
	if ev := statetest.NextEvent(t, w); ev.Kind != state.EventDeleted {
		t.Fatalf("event %+v, want deleted", ev)
	}
}
