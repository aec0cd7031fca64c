package statetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// listAll pages through ListSessions with opts and returns the ids in order.
func listAll(t *testing.T, s state.Store, opts state.ListOptions) (ids []string, pages int) {
	t.Helper()
	for {
		p, err := s.ListSessions(bg, opts)
		if err != nil {
			t.Fatalf("ListSessions(%+v): %v", opts, err)
		}
		pages++
		if opts.Limit > 0 && len(p.Sessions) > opts.Limit {
			t.Fatalf("page of %d sessions, limit %d", len(p.Sessions), opts.Limit)
		}
		for _, sess := range p.Sessions {
			ids = append(ids, sess.ID)
		}
		if p.NextCursor == "" {
			return ids, pages
		}
		if pages > 10000 {
			t.Fatal("ListSessions never ends")
		}
		opts.Cursor = p.NextCursor
	}
}

func (h *harness) runList(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		s, _ := h.store(t)
		p, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sessions) != 0 || p.NextCursor != "" {
			t.Fatalf("empty store: %+v", p)
		}
	})

	t.Run("NewestActiveFirst", func(t *testing.T) {
		s, clock := h.store(t)
		for _, id := range []string{"a", "b", "c"} {
			mustCreate(t, s, id)
			clock.Advance(time.Second)
		}
		ids, _ := listAll(t, s, state.ListOptions{})
		if fmt.Sprint(ids) != "[c b a]" {
			t.Fatalf("order %v, want [c b a]", ids)
		}
		if _, err := s.TouchSession(bg, "a"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		mustAppend(t, s, "b", `{}`) // an append touches too
		ids, _ = listAll(t, s, state.ListOptions{})
		if fmt.Sprint(ids) != "[b a c]" {
			t.Fatalf("order after touch and append %v, want [b a c]", ids)
		}
		p, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sameSession(t, p.Sessions[0], mustGet(t, s, "b"), "listed session")
	})

	t.Run("ActiveSince", func(t *testing.T) {
		s, clock := h.store(t)
		mustCreate(t, s, "old1")
		mustCreate(t, s, "old2")
		clock.Advance(time.Hour)
		since := clock.Peek()
		mustCreate(t, s, "new1")
		mustCreate(t, s, "new2")
		ids, _ := listAll(t, s, state.ListOptions{ActiveSince: since})
		if fmt.Sprint(ids) != "[new2 new1]" {
			t.Fatalf("active since: %v, want [new2 new1]", ids)
		}
		// At or after: a session active exactly at ActiveSince is kept.
		exact := mustGet(t, s, "new1").LastActive
		ids, _ = listAll(t, s, state.ListOptions{ActiveSince: exact})
		if fmt.Sprint(ids) != "[new2 new1]" {
			t.Fatalf("active since %v (exact): %v", exact, ids)
		}
		if _, err := s.TouchSession(bg, "old1"); err != nil {
			t.Fatal(err)
		}
		ids, _ = listAll(t, s, state.ListOptions{ActiveSince: since, Limit: 1})
		if fmt.Sprint(ids) != "[old1 new2 new1]" {
			t.Fatalf("active since after touch, paged by 1: %v", ids)
		}
	})

	t.Run("CursorPaging", func(t *testing.T) {
		s, _ := h.store(t)
		var want []string
		for i := range 25 {
			id := fmt.Sprintf("s%02d", i)
			mustCreate(t, s, id)
			want = append([]string{id}, want...)
		}
		var sizes []int
		opts := state.ListOptions{Limit: 7}
		var got []string
		for {
			p, err := s.ListSessions(bg, opts)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(p.Sessions))
			for _, x := range p.Sessions {
				got = append(got, x.ID)
			}
			if p.NextCursor == "" {
				break
			}
			opts.Cursor = p.NextCursor
		}
		if fmt.Sprint(sizes) != "[7 7 7 4]" {
			t.Fatalf("page sizes %v, want [7 7 7 4]", sizes)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("paged ids\n%v\nwant\n%v", got, want)
		}
		// An exact multiple: the last full page has no cursor, or the next
		// page is empty without a cursor.
		ids, _ := listAll(t, s, state.ListOptions{Limit: 5})
		if len(ids) != 25 {
			t.Fatalf("limit 5: %d ids", len(ids))
		}
	})

	t.Run("CursorPagingTies", func(t *testing.T) {
		// Sessions active at the same instant still page without skips or
		// repeats: a frozen clock gives every session the same times.
		frozen := NewClock().Peek()
		s := h.newStore(t, state.Options{Now: func() time.Time { return frozen }})
		for i := range 12 {
			mustCreate(t, s, fmt.Sprintf("t%02d", i))
		}
		ids, _ := listAll(t, s, state.ListOptions{Limit: 5})
		seen := map[string]int{}
		for _, id := range ids {
			seen[id]++
		}
		if len(ids) != 12 || len(seen) != 12 {
			t.Fatalf("paging ties: %v", ids)
		}
	})

	t.Run("CursorPagingConcurrentInserts", func(t *testing.T) {
		s, _ := h.store(t)
		orig := map[string]bool{}
		for i := range 25 {
			id := fmt.Sprintf("o%02d", i)
			mustCreate(t, s, id)
			orig[id] = true
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var insertErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.CreateSession(bg, state.SessionInput{}); err != nil {
					insertErr = err
					return
				}
				if i%2 == 0 {
					if _, err := s.CreateSession(bg, state.SessionInput{ID: fmt.Sprintf("n%04d", i)}); err != nil {
						insertErr = err
						return
					}
				}
			}
		}()
		seen := map[string]int{}
		opts := state.ListOptions{Limit: 7}
		for pages := 0; ; pages++ {
			p, err := s.ListSessions(bg, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range p.Sessions {
				seen[x.ID]++
			}
			if p.NextCursor == "" {
				break
			}
			if pages > 10000 {
				t.Fatal("paging never ends")
			}
			opts.Cursor = p.NextCursor
		}
		close(stop)
		wg.Wait()
		if insertErr != nil {
			t.Fatalf("concurrent CreateSession: %v", insertErr)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("session %s listed %d times", id, n)
			}
		}
		for id := range orig {
			if seen[id] != 1 {
				t.Errorf("session %s listed %d times, want once", id, seen[id])
			}
		}
	})

	t.Run("Limits", func(t *testing.T) {
		s, _ := h.store(t)
		for i := range state.DefaultLimit + 3 {
			mustCreate(t, s, fmt.Sprintf("l%03d", i))
		}
		p, err := s.ListSessions(bg, state.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sessions) != state.DefaultLimit || p.NextCursor == "" {
			t.Fatalf("limit 0: %d sessions, cursor %q; want DefaultLimit and a cursor", len(p.Sessions), p.NextCursor)
		}
		p, err = s.ListSessions(bg, state.ListOptions{Limit: state.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sessions) != state.DefaultLimit+3 || p.NextCursor != "" {
			t.Fatalf("limit MaxLimit: %d sessions, cursor %q", len(p.Sessions), p.NextCursor)
		}
		_, err = s.ListSessions(bg, state.ListOptions{Limit: state.MaxLimit + 1})
		wantErr(t, err, state.ErrInvalid, "limit MaxLimit+1")
		_, err = s.ListSessions(bg, state.ListOptions{Limit: -1})
		wantErr(t, err, state.ErrInvalid, "limit -1")
	})

	t.Run("BadCursor", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "x")
		for _, c := range []string{"!!!", "not-a-cursor", "eyJ4IjoxfQ", "AAAA", " ", "%"} {
			_, err := s.ListSessions(bg, state.ListOptions{Cursor: c})
			wantErr(t, err, state.ErrInvalid, fmt.Sprintf("cursor %q", c))
		}
	})
}
