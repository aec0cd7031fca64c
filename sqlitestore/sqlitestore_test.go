package sqlitestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

var ctx = context.Background()

func openStore(t testing.TB, opts state.Options) *sqlitestore.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cortex.db")
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{Options: opts})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, opts state.Options) state.Store {
		return openStore(t, opts)
	})
}

// TestAppend_StaleVersionHints: an append names the version the store's
// last append gave the session (its hint) in its UPDATE; a hint made stale
// by a change the store did not make, or by a deleted and recreated
// session, must still give the right version.
func TestAppend_StaleVersionHints(t *testing.T) {
	s := openStore(t, state.Options{})
	appendOne := func(want int64) {
		t.Helper()
		r, err := s.AppendSnapshot(ctx, "h", state.AppendInput{State: []byte(`{}`)})
		if err != nil || r.Version != want {
			t.Fatalf("append = version %d, %v; want %d", r.Version, err, want)
		}
		got, err := s.LatestSnapshot(ctx, "h")
		if err != nil || got.Version != want {
			t.Fatalf("latest = version %d, %v; want %d", got.Version, err, want)
		}
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "h"}); err != nil {
		t.Fatal(err)
	}
	appendOne(1)
	appendOne(2) // the hint is now 2
	// A change behind the store's back (another process, a tool).
	if err := s.DB().Write(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE sessions SET version = 10 WHERE id = 'h'")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	appendOne(11)
	exp := int64(11)
	r, err := s.AppendSnapshot(ctx, "h", state.AppendInput{State: []byte(`{}`), ExpectedVersion: &exp})
	if err != nil || r.Version != 12 {
		t.Fatalf("append expecting 11 = version %d, %v; want 12", r.Version, err)
	}
	// Deleted and created again: versions start over.
	if err := s.DeleteSession(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendSnapshot(ctx, "h", state.AppendInput{State: []byte(`{}`)}); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("append to a deleted session: %v, want ErrNotFound", err)
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "h"}); err != nil {
		t.Fatal(err)
	}
	appendOne(1)
	exp = 5
	if _, err := s.AppendSnapshot(ctx, "h", state.AppendInput{State: []byte(`{}`), ExpectedVersion: &exp}); !errors.Is(err, state.ErrVersionConflict) {
		t.Fatalf("append expecting 5 at version 1: %v, want ErrVersionConflict", err)
	}
	appendOne(2)
}

// A restore in place brings back the backup's sids: a cached key of a
// session must not let an append land in another session that now has
// that sid.
func TestAppend_AfterRestoreInPlace(t *testing.T) {
	dir := t.TempDir()
	other := openStore(t, state.Options{})
	if _, err := other.CreateSession(ctx, state.SessionInput{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AppendSnapshot(ctx, "b", state.AppendInput{State: json.RawMessage(`{"owner":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "b.db")
	if _, err := other.DB().Backup(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, state.Options{})
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendSnapshot(ctx, "a", state.AppendInput{State: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err) // the store now holds a key for a: sid 1, version 1, as b has in the backup
	}
	if err := s.DB().Restore(ctx, backup); err != nil {
		t.Fatal(err)
	}
	r, err := s.AppendSnapshot(ctx, "a", state.AppendInput{State: json.RawMessage(`{"owner":"a"}`)})
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("append to a, gone after the restore: %+v, %v; want ErrNotFound", r, err)
	}
	if b, err := s.GetSession(ctx, "b"); err != nil || b.Version != 1 {
		t.Fatalf("session b after the append to a: %+v, %v; want version 1", b, err)
	}
}
