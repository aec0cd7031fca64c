package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/cortex-db/cortex/state"
)

// ErrUnsupported is returned by an Ops implementation for an operation its
// storage engine does not have (a SQLite checkpoint on PostgreSQL); the
// error's text says what to use instead. It maps to 501.
var ErrUnsupported = errors.New("not supported by this storage engine")

// StatusClientClosedRequest is the non-standard status logged (never seen
// by the client) when the client went away before the answer.
const StatusClientClosedRequest = 499

// RetryAfterSeconds is the Retry-After sent with 503 answers.
const RetryAfterSeconds = 1

// Problem is an RFC 9457 problem details document, the body of every error
// answer, sent as application/problem+json.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field names the offending input of a 400, when known.
	Field string `json:"field,omitempty"`
	// Expected and Actual are the versions of a version conflict.
	Expected *int64 `json:"expected_version,omitempty"`
	Actual   *int64 `json:"actual_version,omitempty"`
	// Hint says what to do, when the error carries a hint (state.Hint);
	// Detail never repeats it.
	Hint string `json:"hint,omitempty"`
}

// problemKind is one row of the error table.
type problemKind struct {
	err    error
	status int
	slug   string
	title  string
}

// errorTable maps domain errors to answers: the one place where an error
// becomes a status. Order matters only for errors that match several rows.
var errorTable = []problemKind{
	{state.ErrNotFound, http.StatusNotFound, "not-found", "Not found"},
	{state.ErrExists, http.StatusConflict, "exists", "Already exists"},
	{state.ErrVersionConflict, http.StatusConflict, "version-conflict", "Version conflict"},
	{state.ErrIdempotencyMismatch, http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused with a different request"},
	{state.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Too large"},
	{state.ErrInvalid, http.StatusBadRequest, "invalid", "Invalid input"},
	{state.ErrStorageFull, http.StatusInsufficientStorage, "storage-full", "Storage full"},
	{state.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Storage unavailable"},
	{ErrJobRunning, http.StatusConflict, "job-running", "A job is running"},
	{ErrUnsupported, http.StatusNotImplemented, "unsupported", "Not supported by this storage engine"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "Timed out"},
	{context.Canceled, StatusClientClosedRequest, "canceled", "Request canceled"},
}

// problemType is the type URI of a problem slug.
func problemType(slug string) string { return "urn:cortex:problem:" + slug }

// StatusOf returns the HTTP status err maps to (500 for an error not in
// the table). conditional is true when the request carried If-Match, which
// turns a version conflict into 412 Precondition Failed.
func StatusOf(err error, conditional bool) int {
	return problemFor(err, conditional).Status
}

// problemFor builds the problem document for err.
func problemFor(err error, conditional bool) Problem {
	var se *statusError
	if errors.As(err, &se) {
		return Problem{Type: problemType(se.slug), Title: se.title, Status: se.status, Detail: se.detail}
	}
	for _, k := range errorTable {
		if !errors.Is(err, k.err) {
			continue
		}
		p := Problem{Type: problemType(k.slug), Title: k.title, Status: k.status, Detail: err.Error(), Hint: state.Hint(err)}
		var inv *state.InvalidError
		if errors.As(err, &inv) {
			p.Field = inv.Field
		}
		if k.err == state.ErrVersionConflict {
			if conditional {
				p.Status = http.StatusPreconditionFailed
				p.Title = "Precondition failed"
			}
			var ce *state.ConflictError
			if errors.As(err, &ce) {
				p.Expected, p.Actual = &ce.Expected, &ce.Actual
			}
		}
		return p
	}
	return Problem{
		Type:   problemType("internal"),
		Title:  "Internal server error",
		Status: http.StatusInternalServerError,
		Detail: "the server failed to answer; the error is in its log",
	}
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	w.WriteHeader(p.Status)
	b, _ := marshal(p)
	w.Write(b)
}

// problem sends a problem of the given status, slug and detail.
func problem(w http.ResponseWriter, status int, slug, title, detail string) {
	writeProblem(w, Problem{Type: problemType(slug), Title: title, Status: status, Detail: detail})
}

// badRequest is a 400 naming the field at fault.
func badRequest(field, format string, args ...any) error {
	return state.Invalid(field, format, args...)
}
