package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/sqlitestore"
)

// TestServe_TokenFiles: --api-token-file and --admin-token-file (and
// their variables) read the tokens from files, one trailing newline
// ignored; a token and a token file for one role are refused.
func TestServe_TokenFiles(t *testing.T) {
	withEnv(t, nil)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	api, admin := write("api", "api-token-0123456789\n"), write("admin", "admin-token-0123456789\r\n")
	empty, spaced := write("empty", "\n"), write("spaced", "two words\n")

	// Refusals: both for one role (flag or variable), an empty file, a
	// token no client can send, a missing file.
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--api-token", "x0123456789abcdef", "--api-token-file", api}, nil, "--api-token-file"},
		{[]string{"--admin-token-file", admin}, map[string]string{"CORTEX_ADMIN_TOKEN": "y0123456789abcdef"}, "--admin-token"},
		{nil, map[string]string{"CORTEX_API_TOKEN": "x0123456789abcdef", "CORTEX_API_TOKEN_FILE": api}, "--api-token"},
		{[]string{"--api-token-file", empty}, nil, "empty"},
		{[]string{"--api-token-file", spaced}, nil, "--api-token"},
		{[]string{"--admin-token-file", filepath.Join(dir, "missing")}, nil, "--admin-token-file"},
	} {
		withEnv(t, c.env)
		db := filepath.Join(t.TempDir(), "c.db")
		var out, errOut bytes.Buffer
		err := run(t.Context(), append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, c.args...), &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), c.want) || !strings.Contains(errorText(err), "Try:") {
			t.Errorf("serve %q env %v: %v; want a usage error naming %s", c.args, c.env, err, c.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("serve %q: a refused serve created the database", c.args)
		}
	}

	// The tokens from the files guard the routes: the admin one from the
	// variable, the API one from the flag.
	t.Setenv("CORTEX_ADMIN_TOKEN_FILE", admin)
	s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--api-token-file", api)
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/v1/sessions", "", http.StatusUnauthorized},
		{"/v1/sessions", "api-token-0123456789", http.StatusOK},
		{"/v1/sessions", "api-token-0123456789\n", http.StatusOK}, // trimmed by the client's header rules
		{"/v1/admin/stats", "api-token-0123456789", http.StatusForbidden},
		{"/v1/admin/stats", "admin-token-0123456789", http.StatusOK},
		{"/v1/admin/stats", "admin-token-0123456789\r", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", s.Base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(c.token))
		}
		res, err := e2e.HTTPClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("GET %s with %q: %d, want %d", c.path, c.token, res.StatusCode, c.want)
		}
	}
}

// TestServe_MetricsAddr: --metrics-addr serves /metrics, /healthz and
// /readyz on a listener of their own, and nothing else there.
func TestServe_MetricsAddr(t *testing.T) {
	maddr := e2e.FreeAddr(t)
	s := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), "--metrics-addr", maddr, "--api-token", "tok-0123456789abcdef")
	base := "http://" + maddr
	if b := e2e.MustDo(t, "GET", base+"/metrics", "", http.StatusOK); !bytes.Contains(b, []byte("# TYPE cortex_writer_commit_duration_seconds histogram")) {
		t.Fatalf("metrics listener: no commit histogram in\n%s", e2e.Tail(b, 2000))
	}
	e2e.MustDo(t, "GET", base+"/healthz", "", http.StatusOK)
	e2e.MustDo(t, "GET", base+"/readyz", "", http.StatusOK)
	e2e.MustDo(t, "GET", base+"/v1/sessions", "", http.StatusNotFound)
	e2e.MustDo(t, "POST", base+"/metrics", "", http.StatusMethodNotAllowed)
	e2e.MustDo(t, "GET", s.Base+"/v1/sessions", "", http.StatusUnauthorized)
}

var inflightRounds = flag.Int("inflight.rounds", 1, "TestServe_InflightBudgetBoundsRSS: pages each of the 64 clients reads")

var inflightCompare = flag.Bool("inflight.compare", false, "TestServe_InflightBudgetBoundsRSS also measures the server without a budget (--max-inflight-bytes 0), for BENCHMARKS.md")

// TestServe_InflightBudgetBoundsRSS: 64 clients reading the largest page
// the API allows (history with states: 16 states of ~1 MiB, the 16 MiB
// page budget) at once. On the defaults the budget of bytes in flight
// keeps the server's peak RSS (VmHWM) under 1 GiB; every answer is the
// page or a 503 with Retry-After. (Without the budget the peak passes
// 1 GiB: -inflight.compare measures both, see BENCHMARKS.md.)
func TestServe_InflightBudgetBoundsRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("moves gigabytes over loopback")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc for VmHWM")
	}
	runs := [][]string{nil}
	if *inflightCompare {
		runs = append(runs, []string{"--max-inflight-bytes", "0"})
	}
	for _, args := range runs {
		r := largestPagesLoad(t, args...)
		t.Logf("serve %v: unloaded VmHWM %d MiB; under 64 clients VmHWM %d MiB; %d pages, %d 503s",
			args, r.unloaded>>20, r.peak>>20, r.pages, r.busy)
		if args == nil {
			if r.peak >= 1<<30 {
				t.Errorf("peak RSS %d MiB under 64 largest-page readers on the defaults, want under 1 GiB", r.peak>>20)
			}
			if r.pages == 0 {
				t.Error("no page was served")
			}
		}
	}
}

