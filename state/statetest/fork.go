package statetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

func (h *harness) runFork(t *testing.T) {
	source := func(t *testing.T) (state.Store, *Clock) {
		s, clock := h.store(t)
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "src", Metadata: js(`{"owner":"o"}`), TTL: dur(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			if _, err := s.AppendSnapshot(bg, "src", state.AppendInput{State: js(fmt.Sprintf(`{"i":%d}`, i)), Metadata: js(fmt.Sprintf(`{"m":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Minute)
		return s, clock
	}

	t.Run("AtVersion", func(t *testing.T) {
		s, _ := source(t)
		src := mustGet(t, s, "src")
		f, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 3})
		if err != nil {
			t.Fatal(err)
		}
		if f.ID != "f" || f.Version != 3 || f.SnapshotCount != 3 || f.TTL != time.Hour || f.ExpiresAt == nil {
			t.Fatalf("fork %+v", f)
		}
		wantJSON(t, f.Metadata, `{"owner":"o"}`, "fork Metadata")
		wantUTC(t, f.CreatedAt, "CreatedAt")
		if !f.CreatedAt.After(src.LastActive) {
			t.Fatalf("fork CreatedAt %v is not now", f.CreatedAt)
		}
		wantTime(t, *f.ExpiresAt, f.LastActive.Add(time.Hour), "ExpiresAt")
		sameSession(t, mustGet(t, s, "f"), f, "read back")
		wantVersions(t, historyVersions(t, s, "f"), 3, 2, 1)
		for v := int64(1); v <= 3; v++ {
			a, err := s.GetSnapshot(bg, "src", v)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.GetSnapshot(bg, "f", v)
			if err != nil {
				t.Fatal(err)
			}
			if b.SessionID != "f" || b.SizeBytes != a.SizeBytes {
				t.Fatalf("copied snapshot %+v of %+v", b, a)
			}
			wantJSON(t, b.State, string(a.State), "copied State")
			wantJSON(t, b.Metadata, string(a.Metadata), "copied Metadata")
			wantTime(t, b.CreatedAt, a.CreatedAt, "copied CreatedAt")
		}
		_, err = s.GetSnapshot(bg, "f", 4)
		wantErr(t, err, state.ErrNotFound, "version past the fork point")
		sameSession(t, mustGet(t, s, "src"), src, "source after fork")
	})

	t.Run("LatestAndGeneratedID", func(t *testing.T) {
		s, _ := source(t)
		f, err := s.ForkSession(bg, "src", state.ForkInput{})
		if err != nil {
			t.Fatal(err)
		}
		if err := state.ValidateID(f.ID); err != nil || f.ID == "src" {
			t.Fatalf("generated id %q: %v", f.ID, err)
		}
		if f.Version != 5 || f.SnapshotCount != 5 {
			t.Fatalf("fork at latest: %+v", f)
		}
		l, err := s.LatestSnapshot(bg, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, l.State, `{"i":5}`, "latest state of the fork")
	})

	t.Run("Independent", func(t *testing.T) {
		s, _ := source(t)
		if _, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 2}); err != nil {
			t.Fatal(err)
		}
		r := mustAppend(t, s, "f", `"fork"`)
		if r.Version != 3 {
			t.Fatalf("first append to the fork: version %d, want 3", r.Version)
		}
		if src := mustGet(t, s, "src"); src.Version != 5 {
			t.Fatalf("append to fork changed source: %+v", src)
		}
		if r := mustAppend(t, s, "src", `"src"`); r.Version != 6 {
			t.Fatalf("append to source: version %d", r.Version)
		}
		wantVersions(t, historyVersions(t, s, "f"), 3, 2, 1)
		sn, _ := s.GetSnapshot(bg, "f", 3)
		wantJSON(t, sn.State, `"fork"`, "fork v3")
		sn, _ = s.GetSnapshot(bg, "src", 3)
		wantJSON(t, sn.State, `{"i":3}`, "source v3")
		// Deleting one leaves the other whole.
		if err := s.DeleteSession(bg, "src"); err != nil {
			t.Fatal(err)
		}
		wantVersions(t, historyVersions(t, s, "f"), 3, 2, 1)
	})

	t.Run("IdempotencyKeysPerSession", func(t *testing.T) {
		// Idempotency keys are not carried over: a key used on the source
		// appends anew on a fork.
		s, _ := h.store(t)
		mustCreate(t, s, "src")
		if _, err := s.AppendSnapshot(bg, "src", state.AppendInput{State: js(`1`), IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "f"}); err != nil {
			t.Fatal(err)
		}
		r, err := s.AppendSnapshot(bg, "f", state.AppendInput{State: js(`2`), IdempotencyKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Replayed || r.Version != 2 {
			t.Fatalf("key of the source replayed on the fork: %+v", r)
		}
	})

	t.Run("EmptySource", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "e")
		f, err := s.ForkSession(bg, "e", state.ForkInput{NewID: "f"})
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != 0 || f.SnapshotCount != 0 {
			t.Fatalf("fork of an empty session: %+v", f)
		}
		_, err = s.ForkSession(bg, "e", state.ForkInput{NewID: "g", AtVersion: 1})
		wantErr(t, err, state.ErrNotFound, "fork of an empty session at 1")
	})

	t.Run("Errors", func(t *testing.T) {
		s, _ := source(t)
		mustCreate(t, s, "taken")
		_, err := s.ForkSession(bg, "missing", state.ForkInput{NewID: "f"})
		wantErr(t, err, state.ErrNotFound, "fork of a missing session")
		_, err = s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 6})
		wantErr(t, err, state.ErrNotFound, "fork at a missing version")
		_, err = s.ForkSession(bg, "src", state.ForkInput{NewID: "taken"})
		wantErr(t, err, state.ErrExists, "fork onto a taken id")
		_, err = s.ForkSession(bg, "src", state.ForkInput{NewID: "src"})
		wantErr(t, err, state.ErrExists, "fork onto itself")
		_, err = s.ForkSession(bg, "src", state.ForkInput{NewID: "a/b"})
		wantErr(t, err, state.ErrInvalid, "fork onto a bad id")
		_, err = s.ForkSession(bg, "a b", state.ForkInput{NewID: "f"})
		wantErr(t, err, state.ErrInvalid, "fork of a bad id")
		_, err = s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: -1})
		wantErr(t, err, state.ErrInvalid, "fork at -1")
		_, err = s.GetSession(bg, "f")
		wantErr(t, err, state.ErrNotFound, "refused forks created a session")
		if got := mustGet(t, s, "taken"); got.Version != 0 {
			t.Fatalf("refused fork changed the taken session: %+v", got)
		}
	})

	t.Run("PrunedVersion", func(t *testing.T) {
		s, _ := source(t)
		if _, err := s.Prune(bg, state.PruneOptions{KeepLast: 2}); err != nil {
			t.Fatal(err)
		}
		_, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 2})
		wantErr(t, err, state.ErrNotFound, "fork at a pruned version")
		f, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "g", AtVersion: 4})
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != 4 || f.SnapshotCount != 1 {
			t.Fatalf("fork after prune: %+v, want version 4 with 1 snapshot", f)
		}
		if r := mustAppend(t, s, "g", `1`); r.Version != 5 {
			t.Fatalf("append to fork: %+v", r)
		}
	})

	t.Run("Concurrent", func(t *testing.T) { h.runForkConcurrent(t) })
}
