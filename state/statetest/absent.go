package statetest

import (
	"slices"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// runAbsent: a session past its TTL, or deleted, is absent from every
// method at once, whether or not ExpireSessions has run; its id makes a
// fresh session at once, whose history starts empty and which the later
// reclaim of the old rows leaves whole (issue #14, #21).
func (h *harness) runAbsent(t *testing.T) {
	// everyRoute checks that id answers ErrNotFound to every method that
	// names an existing session.
	everyRoute := func(t *testing.T, s state.Store, id string) {
		t.Helper()
		_, err := s.GetSession(bg, id)
		wantErr(t, err, state.ErrNotFound, "GetSession")
		_, err = s.TouchSession(bg, id)
		wantErr(t, err, state.ErrNotFound, "TouchSession")
		_, err = s.AppendSnapshot(bg, id, state.AppendInput{State: js(`9`)})
		wantErr(t, err, state.ErrNotFound, "AppendSnapshot")
		_, err = s.AppendSnapshot(bg, id, state.AppendInput{State: js(`9`), IdempotencyKey: "k1"})
		wantErr(t, err, state.ErrNotFound, "AppendSnapshot with a key it used")
		_, err = s.AppendSnapshot(bg, id, state.AppendInput{State: js(`9`), ExpectedVersion: i64(2)})
		wantErr(t, err, state.ErrNotFound, "conditional AppendSnapshot")
		_, err = s.AppendBatch(bg, []state.BatchItem{{SessionID: id, AppendInput: state.AppendInput{State: js(`9`)}}})
		wantErr(t, err, state.ErrNotFound, "AppendBatch")
		_, err = s.LatestSnapshot(bg, id)
		wantErr(t, err, state.ErrNotFound, "LatestSnapshot")
		_, err = s.GetSnapshot(bg, id, 1)
		wantErr(t, err, state.ErrNotFound, "GetSnapshot")
		_, err = s.History(bg, id, state.HistoryOptions{})
		wantErr(t, err, state.ErrNotFound, "History")
		_, err = s.History(bg, id, state.HistoryOptions{IncludeState: true})
		wantErr(t, err, state.ErrNotFound, "History with states")
		_, err = s.ForkSession(bg, id, state.ForkInput{NewID: id + "-fork"})
		wantErr(t, err, state.ErrNotFound, "ForkSession from it")
		_, err = s.GetSession(bg, id+"-fork")
		wantErr(t, err, state.ErrNotFound, "the fork that failed")
		err = s.DeleteSession(bg, id)
		wantErr(t, err, state.ErrNotFound, "DeleteSession")
		ids, _ := listAll(t, s, state.ListOptions{})
		if slices.Contains(ids, id) {
			t.Fatalf("ListSessions lists %q: %v", id, ids)
		}
	}
	// fresh checks that sess is a new session with an empty history, and
	// that the old session's key answers nothing in it.
	fresh := func(t *testing.T, s state.Store, sess state.Session, what string) {
		t.Helper()
		if sess.Version != 0 || sess.SnapshotCount != 0 {
			t.Fatalf("%s: version %d, %d snapshots; want a fresh session", what, sess.Version, sess.SnapshotCount)
		}
		wantVersions(t, historyVersions(t, s, sess.ID))
		_, err := s.LatestSnapshot(bg, sess.ID)
		wantErr(t, err, state.ErrNotFound, what+": LatestSnapshot")
		_, err = s.GetSnapshot(bg, sess.ID, 1)
		wantErr(t, err, state.ErrNotFound, what+": GetSnapshot(1)")
		r, err := s.AppendSnapshot(bg, sess.ID, state.AppendInput{State: js(`"new"`), IdempotencyKey: "k1"})
		if err != nil || r.Replayed || r.Version != 1 {
			t.Fatalf("%s: the old session's key answered %+v, %v; want a new version 1", what, r, err)
		}
	}
	// seed makes id with n snapshots, one of them under the key k1.
	seed := func(t *testing.T, s state.Store, id string, ttl time.Duration, n int) {
		t.Helper()
		if _, err := s.CreateSession(bg, state.SessionInput{ID: id, TTL: dur(ttl), Metadata: js(`{"old":true}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendSnapshot(bg, id, state.AppendInput{State: js(`"old"`), IdempotencyKey: "k1"}); err != nil {
			t.Fatal(err)
		}
		appendN(t, s, id, n-1)
	}
	// reclaim runs ExpireSessions to the end.
	reclaim := func(t *testing.T, s state.Store) {
		t.Helper()
		for range 100 {
			if n := mustExpire(t, s, 2); n < 2 {
				return
			}
		}
		t.Fatal("ExpireSessions never comes back short")
	}

	t.Run("ExpiredAtOnce", func(t *testing.T) {
		s, clock := h.store(t)
		for _, id := range []string{"e", "put", "post", "fork"} {
			seed(t, s, id, time.Hour, 3)
		}
		mustCreate(t, s, "stay")
		appendN(t, s, "stay", 2)
		clock.Advance(time.Hour + time.Second)
		// No ExpireSessions: expiry needs no janitor.
		everyRoute(t, s, "e")
		ids, _ := listAll(t, s, state.ListOptions{})
		if !slices.Equal(ids, []string{"stay"}) {
			t.Fatalf("listed %v, want [stay]", ids)
		}
		// Its id makes a fresh session, by each way of creating one.
		sess, created, err := s.PutSession(bg, "put", state.SessionInput{})
		if err != nil || !created {
			t.Fatalf("PutSession on an expired id: created %v, %v; want a new session", created, err)
		}
		if string(sess.Metadata) != `{}` || sess.TTL != 0 {
			t.Fatalf("PutSession on an expired id kept the old metadata %s / TTL %v", sess.Metadata, sess.TTL)
		}
		fresh(t, s, sess, "PutSession")
		sess, err = s.CreateSession(bg, state.SessionInput{ID: "post"})
		if err != nil {
			t.Fatalf("CreateSession on an expired id: %v", err)
		}
		fresh(t, s, sess, "CreateSession")
		sess, err = s.ForkSession(bg, "stay", state.ForkInput{NewID: "fork"})
		if err != nil {
			t.Fatalf("ForkSession onto an expired id: %v", err)
		}
		wantVersions(t, historyVersions(t, s, "fork"), 2, 1)
		// The reclaim leaves the new sessions whole.
		reclaim(t, s)
		wantVersions(t, historyVersions(t, s, "put"), 1)
		wantVersions(t, historyVersions(t, s, "post"), 1)
		wantVersions(t, historyVersions(t, s, "fork"), 2, 1)
		wantVersions(t, historyVersions(t, s, "stay"), 2, 1)
		wantCounters(t, s, "put", 1, 1)
		wantCounters(t, s, "fork", 2, 2)
		everyRoute(t, s, "e")
	})

	t.Run("DeletedAtOnce", func(t *testing.T) {
		s, _ := h.store(t)
		seed(t, s, "d", 0, 40)
		seed(t, s, "p", 0, 40)
		mustCreate(t, s, "stay")
		appendN(t, s, "stay", 3)
		for _, id := range []string{"d", "p"} {
			if err := s.DeleteSession(bg, id); err != nil {
				t.Fatal(err)
			}
		}
		everyRoute(t, s, "d")
		sess, err := s.CreateSession(bg, state.SessionInput{ID: "d"})
		if err != nil {
			t.Fatalf("CreateSession right after DeleteSession: %v", err)
		}
		fresh(t, s, sess, "CreateSession after a delete")
		sess, created, err := s.PutSession(bg, "p", state.SessionInput{})
		if err != nil || !created {
			t.Fatalf("PutSession right after DeleteSession: created %v, %v", created, err)
		}
		fresh(t, s, sess, "PutSession after a delete")
		appendN(t, s, "d", 2)
		reclaim(t, s)
		wantVersions(t, historyVersions(t, s, "d"), 3, 2, 1)
		wantCounters(t, s, "d", 3, 3)
		wantVersions(t, historyVersions(t, s, "p"), 1)
		wantVersions(t, historyVersions(t, s, "stay"), 3, 2, 1)
		// Deleted again, and again made new.
		if err := s.DeleteSession(bg, "d"); err != nil {
			t.Fatal(err)
		}
		everyRoute(t, s, "d")
		fresh(t, s, mustCreate(t, s, "d"), "a third session d")
	})

	t.Run("ForkAllOrNothing", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "src")
		appendN(t, s, "src", 30)
		mustCreate(t, s, "taken")
		_, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "taken"})
		wantErr(t, err, state.ErrExists, "fork onto a live id")
		wantVersions(t, historyVersions(t, s, "taken"))
		ids, _ := listAll(t, s, state.ListOptions{})
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"src", "taken"}) {
			t.Fatalf("after a refused fork: %v", ids)
		}
		f, err := s.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 25})
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != 25 || f.SnapshotCount != 25 {
			t.Fatalf("fork at 25: version %d, %d snapshots", f.Version, f.SnapshotCount)
		}
		wantVersions(t, historyVersions(t, s, "f"), descending(25, 1)...)
		for v := int64(1); v <= 25; v++ {
			a, err := s.GetSnapshot(bg, "src", v)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.GetSnapshot(bg, "f", v)
			if err != nil {
				t.Fatal(err)
			}
			if string(a.State) != string(b.State) || !a.CreatedAt.Equal(b.CreatedAt) {
				t.Fatalf("version %d: fork %s at %v, source %s at %v", v, b.State, b.CreatedAt, a.State, a.CreatedAt)
			}
		}
		// Deleting the source leaves the fork whole, reclaimed or not.
		if err := s.DeleteSession(bg, "src"); err != nil {
			t.Fatal(err)
		}
		wantVersions(t, historyVersions(t, s, "f"), descending(25, 1)...)
		reclaim(t, s)
		wantVersions(t, historyVersions(t, s, "f"), descending(25, 1)...)
		wantCounters(t, s, "f", 25, 25)
		mustAppend(t, s, "f", `26`)
	})
}