type rssResult struct {
	unloaded, peak int64
	pages, busy    int
}

func largestPagesLoad(t *testing.T, args ...string) rssResult {
	t.Helper()
	t0 := time.Now()
	s := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), args...)
	t.Logf("start: %v", time.Since(t0))
	e2e.MustDo(t, "PUT", s.Base+"/v1/sessions/big", "", http.StatusCreated)
	st := `{"state":"` + strings.Repeat("x", 1_040_000) + `"}`
	for range 17 {
		e2e.MustDo(t, "POST", s.Base+"/v1/sessions/big/snapshots", st, http.StatusCreated)
	}
	t.Logf("filled: %v", time.Since(t0))
	page := s.Base + "/v1/sessions/big/snapshots?include_state=true&limit=1000"
	if b := e2e.MustDo(t, "GET", page, "", http.StatusOK); len(b) < 16_000_000 {
		t.Fatalf("the largest page is %d bytes, want about 16 MiB", len(b))
	}
	var r rssResult
	r.unloaded = vmHWM(t, s.Cmd.Process.Pid)
	t1 := time.Now()
	defer func() { t.Logf("load: %v", time.Since(t1)) }()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			for range *inflightRounds {
				res, err := http.Get(page)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				switch {
				case res.StatusCode == http.StatusOK && n > 16_000_000:
					r.pages++
				case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "":
					r.busy++
				default:
					t.Errorf("GET the largest page: %d, %d bytes", res.StatusCode, n)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	r.peak = vmHWM(t, s.Cmd.Process.Pid)
	return r
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestServe_FileModes: a database another tool made 0644 is warned about
// at start (and SQLite gives its -wal and -shm the same mode); with
// --fix-permissions all three are 0600.
func TestServe_FileModes(t *testing.T) {
	for _, fix := range []bool{false, true} {
		dir := t.TempDir()
		db := filepath.Join(dir, "cortex.db")
		st, err := sqlitestore.Open(t.Context(), db, sqlitestore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(db, 0o644); err != nil {
			t.Fatal(err)
		}
		var args []string
		if fix {
			args = append(args, "--fix-permissions")
		}
		s := e2e.StartServer(t, db, args...)
		e2e.MustDo(t, "PUT", s.Base+"/v1/sessions/m", "", http.StatusCreated)
		logs, _ := os.ReadFile(s.Log)
		warned := bytes.Contains(logs, []byte("can be read by other users"))
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("fix %v: %v", fix, err)
			}
			if got := fi.Mode().Perm(); fix && got != 0o600 {
				t.Errorf("--fix-permissions: %s is %#o, want 0600", p, got)
			}
		}
		if !fix && !warned {
			t.Errorf("no warning for a 0644 database; log:\n%s", logs)
		}
		if fix && warned {
			t.Errorf("--fix-permissions still warned; log:\n%s", logs)
		}
	}
}

// TestServe_GCPercent: cortex serve collects at GOGC=400 under its memory
// limit (the live heap is ~1 MiB, so Go's default of 100 collected every 4
// MiB of garbage, ~22 times per 10,000 appends); GOGC in the environment
// overrides, and without the in-flight budget (no memory limit) Go's
// default stays.
func TestServe_GCPercent(t *testing.T) {
	gogc := func(t *testing.T, args ...string) string {
		t.Helper()
		s := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), args...)
		b := e2e.MustDo(t, "GET", s.Base+"/metrics", "", http.StatusOK)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "go_gc_gogc_percent "); ok {
				return v
			}
		}
		t.Fatalf("no go_gc_gogc_percent in /metrics:\n%s", e2e.Tail(b, 2000))
		return ""
	}
	t.Run("default", func(t *testing.T) {
		t.Setenv("GOGC", "")
		os.Unsetenv("GOGC")
		if got := gogc(t); got != "400" {
			t.Errorf("GOGC under cortex serve = %s, want 400", got)
		}
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv("GOGC", "150")
		if got := gogc(t); got != "150" {
			t.Errorf("GOGC under cortex serve with GOGC=150 = %s, want 150", got)
		}
	})
	t.Run("no budget", func(t *testing.T) {
		t.Setenv("GOGC", "")
		os.Unsetenv("GOGC")
		if got := gogc(t, "--max-inflight-bytes", "0"); got != "100" {
			t.Errorf("GOGC under cortex serve --max-inflight-bytes 0 = %s, want Go's 100", got)
		}
	})
}
