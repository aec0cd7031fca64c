package sqlitestore

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// TestMigrate_IntegerSessionKey: a database written at schema 2 (snapshots
// keyed by the session's text id) opens at schema 3 with every session and
// snapshot as it was, field for field; idempotency keys still answer,
// appends go on from each session's version, deletes still cascade, and
// foreign keys and integrity check clean.
func TestMigrate_IntegerSessionKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")

	// Schema 2, written with its own SQL.
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_drop_snapshot_count_index.sql"} {
		b, err := fs.ReadFile(Migrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, to, err := db.Migrate(ctx, old); err != nil || to != 2 {
		t.Fatalf("migrate to schema 2: %d, %v", to, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	hour := int64(time.Hour)
	err = db.Write(ctx, func(tx *sqlitedb.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO sessions (id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"agent-a", t0, t0 + 5, t0 + 5 + hour, hour, `{"user":"ada"}`, 5, 5}},
			{`INSERT INTO sessions (id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"0193b0c4-9b1e-7f3a-8c2d-5e6f7a8b9c0d", t0 + 1, t0 + 9, nil, 0, `{}`, 4, 3}},
			{`INSERT INTO sessions (id, created_at, last_active, expires_at, ttl, metadata, version, snapshot_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{"empty", t0 + 2, t0 + 2, nil, 0, `{}`, 0, 0}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		ins := `INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)`
		for v := int64(1); v <= 5; v++ {
			var key any
			if v == 3 {
				key = "req-3"
			}
			st := `{"step":` + string(rune('0'+v)) + `,"note":"héllo"}`
			if _, err := tx.Exec(ctx, ins, "agent-a", v, t0+v, st, `{}`, len(st), key); err != nil {
				return err
			}
		}
		for v := int64(2); v <= 4; v++ { // version 1 was pruned
			if _, err := tx.Exec(ctx, ins, "0193b0c4-9b1e-7f3a-8c2d-5e6f7a8b9c0d", v, t0+10+v, `[1,2,3]`, `{"by":"b"}`, 7, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := New(db, state.Options{})
	wantSessions, err := before.ExportSessions(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	// Exporting at schema 2 needs the old statements; the rows are known.
	if len(wantSessions) != 3 {
		t.Fatalf("schema 2 holds %d sessions, want 3", len(wantSessions))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The store's clock stands shortly after the rows' times: agent-a
	// has a TTL of an hour, and a session past it is absent.
	clock := func() time.Time { return time.Unix(0, t0+int64(time.Minute)).UTC() }
	s, err := Open(ctx, path, Config{Options: state.Options{Now: clock}})
	if err != nil {
		t.Fatalf("open at schema 3 and later: %v", err)
	}
	defer s.Close()
	var version int
	if err := s.db.Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, "PRAGMA user_version").Scan(&version)
	}); err != nil || version < 3 {
		t.Fatalf("user_version %d, %v; want 3 or later", version, err)
	}
	gotSessions, err := s.ExportSessions(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSessions, wantSessions) {
		t.Fatalf("sessions after the migration:\n%+v\nwant\n%+v", gotSessions, wantSessions)
	}
	snaps, err := s.ExportSnapshots(ctx, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sn := range snaps {
		b, _ := json.Marshal(sn)
		got = append(got, string(b))
	}
	var want []string
	for v := int64(2); v <= 4; v++ {
		b, _ := json.Marshal(state.ExportedSnapshot{Snapshot: state.Snapshot{SessionID: "0193b0c4-9b1e-7f3a-8c2d-5e6f7a8b9c0d", Version: v,
			CreatedAt: time.Unix(0, t0+10+v).UTC(), State: json.RawMessage(`[1,2,3]`), Metadata: json.RawMessage(`{"by":"b"}`), SizeBytes: 7}})
		want = append(want, string(b))
	}
	for v := int64(1); v <= 5; v++ {
		st := `{"step":` + string(rune('0'+v)) + `,"note":"héllo"}`
		sn := state.ExportedSnapshot{Snapshot: state.Snapshot{SessionID: "agent-a", Version: v,
			CreatedAt: time.Unix(0, t0+v).UTC(), State: json.RawMessage(st), Metadata: json.RawMessage(`{}`), SizeBytes: int64(len(st))}}
		if v == 3 {
			sn.IdempotencyKey = "req-3"
		}
		b, _ := json.Marshal(sn)
		want = append(want, string(b))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshots after the migration:\n%v\nwant\n%v", got, want)
	}

	// The key still answers with its version; appends go on.
	r, err := s.AppendSnapshot(ctx, "agent-a", state.AppendInput{State: []byte(`{}`), IdempotencyKey: "req-3"})
	if err != nil || !r.Replayed || r.Version != 3 {
		t.Fatalf("replayed key: %+v, %v; want version 3, replayed", r, err)
	}
	for id, want := range map[string]int64{"agent-a": 6, "0193b0c4-9b1e-7f3a-8c2d-5e6f7a8b9c0d": 5, "empty": 1} {
		if r, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil || r.Version != want {
			t.Fatalf("append to %s: %+v, %v; want version %d", id, r, err, want)
		}
	}
	// Deletes cascade through the new key; a new session gets a new one,
	// also when the deleted one had the highest ("empty", the last).
	for _, id := range []string{"agent-a", "empty"} {
		if err := s.DeleteSession(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "agent-a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LatestSnapshot(ctx, "agent-a"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("latest snapshot of the recreated session: %v, want ErrNotFound", err)
	}
	var orphans, maxOld, sidNew int64
	var ok string
	err = s.db.Read(ctx, func(tx *sqlitedb.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM state_snapshots WHERE session_id NOT IN (SELECT sid FROM sessions)").Scan(&orphans); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT max(sid) FROM sessions WHERE id <> 'agent-a'").Scan(&maxOld); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT sid FROM sessions WHERE id = 'agent-a'").Scan(&sidNew); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "PRAGMA integrity_check").Scan(&ok)
	})
	if err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || ok != "ok" {
		t.Fatalf("after the migration: %d orphaned snapshots, integrity_check %q", orphans, ok)
	}
	if sidNew <= maxOld || sidNew <= 3 {
		t.Fatalf("the recreated session got sid %d: a deleted session's key was reused (others up to %d)", sidNew, maxOld)
	}
}
