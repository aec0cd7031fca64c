// Package typescript_test runs the TypeScript client's tests (node's
// built-in test runner, test/*.test.mjs) against a real `cortex serve`,
// on a SQLite file and on PostgreSQL. It builds the client with `npm run
// build` (tsc from the lock file). Set up with `npm ci` in this folder;
// without node or the npm packages the test skips, or fails when CI=true.
package typescript_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}

// token is the servers' --api-token: the tests send it as a bearer token
// and check that a request without it is refused.
const token = "ts-client-test-token-0123456789"

// need skips (or, with CI=true, fails) when node, npm or the packages of
// the lock file are missing.
func need(t *testing.T) {
	t.Helper()
	e2e.NeedNode(t, "TypeScript client test", "clients/typescript", []string{"node", "npm"}, "typescript")
}

var (
	buildOnce sync.Once
	buildOut  []byte
	buildErr  error
)

// build compiles the client (tsc) once per run.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		buildOut, buildErr = exec.CommandContext(ctx, "npm", "run", "build").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("npm run build: %v\n%s", buildErr, buildOut)
	}
}

// runNodeTests runs `node --test test/` against the server at base.
func runNodeTests(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-timeout=60000", "--test-reporter=spec", "test/")
	cmd.Env = append(os.Environ(), "CORTEX_URL="+base, "CORTEX_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test against %s: %v\n%s", base, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

func TestTypeScriptClientSQLite(t *testing.T) {
	need(t)
	build(t)
	srv := e2e.StartServer(t, filepath.Join(t.TempDir(), "ts.db"), "--api-token", token)
	runNodeTests(t, srv.Base)
}

func TestTypeScriptClientPostgres(t *testing.T) {
	need(t)
	db := pgtest.NewDatabase(t)
	build(t)
	srv := e2e.StartServer(t, db, "--api-token", token)
	runNodeTests(t, srv.Base)
}
