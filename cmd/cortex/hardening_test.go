package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/internal/e2e"
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
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Try:") {
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
		res, err := http.DefaultClient.Do(req)
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
