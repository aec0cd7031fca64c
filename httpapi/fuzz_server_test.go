package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// FuzzServer drives the whole HTTP handler, on a real store on a real
// file, with arbitrary methods, paths, headers and bodies, and asserts the
// API's promise for bad input: no answer is a 5xx, nothing panics (a panic
// would be a 500), every 4xx is a problem document (type, title, status,
// detail), a request that is not a success changes nothing in the
// database (every row of every table, compared before and after), and no
// POST or PUT body that is not UTF-8 is taken.
//
// headers is "Name: value" lines. Requests net/http's server would refuse
// before any handler sees them (a method or header name that is not a
// token, a control character in a value, a target that does not parse)
// are skipped: the server answers those itself (docs/limits.md).
func FuzzServer(f *testing.F) {
	for _, s := range []struct{ method, path, headers, body string }{
		{"PUT", "/v1/sessions/s1", "", ""},
		{"POST", "/v1/sessions", "Content-Type: application/json", `{"id":"n1","metadata":{"a":1},"ttl_seconds":60}`},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json\nIf-Match: \"2\"\nIdempotency-Key: k1", `{"state":{"x":1},"metadata":{}}`},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json\nIf-Match: W/\"2\"", `{"state":1}`},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json", `{"State":1}`},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json", `{"state":{"a":1,"a":2}}`},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json", "{\"state\":\"\xff\"}"},
		{"POST", "/v1/snapshots:batch", "Content-Type: application/json", `{"items":[{"session_id":"s1","state":1},{"session_id":"nope","state":2}]}`},
		{"POST", "/v1/snapshots:batch", "Content-Type: application/json", `{"items":[{"session_id":"s2","state":1,"expected_version":0}]}`},
		{"GET", "/v1/sessions/s1/snapshots?limit=2&include_state=true", "", ""},
		{"GET", "/v1/sessions/s1/snapshots/latest", "If-None-Match: \"1\", *", ""},
		{"GET", "/v1/sessions?active_since=2300-01-01T00:00:00Z&limit=1000", "", ""},
		{"GET", "/v1/sessions?cursor=%ff%00", "", ""},
		{"POST", "/v1/sessions/s1/fork", "Content-Type: application/json", `{"new_id":"f1","at_version":1}`},
		{"POST", "/v1/sessions/s1/touch", "Content-Type: text/plain", ""},
		{"DELETE", "/v1/sessions/s2", "Authorization: Bearer a\nAuthorization: Bearer b", ""},
		{"DELETE", "/v1/sessions/..", "", ""},
		{"GET", "/v1//sessions/s1", "", ""},
		{"POST", "/v1/admin/explain", "Content-Type: application/json", `{"sql":"SELECT*FROM sessions"}`},
		{"POST", "/v1/admin/explain", "Content-Type: application/json", `{"sql":"SELECT 1; DELETE FROM sessions"}`},
		{"POST", "/v1/admin/checkpoint", "Content-Type: application/json", `{"mode":"truncate"}`},
		{"GET", "/v1/admin/health?integrity=quick", "", ""},
		{"GET", "/v1/admin/health?0", "", ""},
		{"GET", "/v1/sessions/s1/snapshots/latest?wait=1s&wait=2s", "", ""},
		{"GET", "/healthz?x=1", "", ""},
		{"POST", "/v1/admin/backup", "Content-Type: application/json", `{"name":"../x"}`},
		{"PATCH", "/v1/sessions/s1", "Sec-Fetch-Site: cross-site\nOrigin: http://evil.example", "{}"},
		{"POST", "/v1/sessions/s1/snapshots", "Content-Type: application/json\nSec-Fetch-Site: cross-site", `{"state":1}`},
		{"GET", "/metrics", "", ""},
		{"OPTIONS", "/v1/sessions", "", ""},
	} {
		f.Add(s.method, s.path, s.headers, s.body)
	}
	dir := f.TempDir()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "fuzz.db"), sqlitestore.Config{
		DB:      sqlitedb.Config{Readers: 2},
		Options: state.Options{MaxStateBytes: 4096},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := httpapi.New(httpapi.Config{
		Store: st, Ops: testOps{st.DB()}, MaxStateBytes: 4096,
		BackupDir: filepath.Join(dir, "backups"), Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"s1", "s2"} {
		if _, _, err := st.PutSession(ctx, id, state.SessionInput{ID: id, Metadata: json.RawMessage(`{"k":"v"}`)}); err != nil {
			f.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := st.AppendSnapshot(ctx, "s1", state.AppendInput{State: json.RawMessage(`{"i":` + string(rune('0'+i)) + `}`)}); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, method, path, headers, body string) {
		req := fuzzRequest(method, path, headers, body)
		if req == nil {
			return
		}
		before := dbDigest(t, st.DB())
		w := httptest.NewRecorder()
		apitest.Middleware(t, srv).ServeHTTP(w, req)
		res := w.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s (headers %q, body %q): %d %s", method, path, headers, body, res.StatusCode, w.Body)
		}
		if res.StatusCode >= 400 {
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s %s: %d with Content-Type %q, want a problem: %s", method, path, res.StatusCode, ct, w.Body)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type == "" || p.Title == "" || p.Detail == "" || p.Status != res.StatusCode {
				t.Fatalf("%s %s: %d with problem %s (%v)", method, path, res.StatusCode, w.Body, err)
			}
		}
		if res.StatusCode < 300 && (method == "POST" || method == "PUT") && len(body) > 0 && !utf8.ValidString(body) {
			// (Bodies of the other methods are not read.)
			t.Fatalf("%s %s: %d for a body that is not UTF-8 (%q): it must be refused", method, path, res.StatusCode, body)
		}
		if res.StatusCode >= 300 {
			if after := dbDigest(t, st.DB()); after != before {
				t.Fatalf("%s %s (headers %q, body %q): answered %d, yet the database changed", method, path, headers, body, res.StatusCode)
			}
		}
	})
}

