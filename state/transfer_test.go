package state_test

import (
	"errors"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// TestValidateImportSession: what both stores' ImportSessions refuse.
func TestValidateImportSession(t *testing.T) {
	good := state.Session{ID: "s-1", Metadata: []byte(`{}`), Version: 3, SnapshotCount: 3}
	if err := state.ValidateImportSession(good); err != nil {
		t.Fatalf("a valid session: %v", err)
	}
	for name, edit := range map[string]func(*state.Session){
		"bad id":          func(s *state.Session) { s.ID = "no spaces" },
		"bad metadata":    func(s *state.Session) { s.Metadata = []byte(`{`) },
		"negative ttl":    func(s *state.Session) { s.TTL = -1 },
		"negative vers":   func(s *state.Session) { s.Version = -1 },
		"negative counts": func(s *state.Session) { s.SnapshotCount = -1 },
	} {
		s := good
		edit(&s)
		if err := state.ValidateImportSession(s); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
