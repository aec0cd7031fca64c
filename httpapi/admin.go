package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/state"
)

// HealthStatus is a health verdict: package health's, the one vocabulary
// (these names stay for the callers that use them).
type HealthStatus = health.Status

// Health verdicts, from best to worst. /readyz answers 200 for the first
// two and 503 for Unhealthy.
const (
	Healthy   = health.Healthy
	Degraded  = health.Degraded
	Unhealthy = health.Unhealthy
)

// Ops are a storage engine's operations, served under /v1/admin and
// /readyz. The command implements it with adapters over sqlitedb and
// pgstore, so this package depends on neither.
//
// Results are any JSON-marshalable value, sent as the answer's body: keep
// the field names the library's structs and the CLI's --json use. Errors
// map through the same table as the store's: wrap state.ErrInvalid (400) for
// bad input such as a statement that is not read-only, ErrUnsupported (501)
// for an operation the engine does not have, with a message saying what to
// use instead. Implementations must be safe for concurrent use.
type Ops interface {
	// Stats returns the engine's figures.
	Stats(ctx context.Context) (any, error)
	// Health runs the health checks; integrity is "", "quick" or "full"
	// (validated by the caller). It never fails: a failing check makes the
	// status Unhealthy and is described in report.
	Health(ctx context.Context, integrity string) (status HealthStatus, report any)
	// Checkpoint runs a WAL checkpoint; mode is "passive", "full",
	// "restart" or "truncate" (validated by the caller). The result has
	// busy, wal_frames and checkpointed_frames.
	Checkpoint(ctx context.Context, mode string) (any, error)
	// Backup writes an online backup to dest, a path inside the server's
	// backup folder that does not exist yet. The result has path, bytes,
	// pages, duration_ms and integrity.
	Backup(ctx context.Context, dest string) (any, error)
	// Explain returns the query plan of one read-only statement, as a list
	// of {id, parent, detail}.
	Explain(ctx context.Context, sql string) (any, error)
}

// BackupUnsupporter is implemented by Ops whose engine has no file backups
// at all: the backup route then answers its error (501) before looking at
// the backup folder, so the answer says what to use instead.
type BackupUnsupporter interface {
	BackupUnsupported() error
}

// errNoOps answers admin routes when the server has no Ops.
var errNoOps = fmt.Errorf("%w: this server was started without admin operations", ErrUnsupported)

func (s *Server) adminStats(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return
	}
	st, err := s.cfg.Ops.Stats(r.Context())
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, withHTTPStats(st, s.httpStats(w)))
}

func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return
	}
	if r.URL.Query().Has("integrity") {
		// A GET never runs a check (a page of another site could trigger
		// one with an <img>): checks are jobs now.
		s.fail(w, r, badRequest("integrity", "health no longer runs integrity checks; start one with POST /v1/admin/integrity {\"mode\": \"quick\"} and GET the job URL it answers; health reports the last completed check and its age"), false)
		return
	}
	status, report := s.cfg.Ops.Health(r.Context(), "")
	writeHealth(w, status, report)
}

