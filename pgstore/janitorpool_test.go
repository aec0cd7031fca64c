package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// TestJanitor_SliceLeavesTheWritePoolToAppends: a reclaim slice runs on a
// connection of its own, so while one is stuck (here: its DELETE waits for
// rows an outside transaction holds) appends still get the write pool's
// only connection. On the write pool the slice held that connection, and
// appends waited for the whole slice (measured: slices of up to 1 s on a
// loaded machine, appends queued behind them).
func TestJanitor_SliceLeavesTheWritePoolToAppends(t *testing.T) {
	st, url := openStore(t, pgstore.Config{MaxConns: 1})
	for _, id := range []string{"gone", "live"} {
		if _, err := st.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AppendSnapshot(bg, "gone", state.AppendInput{State: js(`1`)}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(bg, "gone"); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(bg)
	tx, err := holder.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg)
	if _, err := tx.Exec(bg, `SELECT 1 FROM state_snapshots WHERE session_id = 'gone' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := st.ReclaimSlice(bg)
		done <- err
	}()
	// Wait for the event: the slice's DELETE waiting for the held rows.
	watcher, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(bg)
	for {
		var n int
		if err := watcher.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM state_snapshots%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the slice ended (%v) before it waited for the held rows", err)
		case <-time.After(10 * time.Millisecond): // polling pg_stat_activity
		}
	}
	// Not a timing assertion: on the write pool the append waits for a
	// connection the stuck slice never gives back; the deadline only turns
	// that wait into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if _, err := st.AppendSnapshot(ctx, "live", state.AppendInput{State: js(`2`)}); err != nil {
		t.Fatalf("append while a reclaim slice is stuck: %v", err)
	}
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ReclaimSlice: %v", err)
	}
}

// TestJanitor_SliceTimeCountsTheCommit: a slice's WriterTime, which the
// janitor paces by, runs from BEGIN to the end of COMMIT. Here a deferred
// trigger makes the commit take a second; the slice's work before it took
// milliseconds, which is all that WriterTime counted before.
func TestJanitor_SliceTimeCountsTheCommit(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, `
		CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER slow_commit AFTER DELETE ON sessions
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(bg, "gone"); err != nil {
		t.Fatal(err)
	}
	res, err := st.ReclaimSlice(bg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 1 {
		t.Fatalf("slice reclaimed %d sessions, want the deleted one", res.Sessions)
	}
	if res.WriterTime < time.Second {
		t.Fatalf("slice WriterTime %s, want at least the 1 s its COMMIT took", res.WriterTime)
	}
}
