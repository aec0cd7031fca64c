package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// tinySlices makes every slice one statement of 4 rows, so a fork of a few
// dozen snapshots takes many slices.
var tinySlices = pgstore.SliceConfig{Budget: time.Nanosecond, Rows: 4}

// seedSession creates id with n snapshots {"n":i}.
func seedSession(t *testing.T, st *pgstore.Store, id string, n int) {
	t.Helper()
	if _, err := st.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
		t.Fatal(err)
	}
	batch := make([]state.BatchItem, 0, state.MaxBatch)
	for i := 1; i <= n; i++ {
		batch = append(batch, state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: js(fmt.Sprintf(`{"n":%d}`, i))}})
		if len(batch) == cap(batch) || i == n {
			if _, err := st.AppendBatch(bg, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// rowsOf counts the snapshot rows and session rows (hidden ones too) of id.
func rowsOf(t *testing.T, conn *pgx.Conn, id string) (snapshots, sessions int) {
	t.Helper()
	if err := conn.QueryRow(bg, `SELECT (SELECT count(*) FROM state_snapshots WHERE session_id = $1),
		(SELECT count(*) FROM sessions WHERE id = $1)`, id).Scan(&snapshots, &sessions); err != nil {
		t.Fatal(err)
	}
	return snapshots, sessions
}

// A fork copies in slices and holds nothing between them: mid-copy, the
// source takes appends (the one-transaction fork held it FOR SHARE to the
// end, so this append waited for the whole copy: here it would deadlock
// the hook), the fork is absent from every route, and the copy announces
// nothing to watchers.
func TestFork_SlicedSourceWritableForkHidden(t *testing.T) {
	st, url := openStore(t, pgstore.Config{Slices: tinySlices})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, "LISTEN cortex_watch"); err != nil {
		t.Fatal(err)
	}
	seedSession(t, st, "src", 40)
	var mid atomic.Int64
	pgstore.SetForkHook(st, func(ctx context.Context, id string, slice int) error {
		if slice != 3 {
			return nil
		}
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		r, err := st.AppendSnapshot(actx, "src", state.AppendInput{State: js(`"during"`)})
		if err != nil {
			return fmt.Errorf("append to the source mid-fork: %w", err)
		}
		mid.Store(r.Version)
		if _, err := st.GetSession(ctx, "f"); !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("GetSession of the fork mid-copy: %v, want ErrNotFound", err)
		}
		if _, err := st.LatestSnapshot(ctx, "f"); !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("LatestSnapshot of the fork mid-copy: %v, want ErrNotFound", err)
		}
		if _, err := st.AppendSnapshot(ctx, "f", state.AppendInput{State: js(`1`)}); !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("AppendSnapshot to the fork mid-copy: %v, want ErrNotFound", err)
		}
		if err := st.DeleteSession(ctx, "f"); !errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("DeleteSession of the fork mid-copy: %v, want ErrNotFound", err)
		}
		p, err := st.ListSessions(ctx, state.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range p.Sessions {
			if s.ID == "f" {
				return errors.New("the fork is listed mid-copy")
			}
		}
		return nil
	})
	f, err := st.ForkSession(bg, "src", state.ForkInput{NewID: "f", AtVersion: 40})
	if err != nil {
		t.Fatal(err)
	}
	if mid.Load() != 41 {
		t.Fatalf("the hook's append got version %d, want 41 (did the fork take 3 slices?)", mid.Load())
	}
	if f.Version != 40 || f.SnapshotCount != 40 {
		t.Fatalf("fork %+v, want version 40 with 40 snapshots", f)
	}
	for v := int64(1); v <= 40; v++ {
		sn, err := st.GetSnapshot(bg, "f", v)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, v); string(sn.State) != want {
			t.Fatalf("fork version %d: %s, want %s", v, sn.State, want)
		}
	}
	// Notifications arrive in commit order: after the seed's 40 and the
	// append mid-fork, the next one for f must be the append below, not a
	// copied snapshot.
	if _, err := st.AppendSnapshot(bg, "f", state.AppendInput{State: js(`"after"`)}); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := conn.WaitForNotification(bg)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			K  string `json:"k"`
			ID string `json:"id"`
			V  int64  `json:"v"`
		}
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != "f" {
			continue
		}
		if p.K != "s" || p.V != 41 {
			t.Fatalf("first notification for the fork: %s, want its own append of version 41 (the copy must be silent)", n.Payload)
		}
		break
	}
}

