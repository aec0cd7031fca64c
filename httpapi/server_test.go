package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

func TestServer_Sessions(t *testing.T) {
	e := newEnv(t, nil)

	t.Run("CreateGenerated", func(t *testing.T) {
		var s state.Session
		r := e.do("POST", "/v1/sessions", "").want(t, http.StatusCreated)
		r.decode(t, &s)
		if err := state.ValidateID(s.ID); err != nil || s.Version != 0 {
			t.Fatalf("created %+v: %v", s, err)
		}
		if loc := r.Header.Get("Location"); loc != "/v1/sessions/"+s.ID {
			t.Fatalf("Location %q", loc)
		}
	})
	t.Run("CreateWithIDMetadataTTL", func(t *testing.T) {
		var s state.Session
		e.do("POST", "/v1/sessions", `{"id":"a-1","metadata":{"k":"v"},"ttl_seconds":60}`).want(t, http.StatusCreated).decode(t, &s)
		if s.ID != "a-1" || !jsonEqual(s.Metadata, []byte(`{"k":"v"}`)) || s.ExpiresAt == nil {
			t.Fatalf("created %+v", s)
		}
		if !strings.Contains(e.do("GET", "/v1/sessions/a-1", "").want(t, 200).String(), `"ttl_seconds":60`) {
			t.Fatal("ttl_seconds missing from the session")
		}
	})
	t.Run("CreateExists", func(t *testing.T) {
		p := e.do("POST", "/v1/sessions", `{"id":"a-1"}`).want(t, http.StatusConflict).problem(t)
		if p.Detail != `create session: session "a-1": already exists` && !strings.HasSuffix(p.Detail, `session "a-1": already exists`) {
			t.Errorf("409 detail %q: want the domain's words, no SQL", p.Detail)
		}
	})
	t.Run("PutNewThenExisting", func(t *testing.T) {
		e.do("PUT", "/v1/sessions/p.1", `{"metadata":{"n":1}}`).want(t, http.StatusCreated)
		var s state.Session
		e.do("PUT", "/v1/sessions/p.1", `{"metadata":{"n":2}}`).want(t, http.StatusOK).decode(t, &s)
		if !jsonEqual(s.Metadata, []byte(`{"n":2}`)) {
			t.Fatalf("metadata %s", s.Metadata)
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		e.do("GET", "/v1/sessions/nope", "").want(t, http.StatusNotFound)
	})
	t.Run("InvalidID", func(t *testing.T) {
		p := e.do("GET", "/v1/sessions/bad%20id", "").want(t, http.StatusBadRequest).problem(t)
		if p.Field != "id" {
			t.Fatalf("problem field %q, want id", p.Field)
		}
		e.do("PUT", "/v1/sessions/"+strings.Repeat("x", 129), "").want(t, http.StatusBadRequest)
		e.do("POST", "/v1/sessions", `{"id":"a/b"}`).want(t, http.StatusBadRequest)
	})
	t.Run("Touch", func(t *testing.T) {
		var before, after state.Session
		e.do("GET", "/v1/sessions/p.1", "").want(t, 200).decode(t, &before)
		e.do("POST", "/v1/sessions/p.1/touch", "").want(t, http.StatusOK).decode(t, &after)
		if after.LastActive.Before(before.LastActive) {
			t.Fatalf("touch moved last_active back: %v → %v", before.LastActive, after.LastActive)
		}
		e.do("POST", "/v1/sessions/nope/touch", "").want(t, http.StatusNotFound)
	})
	t.Run("Delete", func(t *testing.T) {
		e.mustSession("del")
		e.mustAppend("del", `1`)
		r := e.do("DELETE", "/v1/sessions/del", "").want(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Fatalf("204 with a body: %s", r.body)
		}
		e.do("DELETE", "/v1/sessions/del", "").want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/del/snapshots/latest", "").want(t, http.StatusNotFound)
		// A late append does not resurrect it.
		e.do("POST", "/v1/sessions/del/snapshots", `{"state":2}`).want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/del", "").want(t, http.StatusNotFound)
	})
}

func TestServer_ListSessions(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 5 {
		e.mustSession(fmt.Sprintf("s%d", i))
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		q := url.Values{"limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Sessions   []state.Session `json:"sessions"`
			NextCursor *string         `json:"next_cursor"`
		}
		r := e.do("GET", "/v1/sessions?"+q.Encode(), "").want(t, http.StatusOK)
		r.decode(t, &page)
		pages++
		for _, s := range page.Sessions {
			seen[s.ID] = true
		}
		if page.NextCursor == nil {
			if strings.Contains(string(r.body), "next_cursor") {
				t.Fatalf("last page has next_cursor: %s", r.body)
			}
			break
		}
		cursor = *page.NextCursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("saw %d sessions in %d pages, want 5 in 3", len(seen), pages)
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	var page state.SessionPage
	e.do("GET", "/v1/sessions?active_since="+future, "").want(t, http.StatusOK).decode(t, &page)
	if len(page.Sessions) != 0 {
		t.Fatalf("active_since in the future gave %d sessions", len(page.Sessions))
	}
	if !strings.Contains(e.do("GET", "/v1/sessions?active_since="+future, "").String(), `"sessions":[]`) {
		t.Fatal("an empty page must have sessions: []")
	}
	e.do("GET", "/v1/sessions?limit=0", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions?limit=1001", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions?limit=x", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions?active_since=yesterday", "").want(t, http.StatusBadRequest)
	e.do("GET", "/v1/sessions?cursor=not-a-cursor!", "").want(t, http.StatusBadRequest)
}

func TestServer_Snapshots(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")

	t.Run("Append", func(t *testing.T) {
		r := e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"step":1},"metadata":{"by":"t"}}`).want(t, http.StatusCreated)
		var res map[string]any
		r.decode(t, &res)
		for _, k := range []string{"session_id", "version", "created_at", "size_bytes"} {
			if _, ok := res[k]; !ok {
				t.Fatalf("append answer %s lacks %s", r.body, k)
			}
		}
		if r.Header.Get("ETag") != `"1"` {
			t.Fatalf("ETag %q, want \"1\"", r.Header.Get("ETag"))
		}
		if r.Header.Get("Location") != "/v1/sessions/s/snapshots/1" {
			t.Fatalf("Location %q", r.Header.Get("Location"))
		}
	})
	t.Run("AppendNoSession", func(t *testing.T) {
		e.do("POST", "/v1/sessions/ghost/snapshots", `{"state":1}`).want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/ghost", "").want(t, http.StatusNotFound)
	})
	t.Run("IfMatch", func(t *testing.T) {
		r := e.do("POST", "/v1/sessions/s/snapshots", `{"state":2}`, `If-Match: "1"`).want(t, http.StatusCreated)
		if r.Header.Get("ETag") != `"2"` {
			t.Fatalf("ETag %q", r.Header.Get("ETag"))
		}
		p := e.do("POST", "/v1/sessions/s/snapshots", `{"state":3}`, `If-Match: "1"`).want(t, http.StatusPreconditionFailed).problem(t)
		if p.Expected == nil || *p.Expected != 1 || p.Actual == nil || *p.Actual != 2 {
			t.Fatalf("412 problem %+v: want expected 1, actual 2", p)
		}
		e.do("POST", "/v1/sessions/s/snapshots", `{"state":3}`, `If-Match: banana`).want(t, http.StatusBadRequest)
		if v := e.latestVersion("s"); v != 2 {
			t.Fatalf("version %d after refused appends, want 2", v)
		}
		e.mustSession("fresh")
		e.do("POST", "/v1/sessions/fresh/snapshots", `{"state":1}`, `If-Match: "0"`).want(t, http.StatusCreated)
	})
	t.Run("IdempotencyKey", func(t *testing.T) {
		var a, b state.AppendResult
		e.do("POST", "/v1/sessions/s/snapshots", `{"state":"x"}`, "Idempotency-Key: k-1").want(t, http.StatusCreated).decode(t, &a)
		r := e.do("POST", "/v1/sessions/s/snapshots", `{"state":"x"}`, "Idempotency-Key: k-1").want(t, http.StatusCreated)
		r.decode(t, &b)
		if a.Version != b.Version || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay gave version %d (first %d), Idempotent-Replayed %q", b.Version, a.Version, r.Header.Get("Idempotent-Replayed"))
		}
		if v := e.latestVersion("s"); v != a.Version {
			t.Fatalf("version %d after a replay, want %d", v, a.Version)
		}
		e.do("POST", "/v1/sessions/s/snapshots", `{"state":"x"}`, "Idempotency-Key: "+strings.Repeat("k", 256)).want(t, http.StatusBadRequest)
	})
	t.Run("Latest", func(t *testing.T) {
		v := e.latestVersion("s")
		var snap state.Snapshot
		r := e.do("GET", "/v1/sessions/s/snapshots/latest", "").want(t, http.StatusOK)
		r.decode(t, &snap)
		if snap.Version != v || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, v) || !jsonEqual(snap.State, []byte(`"x"`)) {
			t.Fatalf("latest %+v ETag %q, want version %d", snap, r.Header.Get("ETag"), v)
		}
		e.do("GET", "/v1/sessions/s/snapshots/latest", "", fmt.Sprintf(`If-None-Match: "%d"`, v)).want(t, http.StatusNotModified)
		e.mustSession("empty")
		e.do("GET", "/v1/sessions/empty/snapshots/latest", "").want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/ghost/snapshots/latest", "").want(t, http.StatusNotFound)
	})
	t.Run("Version", func(t *testing.T) {
		var snap state.Snapshot
		r := e.do("GET", "/v1/sessions/s/snapshots/1", "").want(t, http.StatusOK)
		r.decode(t, &snap)
		if snap.Version != 1 || !jsonEqual(snap.State, []byte(`{"step":1}`)) || !jsonEqual(snap.Metadata, []byte(`{"by":"t"}`)) || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("version 1: %s", r.body)
		}
		e.do("GET", "/v1/sessions/s/snapshots/99", "").want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/s/snapshots/0", "").want(t, http.StatusBadRequest)
		e.do("GET", "/v1/sessions/s/snapshots/x", "").want(t, http.StatusBadRequest)
	})
	t.Run("History", func(t *testing.T) {
		v := e.latestVersion("s")
		var got []int64
		cursor := ""
		for range 10 {
			q := "limit=2&include_state=true"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var page state.SnapshotPage
			e.do("GET", "/v1/sessions/s/snapshots?"+q, "").want(t, http.StatusOK).decode(t, &page)
			for _, sn := range page.Snapshots {
				got = append(got, sn.Version)
				if sn.State == nil {
					t.Fatalf("include_state=true gave no state for version %d", sn.Version)
				}
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if int64(len(got)) != v || got[0] != v || got[len(got)-1] != 1 {
			t.Fatalf("history versions %v, want %d down to 1", got, v)
		}
		var page state.SnapshotPage
		r := e.do("GET", "/v1/sessions/s/snapshots?before=2", "").want(t, http.StatusOK)
		r.decode(t, &page)
		if len(page.Snapshots) != 1 || page.Snapshots[0].Version != 1 || page.Snapshots[0].State != nil {
			t.Fatalf("before=2: %s", r.body)
		}
		e.do("GET", "/v1/sessions/ghost/snapshots", "").want(t, http.StatusNotFound)
		e.do("GET", "/v1/sessions/s/snapshots?include_state=maybe", "").want(t, http.StatusBadRequest)
		e.do("GET", "/v1/sessions/s/snapshots?before=-1", "").want(t, http.StatusBadRequest)
		e.do("GET", "/v1/sessions/s/snapshots?limit=5000", "").want(t, http.StatusBadRequest)
	})
	t.Run("Fork", func(t *testing.T) {
		var s state.Session
		e.do("POST", "/v1/sessions/s/fork", `{"new_id":"f","at_version":1}`).want(t, http.StatusCreated).decode(t, &s)
		if s.ID != "f" || s.Version != 1 {
			t.Fatalf("fork %+v", s)
		}
		var snap state.Snapshot
		e.do("GET", "/v1/sessions/f/snapshots/latest", "").want(t, 200).decode(t, &snap)
		if !jsonEqual(snap.State, []byte(`{"step":1}`)) {
			t.Fatalf("forked state %s", snap.State)
		}
		if p := e.do("POST", "/v1/sessions/s/fork", `{"new_id":"f"}`).want(t, http.StatusConflict).problem(t); strings.Contains(p.Detail, "UNIQUE") {
			t.Errorf("fork 409 detail %q names a constraint", p.Detail)
		}
		e.do("POST", "/v1/sessions/s/fork", `{"new_id":"g","at_version":999}`).want(t, http.StatusNotFound)
		e.do("POST", "/v1/sessions/ghost/fork", `{"new_id":"h"}`).want(t, http.StatusNotFound)
		e.do("POST", "/v1/sessions/s/fork", `{"new_id":"bad id"}`).want(t, http.StatusBadRequest)
		e.do("POST", "/v1/sessions/s/fork", "").want(t, http.StatusCreated) // generated id, latest version
	})
}

func TestServer_Batch(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("a")
	e.mustSession("b")
	var res struct {
		Results []state.AppendResult `json:"results"`
	}
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"a","state":1},{"session_id":"b","state":2},{"session_id":"a","state":3}]}`).
		want(t, http.StatusCreated).decode(t, &res)
	if len(res.Results) != 3 || res.Results[0].Version != 1 || res.Results[1].Version != 1 || res.Results[2].Version != 2 {
		t.Fatalf("batch results %+v", res.Results)
	}
	// All or nothing: a missing session fails the batch and appends nothing.
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"a","state":4},{"session_id":"ghost","state":5}]}`).want(t, http.StatusNotFound)
	if v := e.latestVersion("a"); v != 2 {
		t.Fatalf("a at version %d after a failed batch, want 2", v)
	}
	// A version conflict without If-Match is 409.
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"a","state":4,"expected_version":1}]}`).want(t, http.StatusConflict)
	// The colon may come escaped.
	e.do("POST", "/v1/snapshots%3Abatch", `{"items":[{"session_id":"b","state":6}]}`).want(t, http.StatusCreated)

	e.do("POST", "/v1/snapshots:batch", `{"items":[]}`).want(t, http.StatusBadRequest)
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"a"}]}`).want(t, http.StatusBadRequest)
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"a b","state":1}]}`).want(t, http.StatusBadRequest)
	items := strings.Repeat(`{"session_id":"a","state":1},`, state.MaxBatch+1)
	e.do("POST", "/v1/snapshots:batch", `{"items":[`+strings.TrimSuffix(items, ",")+`]}`).want(t, http.StatusBadRequest)
	if v := e.latestVersion("a"); v != 2 {
		t.Fatalf("a at version %d after refused batches, want 2", v)
	}
}

