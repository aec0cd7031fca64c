package state_test

import (
	"errors"
	"fmt"

	"github.com/cortex-db/cortex/state"
)

// Bad input is an InvalidError naming the field; errors.Is tells it apart
// from every other kind (the HTTP API answers it 400 with the field).
func ExampleInvalid() {
	err := fmt.Errorf("append: %w", state.Invalid("state", "want a JSON value, got %d bytes of text", 3))
	var inv *state.InvalidError
	fmt.Println(errors.Is(err, state.ErrInvalid), errors.As(err, &inv) && inv.Field == "state")
	fmt.Println(err)
	// Output:
	// true true
	// append: invalid state: want a JSON value, got 3 bytes of text
}

// ValidateID is the session id's rule, which both stores and the HTTP API
// apply.
func ExampleValidateID() {
	fmt.Println(state.ValidateID("agent-42"))
	fmt.Println(errors.Is(state.ValidateID(""), state.ErrInvalid))
	// Output:
	// <nil>
	// true
}

// Hint finds what the user can do in any error of a chain that carries
// one (an ErrorHint() string method, as sqlitedb.HintError has); the
// message never holds it.
func ExampleHint() {
	err := fmt.Errorf("open: %w", hinted{errors.New("database is read-only"), "make the folder writable"})
	fmt.Println(err)
	fmt.Println(state.Hint(err))
	// Output:
	// open: database is read-only
	// make the folder writable
}

type hinted struct {
	error
	hint string
}

func (h hinted) ErrorHint() string { return h.hint }
