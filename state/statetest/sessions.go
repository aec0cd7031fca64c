package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// badIDs are ids every method must refuse with ErrInvalid.
var badIDs = map[string]string{
	"TooLong":   strings.Repeat("a", state.MaxIDLen+1),
	"Slash":     "a/b",
	"Space":     "a b",
	"Unicode":   "sessión",
	"Emoji":     "id-\U0001F600",
	"NUL":       "a\x00b",
	"Quote":     `a"b`,
	"Percent":   "a%20b",
	"Newline":   "a\nb",
	"Backslash": `a\b`,
}

func (h *harness) runSessions(t *testing.T) {
	t.Run("CreateGivenID", func(t *testing.T) {
		s, _ := h.store(t)
		md := js(`{"user":"u1","n":2}`)
		got, err := s.CreateSession(bg, state.SessionInput{ID: "sess-1", Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "sess-1" || got.Version != 0 || got.SnapshotCount != 0 || got.TTL != 0 || got.ExpiresAt != nil {
			t.Fatalf("created %+v", got)
		}
		wantJSON(t, got.Metadata, string(md), "Metadata")
		wantUTC(t, got.CreatedAt, "CreatedAt")
		wantUTC(t, got.LastActive, "LastActive")
		wantTime(t, got.LastActive, got.CreatedAt, "LastActive of a new session")
		sameSession(t, mustGet(t, s, "sess-1"), got, "read back")
	})

	t.Run("CreateValidIDs", func(t *testing.T) {
		s, _ := h.store(t)
		for _, id := range []string{"a", "A.b_c:d-e", "0", strings.Repeat("z", state.MaxIDLen), "::..--__"} {
			if _, err := s.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
				t.Fatalf("CreateSession(%q): %v", id, err)
			}
			if got := mustGet(t, s, id); got.ID != id {
				t.Fatalf("GetSession(%q).ID = %q", id, got.ID)
			}
		}
	})

	t.Run("CreateGeneratedID", func(t *testing.T) {
		s, _ := h.store(t)
		var prev string
		for i := range 5 {
			got, err := s.CreateSession(bg, state.SessionInput{})
			if err != nil {
				t.Fatal(err)
			}
			if err := state.ValidateID(got.ID); err != nil {
				t.Fatalf("generated id %q: %v", got.ID, err)
			}
			if i > 0 && got.ID <= prev {
				t.Fatalf("generated ids do not sort by creation: %q after %q", got.ID, prev)
			}
			prev = got.ID
			mustGet(t, s, got.ID)
		}
	})

	t.Run("CreateDefaults", func(t *testing.T) {
		s, _ := h.store(t)
		got := mustCreate(t, s, "d")
		wantJSON(t, got.Metadata, `{}`, "default Metadata")
		for _, md := range []string{``, `null`} {
			got, err := s.CreateSession(bg, state.SessionInput{Metadata: js(md)})
			if err != nil {
				t.Fatalf("metadata %q: %v", md, err)
			}
			wantJSON(t, got.Metadata, `{}`, "Metadata from "+md)
		}
	})

	t.Run("CreateWithTTL", func(t *testing.T) {
		s, _ := h.store(t)
		got, err := s.CreateSession(bg, state.SessionInput{ID: "t", TTL: dur(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if got.TTL != time.Hour || got.ExpiresAt == nil {
			t.Fatalf("TTL %v ExpiresAt %v", got.TTL, got.ExpiresAt)
		}
		wantUTC(t, *got.ExpiresAt, "ExpiresAt")
		wantTime(t, *got.ExpiresAt, got.LastActive.Add(time.Hour), "ExpiresAt")
		sameSession(t, mustGet(t, s, "t"), got, "read back")

		got, err = s.CreateSession(bg, state.SessionInput{ID: "t0", TTL: dur(0)})
		if err != nil {
			t.Fatal(err)
		}
		if got.TTL != 0 || got.ExpiresAt != nil {
			t.Fatalf("TTL 0: TTL %v ExpiresAt %v", got.TTL, got.ExpiresAt)
		}
	})

	t.Run("CreateExists", func(t *testing.T) {
		s, _ := h.store(t)
		first := mustCreate(t, s, "dup")
		_, err := s.CreateSession(bg, state.SessionInput{ID: "dup", Metadata: js(`{"x":1}`)})
		wantErr(t, err, state.ErrExists, "second CreateSession")
		sameSession(t, mustGet(t, s, "dup"), first, "after refused create")
	})

	t.Run("CreateInvalidID", func(t *testing.T) {
		s, _ := h.store(t)
		for name, id := range badIDs {
			t.Run(name, func(t *testing.T) {
				_, err := s.CreateSession(bg, state.SessionInput{ID: id})
				wantErr(t, err, state.ErrInvalid, "CreateSession")
				var ie *state.InvalidError
				if !errors.As(err, &ie) || ie.Field == "" {
					t.Fatalf("error %v is not an *InvalidError naming the field", err)
				}
			})
		}
		p, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sessions) != 0 {
			t.Fatalf("refused creates left %d sessions", len(p.Sessions))
		}
	})

	t.Run("CreateInvalidMetadata", func(t *testing.T) {
		s, _ := h.store(t)
		for _, md := range []string{`[1]`, `"x"`, `3`, `true`, `{"a":`, `{bad}`} {
			_, err := s.CreateSession(bg, state.SessionInput{ID: "m", Metadata: js(md)})
			wantErr(t, err, state.ErrInvalid, "metadata "+md)
		}
		_, err := s.GetSession(bg, "m")
		wantErr(t, err, state.ErrNotFound, "GetSession after refused creates")
	})

	t.Run("CreateNegativeTTL", func(t *testing.T) {
		s, _ := h.store(t)
		_, err := s.CreateSession(bg, state.SessionInput{ID: "n", TTL: dur(-time.Second)})
		wantErr(t, err, state.ErrInvalid, "negative TTL")
	})

	t.Run("Get", func(t *testing.T) {
		s, _ := h.store(t)
		_, err := s.GetSession(bg, "missing")
		wantErr(t, err, state.ErrNotFound, "GetSession(missing)")
		for name, id := range badIDs {
			_, err := s.GetSession(bg, id)
			wantErr(t, err, state.ErrInvalid, "GetSession "+name)
		}
		_, err = s.GetSession(bg, "")
		wantErr(t, err, state.ErrInvalid, "GetSession(\"\")")
	})

	t.Run("ReadBackTwiceEqual", func(t *testing.T) {
		s, _ := h.store(t)
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "r", Metadata: js(`{"b":[1,2],"a":{"c":null}}`), TTL: dur(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, "r", `{"x":1}`)
		a, b := mustGet(t, s, "r"), mustGet(t, s, "r")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("two reads differ:\n%+v\n%+v", a, b)
		}
		wantUTC(t, a.CreatedAt, "CreatedAt")
		wantUTC(t, a.LastActive, "LastActive")
		wantUTC(t, *a.ExpiresAt, "ExpiresAt")
		l1, err := s.LatestSnapshot(bg, "r")
		if err != nil {
			t.Fatal(err)
		}
		l2, _ := s.LatestSnapshot(bg, "r")
		if !reflect.DeepEqual(l1, l2) {
			t.Fatalf("two reads differ:\n%+v\n%+v", l1, l2)
		}
		wantUTC(t, l1.CreatedAt, "snapshot CreatedAt")
	})

	t.Run("PutCreatesThenUpdates", func(t *testing.T) {
		s, clock := h.store(t)
		got, created, err := s.PutSession(bg, "p", state.SessionInput{Metadata: js(`{"v":1}`), TTL: dur(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			t.Fatal("first PutSession: created = false")
		}
		if got.ID != "p" || got.TTL != time.Hour || got.ExpiresAt == nil {
			t.Fatalf("created %+v", got)
		}
		wantJSON(t, got.Metadata, `{"v":1}`, "Metadata")
		sameSession(t, mustGet(t, s, "p"), got, "read back")

		clock.Advance(time.Minute)
		upd, created, err := s.PutSession(bg, "p", state.SessionInput{Metadata: js(`{"v":2}`)})
		if err != nil {
			t.Fatal(err)
		}
		if created {
			t.Fatal("second PutSession: created = true")
		}
		wantJSON(t, upd.Metadata, `{"v":2}`, "updated Metadata")
		wantTime(t, upd.CreatedAt, got.CreatedAt, "CreatedAt after update")
		if !upd.LastActive.After(got.LastActive) {
			t.Fatalf("PutSession did not touch: LastActive %v, before %v", upd.LastActive, got.LastActive)
		}
		if upd.TTL != time.Hour || upd.ExpiresAt == nil {
			t.Fatalf("nil TTL did not keep the TTL: %+v", upd)
		}
		wantTime(t, *upd.ExpiresAt, upd.LastActive.Add(time.Hour), "ExpiresAt moved by the touch")
		sameSession(t, mustGet(t, s, "p"), upd, "read back after update")

		// nil metadata keeps; a TTL changes; TTL 0 clears expiry.
		upd2, _, err := s.PutSession(bg, "p", state.SessionInput{TTL: dur(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, upd2.Metadata, `{"v":2}`, "Metadata kept by nil")
		if upd2.TTL != 2*time.Hour {
			t.Fatalf("TTL = %v", upd2.TTL)
		}
		wantTime(t, *upd2.ExpiresAt, upd2.LastActive.Add(2*time.Hour), "ExpiresAt")
		upd3, _, err := s.PutSession(bg, "p", state.SessionInput{TTL: dur(0), Metadata: js(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if upd3.TTL != 0 || upd3.ExpiresAt != nil {
			t.Fatalf("TTL 0 did not clear expiry: %+v", upd3)
		}
		wantJSON(t, upd3.Metadata, `{}`, "Metadata")
		sameSession(t, mustGet(t, s, "p"), upd3, "read back")
	})

	t.Run("PutKeepsSnapshots", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "k")
		appendN(t, s, "k", 2)
		got, created, err := s.PutSession(bg, "k", state.SessionInput{Metadata: js(`{"a":1}`)})
		if err != nil || created {
			t.Fatalf("PutSession: created %v, err %v", created, err)
		}
		if got.Version != 2 || got.SnapshotCount != 2 {
			t.Fatalf("PutSession changed counters: %+v", got)
		}
	})

	t.Run("PutInvalid", func(t *testing.T) {
		s, _ := h.store(t)
		for name, id := range badIDs {
			_, _, err := s.PutSession(bg, id, state.SessionInput{})
			wantErr(t, err, state.ErrInvalid, "PutSession "+name)
		}
		_, _, err := s.PutSession(bg, "", state.SessionInput{})
		wantErr(t, err, state.ErrInvalid, "PutSession empty id")
		_, _, err = s.PutSession(bg, "x", state.SessionInput{Metadata: js(`[1]`)})
		wantErr(t, err, state.ErrInvalid, "PutSession metadata array")
		_, _, err = s.PutSession(bg, "x", state.SessionInput{TTL: dur(-1)})
		wantErr(t, err, state.ErrInvalid, "PutSession negative TTL")
		_, err = s.GetSession(bg, "x")
		wantErr(t, err, state.ErrNotFound, "GetSession after refused puts")

		mustCreate(t, s, "y")
		_, _, err = s.PutSession(bg, "y", state.SessionInput{Metadata: js(`"s"`)})
		wantErr(t, err, state.ErrInvalid, "PutSession existing, metadata string")
		wantJSON(t, mustGet(t, s, "y").Metadata, `{}`, "Metadata after refused put")
	})

	t.Run("Touch", func(t *testing.T) {
		s, clock := h.store(t)
		c, err := s.CreateSession(bg, state.SessionInput{ID: "t", TTL: dur(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Minute)
		got, err := s.TouchSession(bg, "t")
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastActive.After(c.LastActive) {
			t.Fatalf("LastActive %v not after %v", got.LastActive, c.LastActive)
		}
		if got.LastActive.Sub(c.LastActive) < 10*time.Minute {
			t.Fatalf("LastActive did not follow the clock: %v then %v", c.LastActive, got.LastActive)
		}
		wantUTC(t, got.LastActive, "LastActive")
		wantTime(t, *got.ExpiresAt, got.LastActive.Add(time.Hour), "ExpiresAt")
		wantTime(t, got.CreatedAt, c.CreatedAt, "CreatedAt")
		sameSession(t, mustGet(t, s, "t"), got, "read back")

		_, err = s.TouchSession(bg, "missing")
		wantErr(t, err, state.ErrNotFound, "TouchSession(missing)")
		_, err = s.TouchSession(bg, "a/b")
		wantErr(t, err, state.ErrInvalid, "TouchSession(a/b)")
	})

	t.Run("DeleteCascade", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "del")
		mustCreate(t, s, "keep")
		appendN(t, s, "del", 3)
		appendN(t, s, "keep", 2)
		if err := s.DeleteSession(bg, "del"); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetSession(bg, "del")
		wantErr(t, err, state.ErrNotFound, "GetSession after delete")
		_, err = s.LatestSnapshot(bg, "del")
		wantErr(t, err, state.ErrNotFound, "LatestSnapshot after delete")
		_, err = s.GetSnapshot(bg, "del", 1)
		wantErr(t, err, state.ErrNotFound, "GetSnapshot after delete")
		_, err = s.History(bg, "del", state.HistoryOptions{})
		wantErr(t, err, state.ErrNotFound, "History after delete")
		err = s.DeleteSession(bg, "del")
		wantErr(t, err, state.ErrNotFound, "second DeleteSession")

		// The snapshots are really gone: a new session with the same id
		// starts empty.
		again := mustCreate(t, s, "del")
		if again.Version != 0 || again.SnapshotCount != 0 {
			t.Fatalf("recreated session %+v", again)
		}
		_, err = s.LatestSnapshot(bg, "del")
		wantErr(t, err, state.ErrNotFound, "LatestSnapshot of recreated session")
		wantVersions(t, historyVersions(t, s, "del"))
		if r := mustAppend(t, s, "del", `1`); r.Version != 1 {
			t.Fatalf("first append to recreated session: version %d", r.Version)
		}
		// The other session is untouched.
		wantVersions(t, historyVersions(t, s, "keep"), 2, 1)

		err = s.DeleteSession(bg, "a b")
		wantErr(t, err, state.ErrInvalid, "DeleteSession(a b)")
		err = s.DeleteSession(bg, "nope")
		wantErr(t, err, state.ErrNotFound, "DeleteSession(nope)")
	})
}

func (h *harness) runLifecycle(t *testing.T) {
	t.Run("DefaultClockUTC", func(t *testing.T) {
		s := h.newStore(t, state.Options{})
		before := time.Now()
		got := mustCreate(t, s, "c")
		after := time.Now()
		wantUTC(t, got.CreatedAt, "CreatedAt")
		if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(after.Add(time.Second)) {
			t.Fatalf("CreatedAt %v not near the time of the call (%v … %v)", got.CreatedAt, before, after)
		}
		r := mustAppend(t, s, "c", `{}`)
		wantUTC(t, r.CreatedAt, "snapshot CreatedAt")
		sameSession(t, mustGet(t, s, "c"), mustGet(t, s, "c"), "two reads")
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "c")
		ctx, cancel := context.WithCancel(bg)
		cancel()
		if _, err := s.AppendSnapshot(ctx, "c", state.AppendInput{State: js(`1`)}); err == nil {
			t.Fatal("AppendSnapshot with a cancelled context succeeded")
		}
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: "d"}); err == nil {
			t.Fatal("CreateSession with a cancelled context succeeded")
		}
		if _, err := s.GetSession(ctx, "c"); err == nil {
			t.Fatal("GetSession with a cancelled context succeeded")
		}
		if got := mustGet(t, s, "c"); got.Version != 0 {
			t.Fatalf("cancelled append changed the session: %+v", got)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "c")
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		_, err := s.GetSession(bg, "c")
		wantErr(t, err, state.ErrUnavailable, "GetSession after Close")
		_, err = s.AppendSnapshot(bg, "c", state.AppendInput{State: js(`1`)})
		wantErr(t, err, state.ErrUnavailable, "AppendSnapshot after Close")
	})

	t.Run("SessionJSON", func(t *testing.T) {
		s, _ := h.store(t)
		got, err := s.CreateSession(bg, state.SessionInput{ID: "j", TTL: dur(90 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["ttl_seconds"] != float64(90) || m["id"] != "j" {
			t.Fatalf("session JSON %s", b)
		}
	})
}
