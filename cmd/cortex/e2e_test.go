package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// The end-to-end tests build the cortex binary, run `cortex serve` on a free
// port and drive it over HTTP. They take some seconds; -short skips them.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// cortexBinary builds the binary once per test run.
func cortexBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "cortex-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "cortex")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is a running `cortex serve`.
type server struct {
	cmd  *exec.Cmd
	base string
	log  string
	done chan error
}

// startServer runs cortex serve on db and waits until /healthz answers.
func startServer(t *testing.T, db string, args ...string) *server {
	t.Helper()
	bin := cortexBinary(t)
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--db", db, "--addr", addr, "--log-format", "json"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, base: "http://" + addr, log: logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cortex serve exited early: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cortex serve did not answer /healthz within 20s\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for the server to exit and returns its exit code.
func (s *server) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		<-s.done
		b, _ := os.ReadFile(s.log)
		t.Fatalf("cortex serve did not exit within %v\n%s", timeout, tail(b, 4000))
	}
	return s.cmd.ProcessState.ExitCode()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ack is one acknowledged append.
type ack struct {
	session string
	version int64
	n       int64 // the client's sequence number, in the state
}

// load runs clients that append until stop is closed; client i appends to
// session sessions[i%len(sessions)]. It returns every acknowledged append
// and the errors seen.
type load struct {
	mu     sync.Mutex
	acks   []ack
	errs   []error
	client *http.Client
}

func newLoad() *load {
	return &load{client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 0},
	}}
}

func (l *load) run(base string, clients int, sessions []string, stop <-chan struct{}) *sync.WaitGroup {
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
				body := fmt.Sprintf(`{"state":{"client":%d,"n":%d},"metadata":{"n":%d}}`, i, n, n)
				res, err := l.client.Post(base+"/v1/sessions/"+sid+"/snapshots", "application/json", strings.NewReader(body))
				if err != nil {
					l.fail(err)
					return // a refused connection: the server is going away
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					l.fail(fmt.Errorf("append: %d %s", res.StatusCode, b))
					continue
				}
				var r state.AppendResult
				if err := json.Unmarshal(b, &r); err != nil {
					l.fail(fmt.Errorf("append answer %s: %v", b, err))
					continue
				}
				l.mu.Lock()
				l.acks = append(l.acks, ack{sid, r.Version, n})
				l.mu.Unlock()
			}
		})
	}
	return &wg
}

func (l *load) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// mustDo sends a JSON request and fails the test on an unexpected status.
func mustDo(t *testing.T, method, url, body string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, res.StatusCode, b, want)
	}
	return b
}

// makeSessions creates n sessions over HTTP.
func makeSessions(t *testing.T, base string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-%d", i)
		mustDo(t, "PUT", base+"/v1/sessions/"+ids[i], "", http.StatusCreated)
	}
	return ids
}

// verifyAcks opens the database file directly (after the server is gone)
// and checks that it is intact and holds every acknowledged append, with
// its content, and no gaps.
func verifyAcks(t *testing.T, dbPath string, acks []ack) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, dbPath, sqlitestore.Config{})
	if err != nil {
		t.Fatalf("reopen %s: %v", dbPath, err)
	}
	defer st.Close()
	res, err := st.DB().IntegrityCheck(ctx, sqlitedb.IntegrityFull)
	if err != nil || !res.OK {
		t.Fatalf("integrity check: %v %v", err, res.Problems)
	}
	seen := map[string]map[int64]bool{}
	for _, a := range acks {
		if seen[a.session] == nil {
			seen[a.session] = map[int64]bool{}
		}
		if seen[a.session][a.version] {
			t.Fatalf("version %d of %s acknowledged twice", a.version, a.session)
		}
		seen[a.session][a.version] = true
		snap, err := st.GetSnapshot(ctx, a.session, a.version)
		if err != nil {
			t.Fatalf("acknowledged %s version %d is missing: %v", a.session, a.version, err)
		}
		var got struct{ N int64 }
		if err := json.Unmarshal(snap.State, &got); err != nil || got.N != a.n {
			t.Fatalf("%s version %d holds %s, want n=%d", a.session, a.version, snap.State, a.n)
		}
	}
	for sid, vs := range seen {
		sess, err := st.GetSession(ctx, sid)
		if err != nil {
			t.Fatalf("session %s: %v", sid, err)
		}
		if sess.Version < int64(len(vs)) || sess.SnapshotCount != sess.Version {
			t.Fatalf("session %s: version %d, %d snapshots, %d acknowledged: gaps or losses", sid, sess.Version, sess.SnapshotCount, len(vs))
		}
	}
}

