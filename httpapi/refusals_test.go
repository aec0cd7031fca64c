package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/state"
)

// snapshotOf reads a session and its latest snapshot's state ("" when it
// has none), to check that a refused request changed nothing.
func (e *env) snapshotOf(id string) string {
	e.t.Helper()
	var s state.Session
	e.do("GET", "/v1/sessions/"+id, "").want(e.t, http.StatusOK).decode(e.t, &s)
	b, _ := json.Marshal(s)
	r := e.do("GET", "/v1/sessions/"+id+"/snapshots/latest", "")
	if r.StatusCode == http.StatusOK {
		return string(b) + string(r.body)
	}
	return string(b)
}

// sessionCount counts the sessions in the store.
func (e *env) sessionCount() int {
	e.t.Helper()
	var p state.SessionPage
	e.do("GET", "/v1/sessions?limit=1000", "").want(e.t, http.StatusOK).decode(e.t, &p)
	return len(p.Sessions)
}

// TestRefused_BodiesChangeNothing: bodies that are not exact, unique,
// UTF-8 JSON are refused with a 400 problem naming what is wrong, and
// neither the session nor the store changes.
func TestRefused_BodiesChangeNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `{"n":1}`)
	before, count := e.snapshotOf("s"), e.sessionCount()
	for _, c := range []struct {
		name, method, path, body, field string
	}{
		{"InvalidUTF8InState", "POST", "/v1/sessions/s/snapshots", "{\"state\":\"caf\xe9\"}", "body"},
		{"InvalidUTF8InMetadata", "POST", "/v1/sessions/s/snapshots", "{\"state\":1,\"metadata\":{\"k\":\"\xff\xfe\"}}", "body"},
		{"InvalidUTF8InKey", "POST", "/v1/sessions/s/snapshots", "{\"state\":{\"\xc3\x28\":1}}", "body"},
		{"InvalidUTF8InSessionMetadata", "POST", "/v1/sessions", "{\"id\":\"u\",\"metadata\":{\"k\":\"\x80\"}}", "body"},
		{"InvalidUTF8InBatch", "POST", "/v1/snapshots:batch", "{\"items\":[{\"session_id\":\"s\",\"state\":\"\xed\xa0\x80\"}]}", "body"},
		{"LoneSurrogateEscape", "POST", "/v1/sessions/s/snapshots", `{"state":"\ud800x"}`, "body"},
		{"LoneLowSurrogateEscape", "POST", "/v1/sessions/s/snapshots", `{"state":{"a":"\udc00"}}`, "body"},
		{"FieldCaseState", "POST", "/v1/sessions/s/snapshots", `{"State":{"n":2}}`, "State"},
		{"FieldCaseMetadata", "POST", "/v1/sessions/s/snapshots", `{"state":2,"METADATA":{}}`, "METADATA"},
		{"FieldCaseCreate", "POST", "/v1/sessions", `{"ID":"c"}`, "ID"},
		{"FieldCasePut", "PUT", "/v1/sessions/s", `{"Metadata":{"a":1}}`, "Metadata"},
		{"FieldCaseBatchItem", "POST", "/v1/snapshots:batch", `{"items":[{"Session_ID":"s","state":2}]}`, "Session_ID"},
		{"FieldCaseFork", "POST", "/v1/sessions/s/fork", `{"New_Id":"f"}`, "New_Id"},
		{"DuplicateState", "POST", "/v1/sessions/s/snapshots", `{"state":1,"state":2}`, "state"},
		{"DuplicateInState", "POST", "/v1/sessions/s/snapshots", `{"state":{"a":1,"b":{"c":1,"c":2}}}`, "c"},
		{"DuplicateInMetadata", "POST", "/v1/sessions/s/snapshots", `{"state":1,"metadata":{"m":1,"m":1}}`, "m"},
		{"DuplicateEscaped", "POST", "/v1/sessions/s/snapshots", `{"state":{"a":1,"\u0061":2}}`, "a"},
		{"DuplicateManyKeys", "POST", "/v1/sessions/s/snapshots", `{"state":{` + manyKeys(40) + `,"k7":0}}`, "k7"},
		{"DuplicateID", "POST", "/v1/sessions", `{"id":"d1","id":"d2"}`, "id"},
		{"DuplicateBatchItems", "POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":2}],"items":[]}`, "items"},
		{"DuplicateInBatchState", "POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":{"x":1,"x":2}}]}`, "x"},
		{"DotID", "POST", "/v1/sessions", `{"id":"."}`, "id"},
		{"DotDotID", "POST", "/v1/sessions", `{"id":".."}`, "id"},
		{"DotDotBatch", "POST", "/v1/snapshots:batch", `{"items":[{"session_id":"..","state":1}]}`, "items[0].session_id"},
		{"DotForkID", "POST", "/v1/sessions/s/fork", `{"new_id":"."}`, "new_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do(c.method, c.path, c.body).want(t, http.StatusBadRequest).problem(t)
			if p.Field != c.field {
				t.Errorf("problem names field %q, want %q: %+v", p.Field, c.field, p)
			}
			if got := e.snapshotOf("s"); got != before {
				t.Fatalf("a refused request changed the session:\nbefore %s\nafter  %s", before, got)
			}
			if n := e.sessionCount(); n != count {
				t.Fatalf("a refused request changed the sessions: %d, had %d", n, count)
			}
		})
	}
	// The exact, unique forms still work.
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"a":1,"A":2,"\u00e9":"é"},"metadata":{"m":1}}`).want(t, http.StatusCreated)
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":"\ud83d\ude00"}`).want(t, http.StatusCreated)
	e.do("POST", "/v1/sessions", `{"id":"..a"}`).want(t, http.StatusCreated)
	e.do("GET", "/v1/sessions/..a", "").want(t, http.StatusOK)
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('0'+i%10)) + string(rune('a'+i/10)) + `":0`)
	}
	// k7 itself, once: the duplicate comes after.
	return b.String() + `,"k7":1`
}