// TestServer_BadInput sends every kind of bad input and checks the answer
// and that nothing changed.
func TestServer_BadInput(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.MaxBatchBytes = 1 << 16 })
	e.mustSession("s")
	e.mustAppend("s", `"first"`)

	big := `"` + strings.Repeat("x", 5000) + `"` // over the 4096-byte state limit
	huge := `"` + strings.Repeat("x", 4096+httpapi.BodyOverhead+10) + `"`
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		field                    string
	}{
		{"MalformedJSON", "POST", "/v1/sessions/s/snapshots", `{"state":`, nil, 400, "body"},
		{"NotJSON", "POST", "/v1/sessions/s/snapshots", `hello`, nil, 400, "body"},
		{"UnknownField", "POST", "/v1/sessions/s/snapshots", `{"state":1,"stat":2}`, nil, 400, "stat"},
		{"TrailingData", "POST", "/v1/sessions/s/snapshots", `{"state":1} {"state":2}`, nil, 400, "body"},
		{"MissingState", "POST", "/v1/sessions/s/snapshots", `{"metadata":{}}`, nil, 400, "state"},
		{"EmptyBody", "POST", "/v1/sessions/s/snapshots", ``, nil, 400, "body"},
		{"MetadataNotObject", "POST", "/v1/sessions/s/snapshots", `{"state":1,"metadata":[1]}`, nil, 400, "metadata"},
		{"WrongType", "POST", "/v1/sessions", `{"ttl_seconds":"soon"}`, nil, 400, "ttl_seconds"},
		{"NegativeTTL", "PUT", "/v1/sessions/s", `{"ttl_seconds":-1}`, nil, 400, "ttl_seconds"},
		{"StateTooLarge", "POST", "/v1/sessions/s/snapshots", `{"state":` + big + `}`, nil, 413, ""},
		{"BodyTooLarge", "POST", "/v1/sessions/s/snapshots", `{"state":` + huge + `}`, nil, 413, ""},
		{"BatchBodyTooLarge", "POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":` + strings.Repeat(" ", 1<<16) + `1}]}`, nil, 413, ""},
		{"TextPlain", "POST", "/v1/sessions/s/snapshots", `{"state":1}`, []string{"Content-Type: text/plain"}, 415, ""},
		{"NoContentType", "POST", "/v1/sessions/s/snapshots", `{"state":1}`, []string{"Content-Type:"}, 415, ""},
		{"FormBody", "PUT", "/v1/sessions/s", `metadata=1`, []string{"Content-Type: application/x-www-form-urlencoded"}, 415, ""},
		{"TouchWithGarbage", "POST", "/v1/sessions/s/touch", `xx`, nil, 400, ""},
		{"MethodNotAllowed", "PATCH", "/v1/sessions/s", `{}`, nil, 405, ""},
		{"NoRoute", "GET", "/v2/nothing", "", nil, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.body, c.hdr...).want(t, c.status)
			if c.field != "" {
				if p := r.problem(t); p.Field != c.field {
					t.Fatalf("problem field %q, want %q (%s)", p.Field, c.field, r.body)
				}
			}
			if c.status == 405 && r.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	var snap state.Snapshot
	e.do("GET", "/v1/sessions/s/snapshots/latest", "").want(t, 200).decode(t, &snap)
	if snap.Version != 1 || !jsonEqual(snap.State, []byte(`"first"`)) {
		t.Fatalf("bad input changed the session: %+v", snap)
	}
	var s state.Session
	e.do("GET", "/v1/sessions/s", "").want(t, 200).decode(t, &s)
	if s.ExpiresAt != nil {
		t.Fatalf("bad input changed the TTL: %+v", s)
	}
}

func TestServer_Unavailable(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/v1/sessions/s", "").want(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":1}`).want(t, http.StatusServiceUnavailable)
	if r := e.do("GET", "/readyz", ""); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.String(), `"unhealthy"`) {
		t.Fatalf("readyz on a closed store: %d %s", r.StatusCode, r.body)
	}
	e.do("GET", "/healthz", "").want(t, http.StatusOK)
}