func TestE2E_QuickStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cortex.db")
	s := startServer(t, db, "--backup-dir", filepath.Join(dir, "backups"))
	var sess state.Session
	if err := json.Unmarshal(mustDo(t, "POST", s.base+"/v1/sessions", `{"metadata":{"user":"ada"}}`, 201), &sess); err != nil {
		t.Fatal(err)
	}
	mustDo(t, "POST", s.base+"/v1/sessions/"+sess.ID+"/snapshots", `{"state":{"step":1}}`, 201)
	b := mustDo(t, "GET", s.base+"/v1/sessions/"+sess.ID+"/snapshots/latest", "", 200)
	if !bytes.Contains(b, []byte(`"step":1`)) {
		t.Fatalf("latest: %s", b)
	}
	mustDo(t, "GET", s.base+"/readyz", "", 200)
	mustDo(t, "GET", s.base+"/v1/admin/stats", "", 200)
	mustDo(t, "POST", s.base+"/v1/admin/checkpoint", `{"mode":"passive"}`, 200)
	mustDo(t, "POST", s.base+"/v1/admin/backup", `{"name":"one.db"}`, 201)
	mustDo(t, "POST", s.base+"/v1/admin/backup", `{"name":"../one.db"}`, 400)
	if m := mustDo(t, "GET", s.base+"/metrics", "", 200); !bytes.Contains(m, []byte("cortex_writer_commits_total")) {
		t.Fatal("metrics lack cortex_writer_commits_total")
	}

	// The CLI works on the file while the server runs; restore refuses.
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"stats", "--db", db, "--json"}, &out, &errOut); err != nil {
		t.Fatalf("stats: %v %s", err, errOut.String())
	}
	var st sqlitedb.Stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.PageCount == 0 {
		t.Fatalf("stats --json: %v %s", err, out.String())
	}
	err := run(t.Context(), []string{"restore", "--db", db, "--from", filepath.Join(dir, "backups", "one.db")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore under a running server: %v, want an in-use refusal", err)
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestE2E_ConcurrentAppends: 64 clients append for about 3 seconds with
// zero errors, and every acknowledged version is there afterwards.
func TestE2E_ConcurrentAppends(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	s := startServer(t, db)
	// 48 sessions: most clients have their own, some share one, so
	// concurrent appends to a session are covered too.
	sessions := makeSessions(t, s.base, 48)
	l := newLoad()
	stop := make(chan struct{})
	wg := l.run(s.base, 64, sessions, stop)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	if len(l.errs) > 0 {
		t.Fatalf("%d errors under load; first: %v", len(l.errs), l.errs[0])
	}
	if len(l.acks) == 0 {
		t.Fatal("no append was acknowledged")
	}
	t.Logf("%d appends acknowledged by 64 clients", len(l.acks))
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	verifyAcks(t, db, l.acks)
}

// TestE2E_SIGTERMDuringLoad: a graceful shutdown under load loses nothing
// acknowledged and exits 0.
func TestE2E_SIGTERMDuringLoad(t *testing.T) {
	testSignalDuringLoad(t, syscall.SIGTERM)
}

// TestE2E_SIGKILLDuringLoad: a killed server loses nothing acknowledged;
// the reopened database is intact.
func TestE2E_SIGKILLDuringLoad(t *testing.T) {
	testSignalDuringLoad(t, syscall.SIGKILL)
}

func testSignalDuringLoad(t *testing.T, sig syscall.Signal) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	s := startServer(t, db)
	sessions := makeSessions(t, s.base, 16)
	l := newLoad()
	stop := make(chan struct{})
	wg := l.run(s.base, 32, sessions, stop)
	time.Sleep(1500 * time.Millisecond)
	s.cmd.Process.Signal(sig)
	code := s.wait(t, 30*time.Second)
	close(stop)
	wg.Wait()
	if sig == syscall.SIGTERM && code != 0 {
		b, _ := os.ReadFile(s.log)
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, tail(b, 4000))
	}
	for _, err := range l.errs {
		// Only connection failures are allowed: the server went away. An
		// HTTP error answer would be a bug.
		if strings.HasPrefix(err.Error(), "append") {
			t.Fatalf("error answer during %v: %v", sig, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") {
			t.Logf("client error during %v: %v", sig, err)
		}
	}
	if len(l.acks) == 0 {
		t.Fatal("no append was acknowledged before the signal")
	}
	t.Logf("%d appends acknowledged before %v", len(l.acks), sig)
	verifyAcks(t, db, l.acks)
}

// TestE2E_TokensFromEnvAndScheduledBackups: tokens come from the CORTEX_
// environment, and scheduled backups keep --backup-keep files.
func TestE2E_TokensFromEnvAndScheduledBackups(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "bk")
	t.Setenv("CORTEX_API_TOKEN", "t0ken")
	t.Setenv("CORTEX_BACKUP_KEEP", "2")
	s := startServer(t, filepath.Join(dir, "cortex.db"), "--backup-dir", backups, "--backup-interval", "150ms")
	mustDo(t, "GET", s.base+"/v1/sessions", "", http.StatusUnauthorized)
	req, _ := http.NewRequest("GET", s.base+"/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("with the env token: %v %v", res, err)
	}
	res.Body.Close()
	countScheduled := func() int {
		entries, _ := os.ReadDir(backups)
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), scheduledPrefix) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(s.log)
		if bytes.Count(b, []byte(`"msg":"scheduled backup"`)) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 scheduled backups after 20s\n%s", tail(b, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
	// Each backup is followed by its pruning before the scheduler stops.
	if n := countScheduled(); n != 2 {
		t.Fatalf("%d scheduled backups kept, want 2", n)
	}
}
