package statetest

import (
	"fmt"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// historyPages pages through History with opts and returns each page's versions.
func historyPages(t *testing.T, s state.Store, id string, opts state.HistoryOptions) [][]int64 {
	t.Helper()
	var pages [][]int64
	for {
		p, err := s.History(bg, id, opts)
		if err != nil {
			t.Fatalf("History(%+v): %v", opts, err)
		}
		var vs []int64
		for _, sn := range p.Snapshots {
			vs = append(vs, sn.Version)
			if sn.SessionID != id {
				t.Fatalf("snapshot of session %q in the history of %q", sn.SessionID, id)
			}
			if opts.IncludeState && sn.State == nil {
				t.Fatalf("version %d: State nil with IncludeState", sn.Version)
			}
			if !opts.IncludeState && sn.State != nil {
				t.Fatalf("version %d: State %s without IncludeState", sn.Version, sn.State)
			}
		}
		pages = append(pages, vs)
		if p.NextCursor == "" {
			return pages
		}
		if len(pages) > 10000 {
			t.Fatal("History never ends")
		}
		opts.Cursor = p.NextCursor
	}
}

func (h *harness) runHistory(t *testing.T) {
	t.Run("NewestFirstPaging", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "h")
		appendN(t, s, "h", 10)
		got := historyPages(t, s, "h", state.HistoryOptions{Limit: 3})
		if fmt.Sprint(got) != "[[10 9 8] [7 6 5] [4 3 2] [1]]" {
			t.Fatalf("pages %v", got)
		}
		got = historyPages(t, s, "h", state.HistoryOptions{Limit: 5})
		if n := len(got); n < 2 || n > 3 || fmt.Sprint(got[0]) != "[10 9 8 7 6]" || fmt.Sprint(got[1]) != "[5 4 3 2 1]" || (n == 3 && len(got[2]) != 0) {
			t.Fatalf("pages of an exact multiple: %v", got)
		}
		got = historyPages(t, s, "h", state.HistoryOptions{})
		if fmt.Sprint(got) != "[[10 9 8 7 6 5 4 3 2 1]]" {
			t.Fatalf("default limit: %v", got)
		}
	})

	t.Run("IncludeState", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "h")
		for i := 1; i <= 3; i++ {
			if _, err := s.AppendSnapshot(bg, "h", state.AppendInput{State: js(fmt.Sprintf(`{"i":%d}`, i)), Metadata: js(fmt.Sprintf(`{"m":%d}`, i))}); err != nil {
				t.Fatal(err)
			}
		}
		for _, include := range []bool{false, true} {
			p, err := s.History(bg, "h", state.HistoryOptions{IncludeState: include})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Snapshots) != 3 {
				t.Fatalf("%d snapshots", len(p.Snapshots))
			}
			for _, sn := range p.Snapshots {
				full, err := s.GetSnapshot(bg, "h", sn.Version)
				if err != nil {
					t.Fatal(err)
				}
				if sn.SizeBytes != full.SizeBytes || sn.SizeBytes == 0 {
					t.Fatalf("SizeBytes %d, want %d", sn.SizeBytes, full.SizeBytes)
				}
				wantTime(t, sn.CreatedAt, full.CreatedAt, "CreatedAt")
				wantUTC(t, sn.CreatedAt, "CreatedAt")
				wantJSON(t, sn.Metadata, fmt.Sprintf(`{"m":%d}`, sn.Version), "Metadata")
				if include {
					wantJSON(t, sn.State, fmt.Sprintf(`{"i":%d}`, sn.Version), "State")
				} else if sn.State != nil {
					t.Fatalf("State %s without IncludeState", sn.State)
				}
			}
		}
	})

	t.Run("Before", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "h")
		appendN(t, s, "h", 10)
		got := historyPages(t, s, "h", state.HistoryOptions{Before: 5})
		if fmt.Sprint(got) != "[[4 3 2 1]]" {
			t.Fatalf("before 5: %v", got)
		}
		got = historyPages(t, s, "h", state.HistoryOptions{Before: 8, Limit: 3, IncludeState: true})
		if fmt.Sprint(got) != "[[7 6 5] [4 3 2] [1]]" {
			t.Fatalf("before 8 by 3: %v", got)
		}
		got = historyPages(t, s, "h", state.HistoryOptions{Before: 1})
		if fmt.Sprint(got) != "[[]]" {
			t.Fatalf("before 1: %v", got)
		}
		got = historyPages(t, s, "h", state.HistoryOptions{Before: 100, Limit: 4})
		if fmt.Sprint(got) != "[[10 9 8 7] [6 5 4 3] [2 1]]" {
			t.Fatalf("before 100: %v", got)
		}
	})

	t.Run("PagingWhileAppending", func(t *testing.T) {
		// New versions land above the first page; paging on goes down
		// without skips or repeats.
		s, _ := h.store(t)
		mustCreate(t, s, "h")
		appendN(t, s, "h", 9)
		p, err := s.History(bg, "h", state.HistoryOptions{Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, s, "h", 3)
		rest := historyPages(t, s, "h", state.HistoryOptions{Limit: 4, Cursor: p.NextCursor})
		if fmt.Sprint(rest) != "[[5 4 3 2] [1]]" {
			t.Fatalf("rest %v", rest)
		}
	})

	t.Run("StateBudget", func(t *testing.T) { h.runHistoryBudget(t) })

	t.Run("Errors", func(t *testing.T) {
		s, _ := h.store(t)
		_, err := s.History(bg, "missing", state.HistoryOptions{})
		wantErr(t, err, state.ErrNotFound, "History of a missing session")
		_, err = s.History(bg, "a/b", state.HistoryOptions{})
		wantErr(t, err, state.ErrInvalid, "History of a bad id")
		mustCreate(t, s, "h")
		p, err := s.History(bg, "h", state.HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Snapshots) != 0 || p.NextCursor != "" {
			t.Fatalf("history of an empty session: %+v", p)
		}
		appendN(t, s, "h", 2)
		_, err = s.History(bg, "h", state.HistoryOptions{Limit: state.MaxLimit + 1})
		wantErr(t, err, state.ErrInvalid, "limit MaxLimit+1")
		_, err = s.History(bg, "h", state.HistoryOptions{Limit: -1})
		wantErr(t, err, state.ErrInvalid, "limit -1")
		_, err = s.History(bg, "h", state.HistoryOptions{Before: -1})
		wantErr(t, err, state.ErrInvalid, "before -1")
		for _, c := range []string{"!!!", "garbage", "AAAA", "%"} {
			_, err = s.History(bg, "h", state.HistoryOptions{Cursor: c})
			wantErr(t, err, state.ErrInvalid, fmt.Sprintf("cursor %q", c))
		}
	})
}