// writeHealth answers a health report: 200 healthy or degraded, 503
// unhealthy.
func writeHealth(w http.ResponseWriter, status HealthStatus, report any) {
	code := http.StatusOK
	if status != Healthy && status != Degraded {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", fmt.Sprint(RetryAfterSeconds))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, report)
}

// checkpointRequest is the body of POST /v1/admin/checkpoint.
type checkpointRequest struct {
	// Mode is passive (default), full, restart or truncate.
	Mode string `json:"mode"`
}

func (s *Server) adminCheckpoint(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return
	}
	var req checkpointRequest
	if err := decodeJSON(w, r, maxSmallBody, &req, true); err != nil {
		s.fail(w, r, err, false)
		return
	}
	mode := strings.ToLower(req.Mode)
	switch mode {
	case "":
		mode = "passive"
	case "passive", "full", "restart", "truncate":
	default:
		s.fail(w, r, badRequest("mode", "want passive, full, restart or truncate, got %q", req.Mode), false)
		return
	}
	res, err := s.cfg.Ops.Checkpoint(r.Context(), mode)
	if s.freedRoom(err) {
		res, err = s.cfg.Ops.Checkpoint(r.Context(), mode)
	}
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// backupRequest is the body of POST /v1/admin/backup.
type backupRequest struct {
	// Name is the backup's file name inside the backup folder.
	Name string `json:"name"`
}

// ValidateBackupName checks a backup file name: 1–255 characters of
// [A-Za-z0-9._-], not starting with a dot, no path separator, no "..".
func ValidateBackupName(name string) error {
	if name == "" {
		return state.Invalid("name", "is required: a file name such as cortex-2025-01-02.db")
	}
	if len(name) > 255 {
		return state.Invalid("name", "longer than 255 characters")
	}
	if strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") {
		return state.Invalid("name", "%q has a path in it: give a plain file name; backups go to the server's --backup-dir only", name)
	}
	if name[0] == '.' {
		return state.Invalid("name", "must not start with a dot")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return state.Invalid("name", "character %q at %d is not one of [A-Za-z0-9._-]", c, i)
		}
	}
	return nil
}

func (s *Server) adminBackup(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return
	}
	var req backupRequest
	if err := decodeJSON(w, r, maxSmallBody, &req, false); err != nil {
		s.fail(w, r, err, false)
		return
	}
	if err := ValidateBackupName(req.Name); err != nil {
		s.fail(w, r, err, false)
		return
	}
	if u, ok := s.cfg.Ops.(BackupUnsupporter); ok {
		if err := u.BackupUnsupported(); err != nil {
			s.fail(w, r, err, false)
			return
		}
	}
	if s.cfg.BackupDir == "" {
		s.fail(w, r, fmt.Errorf("%w: no backup folder is configured; start the server with --backup-dir", ErrUnsupported), false)
		return
	}
	if err := os.MkdirAll(s.cfg.BackupDir, 0o700); err != nil {
		s.fail(w, r, fmt.Errorf("backup folder %s: %w", s.cfg.BackupDir, err), false)
		return
	}
	dest := filepath.Join(s.cfg.BackupDir, req.Name)
	if _, err := os.Lstat(dest); err == nil {
		s.fail(w, r, fmt.Errorf("backup %s: %w; choose another name", req.Name, state.ErrExists), false)
		return
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.fail(w, r, fmt.Errorf("backup %s: %w", req.Name, err), false)
		return
	}
	res, err := s.cfg.Ops.Backup(r.Context(), dest)
	if errors.Is(err, fs.ErrExist) && !errors.Is(err, state.ErrExists) {
		// Another request took the name while this one was copying.
		err = fmt.Errorf("backup %s: %w; choose another name", req.Name, state.ErrExists)
	}
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// explainRequest is the body of POST /v1/admin/explain.
type explainRequest struct {
	SQL string `json:"sql"`
}

func (s *Server) adminExplain(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops == nil {
		s.fail(w, r, errNoOps, false)
		return
	}
	var req explainRequest
	if err := decodeJSON(w, r, maxSmallBody, &req, false); err != nil {
		s.fail(w, r, err, false)
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		s.fail(w, r, badRequest("sql", "is required: one read-only statement"), false)
		return
	}
	plan, err := s.cfg.Ops.Explain(r.Context(), req.SQL)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ops != nil {
		status, report := s.cfg.Ops.Health(r.Context(), "")
		writeHealth(w, status, report)
		return
	}
	_, err := s.cfg.Store.ListSessions(r.Context(), state.ListOptions{Limit: 1})
	if err != nil {
		writeHealth(w, Unhealthy, map[string]string{"status": string(Unhealthy), "detail": err.Error()})
		return
	}
	writeHealth(w, Healthy, map[string]string{"status": string(Healthy)})
}