func TestServer_StorageFull(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	// A real SQLITE_FULL: cap the database at its current size on the
	// writer connection (PRAGMA max_page_count is per connection).
	db := e.store.DB()
	if _, err := db.Stats(t.Context()); err != nil {
		t.Fatal(err)
	}
	setMaxPages(t, db)
	body := `{"state":"` + strings.Repeat("y", 4000) + `"}`
	var r resp
	for range 50 { // a few may fit in the last page's free space
		if r = e.do("POST", "/v1/sessions/s/snapshots", body); r.StatusCode != http.StatusCreated {
			break
		}
	}
	r.want(t, http.StatusInsufficientStorage)
	// The hint is a member of its own, said once: not inside detail.
	var p struct{ Detail, Hint string }
	if err := json.Unmarshal(r.body, &p); err != nil || p.Hint == "" || strings.Contains(p.Detail, p.Hint) || strings.Contains(p.Detail, "Try:") {
		t.Fatalf("storage-full problem %s: want a hint member, not repeated in detail", r.body)
	}
}

func TestServer_Auth(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.APIToken, c.AdminToken = "api-secret", "admin-secret" })
	api, admin := "Authorization: Bearer api-secret", "Authorization: Bearer admin-secret"

	r := e.do("GET", "/v1/sessions", "").want(t, http.StatusUnauthorized)
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	e.do("GET", "/v1/sessions", "", "Authorization: Bearer nope").want(t, http.StatusUnauthorized)
	e.do("GET", "/v1/sessions", "", "Authorization: Basic YTpi").want(t, http.StatusUnauthorized)
	e.do("GET", "/v1/sessions", "", api).want(t, http.StatusOK)
	e.do("GET", "/v1/sessions", "", "Authorization: bearer api-secret").want(t, http.StatusOK)
	e.do("GET", "/v1/sessions", "", admin).want(t, http.StatusOK)
	// Refused requests change nothing.
	e.do("PUT", "/v1/sessions/x", "", "Authorization: Bearer nope").want(t, http.StatusUnauthorized)
	e.do("GET", "/v1/sessions/x", "", api).want(t, http.StatusNotFound)

	e.do("GET", "/v1/admin/stats", "").want(t, http.StatusUnauthorized)
	e.do("GET", "/v1/admin/stats", "", api).want(t, http.StatusForbidden)
	e.do("GET", "/v1/admin/stats", "", admin).want(t, http.StatusOK)
	// An unknown /v1 path is still behind auth: no probing without a token.
	e.do("GET", "/v1/nothing", "").want(t, http.StatusNotFound)

	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		e.do("GET", p, "").want(t, http.StatusOK)
	}

	t.Run("AdminFallsBackToAPIToken", func(t *testing.T) {
		e := newEnv(t, func(c *httpapi.Config) { c.APIToken = "only" })
		e.do("GET", "/v1/admin/stats", "").want(t, http.StatusUnauthorized)
		e.do("GET", "/v1/admin/stats", "", "Authorization: Bearer only").want(t, http.StatusOK)
	})
	t.Run("AdminTokenOnly", func(t *testing.T) {
		e := newEnv(t, func(c *httpapi.Config) { c.AdminToken = "adm" })
		e.do("GET", "/v1/sessions", "").want(t, http.StatusOK)
		e.do("GET", "/v1/admin/stats", "").want(t, http.StatusUnauthorized)
		e.do("GET", "/v1/admin/stats", "", "Authorization: Bearer adm").want(t, http.StatusOK)
	})
}