// TestRefused_TwoAuthorizationHeaders: two Authorization headers are a
// 400 whichever comes first, the valid one included.
func TestRefused_TwoAuthorizationHeaders(t *testing.T) {
	const token = "0123456789abcdef-token"
	e := newEnv(t, func(c *httpapi.Config) { c.APIToken = token })
	for _, order := range [][2]string{{"Bearer " + token, "Bearer wrong"}, {"Bearer wrong", "Bearer " + token}, {"Bearer " + token, "Bearer " + token}} {
		req, _ := http.NewRequest("PUT", e.srv.URL+"/v1/sessions/two", nil)
		req.Header.Add("Authorization", order[0])
		req.Header.Add("Authorization", order[1])
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		resp{res, b}.want(t, http.StatusBadRequest)
	}
	e.do("GET", "/v1/sessions/two", "", "Authorization: Bearer "+token).want(t, http.StatusNotFound)
}

// TestRefused_EmptyBodyWithOtherType: a POST with no body but a content
// type that is not JSON is a 415, as the README says; no content type at
// all is fine where the body is optional.
func TestRefused_EmptyBodyWithOtherType(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.do("POST", "/v1/sessions/s/touch", "", "Content-Type: text/plain").want(t, http.StatusUnsupportedMediaType)
	e.do("POST", "/v1/sessions", "", "Content-Type: application/x-www-form-urlencoded").want(t, http.StatusUnsupportedMediaType)
	if n := e.sessionCount(); n != 1 {
		t.Fatalf("%d sessions after refused creates, want 1", n)
	}
	e.do("POST", "/v1/sessions/s/touch", "").want(t, http.StatusOK)
	e.do("POST", "/v1/sessions/s/touch", "", "Content-Type: application/json").want(t, http.StatusOK)
}

