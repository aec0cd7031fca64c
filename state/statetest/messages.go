package statetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// runMessages checks that errors read well: a not-found names what is
// missing once ("latest snapshot of session "x": not found", not "latest
// snapshot: latest snapshot of session …"), and an id's bad character is
// shown whole, at its position in characters.
func (h *harness) runMessages(t *testing.T) {
	s, _ := h.store(t)
	if _, err := s.CreateSession(bg, state.SessionInput{ID: "m"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.LatestSnapshot(bg, "m")
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("latest of a session without snapshots: %v, want not found", err)
	}
	if n := strings.Count(err.Error(), "latest snapshot"); n != 1 {
		t.Errorf("not-found message says %q %d times: %q", "latest snapshot", n, err)
	}
	_, err = s.LatestSnapshot(bg, "01…x")
	if !errors.Is(err, state.ErrInvalid) || !strings.Contains(err.Error(), `'…' at position 3`) {
		t.Errorf("id with a UTF-8 character: %v, want the character '…' at position 3", err)
	}
}
