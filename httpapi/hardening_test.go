package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/state"
)

// problemOf decodes an error answer.
func problemOf(t *testing.T, r resp) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	return p
}

// TestServer_TTLRange: ttl_seconds is 0, null, or an integer from 1 to
// 3,153,600,000 (100 years); anything else is a 400 naming the range and
// changes nothing. Before, 9223372036 was taken and the next append made
// every listing of the database answer 500.
func TestServer_TTLRange(t *testing.T) {
	e := newEnv(t, nil)
	for _, ttl := range []string{`9223372036`, `3153600001`, `-1`, `1.5`, `1e3`, `1e400`, `99999999999999999999999999`, `"5"`, `true`} {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/sessions", `{"id":"bad","ttl_seconds":` + ttl + `}`},
			{"PUT", "/v1/sessions/bad", `{"ttl_seconds":` + ttl + `}`},
		} {
			p := problemOf(t, e.do(req.method, req.path, req.body).want(t, http.StatusBadRequest))
			if p.Field != "ttl_seconds" || !strings.Contains(p.Detail, "3153600000") {
				t.Fatalf("%s %s: problem %+v, want one naming ttl_seconds and its range", req.method, req.body, p)
			}
		}
	}
	e.do("GET", "/v1/sessions/bad", "").want(t, http.StatusNotFound)

	e.do("POST", "/v1/sessions", `{"id":"max","ttl_seconds":3153600000}`).want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/zero", `{"ttl_seconds":0}`).want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/null", `{"ttl_seconds":null}`).want(t, http.StatusCreated)
	e.mustAppend("max", `1`)
	e.do("POST", "/v1/sessions/max/touch", "").want(t, http.StatusOK)
	var page struct{ Sessions []map[string]any }
	if err := json.Unmarshal(e.do("GET", "/v1/sessions", "").want(t, http.StatusOK).body, &page); err != nil || len(page.Sessions) != 3 {
		t.Fatalf("list: %d sessions, %v", len(page.Sessions), err)
	}
	for _, s := range page.Sessions {
		if s["id"] == "max" && s["ttl_seconds"] != float64(state.MaxTTLSeconds) {
			t.Fatalf("max: %v", s)
		}
	}
}

// TestServer_TimesOutOfRange: a time past 2262 or before 1678 (outside
// int64 nanoseconds) is a correct page, never a 5xx.
func TestServer_TimesOutOfRange(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("a")
	for q, want := range map[string]int{
		"2300-01-01T00:00:00Z":           0,
		"9999-12-31T23:59:59.999999999Z": 0,
		"1600-01-01T00:00:00Z":           1,
		"0001-01-01T00:00:00Z":           1,
	} {
		var page struct{ Sessions []any }
		r := e.do("GET", "/v1/sessions?active_since="+q, "").want(t, http.StatusOK)
		if err := json.Unmarshal(r.body, &page); err != nil || len(page.Sessions) != want {
			t.Fatalf("active_since=%s: %s, want %d sessions", q, r.body, want)
		}
	}
}

// TestServer_IdempotencyKeyReuse: a key is bound to its request; the same
// key with another body is 422 and changes nothing, the identical retry
// replays, and a batch with one key on two different items is 400.
func TestServer_IdempotencyKeyReuse(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"n":1}}`, "Idempotency-Key: k").want(t, http.StatusCreated)
	for _, body := range []string{`{"state":{"n":2}}`, `{"state":{"n":1},"metadata":{"m":1}}`} {
		p := problemOf(t, e.do("POST", "/v1/sessions/s/snapshots", body, "Idempotency-Key: k").want(t, http.StatusUnprocessableEntity))
		if p.Type != "urn:cortex:problem:idempotency-key-reused" || !strings.Contains(p.Detail, `"k"`) {
			t.Fatalf("problem %+v", p)
		}
	}
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"n":1}}`, "Idempotency-Key: k", "If-Match: \"0\"").want(t, http.StatusUnprocessableEntity)
	r := e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"n":1}}`, "Idempotency-Key: k").want(t, http.StatusCreated)
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("identical retry not replayed: %v", r.Header)
	}
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":2,"idempotency_key":"b"},{"session_id":"s","state":3,"idempotency_key":"b"}]}`).
		want(t, http.StatusBadRequest)
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":{"n":9},"idempotency_key":"k"}]}`).
		want(t, http.StatusUnprocessableEntity)
	if v := e.latestVersion("s"); v != 1 {
		t.Fatalf("s at version %d after refused requests, want 1", v)
	}
}

// TestServer_MetadataCap: metadata over the store's cap (64 KiB by
// default) is 413 on appends, batches and session writes.
func TestServer_MetadataCap(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	md := `{"m":"` + strings.Repeat("x", state.DefaultMaxMetadataBytes) + `"}`
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":1,"metadata":`+md+`}`).want(t, http.StatusRequestEntityTooLarge)
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":1,"metadata":`+md+`}]}`).want(t, http.StatusRequestEntityTooLarge)
	e.do("POST", "/v1/sessions", `{"id":"big","metadata":`+md+`}`).want(t, http.StatusRequestEntityTooLarge)
	e.do("PUT", "/v1/sessions/s", `{"metadata":`+md+`}`).want(t, http.StatusRequestEntityTooLarge)
	if v := e.latestVersion("s"); v != 0 {
		t.Fatalf("s at version %d after refused appends", v)
	}
	ok := `{"m":"` + strings.Repeat("x", state.DefaultMaxMetadataBytes-8) + `"}`
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":1,"metadata":`+ok+`}`).want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/s", `{"metadata":`+ok+`}`).want(t, http.StatusOK)
}
