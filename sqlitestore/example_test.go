package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

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
