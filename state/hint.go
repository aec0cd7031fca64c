package state

import "errors"

// Hint returns what the user can do about err: the hint of the first error
// in its chain with an ErrorHint() string method (sqlitedb.HintError is one),
// or "". The faces render it once: the CLI as a "Try:" line, the HTTP API
// as the problem's "hint" member. state declares no error type of its own
// for it so that it keeps importing nothing of cortex; the method is the
// contract.
func Hint(err error) string {
	var h interface{ ErrorHint() string }
	if errors.As(err, &h) {
		return h.ErrorHint()
	}
	return ""
}
