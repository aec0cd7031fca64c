package sqlitestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// TestPruneKeepLast_Scan: KeepLast finds the snapshots over their
// session's limit by walking the snapshots table in rowid ranges, resuming
// where the last call stopped. With ranges of 5 rows and a limit of 7
// snapshots per call, the calls start mid-table, wrap round, stop part-way
// through a session and across gaps left by deleted sessions; sessions that go over
// behind the cursor, and new ones past the table's old end, are found by
// the next pass. After each pass every session keeps exactly its newest
// min(count, keep) snapshots.
func TestPruneKeepLast_Scan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), Config{Slices: SliceConfig{KeepScanRange: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	versions := map[string]int64{} // session: latest version
	appendTo := func(id string, n int) {
		for range n {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			versions[id]++
		}
	}
	create := func(id string) {
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
		versions[id] = 0
	}
	for i := range 60 {
		id := fmt.Sprintf("s%02d", i)
		create(id)
		appendTo(id, r.IntN(10))
	}
	for _, id := range []string{"s07", "s08", "s09", "s10", "s11", "s12", "s33"} {
		if err := s.DeleteSession(ctx, id); err != nil {
			t.Fatal(err)
		}
		delete(versions, id)
	}
	const keep, limit = 3, 7
	check := func(when string) {
		t.Helper()
		for id, v := range versions {
			sess, err := s.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantCount := min(v, keep)
			if sess.SnapshotCount != wantCount {
				t.Fatalf("%s: session %s keeps %d snapshots, want %d", when, id, sess.SnapshotCount, wantCount)
			}
			page, err := s.History(ctx, id, state.HistoryOptions{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(page.Snapshots)) != wantCount || (wantCount > 0 && page.Snapshots[0].Version != v) {
				t.Fatalf("%s: session %s has %d snapshots in its history, want its newest %d", when, id, len(page.Snapshots), wantCount)
			}
		}
	}
	prune := func(when string) (total int64, calls int) {
		t.Helper()
		for {
			n, err := s.Prune(ctx, state.PruneOptions{KeepLast: keep, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if n > limit {
				t.Fatalf("%s: Prune removed %d, more than its limit %d", when, n, limit)
			}
			total += n
			calls++
			if n < limit {
				return total, calls
			}
			if calls > 1000 {
				t.Fatalf("%s: Prune never comes back short", when)
			}
		}
	}
	excess := func() (n int64) {
		for _, v := range versions {
			n += max(0, v-keep)
		}
		return n
	}

	want := excess()
	if n, err := s.Prune(ctx, state.PruneOptions{KeepLast: keep, Limit: limit}); err != nil || n != limit {
		t.Fatalf("first call removed %d, %v; want its limit %d", n, err, limit)
	}
	if s.keep.after == scanStart || s.keep.after == (scanPos{}) {
		t.Fatal("the walk's cursor never moved: the calls would not resume")
	}
	got, calls := prune("first pass")
	got += limit
	if got != want {
		t.Fatalf("first pass removed %d snapshots in %d calls, want %d", got, calls, want)
	}
	check("after the first pass")

	// Over the limit again: sessions on both sides of the cursor, and new
	// sessions past the old end of the table.
	counts := map[string]int64{}
	for id, v := range versions {
		counts[id] = min(v, keep)
	}
	for _, id := range []string{"s00", "s01", "s30", "s59"} {
		appendTo(id, 5)
		counts[id] += 5
	}
	for i := range 4 {
		id := fmt.Sprintf("n%d", i)
		create(id)
		appendTo(id, 6)
		counts[id] = 6
	}
	want = 0
	for _, c := range counts {
		want += max(0, c-keep)
	}
	got, calls = prune("second pass")
	if got != want {
		t.Fatalf("second pass removed %d snapshots in %d calls, want %d", got, calls, want)
	}
	check("after the second pass")
	if n, err := s.Prune(ctx, state.PruneOptions{KeepLast: keep, Limit: limit}); err != nil || n != 0 {
		t.Fatalf("a third pass removed %d, %v; want 0", n, err)
	}
}

// TestPruneKeepLast_FileOrder: KeepLast removes rows in the order they lie
// in the file (rowid order), across sessions, not session by session: the
// rows one slice removes share pages, and the reader that found them has
// just read those pages (at 5M snapshots the old per-session order cost a
// cold page read on the writer per row). Three sessions appended in turn,
// keep 2, a limit of 6: the six oldest rows of the file go, two of each.
func TestPruneKeepLast_FileOrder(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		for _, id := range ids {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 2, Limit: 6})
	if err != nil || n != 6 {
		t.Fatalf("Prune removed %d, %v; want 6", n, err)
	}
	for _, id := range ids {
		vs := versionsOf(t, s, id)
		if len(vs) != 8 || vs[len(vs)-1] != 3 {
			t.Fatalf("session %s keeps versions %v, want 10 down to 3 (the file's oldest rows go first)", id, vs)
		}
		sess, err := s.GetSession(ctx, id)
		if err != nil || sess.SnapshotCount != 8 {
			t.Fatalf("session %s: count %d, %v; want 8", id, sess.SnapshotCount, err)
		}
	}
}

// TestPruneKeepLast_StaleVictim: a row found on a reader is removed on the
// writer only if it is still its session's and at or below the cutoff
// found with it: a rowid SQLite gave again to another session's row (it
// reuses the largest after a delete), or a cutoff past the session's
// versions, removes nothing.
func TestPruneKeepLast_StaleVictim(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"a", "b"} {
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := s.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var rowB1, sidA, sidB int64
	err = s.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT sid FROM sessions WHERE id = 'a'`).Scan(&sidA); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT sid FROM sessions WHERE id = 'b'`).Scan(&sidB); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT rowid FROM state_snapshots WHERE session_id = ? AND version = 1`, sidB).Scan(&rowB1)
	})
	if err != nil {
		t.Fatal(err)
	}
	stale := []victim{
		{rowid: rowB1, sid: sidA, version: 1, cutoff: 2}, // b's row, found as a's
		{rowid: rowB1, sid: sidB, version: 1, cutoff: 0}, // below every version
	}
	var removed int64
	err = s.DB().Write(ctx, func(tx *sqlitedb.Tx) error {
		var err error
		removed, _, _, err = pruneVictims(ctx, tx, s.startSlice(), stale, false)
		return err
	})
	if err != nil || removed != 0 {
		t.Fatalf("stale victims: removed %d, %v; want 0", removed, err)
	}
	for _, id := range []string{"a", "b"} {
		if vs := versionsOf(t, s, id); len(vs) != 3 {
			t.Fatalf("session %s keeps %v, want all 3", id, vs)
		}
	}
}

// TestPruneKeepLast_ManySessionsInSlices: KeepLast retention over many
// sessions appended to in turn, one row a slice (a budget of 1ns: the
// budget is looked at before every row but the first), with appends
// between the slices: each slice removes exactly one row; no session ever
// loses one of its newest KeepLast; each session's snapshot_count stays its
// row count while slices remove rows of many sessions (each session's count
// once a slice); every idempotency key of a removed row is kept (with
// retainWarm, the reader says which rows hold none); and after a second
// lap each session holds exactly its newest KeepLast.
func TestPruneKeepLast_ManySessionsInSlices(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprint("warm=", warm), func(t *testing.T) {
			retainWarm = warm
			defer func() { retainWarm = false }()
			testPruneManySessionsInSlices(t)
		})
	}
}

func testPruneManySessionsInSlices(t *testing.T) {
	ctx := context.Background()
	s := openSliced(t, filepath.Join(t.TempDir(), "p.db"), time.Nanosecond)
	const sessions, rounds, keep = 12, 10, 3
	id := func(i int) string { return fmt.Sprintf("s%02d", i) }
	for i := range sessions {
		if _, err := s.CreateSession(ctx, state.SessionInput{ID: id(i)}); err != nil {
			t.Fatal(err)
		}
	}
	keyed := 0
	appendOne := func(i, n int) {
		t.Helper()
		in := state.AppendInput{State: []byte(`{}`)}
		if n%3 == 0 {
			in.IdempotencyKey = fmt.Sprintf("k%d-%d", i, n)
			keyed++
		}
		if _, err := s.AppendSnapshot(ctx, id(i), in); err != nil {
			t.Fatal(err)
		}
	}
	for r := range rounds {
		for i := range sessions {
			appendOne(i, r)
		}
	}
	checkCounts := func(when string) {
		t.Helper()
		err := s.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
			var bad int64
			err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions AS x
				WHERE snapshot_count <> (SELECT count(*) FROM state_snapshots WHERE session_id = x.sid)`).Scan(&bad)
			if err == nil && bad != 0 {
				t.Fatalf("%s: %d sessions' snapshot_count differ from their rows", when, bad)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	newest := func() map[string]int64 {
		m := map[string]int64{}
		for i := range sessions {
			vs := versionsOf(t, s, id(i))
			m[id(i)] = vs[0]
		}
		return m
	}
	var removed int64
	slicesRun := 0
	for n := rounds; ; n++ {
		before := newest()
		r, err := s.PruneSlice(ctx, state.PruneOptions{KeepLast: keep, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		slicesRun++
		if r.Snapshots > 1 {
			t.Fatalf("slice %d removed %d rows with a budget of 1ns, want at most 1", slicesRun, r.Snapshots)
		}
		removed += r.Snapshots
		for i := range sessions {
			vs := versionsOf(t, s, id(i))
			if len(vs) < keep || vs[keep-1] != before[id(i)]-keep+1 {
				t.Fatalf("after slice %d, %s keeps %v: one of its newest %d is gone", slicesRun, id(i), vs, keep)
			}
		}
		checkCounts(fmt.Sprint("after slice ", slicesRun))
		if !r.More {
			break
		}
		if slicesRun > 10*sessions*rounds {
			t.Fatal("the pass never ends")
		}
		appendOne(slicesRun%sessions, n) // between slices
	}
	if removed < sessions*(rounds-keep) {
		t.Fatalf("the pass removed %d rows, want at least %d", removed, sessions*(rounds-keep))
	}
	// A second lap removes what the appends made old meanwhile.
	if _, err := s.Prune(ctx, state.PruneOptions{KeepLast: keep, Limit: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	checkCounts("after the second lap")
	for i := range sessions {
		if vs := versionsOf(t, s, id(i)); len(vs) != keep {
			t.Fatalf("%s keeps %v, want its newest %d", id(i), vs, keep)
		}
	}
	// Each keyed row is either still there or its key is kept.
	var live, kept int64
	err := s.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM state_snapshots WHERE idempotency_key IS NOT NULL`).Scan(&live); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM pruned_idempotency_keys`).Scan(&kept)
	})
	if err != nil {
		t.Fatal(err)
	}
	if live+kept != int64(keyed) {
		t.Fatalf("%d keyed rows live and %d keys kept, want %d in all", live, kept, keyed)
	}
}
