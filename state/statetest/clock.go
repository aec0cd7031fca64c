package statetest

import (
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// runTimeNeverGoesBack drives the store's clock backwards between writes,
// as a wall clock stepped back does, or as a write whose time was read
// before it waited (for the writer, for a row lock) behind a later one:
// a session's created_at, last_active and expires_at must still never go
// back, or age-based pruning leaves holes and a touch's acknowledged
// expiry does not hold.
func (h *harness) runTimeNeverGoesBack(t *testing.T) {
	var (
		mu  sync.Mutex
		cur = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	)
	set := func(d time.Duration) {
		mu.Lock()
		cur = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).Add(d)
		mu.Unlock()
	}
	s := h.newStore(t, state.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return cur }})
	ttl := time.Hour
	set(10 * time.Second)
	if _, err := s.CreateSession(bg, state.SessionInput{ID: "t", TTL: &ttl}); err != nil {
		t.Fatal(err)
	}
	set(20 * time.Second)
	first, err := s.AppendSnapshot(bg, "t", state.AppendInput{State: js(`1`)})
	if err != nil {
		t.Fatal(err)
	}
	high := first.CreatedAt
	check := func(what string, got time.Time) {
		t.Helper()
		if got.Before(high) {
			t.Errorf("%s: %v, earlier than the session's last write at %v", what, got, high)
		}
	}
	checkSession := func(what string, sess state.Session) {
		t.Helper()
		check("last_active "+what, sess.LastActive)
		if sess.ExpiresAt == nil || sess.ExpiresAt.Before(high.Add(ttl)) {
			t.Errorf("expires_at %s: %v, want at least %v", what, sess.ExpiresAt, high.Add(ttl))
		}
	}
	set(15 * time.Second)
	r, err := s.AppendSnapshot(bg, "t", state.AppendInput{State: js(`2`)})
	if err != nil {
		t.Fatal(err)
	}
	check("created_at of an append whose clock read was earlier", r.CreatedAt)
	set(14 * time.Second)
	rs, err := s.AppendBatch(bg, []state.BatchItem{{SessionID: "t", AppendInput: state.AppendInput{State: js(`3`)}}})
	if err != nil {
		t.Fatal(err)
	}
	check("created_at of a batch item", rs[0].CreatedAt)
	set(12 * time.Second)
	sess, err := s.TouchSession(bg, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkSession("after a touch", sess)
	set(11 * time.Second)
	sess, _, err = s.PutSession(bg, "t", state.SessionInput{})
	if err != nil {
		t.Fatal(err)
	}
	checkSession("after a put", sess)
	got, err := s.GetSession(bg, "t")
	if err != nil {
		t.Fatal(err)
	}
	checkSession("stored", got)
	page, err := s.History(bg, "t", state.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(page.Snapshots); i++ { // newest first
		if page.Snapshots[i-1].CreatedAt.Before(page.Snapshots[i].CreatedAt) {
			t.Errorf("version %d created at %v, before version %d at %v",
				page.Snapshots[i-1].Version, page.Snapshots[i-1].CreatedAt, page.Snapshots[i].Version, page.Snapshots[i].CreatedAt)
		}
	}
}
