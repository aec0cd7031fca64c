package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

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
