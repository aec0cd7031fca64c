package sqlitestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// Child processes for the crash tests: the test binary re-executed with
// CORTEX_TEST_HELPER set (as in sqlitedb's tests).
func TestMain(m *testing.M) {
	if mode := os.Getenv("CORTEX_TEST_HELPER"); mode != "" {
		if err := runHelper(mode, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode, path string) error {
	switch mode {
	case "fork":
		// Fork src to f, one chunk per slice; after each committed slice
		// but the last, say "slice" and wait for a line on stdin, so the
		// parent can kill this process between any two slices.
		ctx := context.Background()
		s, err := Open(ctx, path, Config{Slices: SliceConfig{Budget: time.Nanosecond}})
		if err != nil {
			return err
		}
		in := bufio.NewReader(os.Stdin)
		s.forkHook = func() {
			fmt.Println("slice")
			if _, err := in.ReadString('\n'); err != nil {
				os.Exit(3)
			}
		}
		if _, err := s.ForkSession(ctx, "src", state.ForkInput{NewID: "f"}); err != nil {
			return err
		}
		fmt.Println("done")
		return s.Close()
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func openSliced(t *testing.T, path string, budget time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Config{Slices: SliceConfig{Budget: budget}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seedSession(t *testing.T, s *Store, id string, n int, stateBytes int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", stateBytes)
	for i := 1; i <= n; i++ {
		in := state.AppendInput{State: []byte(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad))}
		if i == 1 {
			in.IdempotencyKey = "k1"
		}
		if _, err := s.AppendSnapshot(ctx, id, in); err != nil {
			t.Fatal(err)
		}
	}
}

// rowCount counts a table's rows, tombstones' included.
func rowCount(t *testing.T, s *Store, table string) int64 {
	t.Helper()
	var n int64
	err := s.DB().Read(context.Background(), func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func versionsOf(t *testing.T, s *Store, id string) []int64 {
	t.Helper()
	page, err := s.History(context.Background(), id, state.HistoryOptions{Limit: state.MaxLimit})
	if err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	var vs []int64
	for _, sn := range page.Snapshots {
		vs = append(vs, sn.Version)
	}
	return vs
}

// TestDelete_ReclaimInSlices: DeleteSession removes no snapshot row (it
// makes a tombstone); the id is at once a fresh session; ReclaimSlice then
// removes the old rows a bounded chunk per slice, with appends to the new
// session between slices, and leaves the new session whole.
func TestDelete_ReclaimInSlices(t *testing.T) {
	ctx := context.Background()
	s := openSliced(t, filepath.Join(t.TempDir(), "d.db"), time.Nanosecond)
	seedSession(t, s, "big", 100, 10)
	seedSession(t, s, "stay", 3, 10)
	if err := s.DeleteSession(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s, "state_snapshots"); n != 103 {
		t.Fatalf("%d snapshot rows after the delete, want 103: the delete did the reclaim's work", n)
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "big"}); err != nil {
		t.Fatal(err)
	}
	slicesRun := 0
	for {
		r, err := s.ReclaimSlice(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slicesRun++
		if r.Snapshots > pruneChunk {
			t.Fatalf("slice %d removed %d snapshots, more than one chunk (%d) with a budget of 1ns", slicesRun, r.Snapshots, pruneChunk)
		}
		if _, err := s.AppendSnapshot(ctx, "big", state.AppendInput{State: []byte(`1`), IdempotencyKey: fmt.Sprint("n", slicesRun)}); err != nil {
			t.Fatal(err)
		}
		if !r.More {
			break
		}
		if slicesRun > 100 {
			t.Fatal("reclaim never ends")
		}
	}
	if slicesRun < 100/pruneChunk {
		t.Fatalf("%d slices for 100 rows", slicesRun)
	}
	if n := rowCount(t, s, "state_snapshots"); n != 3+int64(slicesRun) {
		t.Fatalf("%d snapshot rows after the reclaim, want %d", n, 3+slicesRun)
	}
	if vs := versionsOf(t, s, "big"); len(vs) != slicesRun || vs[len(vs)-1] != 1 {
		t.Fatalf("new session big: versions %v", vs)
	}
	if n := rowCount(t, s, "sessions"); n != 2 {
		t.Fatalf("%d session rows left, want 2", n)
	}
}

// TestPrune_Slices: with a budget of 1ns, each KeepLast PruneSlice removes
// one row (the budget is looked at before every row but the first, so a
// slice ends at most one row past it) and says there is more, and Prune
// still removes its limit.
func TestPrune_Slices(t *testing.T) {
	ctx := context.Background()
	s := openSliced(t, filepath.Join(t.TempDir(), "p.db"), time.Nanosecond)
	seedSession(t, s, "a", 60, 10)
	r, err := s.PruneSlice(ctx, state.PruneOptions{KeepLast: 1, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if r.Snapshots != 1 || !r.More {
		t.Fatalf("first slice: %+v, want 1 snapshot and more", r)
	}
	n, err := s.Prune(ctx, state.PruneOptions{KeepLast: 1, Limit: 500})
	if err != nil || n != 58 {
		t.Fatalf("Prune removed %d, %v; want 58", n, err)
	}
	if vs := versionsOf(t, s, "a"); !slices.Equal(vs, []int64{60}) {
		t.Fatalf("versions %v", vs)
	}
	r, err = s.PruneSlice(ctx, state.PruneOptions{OlderThan: time.Nanosecond})
	if err != nil || r.Snapshots != 0 || r.More {
		t.Fatalf("nothing left to prune: %+v, %v", r, err)
	}
}

// TestFork_Slices: a fork copies in slices with the writer free between
// them: other writes run, the new session is invisible until the last
// slice, and a reclaim running meanwhile leaves it alone.
func TestFork_Slices(t *testing.T) {
	ctx := context.Background()
	s := openSliced(t, filepath.Join(t.TempDir(), "f.db"), time.Nanosecond)
	seedSession(t, s, "src", 40, 100)
	mustNone := func(what string) {
		t.Helper()
		if _, err := s.GetSession(ctx, "f"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("%s: the fork is visible before it is complete: %v", what, err)
		}
		page, err := s.ListSessions(ctx, state.ListOptions{})
		if err != nil || len(page.Sessions) != 1 {
			t.Fatalf("%s: listed %+v, %v", what, page.Sessions, err)
		}
	}
	hooks := 0
	s.forkHook = func() {
		hooks++
		mustNone(fmt.Sprint("after slice ", hooks))
		if _, err := s.AppendSnapshot(ctx, "src", state.AppendInput{State: []byte(`"during"`)}); err != nil {
			t.Fatalf("an append between fork slices: %v", err)
		}
		if _, err := s.ReclaimSlice(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f, err := s.ForkSession(ctx, "src", state.ForkInput{NewID: "f", AtVersion: 40})
	if err != nil {
		t.Fatal(err)
	}
	if hooks < 40/forkChunk {
		t.Fatalf("%d slices for 40 snapshots of %d per chunk", hooks, forkChunk)
	}
	if f.Version != 40 || f.SnapshotCount != 40 {
		t.Fatalf("fork: %+v", f)
	}
	vs := versionsOf(t, s, "f")
	if len(vs) != 40 || vs[0] != 40 || vs[39] != 1 {
		t.Fatalf("fork versions %v", vs)
	}
	// The source deleted mid-fork: the fork fails, leaves nothing visible
	// and its id free; the reclaim takes its rows.
	s.forkHook = func() {
		s.forkHook = nil
		if err := s.DeleteSession(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.ForkSession(ctx, "f", state.ForkInput{NewID: "g"})
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("fork of a session deleted mid-fork: %v, want not found", err)
	}
	if _, err := s.GetSession(ctx, "g"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("failed fork visible: %v", err)
	}
	if _, err := s.ExpireSessions(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s, "state_snapshots"); n != 40+int64(hooks) {
		t.Fatalf("%d snapshot rows after the reclaim, want the source's %d", n, 40+hooks)
	}
	if _, err := s.CreateSession(ctx, state.SessionInput{ID: "g"}); err != nil {
		t.Fatalf("the failed fork's id: %v", err)
	}
}

// TestFork_CrashMidFork: a child process forks a session in slices and is
// killed with SIGKILL after slice k (for several k, and once not at all);
// reopened, the fork is either complete or absent with its id free, and
// the next reclaim leaves no row of a partial copy behind.
func TestFork_CrashMidFork(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	s, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	seedSession(t, s, "src", 30, 2000) // 30 copy slices of 1 row
	srcPage, err := s.History(ctx, "src", state.HistoryOptions{Limit: 100, IncludeState: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Slices seen before the kill: 1 is the hidden insert, 31 the last
	// copy slice (the rename is next); -1: no kill.
	for _, killAfter := range []int{1, 2, 16, 31, -1} {
		child := exec.Command(os.Args[0], "-test.run=^$", path)
		child.Env = append(os.Environ(), "CORTEX_TEST_HELPER=fork")
		child.Stderr = os.Stderr
		stdin, err := child.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		out := bufio.NewReader(stdout)
		seen, finished := 0, false
		for {
			line, err := out.ReadString('\n')
			if err != nil {
				break
			}
			if line == "done\n" {
				finished = true
				break
			}
			seen++
			if seen == killAfter {
				child.Process.Signal(syscall.SIGKILL)
				break
			}
			fmt.Fprintln(stdin, "go")
		}
		stdin.Close()
		err = child.Wait()
		if killAfter > 0 && finished {
			t.Fatalf("kill after slice %d: the fork finished first (%d slices)", killAfter, seen)
		}
		if killAfter < 0 && (!finished || err != nil) {
			t.Fatalf("unkilled child: finished %v after %d slices, %v", finished, seen, err)
		}

		s, err := Open(ctx, path, Config{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.DB().IntegrityCheck(ctx, sqlitedb.IntegrityFull)
		if err != nil || !res.OK {
			t.Fatalf("kill after %d: integrity %+v, %v", killAfter, res, err)
		}
		f, err := s.GetSession(ctx, "f")
		switch {
		case finished:
			if err != nil {
				t.Fatalf("the child finished the fork; reopened: %v", err)
			}
			page, err := s.History(ctx, "f", state.HistoryOptions{Limit: 100, IncludeState: true})
			if err != nil {
				t.Fatal(err)
			}
			if f.SnapshotCount != 30 || len(page.Snapshots) != 30 {
				t.Fatalf("complete fork: %d snapshots, %d in its history", f.SnapshotCount, len(page.Snapshots))
			}
			for i, sn := range page.Snapshots {
				if sn.Version != srcPage.Snapshots[i].Version || string(sn.State) != string(srcPage.Snapshots[i].State) {
					t.Fatalf("fork version %d differs from the source's", sn.Version)
				}
			}
		case errors.Is(err, state.ErrNotFound):
			page, err := s.ListSessions(ctx, state.ListOptions{})
			if err != nil || len(page.Sessions) != 1 || page.Sessions[0].ID != "src" {
				t.Fatalf("kill after %d: listed %+v, %v", killAfter, page.Sessions, err)
			}
			// The reclaim takes the partial copy (no process builds it now).
			if _, err := s.ExpireSessions(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if n := rowCount(t, s, "state_snapshots"); n != 30 {
				t.Fatalf("kill after %d: %d snapshot rows after the reclaim, want the source's 30", killAfter, n)
			}
			if n := rowCount(t, s, "sessions"); n != 1 {
				t.Fatalf("kill after %d: %d session rows after the reclaim, want 1", killAfter, n)
			}
			// The id is free.
			if _, err := s.CreateSession(ctx, state.SessionInput{ID: "f"}); err != nil {
				t.Fatalf("kill after %d: id f: %v", killAfter, err)
			}
			if err := s.DeleteSession(ctx, "f"); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("kill after %d: GetSession(f): %v", killAfter, err)
		}
		if finished {
			if err := s.DeleteSession(ctx, "f"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ExpireSessions(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed after slice %d of the fork (finished: %v)", killAfter, finished)
	}
}
