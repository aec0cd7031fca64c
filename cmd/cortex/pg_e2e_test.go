package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// pgCluster is a private PostgreSQL cluster that a test may stop and start:
// the shared one of scripts/test serves other packages' tests at the same
// time, so a restart test needs its own.
type pgCluster struct {
	dir, url string
	script   string
}

// startPGCluster starts a private cluster with scripts/pg-cluster. It skips
// (fails with CI=true) like pgtest.URL without PostgreSQL, and fails with
// CI=true when the cluster cannot be started.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	pgtest.URL(t)
	script, err := filepath.Abs("../../scripts/pg-cluster")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parents are private to this user, and the server
	// runs as the postgres user when the tests run as root.
	dir, err := os.MkdirTemp("", "cortex-pg-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{dir: dir, script: script}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Logf("stop the private cluster: %v\n%s", err, out)
		}
	})
	out, err := exec.Command(script, "start", dir).Output()
	if err != nil {
		msg := fmt.Sprintf("could not start a private PostgreSQL cluster with scripts/pg-cluster: %v", err)
		if ee, ok := err.(*exec.ExitError); ok {
			msg += "\n" + string(ee.Stderr)
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip("SKIPPED, NO PRIVATE POSTGRESQL: " + msg)
	}
	c.url = strings.TrimSpace(string(out))
	return c
}

// run runs scripts/pg-cluster cmd (down, up) on the cluster.
func (c *pgCluster) run(t *testing.T, cmd string) {
	t.Helper()
	if out, err := exec.Command(c.script, cmd, c.dir).CombinedOutput(); err != nil {
		t.Fatalf("pg-cluster %s: %v\n%s", cmd, err, out)
	}
}

// database creates a database on the cluster and returns its URL.
func (c *pgCluster) database(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(c.url, "/postgres?", "/"+name+"?", 1)
}

// get fetches url and returns the status, content type and body.
func get(t *testing.T, method, url, body string) (int, string, []byte) {
	t.Helper()
	return e2e.Do(t, method, url, body)
}

// outageLoad appends from many clients and sorts every answer: 201
// (acknowledged, kept in the ledger), 503 problem+json (expected while
// PostgreSQL is away), anything else (an error).
type outageLoad struct {
	mu       sync.Mutex
	acks     []e2e.Ack
	errs     []string
	ok, u503 atomic.Int64
}

