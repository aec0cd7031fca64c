package pgstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

func TestStore_Stats(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{MaxConns: 3})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	s, err := st.Stats(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Engine != "postgresql" || s.SchemaVersion != pgstore.SchemaVersion() || s.SizeBytes <= 0 ||
		s.Pool.MaxConns != 3 || s.Pool.Acquires == 0 || !strings.HasPrefix(s.Database, "cortex_test_") {
		t.Fatalf("stats = %+v", s)
	}
	names := map[string]bool{}
	for _, tb := range s.Tables {
		names[tb.Name] = true
		if tb.TotalBytes <= 0 || tb.TotalBytes < tb.IndexBytes {
			t.Fatalf("table %s: %+v", tb.Name, tb)
		}
	}
	if !names["sessions"] || !names["state_snapshots"] {
		t.Fatalf("tables = %+v", s.Tables)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"size_bytes"`, `"schema_version"`, `"max_conns"`, `"in_use"`, `"total_bytes"`} {
		if !strings.Contains(string(b), field) {
			t.Fatalf("stats JSON %s lacks %s", b, field)
		}
	}
}

func TestStore_Health(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	h := st.Health(bg)
	if h.Status != health.Healthy || !h.Reachable {
		t.Fatalf("health = %+v", h)
	}

	closed, err := pgstore.Open(bg, url, pgstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if h := closed.Health(bg); h.Status != health.Unhealthy || h.Reachable {
		t.Fatalf("health of a closed store = %+v", h)
	}
}

// TestStore_ConnectionLoss kills the store's server connections, as a
// PostgreSQL restart does: the call that meets a dead connection fails with
// ErrUnavailable, and the pool recovers by itself.
func TestStore_ConnectionLoss(t *testing.T) {
	st, url := openStore(t, pgstore.Config{MaxConns: 2})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(bg)
	// The timeout makes pg_terminate_backend wait until each backend has
	// exited, so the appends below meet connections that are gone.
	if _, err := admin.Exec(bg, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	var unavailable int
	for i := 0; i < 5; i++ {
		_, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`)})
		switch {
		case err == nil:
		case errors.Is(err, state.ErrUnavailable):
			unavailable++
		default:
			t.Fatalf("append after connection loss: %v, want success or ErrUnavailable", err)
		}
	}
	if unavailable == 0 {
		t.Log("no call met a dead connection (the pool noticed first)")
	}
	if _, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`)}); err != nil {
		t.Fatalf("pool did not recover: %v", err)
	}
}