// TestIfMatch_StrongComparison: If-Match compares strongly (RFC 9110
// 13.1.1): a weak tag never matches (412, nothing appended); a garbled or
// unquoted tag is a 400; a list is read, its weak tags skipped.
func TestIfMatch_StrongComparison(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `1`) // version 1
	for _, c := range []struct {
		ifMatch string
		status  int
	}{
		{`W/"1"`, http.StatusPreconditionFailed},
		{`W/"1", W/"0"`, http.StatusPreconditionFailed},
		{`1`, http.StatusBadRequest},
		{`"1`, http.StatusBadRequest},
		{`"1"x`, http.StatusBadRequest},
		{`"1" "1"`, http.StatusBadRequest},
		{`w/"1"`, http.StatusBadRequest},
		{`"01"`, http.StatusBadRequest},
		{`"1", "2"`, http.StatusBadRequest},
		{`"a b"`, http.StatusBadRequest},
		{`,`, http.StatusBadRequest},
		{`"0"`, http.StatusPreconditionFailed},
	} {
		r := e.do("POST", "/v1/sessions/s/snapshots", `{"state":2}`, "If-Match: "+c.ifMatch)
		r.want(t, c.status)
		if v := e.latestVersion("s"); v != 1 {
			t.Fatalf("If-Match %s: %d, and the session is at version %d, want 1", c.ifMatch, r.StatusCode, v)
		}
	}
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":2}`, `If-Match: W/"7", "1"`).want(t, http.StatusCreated)
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":3}`, `If-Match: *`).want(t, http.StatusCreated)
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":4}`, `If-Match: "3", "3"`).want(t, http.StatusCreated)
}

// TestIfNoneMatch_ListsAndStar: If-None-Match is read as RFC 9110 says: a
// list matches when any tag does (weak comparison), "*" matches any
// snapshot; a match is a 304 with the ETag and no body.
func TestIfNoneMatch_ListsAndStar(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	v := e.mustAppend("s", `{"a":1}`)
	for _, path := range []string{"/v1/sessions/s/snapshots/latest", "/v1/sessions/s/snapshots/1"} {
		for _, c := range []struct {
			inm    string
			status int
		}{
			{`"7", "1"`, http.StatusNotModified},
			{`"1"`, http.StatusNotModified},
			{`W/"1"`, http.StatusNotModified},
			{`*`, http.StatusNotModified},
			{`"2", W/"3"`, http.StatusOK},
			{`"1`, http.StatusBadRequest},
			{`1`, http.StatusBadRequest},
		} {
			r := e.do("GET", path, "", "If-None-Match: "+c.inm).want(t, c.status)
			if c.status == http.StatusNotModified && (r.Header.Get("ETag") != `"1"` || len(r.body) != 0) {
				t.Errorf("%s If-None-Match %s: ETag %q body %q, want \"1\" and none", path, c.inm, r.Header.Get("ETag"), r.body)
			}
		}
	}
	_ = v
	e.do("GET", "/v1/sessions/nope/snapshots/latest", "", "If-None-Match: *").want(t, http.StatusNotFound)
}

// TestUnmatched_RedirectIsProblem: where the router redirects a path that
// is not clean, the answer keeps its status and Location and carries a
// problem document, not the router's HTML.
func TestUnmatched_RedirectIsProblem(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{"/v1//sessions/s", "/v1/sessions/./s", "/v1/x/../sessions/s"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.URL.Opaque = path // as sent, not cleaned by the client
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode/100 != 3 || res.Header.Get("Location") == "" {
			t.Fatalf("GET %s: %d Location %q, want a redirect", path, res.StatusCode, res.Header.Get("Location"))
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("GET %s: %d with Content-Type %q, body %q; want a problem", path, res.StatusCode, ct, b)
		}
	}
}

// TestExplain_SQLiteDecides: what is one read-only statement is SQLite's
// parser's call, not a keyword list's: SELECT*FROM works, a ";" inside a
// literal is fine, a second statement is refused.
func TestExplain_SQLiteDecides(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	for _, q := range []string{
		`SELECT*FROM sessions`,
		`SELECT * FROM sessions WHERE id = 'a;b'`,
		`/* why */ SELECT id FROM sessions; -- done`,
		`VALUES(1);`,
	} {
		b, _ := json.Marshal(map[string]string{"sql": q})
		e.do("POST", "/v1/admin/explain", string(b)).want(t, http.StatusOK)
	}
	for _, q := range []string{
		`SELECT 1; DELETE FROM sessions`,
		`SELECT ';'; SELECT 2`,
		`DELETE FROM sessions`,
		`WITH x AS (SELECT 1) DELETE FROM sessions`,
		`-- nothing`,
		`SELEC 1`,
	} {
		b, _ := json.Marshal(map[string]string{"sql": q})
		e.do("POST", "/v1/admin/explain", string(b)).want(t, http.StatusBadRequest)
	}
	if n := e.sessionCount(); n != 1 {
		t.Fatalf("%d sessions after explains, want 1", n)
	}
}
