package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The checker catches what it is for: these exchanges each break the
// document in one way, and the good ones beside them pass. They also show
// that the OpenAPI 3.1 forms the document uses (type arrays with null,
// const, patterns through $ref) are enforced by kin-openapi's validator.
func TestCheck(t *testing.T) {
	const session = `{"id":"s","created_at":"2026-12-05T10:00:00Z","last_active":"2026-12-05T10:00:00Z","metadata":{},"version":0,"snapshot_count":0}`
	json := http.Header{"Content-Type": {"application/json"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	sse := http.Header{"Content-Type": {"text/event-stream"}}
	req := func(method, target, body string) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	cases := []struct {
		name    string
		x       Exchange
		wantErr string
	}{
		{"session ok", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 200, Header: json, Body: []byte(session)}, ""},
		{"session without a required field", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 200, Header: json,
			Body: []byte(strings.Replace(session, `,"snapshot_count":0`, "", 1))}, "snapshot_count"},
		{"session with an undocumented field", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 200, Header: json,
			Body: []byte(strings.Replace(session, `"version":0`, `"version":0,"owner":"x"`, 1))}, "does not match"},
		{"undocumented status", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 418, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:x","title":"t","status":418,"detail":"d"}`)}, "status 418 is not in the OpenAPI document"},
		{"undocumented 304", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 304, Header: http.Header{}}, "status 304"},
		{"problem without detail", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 404, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:not-found","title":"Not found","status":404}`)}, "detail"},
		{"problem with another status", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 404, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:not-found","title":"Not found","status":400,"detail":"d"}`)}, "says status"},
		{"error as plain JSON", Exchange{Request: req("GET", "/v1/sessions/s", ""), Status: 404, Header: json,
			Body: []byte(`{"type":"urn:cortex:problem:not-found","title":"Not found","status":404,"detail":"d"}`)}, "Content-Type"},
		{"null metadata accepted (3.1 type array)", Exchange{Request: req("PUT", "/v1/sessions/s", `{"metadata":null}`), Status: 201, Header: json, Body: []byte(session)}, ""},
		{"metadata not an object, accepted", Exchange{Request: req("PUT", "/v1/sessions/s", `{"metadata":3}`), Status: 201, Header: json, Body: []byte(session)}, "refuses"},
		{"metadata not an object, refused", Exchange{Request: req("PUT", "/v1/sessions/s", `{"metadata":3}`), Status: 400, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:invalid","title":"Invalid input","status":400,"detail":"d","field":"metadata"}`)}, ""},
		{"bad id accepted", Exchange{Request: req("GET", "/v1/sessions/..x%2F", ""), Status: 200, Header: json, Body: []byte(session)}, "refuses"},
		{"id '..' accepted", Exchange{Request: req("POST", "/v1/sessions/a/fork", `{"new_id":".."}`), Status: 201, Header: json, Body: []byte(session)}, "refuses"},
		{"unknown query parameter accepted", Exchange{Request: req("GET", "/v1/sessions?limt=3", ""), Status: 200, Header: json, Body: []byte(`{"sessions":[]}`)}, "limt"},
		{"metadata filter accepted", Exchange{Request: req("GET", "/v1/sessions?metadata.team=a&limit=3", ""), Status: 200, Header: json, Body: []byte(`{"sessions":[]}`)}, ""},
		{"limit out of range accepted", Exchange{Request: req("GET", "/v1/sessions?limit=1001", ""), Status: 200, Header: json, Body: []byte(`{"sessions":[]}`)}, "refuses"},
		{"healthz const (3.1)", Exchange{Request: req("GET", "/healthz", ""), Status: 200, Header: json, Body: []byte(`{"status":"up"}`)}, "does not match"},
		{"events ok", Exchange{Request: req("GET", "/v1/sessions/s/events", ""), Status: 200, Header: sse,
			Body: []byte("retry: 2000\n\nevent: session\ndata: " + session + "\n\n: heartbeat\n\nid: 1\nevent: snapshot\ndata: {\"session_id\":\"s\",\"version\":1,\"created_at\":\"2026-12-05T10:00:00Z\",\"metadata\":{},\"size_bytes\":2}\n\nevent: deleted\ndata: {\"session_id\":\"s\"}\n\n")}, ""},
		{"event of an unknown kind", Exchange{Request: req("GET", "/v1/sessions/s/events", ""), Status: 200, Header: sse,
			Body: []byte("event: renamed\ndata: {}\n\n")}, "not one of the documented events"},
		{"snapshot event without a version", Exchange{Request: req("GET", "/v1/sessions/s/events", ""), Status: 200, Header: sse,
			Body: []byte("id: 1\nevent: snapshot\ndata: {\"session_id\":\"s\",\"created_at\":\"2026-12-05T10:00:00Z\",\"metadata\":{},\"size_bytes\":2}\n\n")}, "version"},
		{"a listener without the API (--metrics-addr)", Exchange{Request: req("GET", "/v1/sessions", ""), Status: 404, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:no-route","title":"Not found","status":404,"detail":"d"}`)}, ""},
		{"no such route, 200", Exchange{Request: req("GET", "/v1/nothing", ""), Status: 200, Header: json, Body: []byte(`{}`)}, "no such operation"},
		{"no such route, problem", Exchange{Request: req("GET", "/v1/nothing", ""), Status: 404, Header: problem,
			Body: []byte(`{"type":"urn:cortex:problem:no-route","title":"Not found","status":404,"detail":"d"}`)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.x.Request.Body != nil {
				c.x.RequestBody, _ = io.ReadAll(c.x.Request.Body)
			}
			err := Check(c.x)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("want an error with %q, got none", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("want an error with %q, got %v", c.wantErr, err)
			}
		})
	}
}
