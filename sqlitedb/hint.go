package sqlitedb

import "errors"

// HintError is an error that says what the user can do about it: Hint is a
// sentence for a person ("restore it from a backup (cortex restore)"),
// never part of Error(), so that each face renders it once in its own way
// (the CLI as a "Try:" line, the HTTP API as the problem's "hint" member).
// Match the cause with errors.Is on Err (ErrCorrupt, ErrReadOnly, …) and
// read the hint with Hint; never match on the message's text.
//
// It lives here because sqlitedb is where hints arise and it imports no
// other cortex package. Packages that must not import sqlitedb (state,
// httpapi, pgstore) find hints with state.Hint, which looks for the
// ErrorHint method rather than this type. (Error, the other error type
// here, carries SQLite's result code.)
type HintError struct {
	// Op is the step that failed, e.g. "open /var/lib/cortex.db".
	Op string
	// Err is the cause; Error unwraps to it.
	Err error
	// Hint is what to do, without a "Try:" prefix.
	Hint string
}

func (e *HintError) Error() string {
	if e.Op == "" {
		return e.Err.Error()
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *HintError) Unwrap() error { return e.Err }

// ErrorHint returns Hint: the method by which state.Hint and Hint find the
// hint anywhere in an error chain.
func (e *HintError) ErrorHint() string { return e.Hint }

// Hint returns the hint of the first error in err's chain that carries one
// (a *HintError, or any error with an ErrorHint() string method), or "".
func Hint(err error) string {
	var h interface{ ErrorHint() string }
	if errors.As(err, &h) {
		return h.ErrorHint()
	}
	return ""
}
