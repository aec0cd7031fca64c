package statetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// waitLimit bounds how long the watch tests wait for an event that must
// come: a failure, never a timing the test depends on.
const waitLimit = 30 * time.Second

// NextEvent returns w's next event, failing t when none comes within a
// generous bound.
func NextEvent(t testing.TB, w *state.Watcher) state.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, waitLimit)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("watch %s: Next: %v", w.SessionID(), err)
	}
	return ev
}

// mustWatch starts watching session id after version after, failing t if
// it cannot; the watcher is closed when the test ends.
func mustWatch(t *testing.T, s state.Store, id string, after int64) *state.Watcher {
	t.Helper()
	w, err := s.Watch(bg, id, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// wantSnapshot checks that ev reports version v without state.
func wantSnapshot(t *testing.T, ev state.Event, v int64) {
	t.Helper()
	if ev.Kind != state.EventSnapshot || ev.Snapshot == nil {
		t.Fatalf("event %+v, want snapshot %d", ev, v)
	}
	if ev.Snapshot.Version != v {
		t.Fatalf("snapshot event of version %d, want %d", ev.Snapshot.Version, v)
	}
	if ev.Snapshot.State != nil {
		t.Fatalf("snapshot event %d carries state %s; events carry none", v, ev.Snapshot.State)
	}
}

func wantKind(t *testing.T, ev state.Event, k state.EventKind) {
	t.Helper()
	if ev.Kind != k {
		t.Fatalf("event %+v, want kind %s", ev, k)
	}
}

func (h *harness) runWatch(t *testing.T) {
	t.Run("MissingSession", func(t *testing.T) {
		s, _ := h.store(t)
		if _, err := s.Watch(bg, "nope", 0); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("Watch of a missing session: %v, want ErrNotFound", err)
		}
		mustCreate(t, s, "a")
		if _, err := s.Watch(bg, "a", -1); !errors.Is(err, state.ErrInvalid) {
			t.Fatalf("Watch after -1: %v, want ErrInvalid", err)
		}
	})
	t.Run("HistoryThenLive", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustAppend(t, s, "a", `1`)
		mustAppend(t, s, "a", `2`)
		w := mustWatch(t, s, "a", 0)
		ev := NextEvent(t, w)
		wantKind(t, ev, state.EventSession)
		if ev.Session.ID != "a" || ev.Session.Version != 2 {
			t.Fatalf("first event's session: %+v", ev.Session)
		}
		wantSnapshot(t, NextEvent(t, w), 1)
		wantSnapshot(t, NextEvent(t, w), 2)
		// Live: an append made after the watcher waits.
		got := make(chan state.Event, 1)
		go func() {
			ev, _ := w.Next(bg)
			got <- ev
		}()
		if _, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`3`), Metadata: js(`{"source":"input"}`)}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev = <-got:
		case <-time.After(waitLimit):
			t.Fatal("no event for an append")
		}
		wantSnapshot(t, ev, 3)
		if string(ev.Snapshot.Metadata) != `{"source":"input"}` || ev.Snapshot.SizeBytes != 1 || ev.Snapshot.CreatedAt.IsZero() {
			t.Fatalf("snapshot event %+v: metadata, size or time missing", ev.Snapshot)
		}
		sn, err := s.GetSnapshot(bg, "a", 3)
		if err != nil {
			t.Fatal(err)
		}
		if !sn.CreatedAt.Equal(ev.Snapshot.CreatedAt) {
			t.Fatalf("event created_at %v, snapshot's %v", ev.Snapshot.CreatedAt, sn.CreatedAt)
		}
	})
	t.Run("AfterVersion", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		appendN(t, s, "a", 3)
		w := mustWatch(t, s, "a", 2)
		wantKind(t, NextEvent(t, w), state.EventSession)
		wantSnapshot(t, NextEvent(t, w), 3)
		mustAppend(t, s, "a", `4`)
		wantSnapshot(t, NextEvent(t, w), 4)
	})
	t.Run("NoEventIsLostWhileNotReading", func(t *testing.T) {
		// More appends than the hub's ring while nobody reads, in
		// several batches: the watcher reads what it missed from the
		// history, in order, once each.
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		w := mustWatch(t, s, "a", 0)
		wantKind(t, NextEvent(t, w), state.EventSession)
		mustAppend(t, s, "a", `1`)
		var items []state.BatchItem
		for i := 0; i < 150; i++ {
			items = append(items, state.BatchItem{SessionID: "a", AppendInput: state.AppendInput{State: js(fmt.Sprint(i))}})
		}
		if _, err := s.AppendBatch(bg, items); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			mustAppend(t, s, "a", `0`)
		}
		for v := int64(1); v <= 251; v++ {
			wantSnapshot(t, NextEvent(t, w), v)
		}
		ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond)
		defer cancel()
		if ev, err := w.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next after the last version: %+v, %v; want the context's deadline", ev, err)
		}
		mustAppend(t, s, "a", `0`)
		wantSnapshot(t, NextEvent(t, w), 252)
	})
	t.Run("PrunedVersionsAreSkipped", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		appendN(t, s, "a", 5)
		if _, err := s.Prune(bg, state.PruneOptions{KeepLast: 2}); err != nil {
			t.Fatal(err)
		}
		w := mustWatch(t, s, "a", 0)
		wantKind(t, NextEvent(t, w), state.EventSession)
		wantSnapshot(t, NextEvent(t, w), 4)
		wantSnapshot(t, NextEvent(t, w), 5)
	})
	t.Run("SessionChangesAndDelete", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		w := mustWatch(t, s, "a", 0)
		wantKind(t, NextEvent(t, w), state.EventSession)
		if _, err := s.TouchSession(bg, "a"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutSession(bg, "a", state.SessionInput{Metadata: js(`{"user":"ada"}`)}); err != nil {
			t.Fatal(err)
		}
		ev := NextEvent(t, w)
		wantKind(t, ev, state.EventSession)
		if string(ev.Session.Metadata) != `{"user":"ada"}` {
			t.Fatalf("session event metadata %s", ev.Session.Metadata)
		}
		ttl := time.Hour
		if _, _, err := s.PutSession(bg, "a", state.SessionInput{TTL: &ttl}); err != nil {
			t.Fatal(err)
		}
		ev = NextEvent(t, w)
		wantKind(t, ev, state.EventSession)
		if ev.Session.TTL != time.Hour {
			t.Fatalf("session event TTL %v", ev.Session.TTL)
		}
		mustAppend(t, s, "a", `1`)
		wantSnapshot(t, NextEvent(t, w), 1)
		if err := s.DeleteSession(bg, "a"); err != nil {
			t.Fatal(err)
		}
		wantKind(t, NextEvent(t, w), state.EventDeleted)
		if _, err := w.Next(bg); !errors.Is(err, state.ErrWatchEnded) {
			t.Fatalf("Next after deleted: %v, want ErrWatchEnded", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s, c := h.store(t)
		ttl := time.Minute
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "a", TTL: &ttl}); err != nil {
			t.Fatal(err)
		}
		w := mustWatch(t, s, "a", 0)
		wantKind(t, NextEvent(t, w), state.EventSession)
		c.Advance(2 * time.Minute)
		if n, err := s.ExpireSessions(bg, 0); err != nil || n != 1 {
			t.Fatalf("ExpireSessions: %d, %v", n, err)
		}
		wantKind(t, NextEvent(t, w), state.EventDeleted)
	})
	t.Run("ContextEndsTheWatch", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		ctx, cancel := context.WithCancel(bg)
		w, err := s.Watch(ctx, "a", 0)
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, NextEvent(t, w), state.EventSession)
		cancel()
		if _, err := w.Next(bg); !errors.Is(err, state.ErrWatchEnded) {
			t.Fatalf("Next after the watch's context ended: %v, want ErrWatchEnded", err)
		}
		w.Close() // idempotent
	})
	t.Run("ManyWatchers", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		var ws []*state.Watcher
		for i := 0; i < 20; i++ {
			id := "a"
			if i%2 == 1 {
				id = "b"
			}
			w := mustWatch(t, s, id, 0)
			wantKind(t, NextEvent(t, w), state.EventSession)
			ws = append(ws, w)
		}
		mustAppend(t, s, "a", `1`)
		mustAppend(t, s, "b", `1`)
		mustAppend(t, s, "b", `2`)
		for i, w := range ws {
			wantSnapshot(t, NextEvent(t, w), 1)
			if i%2 == 1 {
				wantSnapshot(t, NextEvent(t, w), 2)
			}
		}
	})
}
