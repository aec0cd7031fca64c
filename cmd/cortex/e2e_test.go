package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// The end-to-end tests build the cortex binary, run `cortex serve` on a free
// port and drive it over HTTP (helpers in internal/e2e). They take some
// seconds; -short skips them.

func TestMain(m *testing.M) {
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}

func TestE2E_QuickStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cortex.db")
	s := e2e.StartServer(t, db, "--backup-dir", filepath.Join(dir, "backups"))
	var sess state.Session
	if err := json.Unmarshal(e2e.MustDo(t, "POST", s.Base+"/v1/sessions", `{"metadata":{"user":"ada"}}`, 201), &sess); err != nil {
		t.Fatal(err)
	}
	e2e.MustDo(t, "POST", s.Base+"/v1/sessions/"+sess.ID+"/snapshots", `{"state":{"step":1}}`, 201)
	b := e2e.MustDo(t, "GET", s.Base+"/v1/sessions/"+sess.ID+"/snapshots/latest", "", 200)
	if !bytes.Contains(b, []byte(`"step":1`)) {
		t.Fatalf("latest: %s", b)
	}
	e2e.MustDo(t, "GET", s.Base+"/readyz", "", 200)
	e2e.MustDo(t, "GET", s.Base+"/v1/admin/stats", "", 200)
	e2e.MustDo(t, "POST", s.Base+"/v1/admin/checkpoint", `{"mode":"passive"}`, 200)
	e2e.MustDo(t, "POST", s.Base+"/v1/admin/backup", `{"name":"one.db"}`, 201)
	e2e.MustDo(t, "POST", s.Base+"/v1/admin/backup", `{"name":"../one.db"}`, 400)
	if m := e2e.MustDo(t, "GET", s.Base+"/metrics", "", 200); !bytes.Contains(m, []byte("cortex_writer_commits_total")) {
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
	if err == nil || !strings.Contains(errorText(err), "in use") {
		t.Fatalf("restore under a running server: %v, want an in-use refusal", err)
	}
	// An integrity check of a server's file is the server's job.
	err = run(t.Context(), []string{"health", "--db", db, "--integrity", "quick"}, &out, &errOut)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(errorText(err), "POST /v1/admin/integrity") {
		t.Fatalf("health --integrity under a running server: %v, want exit 3 naming the job route", err)
	}
	if b := e2e.MustDo(t, "POST", s.Base+"/v1/admin/integrity", `{"mode":"quick"}`, 202); !bytes.Contains(b, []byte(`"state":"running"`)) {
		t.Fatalf("integrity job: %s", b)
	}

	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestE2E_ConcurrentAppends: 64 clients append for about 3 seconds with
// zero errors, and every acknowledged version is there afterwards.
func TestE2E_ConcurrentAppends(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	s := e2e.StartServer(t, db)
	// 48 sessions: most clients have their own, some share one, so
	// concurrent appends to a session are covered too.
	sessions := e2e.MakeSessions(t, s.Base, 48)
	l := e2e.NewLoad()
	stop := make(chan struct{})
	wg := l.Run(s.Base, 64, sessions, stop)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	if len(l.Errs) > 0 {
		t.Fatalf("%d errors under load; first: %v", len(l.Errs), l.Errs[0])
	}
	if len(l.Acks) == 0 {
		t.Fatal("no append was acknowledged")
	}
	t.Logf("%d appends acknowledged by 64 clients", len(l.Acks))
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	e2e.VerifyAcks(t, db, l.Acks)
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
	s := e2e.StartServer(t, db)
	sessions := e2e.MakeSessions(t, s.Base, 16)
	l := e2e.NewLoad()
	stop := make(chan struct{})
	wg := l.Run(s.Base, 32, sessions, stop)
	time.Sleep(1500 * time.Millisecond)
	s.Cmd.Process.Signal(sig)
	code := s.Wait(t, 30*time.Second)
	close(stop)
	wg.Wait()
	if sig == syscall.SIGTERM && code != 0 {
		b, _ := os.ReadFile(s.Log)
		t.Fatalf("exit code %d after SIGTERM, want 0\n%s", code, e2e.Tail(b, 4000))
	}
	for _, err := range l.Errs {
		// Only connection failures are allowed: the server went away. An
		// HTTP error answer would be a bug.
		if strings.HasPrefix(err.Error(), "append") {
			t.Fatalf("error answer during %v: %v", sig, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) && !errors.Is(err, io.EOF) && !strings.Contains(errorText(err), "connection") && !strings.Contains(errorText(err), "EOF") {
			t.Logf("client error during %v: %v", sig, err)
		}
	}
	if len(l.Acks) == 0 {
		t.Fatal("no append was acknowledged before the signal")
	}
	t.Logf("%d appends acknowledged before %v", len(l.Acks), sig)
	e2e.VerifyAcks(t, db, l.Acks)
}

// TestE2E_TokensFromEnvAndScheduledBackups: tokens come from the CORTEX_
// environment, and scheduled backups keep --backup-keep files.
func TestE2E_TokensFromEnvAndScheduledBackups(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "bk")
	t.Setenv("CORTEX_API_TOKEN", "t0ken")
	t.Setenv("CORTEX_BACKUP_KEEP", "2")
	s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--backup-dir", backups, "--backup-interval", "150ms")
	e2e.MustDo(t, "GET", s.Base+"/v1/sessions", "", http.StatusUnauthorized)
	req, _ := http.NewRequest("GET", s.Base+"/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	res, err := e2e.HTTPClient(t).Do(req)
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
	s.WaitLog(t, "scheduled backup", 3, 20*time.Second)
	s.Cmd.Process.Signal(syscall.SIGINT)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
	// Each backup is followed by its pruning before the scheduler stops.
	if n := countScheduled(); n != 2 {
		t.Fatalf("%d scheduled backups kept, want 2", n)
	}
}

// TestE2E_DefaultBackupFolder: a server started as the README starts it, with
// a relative --db and no --backup-dir, backs up into the backups folder beside
// the database and answers the file's absolute path.
func TestE2E_DefaultBackupFolder(t *testing.T) {
	e2e.Binary(t) // built from the module, before leaving its folder
	dir := t.TempDir()
	t.Chdir(dir)
	s := e2e.StartServer(t, "data/cortex.db")
	e2e.MustDo(t, "PUT", s.Base+"/v1/sessions/s", `{}`, 201)
	// No folder is made before something is written into it.
	if _, err := os.Stat(filepath.Join(dir, "data", "backups")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("serve made the backups folder before any backup: %v", err)
	}
	b := e2e.MustDo(t, "POST", s.Base+"/v1/admin/backup", `{"name":"b.db"}`, 201)
	var res sqlitedb.BackupResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "data", "backups", "b.db")
	if !filepath.IsAbs(res.Path) || res.Integrity != "ok" {
		t.Fatalf("backup answered %s, want an absolute path and integrity ok", b)
	}
	got, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := os.Stat(want); err != nil || !os.SameFile(got, w) {
		t.Fatalf("backup answered %s, want the file %s (%v)", res.Path, want, err)
	}
}

// A token-less server answers other Host names only when --allow-host
// lists them (DNS rebinding guard), through the real binary.
func TestE2E_AllowHost(t *testing.T) {
	s := e2e.StartServer(t, filepath.Join(t.TempDir(), "c.db"), "--allow-host", "cortex.internal, other")
	for host, want := range map[string]int{"cortex.internal": 200, "other:8080": 200, "rebind.example": 403, "": 200} {
		req, err := http.NewRequest("GET", s.Base+"/v1/sessions", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		res, err := e2e.HTTPClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, res.StatusCode, want)
		}
	}
}

// TestE2E_WALBufferFlag: --wal-buffer=off turns walbuf off, and stats say
// which is in use (default on).
func TestE2E_WALBufferFlag(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"on", `"wal_buffer":"on"`},
		{"off", `"wal_buffer":"off: Config.NoWALBuffer"`},
	} {
		dir := t.TempDir()
		s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--wal-buffer", tc.flag)
		e2e.MustDo(t, "POST", s.Base+"/v1/sessions", `{}`, 201)
		if b := e2e.MustDo(t, "GET", s.Base+"/v1/admin/stats", "", 200); !bytes.Contains(b, []byte(tc.want)) {
			t.Errorf("--wal-buffer=%s: stats lack %s: %s", tc.flag, tc.want, b)
		}
	}
}
