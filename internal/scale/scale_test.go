package scale_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/internal/scale"
)

// The harness at a tiny size, as scripts/test runs it: every operation
// runs with and without appends and lands in the table. Its figures are
// not checked (timings are scripts/scale's, on a quiet machine).
func TestScale_Tiny(t *testing.T) {
	rows, err := scale.Run(t.Context(), scale.Config{Dir: t.TempDir(), Sizes: []int{1000}, Writers: 2, Baseline: 200 * time.Millisecond, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	table := scale.Markdown(rows)
	for _, op := range scale.Ops() {
		if !strings.Contains(table, "| "+op.Name+" |") {
			t.Errorf("table lacks %s:\n%s", op.Name, table)
		}
	}
	// Whether appends completed while an operation ran depends on the
	// machine's speed at a tiny size: not checked (scripts/scale's job).
}

// The PostgreSQL delete measurement at a tiny size, on the PostgreSQL of
// scripts/test: both rows land beside the baseline.
func TestScale_PGDeleteTiny(t *testing.T) {
	url := pgtest.NewDatabase(t)
	rows, err := scale.PGDelete(t.Context(), url, 2000, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows: %+v, want the baseline and two deletes", rows)
	}
}

// PGOps at a tiny size, on the PostgreSQL of scripts/test: the baseline
// and each operation before and after issue 21 land in the table.
func TestScale_PGOpsTiny(t *testing.T) {
	url := pgtest.NewDatabase(t)
	rows, err := scale.PGOps(t.Context(), scale.PGConfig{URL: url, Big: 1000, Sessions: 20, PerSession: 30, Prune: 5, Writers: 2, Baseline: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 {
		t.Fatalf("rows: %+v, want the baseline and three operations before and after", rows)
	}
}

// PGPairs at a tiny size, on the PostgreSQL of scripts/test: each pair
// lands as a baseline and its operation, and the janitor's slices are
// counted.
func TestScale_PGPairsTiny(t *testing.T) {
	url := pgtest.NewDatabase(t)
	rows, err := scale.PGPairs(t.Context(), scale.PGPairsConfig{URL: url, Pairs: 2, Big: 500, Sessions: 10, PerSession: 15, Prune: 5, Writers: 2, Baseline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"baseline", "delete+reclaim", "baseline", "retention", "baseline", "delete+reclaim", "baseline", "retention"}
	if len(rows) != len(want) {
		t.Fatalf("rows: %+v, want %v", rows, want)
	}
	for i, r := range rows {
		if r.Op != want[i] {
			t.Fatalf("row %d is %q, want %q:\n%s", i, r.Op, want[i], scale.PairsMarkdown(rows))
		}
		if r.Op != "baseline" && r.Slices == 0 {
			t.Errorf("row %d (%s): no janitor slices counted:\n%s", i, r.Op, scale.PairsMarkdown(rows))
		}
	}
}
