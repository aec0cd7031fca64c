package faulttest

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/state"
)

// corpusCase is one bad request of testdata/malformed (see its README).
type corpusCase struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Status  int               `json:"status"`
	Field   string            `json:"field"`
}

// TestCorpus_Malformed sends every request of the malformed-request corpus
// (testdata/malformed/*.json) to the real `cortex serve`, over a real
// SQLite file holding session s with one snapshot: each gets its expected
// status and, being an error, a problem+json document with a detail (and
// the expected field); afterwards session s is as it was and no other
// session exists.
func TestCorpus_Malformed(t *testing.T) {
	files, err := filepath.Glob("../../testdata/malformed/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	dir := t.TempDir()
	s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--max-state-bytes", "4096", "--backup-dir", filepath.Join(dir, "backups"))
	e2e.MustDo(t, "PUT", s.Base+"/v1/sessions/s", `{"metadata":{"k":"v"}}`, 201)
	e2e.MustDo(t, "POST", s.Base+"/v1/sessions/s/snapshots", `{"state":"first"}`, 201)
	client := checkedClient(t, 10*time.Second)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []corpusCase
		if err := json.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			n++
			t.Run(strings.TrimSuffix(filepath.Base(f), ".json")+"/"+c.Name, func(t *testing.T) {
				var body io.Reader
				if c.Body != "" {
					body = strings.NewReader(c.Body)
				}
				req, err := http.NewRequest(c.Method, s.Base+c.Path, body)
				if err != nil {
					t.Fatal(err)
				}
				if c.Body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for k, v := range c.Headers {
					if v == "" {
						req.Header.Del(k)
					} else {
						req.Header.Set(k, v)
					}
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				rb, _ := io.ReadAll(res.Body)
				if res.StatusCode != c.Status {
					t.Fatalf("%d %.300s, want %d", res.StatusCode, rb, c.Status)
				}
				var p httpapi.Problem
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("content type %q, want application/problem+json", ct)
				}
				if err := json.Unmarshal(rb, &p); err != nil || p.Status != c.Status || p.Title == "" || p.Detail == "" && c.Status != 404 && c.Status != 405 {
					t.Fatalf("problem document %s (%v)", rb, err)
				}
				if c.Field != "" && p.Field != c.Field {
					t.Fatalf("problem field %q, want %q: %s", p.Field, c.Field, rb)
				}
			})
		}
	}
	t.Logf("%d malformed requests from %d files", n, len(files))
	var snap state.Snapshot
	if err := json.Unmarshal(e2e.MustDo(t, "GET", s.Base+"/v1/sessions/s/snapshots/latest", "", 200), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Version != 1 || string(snap.State) != `"first"` {
		t.Fatalf("the corpus changed session s: %+v", snap)
	}
	var list struct{ Sessions []state.Session }
	if err := json.Unmarshal(e2e.MustDo(t, "GET", s.Base+"/v1/sessions", "", 200), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 1 || string(list.Sessions[0].Metadata) != `{"k":"v"}` || list.Sessions[0].ExpiresAt != nil {
		t.Fatalf("the corpus changed the sessions: %+v", list.Sessions)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "backups")); len(entries) != 0 {
		t.Fatalf("the corpus made backups: %v", entries)
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