// The source deleted mid-copy, or deleted and created again: the fork
// fails with ErrNotFound, is never visible, its id is free, and its rows
// go to the janitor at once (no lease to wait for: the fork gave them up).
func TestFork_SourceGoneMidCopy(t *testing.T) {
	for _, recreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("recreated=%v", recreate), func(t *testing.T) {
			st, url := openStore(t, pgstore.Config{Slices: tinySlices})
			conn, err := pgx.Connect(bg, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(bg)
			seedSession(t, st, "src", 40)
			pgstore.SetForkHook(st, func(ctx context.Context, id string, slice int) error {
				if slice != 2 {
					return nil
				}
				if err := st.DeleteSession(ctx, "src"); err != nil {
					return err
				}
				if recreate {
					seedSession(t, st, "src", 45)
				}
				return nil
			})
			_, err = st.ForkSession(bg, "src", state.ForkInput{NewID: "f"})
			if !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("fork whose source went mid-copy: %v, want ErrNotFound", err)
			}
			if _, err := st.GetSession(bg, "f"); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("GetSession of the failed fork: %v", err)
			}
			if _, err := st.ExpireSessions(bg, 0); err != nil {
				t.Fatal(err)
			}
			if sn, se := rowsOf(t, conn, "f"); sn != 0 || se != 0 {
				t.Fatalf("after the janitor: %d snapshot rows, %d session rows of the failed fork; want none", sn, se)
			}
			if _, err := st.CreateSession(bg, state.SessionInput{ID: "f"}); err != nil {
				t.Fatalf("the failed fork's id is not free: %v", err)
			}
		})
	}
}

// A create of the new id mid-copy wins: it buries the hidden row (and the
// rows copied so far) and gets a new, empty session; the fork fails with
// ErrExists at its next slice and writes nothing into the new session.
func TestFork_CreateMidCopyWins(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{Slices: tinySlices})
	seedSession(t, st, "src", 40)
	pgstore.SetForkHook(st, func(ctx context.Context, id string, slice int) error {
		if slice == 2 {
			_, err := st.CreateSession(ctx, state.SessionInput{ID: "f"})
			return err
		}
		return nil
	})
	_, err := st.ForkSession(bg, "src", state.ForkInput{NewID: "f"})
	if !errors.Is(err, state.ErrExists) {
		t.Fatalf("fork whose id was created mid-copy: %v, want ErrExists", err)
	}
	s, err := st.GetSession(bg, "f")
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 0 || s.SnapshotCount != 0 {
		t.Fatalf("the created session %+v, want it new and empty", s)
	}
	if h, err := st.History(bg, "f", state.HistoryOptions{}); err != nil || len(h.Snapshots) != 0 {
		t.Fatalf("the created session's history: %d snapshots (%v), want none of the fork's copy", len(h.Snapshots), err)
	}
	if _, err := st.ExpireSessions(bg, 0); err != nil {
		t.Fatal(err)
	}
	if r, err := st.AppendSnapshot(bg, "f", state.AppendInput{State: js(`1`)}); err != nil || r.Version != 1 {
		t.Fatalf("append to the created session: %+v, %v", r, err)
	}
}

// Child process of TestFork_CrashMidCopy.
const childForkEnv = "PGSTORE_TEST_CHILD_FORK_URL"

// A fork whose process dies mid-copy leaves a hidden row: absent from
// every route, its id free, left alone by the janitor while its lease
// runs, and reclaimed whole once it has run out.
func TestFork_CrashMidCopy(t *testing.T) {
	var skew atomic.Int64 // the parent's clock runs ahead by this
	st, url := openStore(t, pgstore.Config{Slices: tinySlices,
		Options: state.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }}})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	seedSession(t, st, "src", 40)
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildFork$", "-test.count=1")
	cmd.Env = append(os.Environ(), childForkEnv+"="+url)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child: %v, want it to exit with 3 mid-fork", err)
	}
	sn, se := rowsOf(t, conn, "f")
	if se != 1 || sn == 0 || sn >= 40 {
		t.Fatalf("after the crash: %d snapshot rows and %d session rows of the fork, want a hidden row with part of the copy", sn, se)
	}
	if _, err := st.GetSession(bg, "f"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetSession of the crashed fork: %v", err)
	}
	if _, err := st.ExpireSessions(bg, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := rowsOf(t, conn, "f"); got != sn {
		t.Fatalf("the janitor reclaimed a fork within its lease: %d rows left of %d", got, sn)
	}
	skew.Store(int64(pgstore.DefaultForkLease + time.Minute))
	j := state.NewJanitor(st, state.JanitorConfig{})
	if _, err := j.Pass(bg); err != nil {
		t.Fatal(err)
	}
	if sn, se := rowsOf(t, conn, "f"); sn != 0 || se != 0 {
		t.Fatalf("after the lease: %d snapshot rows and %d session rows of the crashed fork, want none", sn, se)
	}
	if got := j.Stats().SnapshotsReclaimed; got != int64(sn) {
		t.Fatalf("janitor reclaimed %d snapshots", got)
	}
	if s, err := st.GetSession(bg, "src"); err != nil || s.SnapshotCount != 40 {
		t.Fatalf("source after the reclaim: %+v, %v", s, err)
	}
	if _, err := st.ForkSession(bg, "src", state.ForkInput{NewID: "f"}); err != nil {
		t.Fatalf("fork again: %v", err)
	}
}

