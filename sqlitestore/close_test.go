package sqlitestore_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// TestClose_Ownership: a Store from New does not own its *sqlitedb.DB:
// Close ends the Store (calls fail with ErrUnavailable) and leaves the
// database open for its owner. A Store from Open owns it: Close closes it.
func TestClose_Ownership(t *testing.T) {
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := sqlitestore.New(db, state.Options{})
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "b"}); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("create after Close: %v, want ErrUnavailable", err)
	}
	if _, err := s.LatestSnapshot(ctx, "a"); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("read after Close: %v, want ErrUnavailable", err)
	}
	// db is still its owner's, open: a new Store on it works.
	s2 := sqlitestore.New(db, state.Options{})
	if _, err := s2.GetSession(ctx, "a"); err != nil {
		t.Fatalf("a new Store on the caller's db after the first one's Close: %v", err)
	}

	owned := openStore(t, state.Options{})
	if err := owned.Close(); err != nil {
		t.Fatal(err)
	}
	if err := owned.DB().Write(ctx, func(*sqlitedb.Tx) error { return nil }); !errors.Is(err, sqlitedb.ErrClosed) {
		t.Fatalf("write on an opened Store's db after Close: %v, want ErrClosed", err)
	}
}
