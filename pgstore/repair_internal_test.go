package pgstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/state"
)

// TestMigrate_RepairsTTLs: a database at schema 1 holding TTLs an older
// build accepted (200 years; a non-positive one written by hand) opens
// with them clamped to 100 years (or none), expiries recomputed, and the
// repaired sessions counted in the log.
func TestMigrate_RepairsTTLs(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, q := range []string{
		ms[0].sql,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '` + ms[0].name + `', now())`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		id  string
		ttl string
	}{{"long", "200 years"}, {"negative", "-5 seconds"}, {"fine", "1 hour"}} {
		if _, err := conn.Exec(ctx, `INSERT INTO sessions (id, created_at, last_active, ttl, expires_at) VALUES ($1, $2::timestamptz, $2::timestamptz, $3::interval, $2::timestamptz + $3::interval)`, r.id, t0, r.ttl); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	var logs bytes.Buffer
	s, err := Open(ctx, url, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Options: state.Options{Now: func() time.Time { return t0.Add(time.Minute) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "repaired sessions") || !strings.Contains(logs.String(), "sessions=2") {
		t.Errorf("log = %q, want a line counting 2 repaired sessions", logs.String())
	}
	for id, ttl := range map[string]time.Duration{"long": state.MaxTTL, "negative": 0, "fine": time.Hour} {
		sess, err := s.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sess.TTL != ttl || (ttl == 0) != (sess.ExpiresAt == nil) || (ttl > 0 && !sess.ExpiresAt.Equal(sess.LastActive.Add(ttl))) {
			t.Errorf("%s: TTL %v, ExpiresAt %v; want TTL %v from %v", id, sess.TTL, sess.ExpiresAt, ttl, sess.LastActive)
		}
	}
}
