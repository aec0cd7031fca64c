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

// TestInflight_WatchersAreNotCharged: event streams and long polls are
// watchers (bounded by MaxWatchers), not bytes in flight: with more of them
// open than the budget could hold at their charge, a plain read is served
// at once, and the gauge shows nothing charged while they wait.
func TestInflight_WatchersAreNotCharged(t *testing.T) {
	const budget = 1 << 20 // less than one latest-snapshot answer's charge
	e := newEnv(t, func(c *httpapi.Config) {
		c.MaxInflightBytes = budget
		c.InflightWait = 50 * time.Millisecond
	})
	e.mustSession("s")
	var open []*http.Response
	for range 8 {
		res, err := e.srv.Client().Get(e.srv.URL + "/v1/sessions/s/events")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("event stream: %d", res.StatusCode)
		}
		open = append(open, res)
	}
	defer func() {
		for _, res := range open {
			res.Body.Close()
		}
	}()
	polled := make(chan int, 1)
	go func() {
		res, err := e.srv.Client().Get(e.srv.URL + "/v1/sessions/s/snapshots/latest?wait=20s&after_version=0")
		if err != nil {
			polled <- 0
			return
		}
		res.Body.Close()
		polled <- res.StatusCode
	}()
	// Eight streams and a waiting poll, and nothing is charged.
	m := string(e.do("GET", "/metrics", "").body)
	if !strings.Contains(m, "cortex_http_inflight_bytes 0\n") {
		t.Fatalf("watchers were charged to the in-flight budget:\n%s", m)
	}
	e.do("GET", "/v1/sessions/s", "").want(t, http.StatusOK)
	// The poll answers once there is a snapshot, its answer charged then.
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"n":1}}`).want(t, http.StatusCreated)
	if st := <-polled; st != http.StatusOK {
		t.Fatalf("long poll answered %d, want 200", st)
	}
}
