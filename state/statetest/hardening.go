package statetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// runHardening: the bounds of issue #14 that belong to the store — the
// TTL range and saturating time arithmetic, times outside int64
// nanoseconds, metadata caps and metadata in page byte budgets, and
// idempotency keys bound to their request's fingerprint.
func (h *harness) runHardening(t *testing.T) {
	t.Run("TTLRange", func(t *testing.T) {
		s, _ := h.store(t)
		for _, ttl := range []time.Duration{-time.Second, state.MaxTTL + time.Second, math.MaxInt64} {
			_, err := s.CreateSession(bg, state.SessionInput{ID: "bad", TTL: dur(ttl)})
			wantTTLInvalid(t, err, fmt.Sprintf("CreateSession TTL %d", ttl))
			_, _, err = s.PutSession(bg, "bad", state.SessionInput{TTL: dur(ttl)})
			wantTTLInvalid(t, err, fmt.Sprintf("PutSession (new) TTL %d", ttl))
		}
		if _, err := s.GetSession(bg, "bad"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("a refused TTL created the session: %v", err)
		}
		mustCreate(t, s, "ok")
		_, _, err := s.PutSession(bg, "ok", state.SessionInput{TTL: dur(state.MaxTTL + time.Second)})
		wantTTLInvalid(t, err, "PutSession (existing)")
		if got := mustGet(t, s, "ok"); got.TTL != 0 || got.ExpiresAt != nil {
			t.Fatalf("a refused TTL changed the session: %+v", got)
		}
		// The bound itself, then appends and listings: all in range.
		sess, err := s.CreateSession(bg, state.SessionInput{ID: "max", TTL: dur(state.MaxTTL)})
		if err != nil {
			t.Fatalf("CreateSession TTL MaxTTL: %v", err)
		}
		if sess.TTL != state.MaxTTL || sess.ExpiresAt == nil || !sess.ExpiresAt.Equal(sess.LastActive.Add(state.MaxTTL)) {
			t.Fatalf("TTL MaxTTL: %+v", sess)
		}
		r := mustAppend(t, s, "max", `{"n":1}`)
		got := mustGet(t, s, "max")
		if got.ExpiresAt == nil || !got.ExpiresAt.Equal(r.CreatedAt.Add(state.MaxTTL)) {
			t.Fatalf("after an append: ExpiresAt %v, want %v", got.ExpiresAt, r.CreatedAt.Add(state.MaxTTL))
		}
		page, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil || len(page.Sessions) != 2 {
			t.Fatalf("ListSessions: %d sessions, %v", len(page.Sessions), err)
		}
		if n := mustExpire(t, s, 0); n != 0 {
			t.Fatalf("ExpireSessions removed %d sessions of a 100-year TTL", n)
		}
	})

	t.Run("TTLSaturates", func(t *testing.T) {
		// Late in the int64 nanosecond range, last_active + MaxTTL is past
		// 2262: the expiry saturates, it never wraps into the past (where
		// the janitor would delete the session) nor breaks a listing.
		c := &Clock{now: time.Date(2200, 1, 2, 3, 4, 5, 0, time.UTC)}
		s := h.newStore(t, state.Options{Now: c.Now})
		sess, err := s.CreateSession(bg, state.SessionInput{ID: "late", TTL: dur(state.MaxTTL)})
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		wantFutureExpiry(t, sess, "created")
		mustAppend(t, s, "late", `{"n":1}`)
		wantFutureExpiry(t, mustGet(t, s, "late"), "appended")
		sess, err = s.TouchSession(bg, "late")
		if err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		wantFutureExpiry(t, sess, "touched")
		page, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil || len(page.Sessions) != 1 {
			t.Fatalf("ListSessions: %+v, %v", page, err)
		}
		wantFutureExpiry(t, page.Sessions[0], "listed")
		if n := mustExpire(t, s, 0); n != 0 {
			t.Fatalf("ExpireSessions removed %d sessions", n)
		}
		mustGet(t, s, "late")
	})

	t.Run("TimesOutOfRange", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		for _, tc := range []struct {
			since time.Time
			want  int
		}{
			{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 0},
			{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 0},
			{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), 2},
			{time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), 2},
		} {
			page, err := s.ListSessions(bg, state.ListOptions{ActiveSince: tc.since})
			if err != nil || len(page.Sessions) != tc.want || page.NextCursor != "" {
				t.Fatalf("ListSessions(ActiveSince %v) = %d sessions (cursor %q), %v; want %d", tc.since, len(page.Sessions), page.NextCursor, err, tc.want)
			}
		}
	})

	t.Run("MetadataCap", func(t *testing.T) {
		c := NewClock()
		const max = 1000
		s := h.newStore(t, state.Options{Now: c.Now, MaxMetadataBytes: max})
		md := func(n int) []byte { // a JSON object of n bytes
			return []byte(`{"m":"` + strings.Repeat("x", n-8) + `"}`)
		}
		_, err := s.CreateSession(bg, state.SessionInput{ID: "big", Metadata: md(max + 1)})
		wantErr(t, err, state.ErrTooLarge, "CreateSession with metadata over the cap")
		_, _, err = s.PutSession(bg, "big", state.SessionInput{Metadata: md(max + 1)})
		wantErr(t, err, state.ErrTooLarge, "PutSession with metadata over the cap")
		if _, err := s.GetSession(bg, "big"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("refused metadata created the session: %v", err)
		}
		if _, err := s.CreateSession(bg, state.SessionInput{ID: "s", Metadata: md(max)}); err != nil {
			t.Fatalf("CreateSession with metadata at the cap: %v", err)
		}
		_, _, err = s.PutSession(bg, "s", state.SessionInput{Metadata: md(max + 1)})
		wantErr(t, err, state.ErrTooLarge, "PutSession (existing) with metadata over the cap")
		_, err = s.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`), Metadata: md(max + 1)})
		wantErr(t, err, state.ErrTooLarge, "AppendSnapshot with metadata over the cap")
		_, err = s.AppendBatch(bg, []state.BatchItem{
			{SessionID: "s", AppendInput: state.AppendInput{State: js(`1`)}},
			{SessionID: "s", AppendInput: state.AppendInput{State: js(`2`), Metadata: md(max + 1)}},
		})
		wantErr(t, err, state.ErrTooLarge, "AppendBatch with metadata over the cap")
		if got := mustGet(t, s, "s"); got.Version != 0 || len(got.Metadata) != max {
			t.Fatalf("refused requests changed the session: version %d, metadata of %d bytes", got.Version, len(got.Metadata))
		}
		if _, err := s.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`), Metadata: md(max)}); err != nil {
			t.Fatalf("AppendSnapshot with metadata at the cap: %v", err)
		}
		// The default cap.
		d, _ := h.store(t)
		_, err = d.CreateSession(bg, state.SessionInput{ID: "big", Metadata: md(state.DefaultMaxMetadataBytes + 1)})
		wantErr(t, err, state.ErrTooLarge, "metadata over DefaultMaxMetadataBytes")
	})

	t.Run("MetadataInPageBudget", func(t *testing.T) {
		// Pages hold at most MaxPageStateBytes of metadata (and states):
		// 20 snapshots and 20 sessions of 1 MB metadata come in pages of
		// 16 or 17, whatever the limit asked, and paging loses none.
		c := NewClock()
		const mdBytes = 1_000_000
		s := h.newStore(t, state.Options{Now: c.Now, MaxMetadataBytes: 2 * mdBytes})
		md := func(i int) []byte {
			head := fmt.Sprintf(`{"i":%d,"m":"`, i)
			return []byte(head + strings.Repeat("x", mdBytes-len(head)-2) + `"}`)
		}
		const n = 20
		for i := 1; i <= n; i++ {
			id := fmt.Sprintf("s%02d", i)
			if _, err := s.CreateSession(bg, state.SessionInput{ID: id, Metadata: md(i)}); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			if _, err := s.AppendSnapshot(bg, "s01", state.AppendInput{State: js(`1`), Metadata: md(i)}); err != nil {
				t.Fatalf("AppendSnapshot: %v", err)
			}
		}
		wantBudget := func(what string, pageLens []int, total int) {
			t.Helper()
			sum := 0
			for i, l := range pageLens {
				sum += l
				if l*mdBytes >= state.MaxPageStateBytes+mdBytes || (i < len(pageLens)-1 && l*mdBytes < state.MaxPageStateBytes) {
					t.Fatalf("%s: pages of %v items of %d bytes: outside the budget of %d bytes", what, pageLens, mdBytes, state.MaxPageStateBytes)
				}
			}
			if sum != total || len(pageLens) < 2 {
				t.Fatalf("%s: pages %v, want %d items in pages of at most the budget", what, pageLens, total)
			}
		}
		for _, withState := range []bool{false, true} {
			var lens []int
			seen := map[int64]bool{}
			opts := state.HistoryOptions{Limit: state.MaxLimit, IncludeState: withState}
			for {
				p, err := s.History(bg, "s01", opts)
				if err != nil {
					t.Fatalf("History: %v", err)
				}
				for _, sn := range p.Snapshots {
					if seen[sn.Version] || len(sn.Metadata) != mdBytes {
						t.Fatalf("History: version %d twice or with %d bytes of metadata", sn.Version, len(sn.Metadata))
					}
					seen[sn.Version] = true
				}
				lens = append(lens, len(p.Snapshots))
				if p.NextCursor == "" || len(lens) > n {
					break
				}
				opts.Cursor = p.NextCursor
			}
			wantBudget(fmt.Sprintf("History (IncludeState %v)", withState), lens, n)
		}
		var lens []int
		seen := map[string]bool{}
		opts := state.ListOptions{Limit: state.MaxLimit}
		for {
			p, err := s.ListSessions(bg, opts)
			if err != nil {
				t.Fatalf("ListSessions: %v", err)
			}
			for _, sess := range p.Sessions {
				if seen[sess.ID] {
					t.Fatalf("ListSessions: %s twice", sess.ID)
				}
				seen[sess.ID] = true
			}
			lens = append(lens, len(p.Sessions))
			if p.NextCursor == "" || len(lens) > n {
				break
			}
			opts.Cursor = p.NextCursor
		}
		wantBudget("ListSessions", lens, n)
	})

	t.Run("IdempotencyFingerprint", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		first, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"n":1}`), Metadata: js(`{"m":1}`), ExpectedVersion: i64(0), IdempotencyKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string]state.AppendInput{
			"another state":            {State: js(`{"n":2}`), Metadata: js(`{"m":1}`), ExpectedVersion: i64(0)},
			"another metadata":         {State: js(`{"n":1}`), Metadata: js(`{"m":2}`), ExpectedVersion: i64(0)},
			"no metadata":              {State: js(`{"n":1}`), ExpectedVersion: i64(0)},
			"another expected version": {State: js(`{"n":1}`), Metadata: js(`{"m":1}`), ExpectedVersion: i64(1)},
			"no expected version":      {State: js(`{"n":1}`), Metadata: js(`{"m":1}`)},
		} {
			in.IdempotencyKey = "k"
			_, err := s.AppendSnapshot(bg, "a", in)
			wantErr(t, err, state.ErrIdempotencyMismatch, "the key with "+name)
			_, err = s.AppendBatch(bg, []state.BatchItem{{SessionID: "a", AppendInput: in}})
			wantErr(t, err, state.ErrIdempotencyMismatch, "the key with "+name+" in a batch")
		}
		// The identical request replays; the key is per session.
		again, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"n":1}`), Metadata: js(`{"m":1}`), ExpectedVersion: i64(0), IdempotencyKey: "k"})
		if err != nil || !again.Replayed || again.Version != first.Version || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("identical retry = %+v, %v; want a replay of %+v", again, err, first)
		}
		if r, err := s.AppendSnapshot(bg, "b", state.AppendInput{State: js(`{"n":9}`), IdempotencyKey: "k"}); err != nil || r.Replayed {
			t.Fatalf("the key on another session = %+v, %v", r, err)
		}
		wantCounters(t, s, "a", 1, 1)

		// A batch with one key on two different items: 400, nothing
		// appended; on two identical items the second replays the first.
		_, err = s.AppendBatch(bg, []state.BatchItem{
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`{"n":2}`), IdempotencyKey: "j"}},
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`{"n":3}`), IdempotencyKey: "j"}},
		})
		wantErr(t, err, state.ErrInvalid, "a batch with one key on two different items")
		wantCounters(t, s, "a", 1, 1)
		rs, err := s.AppendBatch(bg, []state.BatchItem{
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`{"n":2}`), IdempotencyKey: "j"}},
			{SessionID: "b", AppendInput: state.AppendInput{State: js(`{"n":3}`), IdempotencyKey: "j"}},
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`{"n":2}`), IdempotencyKey: "j"}},
		})
		if err != nil || rs[0].Version != 2 || rs[2].Version != 2 || rs[0].Replayed || !rs[2].Replayed || rs[1].Version != 2 {
			t.Fatalf("a batch with one key on two identical items = %+v, %v", rs, err)
		}
		wantCounters(t, s, "a", 2, 2)

		// Keys of pruned snapshots keep their fingerprint.
		appendN(t, s, "a", 3)
		if n := mustPrune(t, s, state.PruneOptions{KeepLast: 1}); n == 0 {
			t.Fatal("prune removed nothing")
		}
		_, err = s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"n":1}`), IdempotencyKey: "k"})
		wantErr(t, err, state.ErrIdempotencyMismatch, "a pruned snapshot's key with another request")
		again, err = s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"n":1}`), Metadata: js(`{"m":1}`), ExpectedVersion: i64(0), IdempotencyKey: "k"})
		if err != nil || !again.Replayed || again.Version != first.Version {
			t.Fatalf("identical retry after prune = %+v, %v; want a replay of %+v", again, err, first)
		}
		wantCounters(t, s, "a", 5, 1)

		// Concurrent first uses of one key with different requests: one
		// appends, every other is a replay (same request) or a mismatch.
		mustCreate(t, s, "c")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.AppendSnapshot(bg, "c", state.AppendInput{State: js(fmt.Sprint(i % 2)), IdempotencyKey: "race"})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, state.ErrIdempotencyMismatch) {
				t.Fatalf("racing append %d: %v", i, err)
			}
		}
		wantCounters(t, s, "c", 1, 1)
	})
}

func wantTTLInvalid(t *testing.T, err error, what string) {
	t.Helper()
	var inv *state.InvalidError
	if !errors.As(err, &inv) || inv.Field != "ttl_seconds" || !strings.Contains(inv.Reason, "3153600000") {
		t.Fatalf("%s: error = %v, want ErrInvalid on ttl_seconds naming the range", what, err)
	}
}

func wantFutureExpiry(t *testing.T, sess state.Session, what string) {
	t.Helper()
	if sess.ExpiresAt == nil || !sess.ExpiresAt.After(sess.LastActive) || sess.ExpiresAt.Before(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%s: ExpiresAt %v, LastActive %v: want a saturated expiry after 2262", what, sess.ExpiresAt, sess.LastActive)
	}
}