// fuzzRequest builds the request a server would hand its handler, or nil
// for one net/http's server answers by itself.
func fuzzRequest(method, path, headers, body string) *http.Request {
	if !isToken(method) || len(path) == 0 || path[0] != '/' || strings.ContainsAny(path, " \r\n\x00#") {
		return nil
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil
	}
	h := http.Header{}
	host := "localhost"
	for _, line := range strings.Split(headers, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		if !ok || !isToken(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil
		}
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			host = v
			continue
		case "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Te", "Trailer", "Upgrade":
			continue // framing: the server's, not the handler's
		}
		h.Add(k, v)
	}
	req := httptest.NewRequest("GET", "http://localhost/", strings.NewReader(body))
	req.Method, req.URL, req.RequestURI, req.Header, req.Host = method, u, path, h, host
	req.ContentLength = int64(len(body))
	return req
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// dbDigest hashes every row of every table of the database, so that any
// change a request makes, in any table, shows.
func dbDigest(t *testing.T, db *sqlitedb.DB) [32]byte {
	t.Helper()
	var rows []string
	err := db.Read(context.Background(), func(tx *sqlitedb.Tx) error {
		tables, err := column(tx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
		if err != nil {
			return err
		}
		for _, tb := range tables {
			cols, err := column(tx, "SELECT name FROM pragma_table_info(?)", tb)
			if err != nil {
				return err
			}
			q := make([]string, len(cols))
			for i, c := range cols {
				q[i] = `quote("` + strings.ReplaceAll(c, `"`, `""`) + `")`
			}
			r, err := column(tx, `SELECT `+strings.Join(q, "||','||")+` FROM "`+strings.ReplaceAll(tb, `"`, `""`)+`"`)
			if err != nil {
				return err
			}
			sort.Strings(r)
			rows = append(rows, tb+":"+strings.Join(r, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return sha256.Sum256([]byte(strings.Join(rows, "\n\n")))
}

func column(tx *sqlitedb.Tx, q string, args ...any) ([]string, error) {
	r, err := tx.Query(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, r.Err()
}
