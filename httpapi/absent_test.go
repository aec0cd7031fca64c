package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
	"github.com/cortex-db/cortex/state/statetest"
)

// newClockEnv is newEnv with the store on the clock c.
func newClockEnv(t *testing.T, c *statetest.Clock) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "cortex.db"), sqlitestore.Config{
		Options: state.Options{MaxStateBytes: 4096, Now: c.Now},
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := httpapi.Config{Store: st, Ops: testOps{st.DB()}, MaxStateBytes: 4096, Registry: prometheus.NewRegistry()}
	s, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, cfg: cfg}
	e.srv = httptest.NewServer(apitest.Middleware(t, s))
	t.Cleanup(e.srv.Close)
	return e
}

// gone checks that every route answers 404 for id, and that the list
// leaves it out.
func (e *env) gone(t *testing.T, id string) {
	t.Helper()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/sessions/" + id, ""},
		{"POST", "/v1/sessions/" + id + "/touch", ""},
		{"POST", "/v1/sessions/" + id + "/snapshots", `{"state":1}`},
		{"GET", "/v1/sessions/" + id + "/snapshots/latest", ""},
		{"GET", "/v1/sessions/" + id + "/snapshots/1", ""},
		{"GET", "/v1/sessions/" + id + "/snapshots", ""},
		{"POST", "/v1/sessions/" + id + "/fork", `{"new_id":"` + id + `-copy"}`},
		{"POST", "/v1/snapshots:batch", `{"items":[{"session_id":"` + id + `","state":1}]}`},
		{"DELETE", "/v1/sessions/" + id, ""},
	} {
		if got := e.do(r.method, r.path, r.body); got.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s: %d, want 404: %s", r.method, r.path, got.StatusCode, got)
		}
	}
	if list := e.do("GET", "/v1/sessions", "").want(t, http.StatusOK).String(); strings.Contains(list, `"`+id+`"`) {
		t.Fatalf("list shows %s: %s", id, list)
	}
}

// TestServer_ExpiredAndDeletedAreGone: a session past its TTL answers 404
// on every route at once (no janitor ran), and so does a deleted one; PUT
// and POST with its id create a fresh session (201) with an empty history.
func TestServer_ExpiredAndDeletedAreGone(t *testing.T) {
	c := statetest.NewClock()
	e := newClockEnv(t, c)
	for _, id := range []string{"e", "p"} {
		e.do("PUT", "/v1/sessions/"+id, `{"ttl_seconds":60}`).want(t, http.StatusCreated)
		e.mustAppend(id, `{"old":true}`)
	}
	e.mustSession("d")
	e.mustAppend("d", `{"old":true}`)
	c.Advance(61 * time.Second)
	e.gone(t, "e")
	e.do("PUT", "/v1/sessions/p", `{"metadata":{"new":true}}`).want(t, http.StatusCreated)
	e.do("GET", "/v1/sessions/p/snapshots/latest", "").want(t, http.StatusNotFound)
	e.do("POST", "/v1/sessions", `{"id":"e"}`).want(t, http.StatusCreated)
	if v := e.mustAppend("e", `{"new":true}`); v != 1 {
		t.Fatalf("first append to the new e: version %d, want 1", v)
	}

	e.do("DELETE", "/v1/sessions/d", "").want(t, http.StatusNoContent)
	e.gone(t, "d")
	e.do("PUT", "/v1/sessions/d", "").want(t, http.StatusCreated)
	if h := e.do("GET", "/v1/sessions/d/snapshots", "").want(t, http.StatusOK).String(); strings.Contains(h, `"version":1`) {
		t.Fatalf("history of the new d shows the old one's: %s", h)
	}
}