// A token-less server answers only loopback Host names on /v1 (DNS
// rebinding), and no server takes a state-changing browser request from
// another origin (CSRF).
func TestServer_BrowserAttacks(t *testing.T) {
	e := newEnv(t, nil)
	for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example:8080", "10.0.0.1", "localhost.attacker.example"} {
		r := e.do("GET", "/v1/sessions", "", "Host: "+host).want(t, http.StatusForbidden)
		if p := r.problem(t); !strings.Contains(p.Detail, "--api-token") {
			t.Errorf("Host %s: detail %q does not say what to do", host, p.Detail)
		}
		e.do("POST", "/v1/admin/checkpoint", "", "Host: "+host).want(t, http.StatusForbidden)
	}
	for _, host := range []string{"localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.2:80", "[::1]:8080", "[::1]"} {
		e.do("GET", "/v1/sessions", "", "Host: "+host).want(t, http.StatusOK)
	}
	// Public routes and token-guarded routes answer any name.
	e.do("GET", "/healthz", "", "Host: cortex.internal").want(t, http.StatusOK)
	tok := newEnv(t, func(c *httpapi.Config) { c.APIToken = "secret" })
	tok.do("GET", "/v1/sessions", "", "Host: cortex.internal", "Authorization: Bearer secret").want(t, http.StatusOK)
	named := newEnv(t, func(c *httpapi.Config) { c.AllowedHosts = []string{"cortex.internal"} })
	named.do("GET", "/v1/sessions", "", "Host: Cortex.Internal:8080").want(t, http.StatusOK)
	named.do("GET", "/v1/sessions", "", "Host: rebind.attacker.example").want(t, http.StatusForbidden)
	anyHost := newEnv(t, func(c *httpapi.Config) { c.AllowedHosts = []string{"*"} })
	anyHost.do("GET", "/v1/sessions", "", "Host: rebind.attacker.example").want(t, http.StatusOK)

	// A form posted from another site: refused, nothing created.
	form := []string{"Content-Type: application/x-www-form-urlencoded", "Origin: https://evil.example", "Sec-Fetch-Site: cross-site"}
	e.do("POST", "/v1/sessions", "", form...).want(t, http.StatusForbidden)
	e.do("POST", "/v1/admin/checkpoint", "", form...).want(t, http.StatusForbidden)
	e.do("PUT", "/v1/sessions/csrf", "", "Origin: https://evil.example").want(t, http.StatusForbidden)
	e.do("GET", "/v1/sessions/csrf", "").want(t, http.StatusNotFound)
	var list state.SessionPage
	e.do("GET", "/v1/sessions", "").want(t, http.StatusOK).decode(t, &list)
	if len(list.Sessions) != 0 {
		t.Fatalf("cross-origin requests created %d sessions", len(list.Sessions))
	}
	// A read from another site's page (an <img> of an expensive admin
	// route) is refused too; public routes, same-origin pages and programs
	// (no Origin) pass.
	e.do("GET", "/v1/admin/health?integrity=full", "", "Sec-Fetch-Site: cross-site").want(t, http.StatusForbidden)
	e.do("GET", "/v1/sessions", "", "Origin: https://evil.example", "Sec-Fetch-Site: cross-site").want(t, http.StatusForbidden)
	e.do("GET", "/healthz", "", "Sec-Fetch-Site: cross-site").want(t, http.StatusOK)
	e.do("GET", "/v1/sessions", "", "Sec-Fetch-Site: same-origin").want(t, http.StatusOK)
	e.do("PUT", "/v1/sessions/same", "", "Sec-Fetch-Site: same-origin").want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/prog", "").want(t, http.StatusCreated)
}

