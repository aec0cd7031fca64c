package sqlitestore_test

import (
	"fmt"
	"testing"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// TestStore_Health: the store's report is the engine's checks plus the
// schema's, in package health's vocabulary; a schema older or newer than
// this build's is degraded, with a hint, and the verdict follows.
func TestStore_Health(t *testing.T) {
	s := openStore(t, state.Options{})
	schema := func() health.Check {
		t.Helper()
		h := s.Health(ctx, sqlitedb.HealthOptions{})
		for _, c := range h.Checks {
			if c.Name == "schema" {
				if health.Worse(h.Status, c.Status) != h.Status {
					t.Fatalf("verdict %s is better than the schema check's %s", h.Status, c.Status)
				}
				return c
			}
		}
		t.Fatalf("no schema check in %+v", h)
		return health.Check{}
	}
	want := sqlitestore.SchemaVersion()
	if c := schema(); c.Status != health.Healthy || c.Detail != fmt.Sprintf("version %d", want) {
		t.Fatalf("schema check on a migrated store: %+v", c)
	}
	for _, v := range []int{want - 1, want + 1} {
		if err := s.DB().Write(ctx, func(tx *sqlitedb.Tx) error {
			_, err := tx.Exec(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if c := schema(); c.Status != health.Degraded || c.Hint == "" {
			t.Fatalf("schema check at version %d (this build's is %d): %+v, want degraded with a hint", v, want, c)
		}
	}
}
