package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cortex-db/cortex/state"
)

// ErrJobRunning is returned by IntegrityJobs.StartIntegrity while a job
// runs: 409, one at a time.
var ErrJobRunning = errors.New("an integrity job is already running")

// IntegrityJobs is implemented by Ops whose engine runs integrity checks
// as background jobs (POST /v1/admin/integrity, GET
// /v1/admin/integrity/{id}). Ops without it answer 501.
type IntegrityJobs interface {
	// StartIntegrity starts a job of mode "quick", "full" or "verify"
	// (validated by the caller) and returns its id and first view; an
	// error wrapping ErrJobRunning while another runs.
	StartIntegrity(ctx context.Context, mode string) (id string, job any, err error)
	// IntegrityJob returns a running or recent job by id.
	IntegrityJob(ctx context.Context, id string) (job any, ok bool)
	// CancelIntegrity stops the running job if its id is id, waits for it
	// to stop, and returns its final view; false when no job of that id
	// runs.
	CancelIntegrity(ctx context.Context, id string) (job any, ok bool)
}

// integrityRequest is the body of POST /v1/admin/integrity.
type integrityRequest struct {
	// Mode is quick (default), full or verify.
	Mode string `json:"mode"`
}

func (s *Server) integrityJobs(w http.ResponseWriter, r *http.Request) (IntegrityJobs, bool) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return nil, false
	}
	j, ok := s.cfg.Ops.(IntegrityJobs)
	if !ok {
		s.fail(w, r, fmt.Errorf("%w: integrity checks are a SQLite file's; PostgreSQL checks its own pages (data checksums, amcheck)", ErrUnsupported), false)
		return nil, false
	}
	return j, true
}

func (s *Server) adminIntegrityStart(w http.ResponseWriter, r *http.Request) {
	jobs, ok := s.integrityJobs(w, r)
	if !ok {
		return
	}
	var req integrityRequest
	if err := decodeJSON(w, r, maxSmallBody, &req, true); err != nil {
		s.fail(w, r, err, false)
		return
	}
	mode := strings.ToLower(req.Mode)
	switch mode {
	case "":
		mode = "quick"
	case "quick", "full", "verify":
	default:
		s.fail(w, r, badRequest("mode", "want quick, full or verify, got %q", req.Mode), false)
		return
	}
	id, job, err := jobs.StartIntegrity(r.Context(), mode)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Location", "/v1/admin/integrity/"+id)
	writeJSON(w, http.StatusAccepted, job)
}

func (s *Server) adminIntegrityJob(w http.ResponseWriter, r *http.Request) {
	jobs, ok := s.integrityJobs(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	job, ok := jobs.IntegrityJob(r.Context(), id)
	if !ok {
		s.fail(w, r, fmt.Errorf("integrity job %q: %w (the server keeps the last 16 jobs since it started)", id, state.ErrNotFound), false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) adminIntegrityCancel(w http.ResponseWriter, r *http.Request) {
	jobs, ok := s.integrityJobs(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	job, ok := jobs.CancelIntegrity(r.Context(), id)
	if !ok {
		s.fail(w, r, fmt.Errorf("integrity job %q: %w: no running job has that id", id, state.ErrNotFound), false)
		return
	}
	writeJSON(w, http.StatusOK, job)
}
