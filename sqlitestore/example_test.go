package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

func Example() {
	dir, _ := os.MkdirTemp("", "cortex-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "cortex.db"), sqlitestore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sess, err := store.CreateSession(ctx, state.SessionInput{ID: "agent-42"})
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range []string{`{"step":1}`, `{"step":2,"notes":["saw a cat"]}`} {
		if _, err := store.AppendSnapshot(ctx, sess.ID, state.AppendInput{State: []byte(st)}); err != nil {
			log.Fatal(err)
		}
	}
	latest, err := store.LatestSnapshot(ctx, sess.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s v%d: %s\n", latest.SessionID, latest.Version, latest.State)
	// Output: agent-42 v2: {"step":2,"notes":["saw a cat"]}
}

// An append conditional on the version the caller last saw: a second
// writer that saw the same version gets a ConflictError naming both.
func ExampleStore_AppendSnapshot() {
	dir, _ := os.MkdirTemp("", "cortex-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "cortex.db"), sqlitestore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	store.CreateSession(ctx, state.SessionInput{ID: "s"})

	seen := int64(0)
	_, err = store.AppendSnapshot(ctx, "s", state.AppendInput{State: []byte(`{"by":"a"}`), ExpectedVersion: &seen})
	fmt.Println(err)
	_, err = store.AppendSnapshot(ctx, "s", state.AppendInput{State: []byte(`{"by":"b"}`), ExpectedVersion: &seen})
	var ce *state.ConflictError
	fmt.Println(errors.Is(err, state.ErrVersionConflict), errors.As(err, &ce) && ce.Actual == 1)
	// Output:
	// <nil>
	// true true
}

// New builds a store on a DB the caller opened and owns: Close ends the
// store, and the DB stays open until the caller closes it.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "cortex-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "cortex.db"), sqlitedb.Config{Synchronous: "full"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := sqlitestore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	store := sqlitestore.New(db, state.Options{})
	_, err = store.CreateSession(ctx, state.SessionInput{ID: "s"})
	fmt.Println(err)
	store.Close()
	fmt.Println(db.Health(ctx, sqlitedb.HealthOptions{}).Status)
	// Output:
	// <nil>
	// healthy
}

// Health is the engine's checks and the store's own (the schema), in
// package health's vocabulary, as pgstore.Store.Health reports PostgreSQL.
func ExampleStore_Health() {
	dir, _ := os.MkdirTemp("", "cortex-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "cortex.db"), sqlitestore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	h := store.Health(ctx, sqlitedb.HealthOptions{})
	for _, c := range h.Checks {
		if c.Name == "schema" {
			fmt.Println(c.Status, c.Detail == fmt.Sprintf("version %d", sqlitestore.SchemaVersion()))
		}
	}
	fmt.Println(h.Status != health.Unhealthy)
	// Output:
	// healthy true
	// true
}
