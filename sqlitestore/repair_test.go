package sqlitestore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// TestMigrate_RepairsTTLs opens testdata/schema4-ttl-overflow.db, written
// by the build before schema 5 with the reproduction (ttl_seconds
// 9223372036, then an append: expires_at stored as a REAL, which failed
// every listing), a TTL of 158 years (out of range), one of 253 years
// whose expiry wrapped into the past (the janitor deleted such sessions),
// and two healthy sessions. The migration clamps the TTLs to 100 years,
// recomputes the expiries, and Open logs how many sessions it repaired;
// the database then lists, appends and expires cleanly.
func TestMigrate_RepairsTTLs(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("testdata/schema4-ttl-overflow.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The clock of the fixture's writes, a minute later: "fine" (TTL one
	// hour) has not expired.
	opts := state.Options{Now: func() time.Time { return time.Unix(0, 1796458118566095471).Add(time.Minute) }}
	var logs bytes.Buffer
	s, err := Open(ctx, path, Config{DB: sqlitedb.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "repaired sessions") || !strings.Contains(logs.String(), "sessions=3") {
		t.Errorf("log = %q, want a line counting 3 repaired sessions", logs.String())
	}

	page, err := s.ListSessions(ctx, state.ListOptions{})
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	byID := map[string]state.Session{}
	for _, sess := range page.Sessions {
		byID[sess.ID] = sess
	}
	for id, ttl := range map[string]time.Duration{
		"real-expiry": state.MaxTTL, "long-ttl": state.MaxTTL, "wrapped": state.MaxTTL, "fine": time.Hour, "forever": 0,
	} {
		sess, ok := byID[id]
		if !ok {
			t.Fatalf("session %s not listed: %+v", id, page.Sessions)
		}
		if sess.TTL != ttl {
			t.Errorf("%s: TTL %v, want %v", id, sess.TTL, ttl)
		}
		if (ttl == 0) != (sess.ExpiresAt == nil) || (ttl > 0 && !sess.ExpiresAt.Equal(sess.LastActive.Add(ttl))) {
			t.Errorf("%s: ExpiresAt %v, want LastActive %v + %v", id, sess.ExpiresAt, sess.LastActive, ttl)
		}
	}
	if n, err := s.ExpireSessions(ctx, 0); err != nil || n != 0 {
		t.Fatalf("ExpireSessions = %d, %v; want none expired", n, err)
	}
	for _, id := range []string{"real-expiry", "wrapped"} {
		if _, err := s.TouchSession(ctx, id); err != nil {
			t.Fatalf("TouchSession(%s): %v", id, err)
		}
		if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{"n":2}`)}); err != nil {
			t.Fatalf("AppendSnapshot(%s): %v", id, err)
		}
	}
	// A key recorded before fingerprints answers any request, as it did.
	r, err := s.AppendSnapshot(ctx, "fine", state.AppendInput{State: []byte(`{"other":true}`), IdempotencyKey: "k1"})
	if err != nil || !r.Replayed || r.Version != 1 {
		t.Fatalf("old key: %+v, %v", r, err)
	}
	var bad int
	err = s.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE typeof(ttl) <> 'integer' OR typeof(expires_at) NOT IN ('integer', 'null')`).Scan(&bad)
	})
	if err != nil || bad != 0 {
		t.Fatalf("%d sessions with non-integer times left, %v", bad, err)
	}
	// Reopened: nothing left to repair, nothing logged.
	s.Close()
	logs.Reset()
	s, err = Open(ctx, path, Config{DB: sqlitedb.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(logs.String(), "repaired") {
		t.Errorf("second open logged %q", logs.String())
	}
}
