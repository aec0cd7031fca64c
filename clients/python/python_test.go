// Package python_test runs the Python client's test suite (clients/python,
// `python3 -m unittest`) against a real `cortex serve` on SQLite and on
// PostgreSQL. The Python tests read the server from CORTEX_URL and
// CORTEX_TOKEN; CORTEX_LIMITED_URL is a second server started with
// --max-watchers 1, where the retry tests meet real 503 answers. The tests
// that need no server run once.
//
// Without python3 the tests skip, except with CI=true, where they fail.
package python_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// MinPython is the oldest Python the client supports (pyproject.toml's
// requires-python).
const MinPython = "3.9"

// pythons returns the interpreters to run the suite with: the names in
// $CORTEX_PYTHON (space-separated, e.g. "python3.9 python3.13"), else
// python3 on the PATH. It skips the test when one is missing, or fails it
// when CI=true; an interpreter older than MinPython fails it.
func pythons(t *testing.T) []string {
	t.Helper()
	names := strings.Fields(os.Getenv("CORTEX_PYTHON"))
	if len(names) == 0 {
		names = []string{"python3"}
	}
	var paths []string
	for _, name := range names {
		path, err := exec.LookPath(name)
		if err != nil {
			msg := "the Python client's tests need " + name + " (" + MinPython + " or later) on the PATH: apt-get install python3"
			if os.Getenv("CI") == "true" {
				t.Fatal("CI=true: " + msg)
			}
			t.Skip("SKIPPED, NO PYTHON: " + msg)
		}
		out, err := exec.Command(path, "-c", "import sys; print(sys.version_info >= (3, 9), sys.version.split()[0])").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, out)
		}
		if f := strings.Fields(string(out)); len(f) != 2 || f[0] != "True" {
			t.Fatalf("%s is Python %s; the client needs %s or later", path, out, MinPython)
		}
		paths = append(paths, path)
	}
	return paths
}

func token(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// The Python test modules: those that need the server under test, run once
// per engine, and those that need none (hostile answers from a scripted
// stand-in, the SSE parser, packaging), run once. TestPythonModulesListed
// keeps these lists complete.
var (
	serverModules  = []string{"tests.test_api", "tests.test_watch", "tests.test_retry", "tests.test_readme", "tests.test_failover"}
	offlineModules = []string{"tests.test_hostile", "tests.test_sse", "tests.test_compat", "tests.test_package"}
)

func TestPythonModulesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("tests", "test_*.py"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range append(append([]string{}, serverModules...), offlineModules...) {
		listed[m] = true
	}
	for _, f := range files {
		m := "tests." + strings.TrimSuffix(filepath.Base(f), ".py")
		if !listed[m] {
			t.Errorf("%s is in neither serverModules nor offlineModules of python_test.go: add it to one", f)
		}
		delete(listed, m)
	}
	for m := range listed {
		t.Errorf("%s is listed in python_test.go but has no file", m)
	}
}

func TestPythonClientOffline(t *testing.T) {
	t.Parallel()
	for _, py := range pythons(t) {
		unittest(t, py, "offline", offlineModules, nil, "")
	}
}

func TestPythonClientSQLite(t *testing.T) {
	t.Parallel()
	pys := pythons(t)
	dir := t.TempDir()
	run(t, pys, "sqlite", filepath.Join(dir, "cortex.db"), filepath.Join(dir, "limited.db"), filepath.Join(dir, "failover.db"))
}

func TestPythonClientPostgres(t *testing.T) {
	t.Parallel()
	pys := pythons(t)
	run(t, pys, "postgres", pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t))
}

// run starts the servers on the first two databases and runs the server
// modules against them with each interpreter; the failover test starts and
// stops servers of its own on failoverDB. Every Python test must run (none
// may skip for want of a server: CORTEX_REQUIRE_SERVER=1).
func run(t *testing.T, pys []string, engine, db, limitedDB, failoverDB string) {
	tok := token(t)
	srv := e2e.StartServer(t, db, "--api-token", tok)
	limited := e2e.StartServer(t, limitedDB, "--max-watchers", "1")
	env := []string{
		"CORTEX_URL=" + srv.Base,
		"CORTEX_TOKEN=" + tok,
		"CORTEX_LIMITED_URL=" + limited.Base,
		"CORTEX_ENGINE=" + engine,
		"CORTEX_REQUIRE_SERVER=1",
		"CORTEX_BIN=" + e2e.Binary(t),
		"CORTEX_FAILOVER_DB=" + failoverDB,
	}
	for _, py := range pys {
		unittest(t, py, engine, serverModules, env, srv.Log)
	}
}

// unittest runs `py -m unittest -v modules...` in this folder and fails the
// test, with its output and the server's log, when it fails.
func unittest(t *testing.T, py, what string, modules, env []string, serverLog string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-m", "unittest", "-v"}, modules...)...)
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var log []byte
		if serverLog != "" {
			log, _ = os.ReadFile(serverLog)
		}
		t.Fatalf("%s -m unittest (%s): %v\n%s\n--- server log (tail) ---\n%s", py, what, err, out, e2e.Tail(log, 3000))
	}
	t.Logf("%s -m unittest (%s):\n%s", py, what, out)
}
