package sqlitestore_test

import (
	"errors"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// The store's refusals (a version conflict: 412, a missing session: 404,
// an id taken: 409) are not writer failures.
func TestStats_ClientOutcomesAreNotFailures(t *testing.T) {
	s := openStore(t, state.Options{})
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if _, err := s.AppendSnapshot(ctx, "a", state.AppendInput{State: []byte(`1`), ExpectedVersion: &zero}); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"conflict": func() error {
			_, err := s.AppendSnapshot(ctx, "a", state.AppendInput{State: []byte(`2`), ExpectedVersion: &zero})
			return err
		}(),
		"missing": func() error {
			_, err := s.AppendSnapshot(ctx, "nope", state.AppendInput{State: []byte(`2`)})
			return err
		}(),
		"exists": func() error { _, err := s.CreateSession(ctx, state.SessionInput{ID: "a"}); return err }(),
	} {
		if err == nil || errors.Is(err, state.ErrUnavailable) {
			t.Fatalf("%s: %v, want a refusal", what, err)
		}
	}
	st, err := s.DB().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Writer.Failed != 0 || st.Writer.Refused != 3 {
		t.Fatalf("writer failed %d, refused %d; want 0 failures and 3 refusals", st.Writer.Failed, st.Writer.Refused)
	}
}
