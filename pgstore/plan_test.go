package pgstore_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// TestStore_QueriesUseIndexes runs every store operation on connections with enable_seqscan=off, then
// checks that PostgreSQL counted no sequential scan of cortex's tables: with
// seq scans disabled the planner picks one only when no index serves the
// query.
func TestStore_QueriesUseIndexes(t *testing.T) {
	_, dbURL := openStore(t, pgstore.Config{}) // creates the schema
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("enable_seqscan", "off") // pgx sends unknown URL parameters as settings
	u.RawQuery = q.Encode()

	conn, err := pgx.Connect(bg, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	before := backends(t, conn)

	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := pgstore.Open(bg, u.String(), pgstore.Config{Options: state.Options{Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	ttl := time.Hour
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("s%d", i)
		if _, err := st.CreateSession(bg, state.SessionInput{ID: id, TTL: &ttl}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			if _, err := st.AppendSnapshot(bg, id, state.AppendInput{State: js(`{}`), IdempotencyKey: fmt.Sprint(j)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, _, err = st.PutSession(bg, "s0", state.SessionInput{Metadata: js(`{"a":1}`)})
	must("put", err)
	_, err = st.GetSession(bg, "s1")
	must("get", err)
	_, err = st.TouchSession(bg, "s1")
	must("touch", err)
	p, err := st.ListSessions(bg, state.ListOptions{Limit: 2, ActiveSince: now.Add(-time.Hour)})
	must("list", err)
	_, err = st.ListSessions(bg, state.ListOptions{Limit: 2, Cursor: p.NextCursor})
	must("list page 2", err)
	_, err = st.AppendBatch(bg, []state.BatchItem{{SessionID: "s1", AppendInput: state.AppendInput{State: js(`1`)}}, {SessionID: "s2", AppendInput: state.AppendInput{State: js(`2`)}}})
	must("batch", err)
	_, err = st.LatestSnapshot(bg, "s1")
	must("latest", err)
	_, err = st.GetSnapshot(bg, "s1", 2)
	must("get snapshot", err)
	h, err := st.History(bg, "s1", state.HistoryOptions{Limit: 2, IncludeState: true})
	must("history", err)
	_, err = st.History(bg, "s1", state.HistoryOptions{Limit: 2, Cursor: h.NextCursor})
	must("history page 2", err)
	_, err = st.ForkSession(bg, "s1", state.ForkInput{NewID: "f", AtVersion: 2})
	must("fork", err)
	// Search, client keys, history filters, watch (migration 0003).
	_, _, err = st.PutSession(bg, "s2", state.SessionInput{Metadata: js(`{"user":"ada","n":3}`)})
	must("put metadata", err)
	_, err = st.ListSessions(bg, state.ListOptions{Metadata: js(`{"user":"ada","n":3}`), ActiveSince: now.Add(-time.Hour)})
	must("search", err)
	_, err = st.AppendSnapshot(bg, "s2", state.AppendInput{State: js(`1`), Key: "k1"})
	must("keyed append", err)
	_, err = st.AppendSnapshot(bg, "s2", state.AppendInput{State: js(`1`), Key: "k1"})
	must("keyed append replay", err)
	_, err = st.SnapshotByKey(bg, "s2", "k1")
	must("by key", err)
	_, err = st.History(bg, "s2", state.HistoryOptions{Metadata: js(`{"source":"input"}`), IncludeState: true})
	must("history filter", err)
	w, err := st.Watch(bg, "s2", 0)
	must("watch", err)
	for range 3 { // session, snapshots 4 and 5 from the history
		_, err = w.Next(bg)
		must("watch next", err)
	}
	w.Close()
	// Prune's slices walk sessions by id from where the last one ended.
	_, err = st.Prune(bg, state.PruneOptions{KeepLast: 1})
	must("prune", err)
	must("delete", st.DeleteSession(bg, "s3"))
	now = now.Add(2 * time.Hour)
	_, err = st.ExpireSessions(bg, 0)
	must("expire", err)
	st.Close()
	// Backends flush their statistics as they exit, before they leave
	// pg_stat_activity: wait until the store's are gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := 0
		for pid := range backends(t, conn) {
			if !before[pid] {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the store's backends still there 10 s after Close", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := conn.Exec(bg, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	for {
		rows, err := conn.Query(bg, `SELECT relname, seq_scan, idx_scan FROM pg_stat_user_tables
			WHERE relname IN ('sessions', 'state_snapshots', 'snapshot_idempotency_keys', 'session_metadata')`)
		if err != nil {
			t.Fatal(err)
		}
		type stat struct {
			name     string
			seq, idx int64
		}
		stats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stat, error) {
			var s stat
			var idx *int64
			err := r.Scan(&s.name, &s.seq, &idx)
			if idx != nil {
				s.idx = *idx
			}
			return s, err
		})
		if err != nil {
			t.Fatal(err)
		}
		var seq, idx int64
		for _, s := range stats {
			seq += s.seq
			idx += s.idx
		}
		if idx > 0 || time.Now().After(deadline) {
			for _, s := range stats {
				if s.seq > 0 {
					t.Errorf("table %s: %d sequential scans; a query the store runs is not served by an index", s.name, s.seq)
				}
			}
			if idx == 0 {
				t.Fatal("no index scans counted: statistics never arrived")
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := conn.Exec(bg, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
	}
}

// backends are the pids of the client backends on conn's database, other
// than conn's own.
func backends(t *testing.T, conn *pgx.Conn) map[int32]bool {
	t.Helper()
	rows, err := conn.Query(bg, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	m := map[int32]bool{}
	for _, p := range pids {
		m[p] = true
	}
	return m
}
