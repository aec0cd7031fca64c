package state

import (
	"errors"
	"fmt"
)

// Domain errors. Backends wrap them; callers test with errors.Is.
var (
	// ErrNotFound: no such session, version or snapshot.
	ErrNotFound = errors.New("not found")
	// ErrExists: a session with that id already exists.
	ErrExists = errors.New("already exists")
	// ErrVersionConflict: the expected version is not the latest.
	ErrVersionConflict = errors.New("version conflict")
	// ErrInvalid: bad input; the *InvalidError says which field and why.
	ErrInvalid = errors.New("invalid input")
	// ErrTooLarge: a state over the store's MaxStateBytes, or metadata over
	// its MaxMetadataBytes.
	ErrTooLarge = errors.New("too large")
	// ErrIdempotencyMismatch: an idempotency key already used for an
	// append with another request (state, metadata or expected version);
	// the request changed nothing.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrUnavailable: the storage engine cannot answer now (busy, connection
	// lost, shutting down); the request changed nothing and may be retried.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrStorageFull: the disk or the database's size limit is full; the
	// request changed nothing. Free space, then retry.
	ErrStorageFull = errors.New("storage full")
)

// InvalidError is an ErrInvalid naming the field and the reason.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InvalidError for field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ConflictError is an ErrVersionConflict with the versions involved.
type ConflictError struct {
	Expected int64
	Actual   int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("version conflict: expected latest version %d, latest is %d", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrVersionConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrVersionConflict }

// WithCause returns err with cause, an engine's own error, in its chain
// for errors.Is and errors.As but not in its message: messages reach API
// clients, which need the domain's words ("session "x": already exists"),
// not a constraint's name.
func WithCause(err, cause error) error {
	if cause == nil {
		return err
	}
	return &causedError{err: err, cause: cause}
}

type causedError struct{ err, cause error }

func (e *causedError) Error() string   { return e.err.Error() }
func (e *causedError) Unwrap() []error { return []error{e.err, e.cause} }
