package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/httpapi"
)

// The console's files come with a strict Content-Security-Policy and
// no-framing headers, on the page and on every file; nothing else of the
// folder is listed.
func TestConsole_FilesAndHeaders(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.APIToken = "console-test-token-0123456789" })
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/app.css", "/ui/vendor/uplot/uPlot.iife.min.js", "/ui/vendor/jsondiffpatch/jsondiffpatch.umd.slim.js"} {
		// No token: the files hold no data; the API calls they make need it.
		r := e.do("GET", path, "").want(t, http.StatusOK)
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: Content-Security-Policy %q allows unsafe sources", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if h.Get("ETag") == "" {
			t.Errorf("%s: no ETag", path)
		}
		if strings.HasSuffix(path, ".js") && !strings.Contains(h.Get("Content-Type"), "javascript") {
			t.Errorf("%s: Content-Type %q", path, h.Get("Content-Type"))
		}
		// Revalidation answers 304 by the ETag.
		e.do("GET", path, "", "If-None-Match: "+h.Get("ETag")).want(t, http.StatusNotModified)
	}
	page := e.do("GET", "/ui/", "").body
	if !strings.Contains(string(page), `<script type="module" src="app.js">`) {
		t.Fatalf("the page: %s", page)
	}
	// No inline script in the page (the CSP would refuse it anyway).
	if strings.Contains(string(page), "<script>") {
		t.Fatal("the console page has an inline script")
	}
	if r := e.do("GET", "/ui", "").want(t, http.StatusOK); r.Request.URL.Path != "/ui/" {
		t.Fatalf("/ui redirected to %s, want /ui/", r.Request.URL.Path)
	}
	for _, path := range []string{"/ui/vendor/", "/ui/nope.js", "/ui/../v1/admin/stats"} {
		if r := e.do("GET", path, ""); r.StatusCode == http.StatusOK {
			t.Errorf("%s: 200 %s", path, r.body)
		}
	}
	// The console does not open the API: a /v1 route still needs the token.
	e.do("GET", "/v1/admin/stats", "").want(t, http.StatusUnauthorized)
}

// GET /v1/admin/stats adds the HTTP layer's figures ("http") to the
// engine's: the snapshots appended through the server (single and batch),
// the reads, the bytes in flight and the watchers.
func TestConsole_StatsHTTPField(t *testing.T) {
	e := newEnv(t, nil)
	read := func() httpapi.HTTPStats {
		var st struct {
			HTTP *httpapi.HTTPStats `json:"http"`
			// an engine field, still there
			PageSize int64 `json:"page_size"`
		}
		r := e.do("GET", "/v1/admin/stats", "").want(t, http.StatusOK)
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.HTTP == nil || st.PageSize == 0 {
			t.Fatalf("stats without http or the engine's fields: %s", r.body)
		}
		return *st.HTTP
	}
	before := read()
	if before.MaxWatchers != httpapi.DefaultMaxWatchers || before.InflightLimitBytes != httpapi.DefaultMaxInflightBytes {
		t.Fatalf("bounds %+v", before)
	}
	e.mustSession("s")
	e.mustAppend("s", `{"a":1}`)
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":2},{"session_id":"s","state":3}]}`).want(t, http.StatusCreated)
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":4}`, `If-Match: "1"`).want(t, http.StatusPreconditionFailed)
	e.do("GET", "/v1/sessions/s", "").want(t, http.StatusOK)
	e.do("GET", "/v1/sessions/s/snapshots/latest", "").want(t, http.StatusOK)
	e.do("GET", "/v1/sessions/nope", "").want(t, http.StatusNotFound)
	after := read()
	if got := after.Appends - before.Appends; got != 3 {
		t.Errorf("appends counted %d, want 3 (one single, two batch items; the refused one not)", got)
	}
	if got := after.Reads - before.Reads; got != 2 {
		t.Errorf("reads counted %d, want 2 (the 404 not, admin routes not)", got)
	}
	if after.InflightBytes != 0 {
		t.Errorf("in-flight bytes %d on an idle server: the stats request's own charge is left out", after.InflightBytes)
	}
}
