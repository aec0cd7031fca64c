package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// testOps serves httpapi.Ops with a real sqlitedb.DB, the way cmd/cortex
// does, so the admin routes run against a real database file.
type testOps struct{ db *sqlitedb.DB }

func (o testOps) Stats(ctx context.Context) (any, error) { return o.db.Stats(ctx) }
func (o testOps) Health(ctx context.Context, integrity string) (httpapi.HealthStatus, any) {
	h := o.db.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityMode(integrity)})
	return httpapi.HealthStatus(h.Status), h
}
func (o testOps) Checkpoint(ctx context.Context, mode string) (any, error) {
	return o.db.Checkpoint(ctx, sqlitedb.CheckpointMode(mode))
}
func (o testOps) Backup(ctx context.Context, dest string) (any, error) {
	return o.db.Backup(ctx, dest, nil)
}
func (o testOps) Explain(ctx context.Context, sql string) (any, error) {
	plan, err := o.db.Explain(ctx, sql)
	if errors.Is(err, sqlitedb.ErrNotReadOnly) {
		return nil, state.Invalid("sql", "%v", err)
	}
	if code, ok := sqlitedb.CodeOf(err); ok && code&0xff == 1 { // SQLITE_ERROR, as cmd/cortex's ops
		return nil, state.Invalid("sql", "%v", err)
	}
	return plan, err
}

// StartIntegrity runs verify jobs so slowly that they stay running until
// cancelled, whatever the machine's speed: tests see a running job.
func (o testOps) StartIntegrity(ctx context.Context, mode string) (string, any, error) {
	job, err := o.db.StartIntegrity(sqlitedb.IntegrityMode(mode), sqlitedb.VerifyConfig{SliceTime: 1, Duty: 1e-9})
	if errors.Is(err, sqlitedb.ErrJobRunning) {
		return "", nil, fmt.Errorf("%w: %w", httpapi.ErrJobRunning, err)
	}
	return job.ID, job, err
}
func (o testOps) IntegrityJob(ctx context.Context, id string) (any, bool) {
	return o.db.IntegrityJobByID(id)
}
func (o testOps) CancelIntegrity(ctx context.Context, id string) (any, bool) {
	return o.db.CancelIntegrityJob(id)
}

// env is a server on a fresh database file.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *sqlitestore.Store
	cfg   httpapi.Config
}

// newEnv starts a Server on a real SQLite file in t.TempDir(); edit, when
// not nil, adjusts the Config.
func newEnv(t *testing.T, edit func(*httpapi.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "cortex.db"), sqlitestore.Config{
		DB:      sqlitedb.Config{Readers: 4},
		Options: state.Options{MaxStateBytes: 4096},
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	reg := prometheus.NewRegistry()
	cfg := httpapi.Config{
		Store:         st,
		Ops:           testOps{st.DB()},
		MaxStateBytes: 4096,
		BackupDir:     filepath.Join(dir, "backups"),
		Registry:      reg,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := httpapi.New(cfg)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	srv := httptest.NewServer(apitest.Middleware(t, s))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: st, cfg: cfg}
}

// resp is an answer read in full.
type resp struct {
	*http.Response
	body []byte
}

// do sends a request; body is sent as application/json unless a
// Content-Type is among hdr ("Name: value" strings).
func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(strings.TrimSpace(k), "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{res, b}
}

// want checks the status, and that an error answer is a problem document.
func (r resp) want(t *testing.T, status int) resp {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if status >= 400 {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: error Content-Type %q, want application/problem+json", r.Request.Method, r.Request.URL.Path, ct)
		}
		var p httpapi.Problem
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("problem body %s: %v", r.body, err)
		}
		if p.Type == "" || p.Title == "" || p.Status != status || p.Detail == "" {
			t.Fatalf("problem %+v: want type, title, status %d and detail", p, status)
		}
	}
	return r
}

// decode unmarshals the body into v.
func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem returns the body as a Problem.
func (r resp) problem(t *testing.T) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	r.decode(t, &p)
	return p
}

// mustSession creates a session with id.
func (e *env) mustSession(id string) {
	e.t.Helper()
	e.do("PUT", "/v1/sessions/"+id, "").want(e.t, http.StatusCreated)
}

// mustAppend appends a state and returns the version.
func (e *env) mustAppend(id, stateJSON string) int64 {
	e.t.Helper()
	var r state.AppendResult
	e.do("POST", "/v1/sessions/"+id+"/snapshots", `{"state":`+stateJSON+`}`).want(e.t, http.StatusCreated).decode(e.t, &r)
	return r.Version
}

// latestVersion reads a session's version.
func (e *env) latestVersion(id string) int64 {
	e.t.Helper()
	var s state.Session
	e.do("GET", "/v1/sessions/"+id, "").want(e.t, http.StatusOK).decode(e.t, &s)
	return s.Version
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// String is the body as text.
func (r resp) String() string { return string(r.body) }