func TestServer_Admin(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `{"a":1}`)

	var stats map[string]any
	e.do("GET", "/v1/admin/stats", "").want(t, http.StatusOK).decode(t, &stats)
	for _, k := range []string{"page_count", "wal_bytes", "writer", "readers", "checkpoint"} {
		if _, ok := stats[k]; !ok {
			t.Fatalf("stats lack %s", k)
		}
	}
	var h struct {
		Status string `json:"status"`
		Checks []any  `json:"checks"`
	}
	e.do("GET", "/v1/admin/health", "").want(t, http.StatusOK).decode(t, &h)
	if h.Status == "" || len(h.Checks) == 0 {
		t.Fatalf("health %+v", h)
	}
	// Health never runs a check: the parameter is refused, naming the job
	// route (integrity_test.go tests the jobs).
	for _, q := range []string{"full", "quick", "some", ""} {
		r := e.do("GET", "/v1/admin/health?integrity="+q, "").want(t, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "POST /v1/admin/integrity") {
			t.Fatalf("health?integrity=%s: %s, want the job route named", q, r.body)
		}
	}

	var ck map[string]any
	e.do("POST", "/v1/admin/checkpoint", `{"mode":"truncate"}`).want(t, http.StatusOK).decode(t, &ck)
	for _, k := range []string{"busy", "wal_frames", "checkpointed_frames"} {
		if _, ok := ck[k]; !ok {
			t.Fatalf("checkpoint answer lacks %s: %v", k, ck)
		}
	}
	e.do("POST", "/v1/admin/checkpoint", "").want(t, http.StatusOK)
	e.do("POST", "/v1/admin/checkpoint", `{"mode":"hard"}`).want(t, http.StatusBadRequest)

	var bk map[string]any
	e.do("POST", "/v1/admin/backup", `{"name":"b1.db"}`).want(t, http.StatusCreated).decode(t, &bk)
	for _, k := range []string{"path", "bytes", "pages", "duration_ms", "integrity"} {
		if _, ok := bk[k]; !ok {
			t.Fatalf("backup answer lacks %s: %v", k, bk)
		}
	}
	if _, err := os.Stat(filepath.Join(e.cfg.BackupDir, "b1.db")); err != nil {
		t.Fatalf("backup file: %v", err)
	}
	e.do("POST", "/v1/admin/backup", `{"name":"b1.db"}`).want(t, http.StatusConflict)
	for _, name := range []string{"../escape.db", "a/b.db", `a\b.db`, "..", ".hidden", ""} {
		e.do("POST", "/v1/admin/backup", `{"name":"`+strings.ReplaceAll(name, `\`, `\\`)+`"}`).want(t, http.StatusBadRequest)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.cfg.BackupDir), "escape.db")); err == nil {
		t.Fatal("a backup escaped the backup folder")
	}
	// Racing requests for one name: one backup, the others 409.
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { codes <- e.do("POST", "/v1/admin/backup", `{"name":"race.db"}`).StatusCode })
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("racing backup: status %d", c)
		}
	}
	if created != 1 {
		t.Fatalf("8 racing backups to one name: %d created, want 1", created)
	}
	e.do("POST", "/v1/admin/backup", `{"name":"`+strings.Repeat("n", 252)+`.db"}`).want(t, http.StatusCreated)

	var plan []map[string]any
	e.do("POST", "/v1/admin/explain", `{"sql":"SELECT * FROM sessions WHERE id = 'x'"}`).want(t, http.StatusOK).decode(t, &plan)
	if len(plan) == 0 || plan[0]["detail"] == nil {
		t.Fatalf("plan %v", plan)
	}
	e.do("POST", "/v1/admin/explain", `{"sql":"DELETE FROM sessions"}`).want(t, http.StatusBadRequest)
	e.do("POST", "/v1/admin/explain", `{"sql":""}`).want(t, http.StatusBadRequest)
	if v := e.latestVersion("s"); v != 1 {
		t.Fatalf("explain changed data: version %d", v)
	}

	t.Run("NoOps", func(t *testing.T) {
		e := newEnv(t, func(c *httpapi.Config) { c.Ops = nil })
		e.do("GET", "/v1/admin/stats", "").want(t, http.StatusNotImplemented)
		e.do("GET", "/readyz", "").want(t, http.StatusOK)
	})
	t.Run("NoBackupDir", func(t *testing.T) {
		e := newEnv(t, func(c *httpapi.Config) { c.BackupDir = "" })
		e.do("POST", "/v1/admin/backup", `{"name":"x.db"}`).want(t, http.StatusNotImplemented)
	})
}

