package statetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

func mustPrune(t *testing.T, s state.Store, opts state.PruneOptions) int64 {
	t.Helper()
	n, err := s.Prune(bg, opts)
	if err != nil {
		t.Fatalf("Prune(%+v): %v", opts, err)
	}
	return n
}

func mustExpire(t *testing.T, s state.Store, limit int) int64 {
	t.Helper()
	n, err := s.ExpireSessions(bg, limit)
	if err != nil {
		t.Fatalf("ExpireSessions(%d): %v", limit, err)
	}
	return n
}

func wantCounters(t *testing.T, s state.Store, id string, version, count int64) {
	t.Helper()
	got := mustGet(t, s, id)
	if got.Version != version || got.SnapshotCount != count {
		t.Fatalf("session %s: Version %d SnapshotCount %d, want %d and %d", id, got.Version, got.SnapshotCount, version, count)
	}
}

func (h *harness) runPrune(t *testing.T) {
	t.Run("KeepLast", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		mustCreate(t, s, "empty")
		appendN(t, s, "a", 10)
		appendN(t, s, "b", 2)
		if n := mustPrune(t, s, state.PruneOptions{KeepLast: 3}); n != 7 {
			t.Fatalf("pruned %d, want 7", n)
		}
		wantCounters(t, s, "a", 10, 3)
		wantCounters(t, s, "b", 2, 2)
		wantCounters(t, s, "empty", 0, 0)
		wantVersions(t, historyVersions(t, s, "a"), 10, 9, 8)
		wantVersions(t, historyVersions(t, s, "b"), 2, 1)
		_, err := s.GetSnapshot(bg, "a", 7)
		wantErr(t, err, state.ErrNotFound, "pruned version")
		l, err := s.LatestSnapshot(bg, "a")
		if err != nil || l.Version != 10 {
			t.Fatalf("latest after prune: %+v, %v", l, err)
		}
		if n := mustPrune(t, s, state.PruneOptions{KeepLast: 3}); n != 0 {
			t.Fatalf("second prune removed %d", n)
		}
		// Versions go on from the latest, not from the count.
		if r := mustAppend(t, s, "a", `11`); r.Version != 11 {
			t.Fatalf("append after prune: version %d", r.Version)
		}
		wantCounters(t, s, "a", 11, 4)
		if n := mustPrune(t, s, state.PruneOptions{KeepLast: 1}); n != 4 {
			t.Fatalf("keep 1: pruned %d, want 3+1", n)
		}
		wantCounters(t, s, "a", 11, 1)
		wantCounters(t, s, "b", 2, 1)
	})

	t.Run("OlderThan", func(t *testing.T) {
		s, clock := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "old")
		appendN(t, s, "a", 5)
		appendN(t, s, "old", 3)
		clock.Advance(2 * time.Hour)
		appendN(t, s, "a", 2) // versions 6, 7
		if n := mustPrune(t, s, state.PruneOptions{OlderThan: time.Hour}); n != 5+2 {
			t.Fatalf("pruned %d, want 7", n)
		}
		wantVersions(t, historyVersions(t, s, "a"), 7, 6)
		wantCounters(t, s, "a", 7, 2)
		// Every snapshot of "old" is old, but the latest is never pruned.
		wantVersions(t, historyVersions(t, s, "old"), 3)
		wantCounters(t, s, "old", 3, 1)
		if n := mustPrune(t, s, state.PruneOptions{OlderThan: time.Hour}); n != 0 {
			t.Fatalf("second prune removed %d", n)
		}
		clock.Advance(30 * time.Minute)
		if n := mustPrune(t, s, state.PruneOptions{OlderThan: time.Hour}); n != 0 {
			t.Fatalf("prune of snapshots younger than an hour removed %d", n)
		}
	})

	// A retry of a pruned snapshot's append answers the first result: the
	// key outlives its snapshot (and goes with the session).
	t.Run("IdempotencyKeysOutlivePruning", func(t *testing.T) {
		for _, tc := range []struct {
			opts        state.PruneOptions
			pruned, are int64
		}{{state.PruneOptions{KeepLast: 1}, 2, 1}, {state.PruneOptions{OlderThan: time.Hour}, 1, 2}} {
			opts := tc.opts
			s, clock := h.store(t)
			mustCreate(t, s, "k")
			first, err := s.AppendSnapshot(bg, "k", state.AppendInput{State: js(`1`), IdempotencyKey: "k1"})
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Hour)
			appendN(t, s, "k", 2)
			if n := mustPrune(t, s, opts); n != tc.pruned {
				t.Fatalf("%+v: pruned %d, want %d", opts, n, tc.pruned)
			}
			again, err := s.AppendSnapshot(bg, "k", state.AppendInput{State: js(`1`), IdempotencyKey: "k1"})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Replayed || again.Version != first.Version || !again.CreatedAt.Equal(first.CreatedAt) || again.SizeBytes != first.SizeBytes {
				t.Fatalf("%+v: retry after pruning answered %+v, want the first result %+v, replayed", opts, again, first)
			}
			wantCounters(t, s, "k", 3, tc.are)
			// The key goes with its session: a new session of that id starts afresh.
			if err := s.DeleteSession(bg, "k"); err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, "k")
			fresh, err := s.AppendSnapshot(bg, "k", state.AppendInput{State: js(`1`), IdempotencyKey: "k1"})
			if err != nil || fresh.Replayed || fresh.Version != 1 {
				t.Fatalf("%+v: the key of a deleted session answered %+v, %v", opts, fresh, err)
			}
		}
	})
	t.Run("KeepLastAndOlderThan", func(t *testing.T) {
		// Either rule removes a snapshot: keep at most 4, none older than 1h.
		s, clock := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		appendN(t, s, "a", 3)
		clock.Advance(2 * time.Hour)
		appendN(t, s, "a", 6) // 4…9
		appendN(t, s, "b", 2)
		if n := mustPrune(t, s, state.PruneOptions{KeepLast: 4, OlderThan: time.Hour}); n != 5 {
			t.Fatalf("pruned %d, want 5", n)
		}
		wantVersions(t, historyVersions(t, s, "a"), 9, 8, 7, 6)
		wantVersions(t, historyVersions(t, s, "b"), 2, 1)
	})

	t.Run("NeverLatest", func(t *testing.T) {
		s, clock := h.store(t)
		for i := range 5 {
			id := fmt.Sprintf("s%d", i)
			mustCreate(t, s, id)
			appendN(t, s, id, i+1)
		}
		clock.Advance(24 * time.Hour)
		if n := mustPrune(t, s, state.PruneOptions{OlderThan: time.Nanosecond, KeepLast: 1}); n != 0+1+2+3+4 {
			t.Fatalf("pruned %d, want 10", n)
		}
		for i := range 5 {
			id := fmt.Sprintf("s%d", i)
			wantVersions(t, historyVersions(t, s, id), int64(i+1))
			wantCounters(t, s, id, int64(i+1), 1)
		}
	})

	t.Run("Limit", func(t *testing.T) {
		s, clock := h.store(t)
		for i := range 3 {
			id := fmt.Sprintf("s%d", i)
			mustCreate(t, s, id)
			appendN(t, s, id, 11) // 10 prunable each
		}
		clock.Advance(2 * time.Hour)
		var batches []int64
		total := int64(0)
		for {
			n := mustPrune(t, s, state.PruneOptions{OlderThan: time.Hour, Limit: 7})
			if n > 7 {
				t.Fatalf("pruned %d with limit 7", n)
			}
			batches = append(batches, n)
			total += n
			if n < 7 {
				break
			}
			if len(batches) > 100 {
				t.Fatal("Prune never finishes")
			}
		}
		if total != 30 {
			t.Fatalf("pruned %d in batches %v, want 30", total, batches)
		}
		for i := range 3 {
			id := fmt.Sprintf("s%d", i)
			wantCounters(t, s, id, 11, 1)
		}
		// KeepLast honours the limit too.
		for i := range 3 {
			appendN(t, s, fmt.Sprintf("s%d", i), 5)
		}
		total = 0
		for range 100 {
			n := mustPrune(t, s, state.PruneOptions{KeepLast: 2, Limit: 4})
			if n > 4 {
				t.Fatalf("pruned %d with limit 4", n)
			}
			total += n
			if n < 4 {
				break
			}
		}
		if total != 3*4 {
			t.Fatalf("keep-last pruned %d, want 12", total)
		}
		for i := range 3 {
			wantCounters(t, s, fmt.Sprintf("s%d", i), 16, 2)
		}
	})

	t.Run("Options", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		appendN(t, s, "a", 3)
		if n := mustPrune(t, s, state.PruneOptions{}); n != 0 {
			t.Fatalf("prune without a rule removed %d", n)
		}
		_, err := s.Prune(bg, state.PruneOptions{KeepLast: -1})
		wantErr(t, err, state.ErrInvalid, "KeepLast -1")
		_, err = s.Prune(bg, state.PruneOptions{OlderThan: -time.Second})
		wantErr(t, err, state.ErrInvalid, "OlderThan -1s")
		_, err = s.Prune(bg, state.PruneOptions{KeepLast: 1, Limit: -1})
		wantErr(t, err, state.ErrInvalid, "Limit -1")
		wantCounters(t, s, "a", 3, 3)
	})
}

