package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

type jobView struct {
	ID     string `json:"id"`
	Mode   string `json:"mode"`
	State  string `json:"state"`
	Result *struct {
		OK bool `json:"ok"`
	} `json:"result"`
	Progress struct {
		Slices int64 `json:"slices"`
	} `json:"progress"`
}

// Integrity checks are jobs: POST starts one (202, Location), one at a
// time (409 while one runs), GET reports it, DELETE stops it; health
// reports the running job and then the last result with its age.
func TestServer_IntegrityJobs(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `{"a":1}`)

	// testOps runs verify jobs that stay running until cancelled.
	var job jobView
	r := e.do("POST", "/v1/admin/integrity", `{"mode":"verify"}`).want(t, http.StatusAccepted)
	r.decode(t, &job)
	loc := r.Header.Get("Location")
	if job.ID == "" || job.State != "running" || loc != "/v1/admin/integrity/"+job.ID {
		t.Fatalf("start: %s, Location %q", r.body, loc)
	}
	p := e.do("POST", "/v1/admin/integrity", `{"mode":"full"}`).want(t, http.StatusConflict).problem(t)
	if !strings.Contains(p.Type, "job-running") || !strings.Contains(p.Detail, job.ID) {
		t.Fatalf("second job while one runs: %+v, want job-running naming %s", p, job.ID)
	}
	var running jobView
	e.do("GET", loc, "").want(t, http.StatusOK).decode(t, &running)
	if running.ID != job.ID || running.State != "running" {
		t.Fatalf("GET running job: %+v", running)
	}
	h := e.do("GET", "/v1/admin/health", "").want(t, http.StatusOK)
	if !strings.Contains(string(h.body), `"integrity_job"`) {
		t.Fatalf("health while a job runs: %s, want integrity_job", h.body)
	}
	var stopped jobView
	e.do("DELETE", loc, "").want(t, http.StatusOK).decode(t, &stopped)
	if stopped.State != "canceled" {
		t.Fatalf("cancelled job: %+v", stopped)
	}
	e.do("DELETE", loc, "").want(t, http.StatusNotFound)

	// A quick check runs to the end; the job URL reports its result.
	e.do("POST", "/v1/admin/integrity", `{"mode":"quick"}`).want(t, http.StatusAccepted).decode(t, &job)
	for job.State == "running" { // waits for the job's end, an event
		e.do("GET", "/v1/admin/integrity/"+job.ID, "").want(t, http.StatusOK).decode(t, &job)
	}
	if job.State != "done" || job.Result == nil || !job.Result.OK || job.Mode != "quick" {
		t.Fatalf("quick job: %+v", job)
	}
	h = e.do("GET", "/v1/admin/health", "").want(t, http.StatusOK)
	if !strings.Contains(string(h.body), `"integrity_age_seconds"`) || !strings.Contains(string(h.body), `"mode":"quick"`) {
		t.Fatalf("health after a check: %s, want the last result and its age", h.body)
	}

	e.do("POST", "/v1/admin/integrity", `{"mode":"deep"}`).want(t, http.StatusBadRequest)
	e.do("GET", "/v1/admin/integrity/nosuchjob", "").want(t, http.StatusNotFound)
	// A page of another site cannot start one.
	e.do("POST", "/v1/admin/integrity", `{"mode":"full"}`, "Sec-Fetch-Site: cross-site").want(t, http.StatusForbidden)
}