func (l *outageLoad) run(base string, clients int, sessions []string, stop <-chan struct{}) *sync.WaitGroup {
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	var wg sync.WaitGroup
	var seq atomic.Int64
	for i := range clients {
		wg.Go(func() {
			sid := sessions[i%len(sessions)]
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				body := fmt.Sprintf(`{"state":{"client":%d,"n":%d}}`, i, n)
				res, err := client.Post(base+"/v1/sessions/"+sid+"/snapshots", "application/json", strings.NewReader(body))
				if err != nil {
					l.fail(fmt.Sprintf("append: %v (a hang or a dropped connection)", err))
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case res.StatusCode == http.StatusCreated:
					var r state.AppendResult
					if err := json.Unmarshal(b, &r); err != nil {
						l.fail(fmt.Sprintf("append answer %s: %v", b, err))
						continue
					}
					l.ok.Add(1)
					l.mu.Lock()
					l.acks = append(l.acks, e2e.Ack{Session: sid, Version: r.Version, N: n})
					l.mu.Unlock()
				case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Content-Type") == "application/problem+json":
					var p struct {
						Status int    `json:"status"`
						Detail string `json:"detail"`
					}
					if err := json.Unmarshal(b, &p); err != nil || p.Status != 503 || p.Detail == "" || res.Header.Get("Retry-After") == "" {
						l.fail(fmt.Sprintf("503 without a clear problem (detail, Retry-After): %s", b))
					}
					l.u503.Add(1)
					time.Sleep(20 * time.Millisecond) // as a client honouring Retry-After would, briefly
				default:
					l.fail(fmt.Sprintf("append: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b))
				}
			}
		})
	}
	return &wg
}

func (l *outageLoad) fail(msg string) {
	l.mu.Lock()
	l.errs = append(l.errs, msg)
	l.mu.Unlock()
}

// waitFor polls cond every 50 ms until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyPGAcks checks that the database holds every acknowledged append,
// with its content, and no version twice.
func verifyPGAcks(t *testing.T, url string, acks []e2e.Ack) {
	t.Helper()
	ctx := context.Background()
	st, err := pgstore.Open(ctx, url, pgstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e2e.CheckAcks(t, st, acks)
}

// TestPG_E2E_ServeAdmin checks what `cortex serve --db postgres://…` says
// about its engine: ready, statistics, and for SQLite-only operations what
// to use instead.
func TestPG_E2E_ServeAdmin(t *testing.T) {
	url := pgtest.NewDatabase(t)
	// No --backup-dir: the backup route must still say to use pg_dump.
	srv := e2e.StartServer(t, url)
	if code, _, b := get(t, "GET", srv.Base+"/readyz", ""); code != 200 || !strings.Contains(string(b), `"healthy"`) {
		t.Fatalf("/readyz: %d %s", code, b)
	} else if !strings.Contains(string(b), `"reachable"`) || !strings.Contains(string(b), `"schema"`) {
		// The report is pgstore's own Health (one vocabulary, the SQL in pgstore).
		t.Fatalf("/readyz on PostgreSQL: %s, want pgstore's checks (reachable, schema, …)", b)
	}
	code, _, b := get(t, "GET", srv.Base+"/v1/admin/stats", "")
	var stats struct {
		Engine    string `json:"engine"`
		SizeBytes int64  `json:"size_bytes"`
		Pool      struct {
			MaxConns int32 `json:"max_conns"`
		} `json:"pool"`
	}
	if err := json.Unmarshal(b, &stats); code != 200 || err != nil || stats.Engine != "postgres" || stats.SizeBytes <= 0 || stats.Pool.MaxConns <= 0 {
		t.Fatalf("/v1/admin/stats: %d %s", code, b)
	}
	// Counts on PostgreSQL are its estimates, labelled as such.
	if !strings.Contains(string(b), `"sessions_estimate"`) || !strings.Contains(string(b), `"snapshots_estimate"`) {
		t.Fatalf("/v1/admin/stats on PostgreSQL has no labelled estimates: %s", b)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/admin/checkpoint", `{"mode":"passive"}`, "PostgreSQL checkpoints itself"},
		{"/v1/admin/backup", `{"name":"b.db"}`, "pg_dump"},
		{"/v1/admin/explain", `{"sql":"SELECT 1"}`, "EXPLAIN in psql"},
	} {
		code, ctype, b := get(t, "POST", srv.Base+tc.path, tc.body)
		if code != http.StatusNotImplemented || ctype != "application/problem+json" || !strings.Contains(string(b), tc.want) {
			t.Errorf("POST %s: %d %s %s, want 501 problem+json saying %q", tc.path, code, ctype, b, tc.want)
		}
	}
}

// TestPG_E2E_AppendsAndRestart runs `cortex serve` on a private PostgreSQL
// cluster, drives appends from 32 clients with zero errors, then stops
// PostgreSQL under that load: clients get 503 problem+json answers (no
// hangs, no 500s), /readyz says unavailable; PostgreSQL comes back, the
// server recovers without a restart, and every acknowledged append is in
// the database.
func TestPG_E2E_AppendsAndRestart(t *testing.T) {
	cluster := startPGCluster(t)
	url := cluster.database(t, "cortex_e2e")
	srv := e2e.StartServer(t, url)
	sessions := e2e.MakeSessions(t, srv.Base, 64)
	const clients = 32

	// Steady load: zero errors.
	steady := e2e.NewLoad()
	stop := make(chan struct{})
	wg := steady.Run(srv.Base, clients, sessions, stop)
	waitFor(t, 30*time.Second, "2,000 acknowledged appends", func() bool { return len(steady.Ledger()) >= 2000 })
	close(stop)
	wg.Wait()
	if errs := steady.Errors(); len(errs) > 0 {
		t.Fatalf("%d errors under steady load, first: %v", len(errs), errs[0])
	}
	t.Logf("steady load: %d appends acknowledged, 0 errors", len(steady.Ledger()))

	// Load through a PostgreSQL outage.
	var l outageLoad
	stop = make(chan struct{})
	wg = l.run(srv.Base, clients, sessions, stop)
	waitFor(t, 30*time.Second, "appends before the outage", func() bool { return l.ok.Load() >= 500 })
	cluster.run(t, "down")
	waitFor(t, 30*time.Second, "503 answers while PostgreSQL is down", func() bool { return l.u503.Load() >= 50 })
	if code, ctype, b := get(t, "GET", srv.Base+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while PostgreSQL is down: %d %s %s, want 503", code, ctype, b)
	}
	okDown := l.ok.Load()
	cluster.run(t, "up")
	waitFor(t, 60*time.Second, "acknowledged appends after PostgreSQL is back", func() bool { return l.ok.Load() >= okDown+500 })
	close(stop)
	wg.Wait()
	if code, _, b := get(t, "GET", srv.Base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz after recovery: %d %s", code, b)
	}
	t.Logf("outage load: %d acknowledged, %d answered 503, %d other answers", l.ok.Load(), l.u503.Load(), len(l.errs))
	if len(l.errs) > 0 {
		t.Fatalf("%d answers other than 201 and 503 problem+json; first: %s", len(l.errs), l.errs[0])
	}
	verifyPGAcks(t, url, append(steady.Ledger(), l.acks...))
}

// TestPG_E2E_JanitorSlicesReported: on PostgreSQL too the janitor of
// `cortex serve` reclaims a deleted session in paced slices and reports
// them in /metrics (before issue 21 it ran ExpireSessions' chunks back to
// back there, and the slice and reclaim counters stayed at 0).
func TestPG_E2E_JanitorSlicesReported(t *testing.T) {
	url := pgtest.NewDatabase(t)
	srv := e2e.StartServer(t, url, "--janitor-interval", "200ms")
	if code, _, b := get(t, "POST", srv.Base+"/v1/sessions", `{"id":"big"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	const n = 300
	for i := 0; i < n; i += 100 {
		var items []string
		for j := 0; j < 100; j++ {
			items = append(items, fmt.Sprintf(`{"session_id":"big","state":%d}`, i+j))
		}
		if code, _, b := get(t, "POST", srv.Base+"/v1/snapshots:batch", `{"items":[`+strings.Join(items, ",")+`]}`); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("batch: %d %s", code, b)
		}
	}
	if code, _, b := get(t, "DELETE", srv.Base+"/v1/sessions/big", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, b)
	}
	metric := func(body, name string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return f
			}
		}
		return 0
	}
	// The janitor's passes come every 200 ms: wait for the one that
	// reclaims the session (bounded by the test's deadline, not a guess
	// of how long it takes).
	end := time.Now().Add(5 * time.Minute)
	if dl, ok := t.Deadline(); ok && dl.Add(-30*time.Second).Before(end) {
		end = dl.Add(-30 * time.Second)
	}
	for {
		_, _, b := get(t, "GET", srv.Base+"/metrics", "")
		reclaimed, slices := metric(string(b), "cortex_janitor_reclaimed_snapshots_total"), metric(string(b), "cortex_janitor_slices_total")
		if reclaimed >= n {
			if slices < 1 || metric(string(b), "cortex_janitor_writer_seconds_total") <= 0 {
				t.Fatalf("reclaimed %v snapshots in %v slices, writer seconds %v: want the slices and their time reported",
					reclaimed, slices, metric(string(b), "cortex_janitor_writer_seconds_total"))
			}
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the janitor never reported the deleted session's %d snapshots reclaimed (reclaimed %v, slices %v)", n, reclaimed, slices)
		}
		time.Sleep(50 * time.Millisecond) // polling the metrics
	}
}
