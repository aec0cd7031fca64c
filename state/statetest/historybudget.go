package statetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/state"
)

// budgetStateBytes is the size of each state in the page budget test:
// under DefaultMaxStateBytes, the limit of the suite's stores, and not a
// divisor of MaxPageStateBytes, so that pages go past the budget.
const budgetStateBytes = 1_000_000

// budgetState is version v's state in the page budget test: a JSON string
// of exactly budgetStateBytes bytes that names its version (a string, so
// that no backend can normalise it to another length).
func budgetState(v int64) string {
	head := fmt.Sprintf(`"v%d-`, v)
	return head + strings.Repeat("x", budgetStateBytes-len(head)-1) + `"`
}

// budgetPage is what the budget test keeps of one history page.
type budgetPage struct {
	versions []int64
	held     int // bytes of the page's states
	last     int // bytes of its last state
	next     bool
}

// statePages pages through History with opts (IncludeState) and returns
// each page's versions and state bytes, checking each state.
func statePages(t *testing.T, s state.Store, id string, opts state.HistoryOptions) []budgetPage {
	t.Helper()
	var pages []budgetPage
	for {
		p, err := s.History(bg, id, opts)
		if err != nil {
			t.Fatalf("History(%+v): %v", opts, err)
		}
		bp := budgetPage{next: p.NextCursor != ""}
		for _, sn := range p.Snapshots {
			bp.versions = append(bp.versions, sn.Version)
			if len(sn.State) != budgetStateBytes || !strings.HasPrefix(string(sn.State), fmt.Sprintf(`"v%d-`, sn.Version)) {
				t.Fatalf("version %d: a state of %d bytes that is not this version's", sn.Version, len(sn.State))
			}
			bp.held += len(sn.State)
			bp.last = len(sn.State)
		}
		pages = append(pages, bp)
		if !bp.next {
			return pages
		}
		if len(pages) > 1000 {
			t.Fatal("History never ends")
		}
		opts.Cursor = p.NextCursor
	}
}

// runHistoryBudget checks state.MaxPageStateBytes: with IncludeState a page
// holds snapshots while the states before each sum to less than the budget,
// so it is the shortest run of snapshots whose states reach the budget (or
// the rest of the history, or Limit snapshots), never more than the budget
// plus its last state.
func (h *harness) runHistoryBudget(t *testing.T) {
	// per is the number of budgetStateBytes states a page holds.
	per := (state.MaxPageStateBytes + budgetStateBytes - 1) / budgetStateBytes
	n := 2*per + 6 // two full pages and part of a third
	s, _ := h.store(t)
	mustCreate(t, s, "h")
	for v := int64(1); v <= int64(n); v++ {
		if _, err := s.AppendSnapshot(bg, "h", state.AppendInput{State: js(budgetState(v))}); err != nil {
			t.Fatalf("append %d: %v", v, err)
		}
	}

	// check compares the pages with the expected page lengths.
	check := func(what string, pages []budgetPage, top int64, lens ...int) {
		t.Helper()
		got := make([]int, len(pages))
		for i, p := range pages {
			got[i] = len(p.versions)
		}
		if fmt.Sprint(got) != fmt.Sprint(lens) {
			t.Fatalf("%s: page lengths %v, want %v", what, got, lens)
		}
		var vs []int64
		for i, p := range pages {
			vs = append(vs, p.versions...)
			if p.held-p.last >= state.MaxPageStateBytes {
				t.Fatalf("%s: page %d holds %d state bytes, %d before its last state: over MaxPageStateBytes (%d)",
					what, i, p.held, p.held-p.last, state.MaxPageStateBytes)
			}
			if p.next != (i < len(pages)-1) {
				t.Fatalf("%s: page %d of %d: NextCursor set %v", what, i+1, len(pages), p.next)
			}
		}
		wantVersions(t, vs, descending(top, 1)...)
	}

	// Limit MaxLimit: pages end on the budget; the last one on the rows.
	pages := statePages(t, s, "h", state.HistoryOptions{Limit: state.MaxLimit, IncludeState: true})
	check("limit MaxLimit", pages, int64(n), per, per, n-2*per)
	for i, p := range pages[:2] {
		if p.held < state.MaxPageStateBytes {
			t.Fatalf("page %d ended with %d state bytes, under MaxPageStateBytes (%d)", i+1, p.held, state.MaxPageStateBytes)
		}
	}

	// A page that reaches the budget on the session's oldest snapshot is
	// the last page: no NextCursor, no empty page after it.
	pages = statePages(t, s, "h", state.HistoryOptions{Limit: state.MaxLimit, IncludeState: true, Before: int64(2*per + 1)})
	check("budget on the oldest", pages, int64(2*per), per, per)
	// The same when the budget and Limit end the page together.
	pages = statePages(t, s, "h", state.HistoryOptions{Limit: per, IncludeState: true, Before: int64(2*per + 1)})
	check("budget and limit on the oldest", pages, int64(2*per), per, per)
	// Under the budget, Limit alone makes the pages.
	pages = statePages(t, s, "h", state.HistoryOptions{Limit: per - 1, IncludeState: true, Before: int64(2*per - 1)})
	check("limit under the budget", pages, int64(2*per-2), per-1, per-1)

	// Without states there is no budget: one page of everything.
	got := historyPages(t, s, "h", state.HistoryOptions{Limit: state.MaxLimit})
	if len(got) != 1 || len(got[0]) != n {
		t.Fatalf("without IncludeState: %d pages, the first of %d snapshots; want 1 of %d", len(got), len(got[0]), n)
	}
}
