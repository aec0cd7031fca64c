package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/httpapi"
)

// TestInflight_WaitsThen503: a request that does not fit in the budget of
// bytes in flight waits, and gets a 503 problem with Retry-After when the
// budget stays full; nothing it carried is stored; once the budget has
// room, requests are served again.
func TestInflight_WaitsThen503(t *testing.T) {
	const budget = 2 << 20
	e := newEnv(t, func(c *httpapi.Config) {
		c.MaxInflightBytes = budget
		c.InflightWait = 50 * time.Millisecond
	})
	e.mustSession("s")

	// A batch that announces 900 KiB and sends a few bytes, then waits:
	// it holds its charge (2 × 900 KiB + the answer's) while its handler
	// reads the body.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/snapshots:batch", pr)
	req.Header.Set("Content-Type", "application/json")
	body := batchOf(300) // about 900 KiB
	req.ContentLength = int64(len(body))
	done := make(chan resp, 1)
	go func() {
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			done <- resp{}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- resp{res, b}
	}()
	if _, err := pw.Write([]byte(body[:10])); err != nil {
		t.Fatal(err)
	}
	// Wait for the event: the budget shows the charge.
	for deadline := time.Now().Add(30 * time.Second); ; {
		m := string(e.do("GET", "/metrics", "").body)
		if strings.Contains(m, "cortex_http_inflight_bytes ") && !strings.Contains(m, "cortex_http_inflight_bytes 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the held request never showed in cortex_http_inflight_bytes:\n%s", m)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Another batch that does not fit beside it waits, then is refused.
	big := batchOf(100) // about 300 KiB
	r := e.do("POST", "/v1/snapshots:batch", big).want(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 of a full budget without Retry-After")
	}
	// Monitoring is never charged.
	e.do("GET", "/healthz", "").want(t, http.StatusOK)

	// The held request finishes; then the refused one goes through.
	if _, err := pw.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if first := <-done; first.Response == nil || first.StatusCode != http.StatusCreated {
		t.Fatalf("the held batch: %+v %s", first.Response, first.body)
	}
	if v := e.latestVersion("s"); v != 300 {
		t.Fatalf("version %d after the refused batch, want 300 (only the held one)", v)
	}
	e.do("POST", "/v1/snapshots:batch", big).want(t, http.StatusCreated)
	if m := string(e.do("GET", "/metrics", "").body); !strings.Contains(m, "cortex_http_inflight_refused_total 1") {
		t.Fatalf("metrics lack cortex_http_inflight_refused_total 1")
	}
}

// batchOf is a batch of n appends to session s of 3,000-byte states.
func batchOf(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"session_id":"s","state":"` + strings.Repeat("x", 3000) + `"}`
	}
	return `{"items":[` + strings.Join(items, ",") + `]}`
}
