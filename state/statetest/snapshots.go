package statetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

func (h *harness) runSnapshots(t *testing.T) {
	t.Run("AppendVersions", func(t *testing.T) {
		s, _ := h.store(t)
		c := mustCreate(t, s, "a")
		prev := c.LastActive
		for v := int64(1); v <= 3; v++ {
			st := fmt.Sprintf(`{"step":%d}`, v)
			r := mustAppend(t, s, "a", st)
			if r.SessionID != "a" || r.Version != v || r.SizeBytes != int64(len(st)) || r.Replayed {
				t.Fatalf("append %d: %+v", v, r)
			}
			wantUTC(t, r.CreatedAt, "CreatedAt")
			got := mustGet(t, s, "a")
			if got.Version != v || got.SnapshotCount != v {
				t.Fatalf("after append %d: Version %d SnapshotCount %d", v, got.Version, got.SnapshotCount)
			}
			if !got.LastActive.After(prev) {
				t.Fatalf("append %d did not touch: LastActive %v, before %v", v, got.LastActive, prev)
			}
			prev = got.LastActive
			sn, err := s.GetSnapshot(bg, "a", v)
			if err != nil {
				t.Fatal(err)
			}
			if sn.SessionID != "a" || sn.Version != v || sn.SizeBytes != r.SizeBytes {
				t.Fatalf("snapshot %d: %+v", v, sn)
			}
			wantTime(t, sn.CreatedAt, r.CreatedAt, "snapshot CreatedAt")
			wantJSON(t, sn.State, st, "State")
			wantJSON(t, sn.Metadata, `{}`, "default snapshot Metadata")
		}
	})

	t.Run("AppendStateValues", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "v")
		values := []string{`{"a":{"b":[1,2,{"c":"d"}]},"e":null}`, `[1,"two",3.5]`, `"text with \"quotes\" and ünïcode"`, `42`, `-1.5e10`, `true`, `null`, `{}`, `[]`}
		for i, v := range values {
			r, err := s.AppendSnapshot(bg, "v", state.AppendInput{State: js(v), Metadata: js(fmt.Sprintf(`{"i":%d}`, i))})
			if err != nil {
				t.Fatalf("state %s: %v", v, err)
			}
			sn, err := s.GetSnapshot(bg, "v", r.Version)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, sn.State, v, "State")
			wantJSON(t, sn.Metadata, fmt.Sprintf(`{"i":%d}`, i), "Metadata")
		}
	})

	t.Run("AppendExpectedVersion", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "e")
		r, err := s.AppendSnapshot(bg, "e", state.AppendInput{State: js(`1`), ExpectedVersion: i64(0)})
		if err != nil || r.Version != 1 {
			t.Fatalf("expected 0 on a new session: %+v, %v", r, err)
		}
		_, err = s.AppendSnapshot(bg, "e", state.AppendInput{State: js(`2`), ExpectedVersion: i64(0)})
		wantErr(t, err, state.ErrVersionConflict, "expected 0 at version 1")
		var ce *state.ConflictError
		if !errors.As(err, &ce) || ce.Expected != 0 || ce.Actual != 1 {
			t.Fatalf("conflict error %v: want *state.ConflictError{Expected: 0, Actual: 1}", err)
		}
		_, err = s.AppendSnapshot(bg, "e", state.AppendInput{State: js(`2`), ExpectedVersion: i64(5)})
		wantErr(t, err, state.ErrVersionConflict, "expected 5 at version 1")
		if got := mustGet(t, s, "e"); got.Version != 1 || got.SnapshotCount != 1 {
			t.Fatalf("conflicts changed the session: %+v", got)
		}
		r, err = s.AppendSnapshot(bg, "e", state.AppendInput{State: js(`2`), ExpectedVersion: i64(1)})
		if err != nil || r.Version != 2 {
			t.Fatalf("expected 1 at version 1: %+v, %v", r, err)
		}
		wantVersions(t, historyVersions(t, s, "e"), 2, 1)
	})

	t.Run("AppendIdempotencyKey", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "i")
		mustCreate(t, s, "j")
		first, err := s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`{"try":1}`), IdempotencyKey: "k1"})
		if err != nil || first.Version != 1 || first.Replayed {
			t.Fatalf("first: %+v, %v", first, err)
		}
		// The key with another request is refused (runHardening tests
		// that in detail); the same request replays.
		_, err = s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`{"try":2,"longer":true}`), IdempotencyKey: "k1"})
		wantErr(t, err, state.ErrIdempotencyMismatch, "the key with another state")
		again, err := s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`{"try":1}`), IdempotencyKey: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Version != first.Version || again.SizeBytes != first.SizeBytes || again.SessionID != "i" {
			t.Fatalf("replay %+v, first %+v", again, first)
		}
		wantTime(t, again.CreatedAt, first.CreatedAt, "replayed CreatedAt")
		if got := mustGet(t, s, "i"); got.Version != 1 || got.SnapshotCount != 1 {
			t.Fatalf("replay appended: %+v", got)
		}
		l, err := s.LatestSnapshot(bg, "i")
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, l.State, `{"try":1}`, "state after replay")

		// A replay is answered even when its expected version is stale by
		// now: the key is checked before the version.
		r, err := s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`2`), IdempotencyKey: "k2", ExpectedVersion: i64(1)})
		if err != nil || r.Version != 2 {
			t.Fatalf("k2: %+v, %v", r, err)
		}
		r2, err := s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`2`), IdempotencyKey: "k2", ExpectedVersion: i64(1)})
		if err != nil || !r2.Replayed || r2.Version != 2 {
			t.Fatalf("retried conditional append: %+v, %v", r2, err)
		}
		// An older key still replays.
		r3, err := s.AppendSnapshot(bg, "i", state.AppendInput{State: js(`{"try":1}`), IdempotencyKey: "k1"})
		if err != nil || !r3.Replayed || r3.Version != 1 {
			t.Fatalf("old key: %+v, %v", r3, err)
		}
		// Keys are per session.
		rj, err := s.AppendSnapshot(bg, "j", state.AppendInput{State: js(`1`), IdempotencyKey: "k1"})
		if err != nil || rj.Replayed || rj.Version != 1 || rj.SessionID != "j" {
			t.Fatalf("same key, other session: %+v, %v", rj, err)
		}
		// No key: every append is new.
		mustAppend(t, s, "i", `4`)
		mustAppend(t, s, "i", `4`)
		wantVersions(t, historyVersions(t, s, "i"), 4, 3, 2, 1)
	})

	t.Run("AppendTooLarge", func(t *testing.T) {
		c := NewClock()
		s := h.newStore(t, state.Options{Now: c.Now, MaxStateBytes: 1024})
		mustCreate(t, s, "big")
		fits := `"` + strings.Repeat("x", 1022) + `"`
		if _, err := s.AppendSnapshot(bg, "big", state.AppendInput{State: js(fits)}); err != nil {
			t.Fatalf("state of exactly MaxStateBytes: %v", err)
		}
		over := `"` + strings.Repeat("x", 1023) + `"`
		_, err := s.AppendSnapshot(bg, "big", state.AppendInput{State: js(over)})
		wantErr(t, err, state.ErrTooLarge, "state of MaxStateBytes+1")
		if got := mustGet(t, s, "big"); got.Version != 1 {
			t.Fatalf("refused append changed the session: %+v", got)
		}
	})

	t.Run("AppendDefaultMaxStateBytes", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "big")
		over := `"` + strings.Repeat("x", state.DefaultMaxStateBytes) + `"`
		_, err := s.AppendSnapshot(bg, "big", state.AppendInput{State: js(over)})
		wantErr(t, err, state.ErrTooLarge, "state over DefaultMaxStateBytes")
	})

	t.Run("AppendInvalid", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "x")
		cases := map[string]state.AppendInput{
			"NilState":         {},
			"EmptyState":       {State: js(``)},
			"BlankState":       {State: js(`   `)},
			"BadJSON":          {State: js(`{"a":`)},
			"TwoValues":        {State: js(`1 2`)},
			"MetadataArray":    {State: js(`1`), Metadata: js(`[1]`)},
			"MetadataString":   {State: js(`1`), Metadata: js(`"m"`)},
			"MetadataBadJSON":  {State: js(`1`), Metadata: js(`{x}`)},
			"NegativeExpected": {State: js(`1`), ExpectedVersion: i64(-1)},
		}
		for name, in := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := s.AppendSnapshot(bg, "x", in)
				wantErr(t, err, state.ErrInvalid, name)
			})
		}
		for name, id := range badIDs {
			_, err := s.AppendSnapshot(bg, id, state.AppendInput{State: js(`1`)})
			wantErr(t, err, state.ErrInvalid, "id "+name)
		}
		if got := mustGet(t, s, "x"); got.Version != 0 {
			t.Fatalf("refused appends changed the session: %+v", got)
		}
	})

	t.Run("AppendNotFound", func(t *testing.T) {
		s, _ := h.store(t)
		_, err := s.AppendSnapshot(bg, "ghost", state.AppendInput{State: js(`1`)})
		wantErr(t, err, state.ErrNotFound, "append to a missing session")
		_, err = s.GetSession(bg, "ghost")
		wantErr(t, err, state.ErrNotFound, "append created the session")
	})

	t.Run("AppendAfterDeleteNotResurrected", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "late")
		mustAppend(t, s, "late", `1`)
		if err := s.DeleteSession(bg, "late"); err != nil {
			t.Fatal(err)
		}
		_, err := s.AppendSnapshot(bg, "late", state.AppendInput{State: js(`2`)})
		wantErr(t, err, state.ErrNotFound, "late append")
		_, err = s.AppendSnapshot(bg, "late", state.AppendInput{State: js(`2`), IdempotencyKey: "k"})
		wantErr(t, err, state.ErrNotFound, "late append with a key")
		_, err = s.GetSession(bg, "late")
		wantErr(t, err, state.ErrNotFound, "session after late append")
		_, err = s.LatestSnapshot(bg, "late")
		wantErr(t, err, state.ErrNotFound, "latest after late append")
		ids, _ := listAll(t, s, state.ListOptions{})
		if len(ids) != 0 {
			t.Fatalf("late append resurrected: %v", ids)
		}
	})

	t.Run("Latest", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "l")
		_, err := s.LatestSnapshot(bg, "l")
		wantErr(t, err, state.ErrNotFound, "latest of a session without snapshots")
		_, err = s.LatestSnapshot(bg, "missing")
		wantErr(t, err, state.ErrNotFound, "latest of a missing session")
		_, err = s.LatestSnapshot(bg, "a/b")
		wantErr(t, err, state.ErrInvalid, "latest of a bad id")
		for i := 1; i <= 4; i++ {
			r, err := s.AppendSnapshot(bg, "l", state.AppendInput{State: js(fmt.Sprintf(`{"i":%d}`, i)), Metadata: js(`{"m":true}`)})
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.LatestSnapshot(bg, "l")
			if err != nil {
				t.Fatal(err)
			}
			if l.Version != int64(i) || l.SessionID != "l" || l.SizeBytes != r.SizeBytes {
				t.Fatalf("latest %+v after append %d", l, i)
			}
			wantTime(t, l.CreatedAt, r.CreatedAt, "CreatedAt")
			wantJSON(t, l.State, fmt.Sprintf(`{"i":%d}`, i), "State")
			wantJSON(t, l.Metadata, `{"m":true}`, "Metadata")
		}
	})

	t.Run("GetSnapshot", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "g")
		appendN(t, s, "g", 3)
		for v := int64(1); v <= 3; v++ {
			sn, err := s.GetSnapshot(bg, "g", v)
			if err != nil {
				t.Fatal(err)
			}
			if sn.Version != v {
				t.Fatalf("GetSnapshot(%d).Version = %d", v, sn.Version)
			}
			wantJSON(t, sn.State, fmt.Sprintf(`{"n":%d}`, v), "State")
		}
		for _, v := range []int64{0, 4, 99, -1} {
			_, err := s.GetSnapshot(bg, "g", v)
			wantErr(t, err, state.ErrNotFound, fmt.Sprintf("GetSnapshot(%d)", v))
		}
		_, err := s.GetSnapshot(bg, "missing", 1)
		wantErr(t, err, state.ErrNotFound, "GetSnapshot of a missing session")
		_, err = s.GetSnapshot(bg, "a b", 1)
		wantErr(t, err, state.ErrInvalid, "GetSnapshot of a bad id")
	})

	t.Run("AppendExtendsExpiry", func(t *testing.T) {
		s, clock := h.store(t)
		c, err := s.CreateSession(bg, state.SessionInput{ID: "x", TTL: dur(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(30 * time.Minute)
		mustAppend(t, s, "x", `1`)
		got := mustGet(t, s, "x")
		if !got.ExpiresAt.After(*c.ExpiresAt) {
			t.Fatalf("append did not move ExpiresAt: %v, before %v", got.ExpiresAt, c.ExpiresAt)
		}
		wantTime(t, *got.ExpiresAt, got.LastActive.Add(time.Hour), "ExpiresAt")
	})
}
