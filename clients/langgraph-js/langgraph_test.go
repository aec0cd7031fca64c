// Package langgraphjs_test runs LangGraph's checkpointer conformance suite
// (@langchain/langgraph-checkpoint-validation 1.1.1, unmodified, all 718
// tests), its opt-in getDeltaChannelHistory tests and the package's graph
// tests against CortexSaver on a real
// `cortex serve`, on a SQLite file and on PostgreSQL, with vitest. Set up
// with `npm ci` in this folder; without node or the npm packages the test
// skips, or fails when CI=true.
package langgraphjs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

const token = "langgraph-js-test-token-0123456789"

// validationTests is the number of tests of the validation suite 1.1.1.
const validationTests = 718

func need(t *testing.T) {
	t.Helper()
	e2e.NeedNode(t, "LangGraph checkpointer test", "clients/langgraph-js", []string{"node"},
		"vitest", "typescript", "@langchain/langgraph-checkpoint-validation", "@langchain/langgraph")
}

var (
	buildOnce sync.Once
	buildErr  error
)

// build type-checks the saver and the TypeScript client's sources it
// imports (tsconfig.check.json), once per run. Neither the check nor vitest
// (vitest.config.mjs) reads ../typescript/dist, which the client's own
// test may be rebuilding at the same time.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		tsc := filepath.Join("node_modules", "typescript", "bin", "tsc")
		if out, err := exec.CommandContext(ctx, "node", tsc, "-p", "tsconfig.check.json").CombinedOutput(); err != nil {
			buildErr = &buildError{"tsconfig.check.json", err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

type buildError struct {
	project string
	err     error
	out     []byte
}

func (e *buildError) Error() string {
	return "tsc -p " + e.project + ": " + e.err.Error() + "\n" + string(e.out)
}

// report is the part of vitest's JSON report the test reads.
type report struct {
	NumTotalTests   int `json:"numTotalTests"`
	NumPassedTests  int `json:"numPassedTests"`
	NumFailedTests  int `json:"numFailedTests"`
	NumPendingTests int `json:"numPendingTests"`
	TestResults     []struct {
		Name             string `json:"name"`
		AssertionResults []struct {
			Status   string `json:"status"`
			FullName string `json:"fullName"`
		} `json:"assertionResults"`
	} `json:"testResults"`
}

// runSuite runs vitest against the server at base and checks that every
// test passed, the validation suite's 718 included.
func runSuite(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	vitest := filepath.Join("node_modules", "vitest", "vitest.mjs")
	cmd := exec.CommandContext(ctx, "node", vitest, "run", "--globals", "--reporter=default", "--reporter=json", "--outputFile="+reportPath)
	cmd.Env = append(os.Environ(), "CORTEX_URL="+base, "CORTEX_TOKEN="+token, "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vitest against %s: %v\n%s", base, err, e2e.Tail(out, 20000))
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("vitest report: %v\n%s", err, e2e.Tail(out, 4000))
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("vitest report: %v", err)
	}
	validated := 0
	for _, f := range r.TestResults {
		if !strings.HasSuffix(f.Name, "validation.test.ts") {
			continue
		}
		for _, a := range f.AssertionResults {
			if a.Status != "passed" {
				t.Errorf("validation test %q: %s", a.FullName, a.Status)
				continue
			}
			validated++
		}
	}
	if r.NumFailedTests != 0 || r.NumPendingTests != 0 || r.NumPassedTests != r.NumTotalTests {
		t.Errorf("vitest: %d tests, %d passed, %d failed, %d skipped", r.NumTotalTests, r.NumPassedTests, r.NumFailedTests, r.NumPendingTests)
	}
	if validated != validationTests {
		t.Errorf("the validation suite passed %d tests, want all %d", validated, validationTests)
	}
	t.Logf("vitest: %d tests passed (%d of the validation suite)", r.NumPassedTests, validated)
}

func TestLangGraphSuiteSQLite(t *testing.T) {
	need(t)
	build(t)
	srv := e2e.StartServer(t, filepath.Join(t.TempDir(), "lg.db"), "--api-token", token)
	runSuite(t, srv.Base)
}

func TestLangGraphSuitePostgres(t *testing.T) {
	need(t)
	db := pgtest.NewDatabase(t)
	build(t)
	srv := e2e.StartServer(t, db, "--api-token", token)
	runSuite(t, srv.Base)
}
