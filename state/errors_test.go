package state_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/cortex-db/cortex/state"
)

func TestWithCause(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "x", Err: errors.New("UNIQUE constraint failed: sessions.id")}
	err := fmt.Errorf("create: %w", state.WithCause(fmt.Errorf("session %q: %w", "a", state.ErrExists), cause))
	if err.Error() != `create: session "a": already exists` {
		t.Errorf("message %q carries the cause", err.Error())
	}
	var pe *fs.PathError
	if !errors.Is(err, state.ErrExists) || !errors.As(err, &pe) || pe != cause {
		t.Errorf("the chain lost the sentinel or the cause: %v", err)
	}
	if got := state.WithCause(state.ErrNotFound, nil); got != state.ErrNotFound {
		t.Errorf("WithCause(err, nil) = %v, want err itself", got)
	}
}
