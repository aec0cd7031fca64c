package pgstore_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/cortex-db/cortex/internal/pgtest"
)

// TestMain says loudly, also without -v, that the PostgreSQL tests are about
// to skip (or, with CI=true, fail) for want of a cluster.
func TestMain(m *testing.M) {
	if os.Getenv(pgtest.EnvURL) == "" && os.Getenv("PGSTORE_TEST_CHILD_URL") == "" {
		fmt.Fprintf(os.Stderr, "pgstore: WARNING: %s is not set: the PostgreSQL tests will %s; run scripts/test to get a throwaway cluster\n",
			pgtest.EnvURL, map[bool]string{true: "FAIL (CI=true)", false: "be SKIPPED"}[os.Getenv("CI") == "true"])
	}
	os.Exit(m.Run())
}
