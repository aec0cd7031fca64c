// Package consoletest runs the operations console (/ui/) of a real cortex
// serve binary in headless Debian chromium, driven by playwright-core from
// npm (run.mjs): with and without tokens, on SQLite and on PostgreSQL. Set
// up with `apt-get install chromium` and `npm ci` in this folder; without
// them the tests skip, or fail when CI=true.
//
// CONSOLE_SCREENSHOTS=1 saves docs/console-desktop.png and
// docs/console-phone.png from the token-less SQLite run:
//
//	CONSOLE_SCREENSHOTS=1 go test -count=1 -run TestConsole ./internal/consoletest/
package consoletest

import (
	"context"
	"encoding/json"
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

// need skips (or, with CI=true, fails) when the browser or the npm
// packages are missing.
func need(t *testing.T) {
	t.Helper()
	e2e.NeedBrowser(t, "console test", "internal/consoletest")
}

// target is one server run.mjs drives (CONSOLE_TARGETS).
type target struct {
	Name        string `json:"name"`
	Base        string `json:"base"`
	Token       string `json:"token,omitempty"`
	APIToken    string `json:"api_token,omitempty"`
	Engine      string `json:"engine"`
	Screenshots string `json:"screenshots,omitempty"`
	log         string
}

// TestConsole drives the console of three real servers with one browser
// (run.mjs): on each, the overview, the session list and search, a
// session's page updating live as the test appends, a diff showing the
// changed key, the admin actions (checkpoint, backup, integrity job,
// EXPLAIN; the PostgreSQL page says they are SQLite's), the XSS payload
// staying text, no console error and no request to another origin, at
// 1280x800 and at 390x844.
//   - sqlite: a token-less server on loopback: no login.
//   - tokens: --api-token and --admin-token: the console asks for the
//     admin token (refusing the API token with a word about it), keeps it
//     in sessionStorage and sends it as a header, never in a URL.
//   - postgres: the same pages on PostgreSQL (when one is given, as
//     scripts/test does; always under CI=true).
//
// CONSOLE_SCREENSHOTS=1 saves docs/console-desktop.png and
// docs/console-phone.png from the sqlite run.
func TestConsole(t *testing.T) {
	need(t)
	var targets []target
	srv := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), "--backup-dir", t.TempDir())
	tg := target{Name: "sqlite", Base: srv.Base, Engine: "sqlite", log: srv.Log}
	if os.Getenv("CONSOLE_SCREENSHOTS") != "" {
		dir, err := filepath.Abs(filepath.Join("..", "..", "docs"))
		if err != nil {
			t.Fatal(err)
		}
		tg.Screenshots = dir
	}
	targets = append(targets, tg)

	const api, admin = "console-api-token-0123456789", "console-admin-token-0123456789"
	srv = e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"),
		"--backup-dir", t.TempDir(), "--api-token", api, "--admin-token", admin)
	targets = append(targets, target{Name: "tokens", Base: srv.Base, Token: admin, APIToken: api, Engine: "sqlite", log: srv.Log})

	if os.Getenv("CORTEX_TEST_POSTGRES_URL") != "" || os.Getenv("CI") == "true" {
		srv = e2e.StartServer(t, pgtest.NewDatabase(t))
		targets = append(targets, target{Name: "postgres", Base: srv.Base, Engine: "postgres", log: srv.Log})
	} else {
		t.Log("CORTEX_TEST_POSTGRES_URL is not set: the console is not tried on PostgreSQL")
	}
	runConsole(t, targets)
}

// runConsole runs run.mjs against the targets, and fails the test with
// its output unless it reports ok.
func runConsole(t *testing.T, targets []target) {
	t.Helper()
	tj, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Env = append(os.Environ(), "CHROMIUM="+e2e.Chromium(), "CONSOLE_TARGETS="+string(tj))
	out, err := cmd.CombinedOutput()
	t.Logf("run.mjs:\n%s", out)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		for _, tg := range targets {
			log, _ := os.ReadFile(tg.log)
			t.Logf("server log of %s:\n%s", tg.Name, e2e.Tail(log, 3000))
		}
		t.Fatalf("the console test failed: %v", err)
	}
}
