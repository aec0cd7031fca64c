package pgstore_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// DeleteSession is one UPDATE whatever the session's size (it was one
// DELETE cascading to every snapshot, one long transaction): the session is
// gone at once, its rows stay until the janitor reclaims them in chunks,
// and the reclaim leaves a new session with the same id whole.
func TestDelete_TombstoneThenChunkedReclaim(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	rows := func(id string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(bg, `SELECT count(*) FROM state_snapshots WHERE session_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 2500 // more than two reclaim chunks
	for _, id := range []string{"big", "other"} {
		if _, err := st.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	batch := make([]state.BatchItem, 0, state.MaxBatch)
	for i := range n {
		batch = append(batch, state.BatchItem{SessionID: "big", AppendInput: state.AppendInput{State: js(`1`), IdempotencyKey: fmt.Sprintf("k%d", i)}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := st.AppendBatch(bg, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := st.DeleteSession(bg, "big"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(bg, "big"); err == nil {
		t.Fatal("the deleted session is still there")
	}
	if got := rows("big"); got != n {
		t.Fatalf("right after the delete, %d snapshot rows, want all %d (reclaimed later, in chunks)", got, n)
	}
	if got, err := st.ExpireSessions(bg, 1); err != nil || got != 1 {
		t.Fatalf("ExpireSessions: %d, %v; want the tombstone reclaimed", got, err)
	}
	if got := rows("big"); got != 0 {
		t.Fatalf("after the reclaim, %d snapshot rows of the deleted session", got)
	}
	if _, err := st.GetSession(bg, "other"); err != nil {
		t.Fatal(err)
	}
}

// The "deleted" notification goes out once, with the delete: when the
// tombstone's row goes later (here: buried by a create with the same id),
// the new session's watchers must not hear of a deletion.
func TestDelete_NotifiedOnceWithTheDelete(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, "LISTEN cortex_watch"); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		n, err := conn.WaitForNotification(bg)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			K  string `json:"k"`
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
			t.Fatal(err)
		}
		return p.K + " " + p.ID
	}
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendSnapshot(bg, "a", state.AppendInput{State: js(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "s a" {
		t.Fatalf("notification %q, want the snapshot", got)
	}
	if err := st.DeleteSession(bg, "a"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "d a" {
		t.Fatalf("notification %q, want the delete", got)
	}
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendSnapshot(bg, "a", state.AppendInput{State: js(`2`)}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "s a" {
		t.Fatalf("notification %q after creating a again, want its snapshot (no second deletion)", got)
	}
}
