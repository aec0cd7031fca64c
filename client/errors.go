package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is an error answer of the server: its problem document (RFC 9457).
// Use errors.As to get it, or the Is… helpers.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Type is the problem's type URI, urn:cortex:problem:<slug> (see
	// docs/api.md#statuses); Slug returns the slug.
	Type string
	// Title is the problem's short, fixed summary; Detail says what
	// happened to this request; Hint, when set, what to do about it.
	Title, Detail, Hint string
	// Field names the offending input of a 400, when the server knows it.
	Field string
	// ExpectedVersion and ActualVersion are set on a version conflict
	// (409 of a batch item, 412 of an If-Match append).
	ExpectedVersion, ActualVersion *int64
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	// Method and Path are the request's.
	Method, Path string
}

// Error returns "<method> <path>: <status> <title>: <detail>".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, e.Title)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Slug returns the last part of the type URI: "not-found" of
// urn:cortex:problem:not-found.
func (e *Error) Slug() string { return strings.TrimPrefix(e.Type, "urn:cortex:problem:") }

// problemBody is the JSON of a problem document.
type problemBody struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Hint     string `json:"hint"`
	Field    string `json:"field"`
	Expected *int64 `json:"expected_version"`
	Actual   *int64 `json:"actual_version"`
}

// newError builds an *Error from an answer's status, headers and body (a
// problem document, or anything else a proxy may have sent).
func newError(method, path string, res *http.Response, body []byte) *Error {
	e := &Error{Status: res.StatusCode, Method: method, Path: path, RetryAfter: retryAfter(res.Header)}
	var p problemBody
	if json.Unmarshal(body, &p) == nil && p.Type != "" {
		e.Type, e.Title, e.Detail, e.Hint, e.Field = p.Type, p.Title, p.Detail, p.Hint, p.Field
		e.ExpectedVersion, e.ActualVersion = p.Expected, p.Actual
		return e
	}
	e.Title = http.StatusText(res.StatusCode)
	if len(body) > 0 {
		d := strings.TrimSpace(string(body))
		if len(d) > 200 {
			d = d[:200] + "…"
		}
		e.Detail = d
	}
	return e
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is a 404: no such session (also an
// expired or deleted one), version, key or job.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsConflict reports whether err is a 409 (an id or snapshot key taken, a
// batch item's version conflict, a job running) or a 412 (an If-Match
// append whose version is no longer the latest).
func IsConflict(err error) bool {
	s := StatusOf(err)
	return s == http.StatusConflict || s == http.StatusPreconditionFailed
}

// IsPreconditionFailed reports whether err is a 412: an append with
// ExpectedVersion found another latest version (ActualVersion).
func IsPreconditionFailed(err error) bool { return StatusOf(err) == http.StatusPreconditionFailed }

// IsTooLarge reports whether err is a 413: a state, metadata or body over
// the server's limit.
func IsTooLarge(err error) bool { return StatusOf(err) == http.StatusRequestEntityTooLarge }

// IsInvalid reports whether err is a 400: bad input (Field names it).
func IsInvalid(err error) bool { return StatusOf(err) == http.StatusBadRequest }

// IsUnavailable reports whether err is a 503 or 429 that was still
// answered after the last retry.
func IsUnavailable(err error) bool {
	s := StatusOf(err)
	return s == http.StatusServiceUnavailable || s == http.StatusTooManyRequests
}
