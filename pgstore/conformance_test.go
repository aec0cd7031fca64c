package pgstore_test

import (
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// TestConformance runs the state.Store conformance suite, unchanged, with a
// fresh database per subtest. Its slices are as small as they go (one
// statement of a few rows each), so that every fork, reclaim and
// retention pass of the suite runs in many slices, with other work
// between them.
func TestConformance(t *testing.T) {
	pgtest.URL(t) // skip (or fail in CI) once, loudly, without a cluster
	statetest.Run(t, func(t *testing.T, opts state.Options) state.Store {
		st, _ := openStore(t, pgstore.Config{Options: opts, Slices: pgstore.SliceConfig{Budget: time.Nanosecond, Rows: 3}})
		return st
	})
}