func TestServer_HealthAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	e.cfg.Registry.MustRegister(httpapi.NewCollector(func(ctx context.Context) (httpapi.Figures, error) {
		st, err := e.store.DB().Stats(ctx)
		f := httpapi.Figures{Commits: st.Writer.Commits, WALBytes: st.WALBytes, BatchedWrites: st.Writer.BatchedWrites,
			CommitSeconds: st.Writer.CommitSeconds, CommitBuckets: map[float64]uint64{}, BatchBuckets: map[float64]uint64{}}
		for i, b := range sqlitedb.CommitSecondsBounds {
			f.CommitBuckets[b] = st.Writer.CommitBuckets[i]
		}
		for i, b := range sqlitedb.BatchSizeBounds {
			f.BatchBuckets[b] = st.Writer.BatchBuckets[i]
		}
		return f, err
	}))
	e.do("GET", "/healthz", "").want(t, http.StatusOK)
	var h map[string]any
	e.do("GET", "/readyz", "").want(t, http.StatusOK).decode(t, &h)
	if h["status"] != "healthy" && h["status"] != "degraded" {
		t.Fatalf("readyz %v", h)
	}
	e.mustSession("m")
	e.do("GET", "/v1/sessions/nope", "").want(t, 404)
	// Requests no route takes: a problem each, counted as "unmatched".
	if p := e.do("GET", "/v2/nothing", "").want(t, 404).problem(t); !strings.HasSuffix(p.Type, "no-route") {
		t.Fatalf("unmatched route: problem type %q", p.Type)
	}
	if r := e.do("PATCH", "/v1/sessions/m", "{}").want(t, 405); !strings.Contains(r.Header.Get("Allow"), "PUT") {
		t.Fatalf("405 with Allow %q", r.Header.Get("Allow"))
	}
	r := e.do("GET", "/metrics", "").want(t, http.StatusOK)
	body := string(r.body)
	for _, want := range []string{
		`cortex_http_requests_total{code="201",route="PUT /v1/sessions/{id}"} 1`,
		`cortex_http_requests_total{code="404",route="GET /v1/sessions/{id}"} 1`,
		`cortex_http_requests_total{code="404",route="unmatched"} 1`,
		`cortex_http_requests_total{code="405",route="unmatched"} 1`,
		`cortex_http_request_duration_seconds_bucket{code="201",route="PUT /v1/sessions/{id}"`,
		"cortex_writer_commits_total",
		"cortex_wal_size_bytes",
		"cortex_writer_batch_size_requests_count",
		"cortex_db_up 1",
		// Histograms, which aggregate across servers, not summaries.
		"# TYPE cortex_writer_batch_size_requests histogram",
		"# TYPE cortex_writer_commit_duration_seconds histogram",
		`cortex_writer_batch_size_requests_bucket{le="1024"}`,
		`cortex_writer_commit_duration_seconds_bucket{le="0.001"}`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestServer_DefaultTTL(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.DefaultTTL = time.Hour })
	var s state.Session
	e.do("POST", "/v1/sessions", "").want(t, http.StatusCreated).decode(t, &s)
	if s.ExpiresAt == nil {
		t.Fatalf("POST without ttl_seconds: no expiry, want the default TTL: %+v", s)
	}
	e.do("PUT", "/v1/sessions/p", "").want(t, http.StatusCreated).decode(t, &s)
	if s.ExpiresAt == nil || !strings.Contains(e.do("GET", "/v1/sessions/p", "").String(), `"ttl_seconds":3600`) {
		t.Fatalf("PUT of a new session without ttl_seconds: %+v", s)
	}
	s = state.Session{}
	e.do("PUT", "/v1/sessions/p", `{"ttl_seconds":0}`).want(t, http.StatusOK).decode(t, &s)
	if s.ExpiresAt != nil {
		t.Fatalf("ttl_seconds 0 must clear the expiry: %+v", s)
	}
	s = state.Session{}
	e.do("PUT", "/v1/sessions/p", `{"metadata":{"a":1}}`).want(t, http.StatusOK).decode(t, &s)
	if s.ExpiresAt != nil {
		t.Fatalf("an update without ttl_seconds must keep the session's TTL: %+v", s)
	}
}