func (h *harness) runExpire(t *testing.T) {
	t.Run("TTL", func(t *testing.T) {
		s, clock := h.store(t)
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "short", TTL: dur(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "long", TTL: dur(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, "forever")
		appendN(t, s, "short", 3)
		appendN(t, s, "forever", 1)
		if n := mustExpire(t, s, 0); n != 0 {
			t.Fatalf("expired %d before any TTL passed", n)
		}
		clock.Advance(90 * time.Minute)
		if n := mustExpire(t, s, 0); n != 1 {
			t.Fatalf("expired %d at +90m, want 1", n)
		}
		_, err := s.GetSession(bg, "short")
		wantErr(t, err, state.ErrNotFound, "expired session")
		_, err = s.LatestSnapshot(bg, "short")
		wantErr(t, err, state.ErrNotFound, "snapshot of an expired session")
		_, err = s.GetSnapshot(bg, "short", 1)
		wantErr(t, err, state.ErrNotFound, "snapshot of an expired session")
		_, err = s.AppendSnapshot(bg, "short", state.AppendInput{State: js(`1`)})
		wantErr(t, err, state.ErrNotFound, "append to an expired session")
		mustGet(t, s, "long")
		mustGet(t, s, "forever")

		// A touch extends the expiry: long now expires at +90m+2h.
		if _, err := s.TouchSession(bg, "long"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour) // +2h30: past the first expiry, not the new one
		if n := mustExpire(t, s, 0); n != 0 {
			t.Fatalf("expired %d after a touch", n)
		}
		clock.Advance(time.Hour + time.Minute) // +3h31
		if n := mustExpire(t, s, 0); n != 1 {
			t.Fatalf("expired %d at +3h31, want 1", n)
		}
		_, err = s.GetSession(bg, "long")
		wantErr(t, err, state.ErrNotFound, "expired session")
		clock.Advance(1000 * time.Hour)
		if n := mustExpire(t, s, 0); n != 0 {
			t.Fatalf("expired %d sessions without a TTL", n)
		}
		wantVersions(t, historyVersions(t, s, "forever"), 1)
		// The id is free again.
		mustCreate(t, s, "short")
		wantVersions(t, historyVersions(t, s, "short"))
	})

	t.Run("AppendAndPutExtend", func(t *testing.T) {
		s, clock := h.store(t)
		for _, id := range []string{"append", "put", "idle"} {
			if _, err := s.CreateSession(bg, state.SessionInput{ID: id, TTL: dur(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(50 * time.Minute)
		mustAppend(t, s, "append", `1`)
		if _, _, err := s.PutSession(bg, "put", state.SessionInput{}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(20 * time.Minute)
		if n := mustExpire(t, s, 0); n != 1 {
			t.Fatalf("expired %d, want 1 (idle)", n)
		}
		mustGet(t, s, "append")
		mustGet(t, s, "put")
		_, err := s.GetSession(bg, "idle")
		wantErr(t, err, state.ErrNotFound, "idle session")
		// Clearing the TTL stops expiry.
		if _, _, err := s.PutSession(bg, "put", state.SessionInput{TTL: dur(0)}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Hour)
		if n := mustExpire(t, s, 0); n != 1 {
			t.Fatalf("expired %d, want 1 (append)", n)
		}
		mustGet(t, s, "put")
	})

	t.Run("Limit", func(t *testing.T) {
		s, clock := h.store(t)
		for i := range 5 {
			id := fmt.Sprintf("e%d", i)
			if _, err := s.CreateSession(bg, state.SessionInput{ID: id, TTL: dur(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, id, 2)
		}
		mustCreate(t, s, "stay")
		clock.Advance(time.Hour)
		var got []int64
		for range 10 {
			n := mustExpire(t, s, 2)
			got = append(got, n)
			if n < 2 {
				break
			}
		}
		if fmt.Sprint(got) != "[2 2 1]" {
			t.Fatalf("batches %v, want [2 2 1]", got)
		}
		ids, _ := listAll(t, s, state.ListOptions{})
		if fmt.Sprint(ids) != "[stay]" {
			t.Fatalf("left %v", ids)
		}
		_, err := s.ExpireSessions(bg, -1)
		wantErr(t, err, state.ErrInvalid, "limit -1")
	})
}