// TestChildFork forks src to f and exits (as if killed) at the fork's
// third slice; it does nothing in a normal run.
func TestChildFork(t *testing.T) {
	url := os.Getenv(childForkEnv)
	if url == "" {
		t.Skip("child process of TestFork_CrashMidCopy only")
	}
	st, err := pgstore.Open(bg, url, pgstore.Config{Slices: tinySlices})
	if err != nil {
		t.Fatal(err)
	}
	pgstore.SetForkHook(st, func(ctx context.Context, id string, slice int) error {
		if slice == 3 {
			os.Exit(3)
		}
		return nil
	})
	_, err = st.ForkSession(bg, "src", state.ForkInput{NewID: "f"})
	t.Fatalf("the fork ended (%v) instead of the process", err)
}

// The janitor reclaims a deleted session in slices on PostgreSQL too
// (state.Slicer), waiting between them to keep its share, and reports
// them: before, ExpireSessions ran its chunks back to back and the
// janitor's stats had no slices.
func TestReclaim_SlicedAndPaced(t *testing.T) {
	st, url := openStore(t, pgstore.Config{Slices: pgstore.SliceConfig{Budget: time.Nanosecond, Rows: 100}})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	seedSession(t, st, "big", 1000)
	seedSession(t, st, "stay", 3)
	if err := st.DeleteSession(bg, "big"); err != nil {
		t.Fatal(err)
	}
	j := state.NewJanitor(st, state.JanitorConfig{WriterShare: 0.5})
	r, err := j.Pass(bg)
	if err != nil {
		t.Fatal(err)
	}
	s := j.Stats()
	if r.SnapshotsReclaimed != 1000 || s.SnapshotsReclaimed != 1000 || r.SessionsExpired != 1 {
		t.Fatalf("pass %+v, stats %+v; want 1000 snapshots of 1 session reclaimed", r, s)
	}
	// One statement of 100 rows per slice: 10 slices of snapshots, then
	// the row (and one more that finds nothing).
	if s.Slices < 11 || s.WriterSeconds <= 0 || s.MaxSliceSeconds <= 0 || s.SleepSeconds <= 0 {
		t.Fatalf("stats %+v: want at least 11 slices, their time and the waits between them", s)
	}
	if sn, se := rowsOf(t, conn, "big"); sn != 0 || se != 0 {
		t.Fatalf("%d snapshot rows, %d session rows left", sn, se)
	}
	if got, err := st.GetSession(bg, "stay"); err != nil || got.SnapshotCount != 3 {
		t.Fatalf("other session: %+v, %v", got, err)
	}
}

// Retention mid-copy prunes the source, never the fork's hidden copy
// (version 0: nothing in it is older than its latest): the fork ends
// where the copy found the source's history cut, gapless, its counters
// matching its rows.
func TestFork_PrunedMidCopy(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{Slices: tinySlices})
	seedSession(t, st, "src", 40)
	pgstore.SetForkHook(st, func(ctx context.Context, id string, slice int) error {
		if slice != 2 {
			return nil
		}
		n, err := st.Prune(ctx, state.PruneOptions{KeepLast: 1, Limit: 1000})
		if err == nil && n != 39 {
			err = fmt.Errorf("pruned %d snapshots, want the source's 39 (and none of the fork's copy)", n)
		}
		return err
	})
	f, err := st.ForkSession(bg, "src", state.ForkInput{NewID: "f"})
	if err != nil {
		t.Fatal(err)
	}
	// Two slices of 4 rows were copied before the prune: 40 down to 33.
	if f.Version != 40 || f.SnapshotCount != 8 {
		t.Fatalf("fork %+v, want version 40 with 8 snapshots", f)
	}
	h, err := st.History(bg, "f", state.HistoryOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Snapshots) != 8 || h.Snapshots[0].Version != 40 || h.Snapshots[7].Version != 33 {
		t.Fatalf("fork history: %d snapshots, want 40 down to 33", len(h.Snapshots))
	}
}