// TestRequestLogLevels: a successful request is logged at DEBUG, and so
// is a refused one (4xx): a client repeating a bad request must not flood
// the log at the default level. Refusals are summed up at INFO, by status,
// at most once per RefusalSummaryInterval.
func TestRequestLogLevels(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(c *httpapi.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.RefusalSummaryInterval = 20 * time.Millisecond
	})
	e.do(http.MethodPut, "/v1/sessions/logged", `{}`).want(t, http.StatusCreated)
	for range 5 {
		e.do(http.MethodGet, "/v1/sessions/missing", ``).want(t, http.StatusNotFound)
	}
	e.do(http.MethodPut, "/v1/sessions/logged", `{"bad":1}`).want(t, http.StatusBadRequest)
	type line struct {
		Level  string `json:"level"`
		Msg    string `json:"msg"`
		Status int    `json:"status"`
		Total  int64  `json:"total"`
		N404   int64  `json:"404"`
		N400   int64  `json:"400"`
	}
	read := func() (levels map[int]string, total, n404, n400 int64) {
		levels = map[int]string{}
		for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var l line
			if json.Unmarshal([]byte(s), &l) != nil {
				continue
			}
			switch {
			case l.Msg == "request":
				if levels[l.Status] == "" || l.Level != "DEBUG" {
					levels[l.Status] = l.Level
				}
			case strings.HasPrefix(l.Msg, "refused requests"):
				if l.Level != "INFO" {
					t.Errorf("summary at %s, want INFO", l.Level)
				}
				total, n404, n400 = total+l.Total, n404+l.N404, n400+l.N400
			}
		}
		return
	}
	// The summary comes from a timer: wait for it (an event), not a time.
	deadline := time.Now().Add(30 * time.Second)
	for {
		levels, total, n404, n400 := read()
		if total == 6 {
			if n404 != 5 || n400 != 1 {
				t.Errorf("summaries count 404: %d, 400: %d; want 5 and 1", n404, n400)
			}
			for _, st := range []int{http.StatusCreated, http.StatusNotFound, http.StatusBadRequest} {
				if levels[st] != "DEBUG" {
					t.Errorf("request log levels by status: %v, want DEBUG for all", levels)
				}
			}
			return
		}
		if total > 6 || time.Now().After(deadline) {
			t.Fatalf("summaries total %d refusals, want 6; log:\n%s", total, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// States come back with "<", ">" and "&" as stored, not HTML-escaped.
func TestServer_NoHTMLEscaping(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("h")
	e.mustAppend("h", `{"html":"<b>&</b>"}`)
	r := e.do("GET", "/v1/sessions/h/snapshots/latest", "").want(t, http.StatusOK)
	if !bytes.Contains(r.body, []byte(`{"html":"<b>&</b>"}`)) {
		t.Fatalf("latest: %s", r.body)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("no X-Content-Type-Options: nosniff on a state with markup in it")
	}
	r = e.do("POST", "/v1/admin/explain", `{"sql":"SELECT * FROM sessions WHERE last_active > 0"}`).want(t, http.StatusOK)
	if bytes.Contains(r.body, []byte(`\u003e`)) {
		t.Fatalf("explain escapes '>': %s", r.body)
	}
}

// Admin routes clear the server's write deadline (a backup takes as long
// as it takes); other routes keep it. Under a 1 ns WriteTimeout, only the
// admin answer arrives.
func TestServer_AdminHasNoWriteDeadline(t *testing.T) {
	e := newEnv(t, nil)
	s, err := httpapi.New(httpapi.Config{Store: e.store, Ops: testOps{e.store.DB()}, BackupDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(apitest.Middleware(t, s))
	srv.Config.WriteTimeout = time.Nanosecond
	srv.Start()
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/v1/admin/stats")
	if err != nil {
		t.Fatalf("admin route under a 1 ns WriteTimeout: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin route: %d", res.StatusCode)
	}
	if res, err := srv.Client().Get(srv.URL + "/v1/sessions"); err == nil {
		res.Body.Close()
		t.Fatalf("a /v1 route answered %d under a 1 ns WriteTimeout: the deadline was lifted for it too", res.StatusCode)
	}
}
