package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

var bg = context.Background()

// openStore opens a store on a fresh database and closes it at cleanup.
func openStore(t *testing.T, cfg pgstore.Config) (*pgstore.Store, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	st, err := pgstore.Open(bg, url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st, url
}

func js(s string) json.RawMessage { return json.RawMessage(s) }

func TestStore_AppendConcurrentGapless(t *testing.T) {
	st, url := openStore(t, pgstore.Config{MaxConns: 8})
	// A second store on the same database stands for a second server.
	st2, err := pgstore.Open(bg, url, pgstore.Config{MaxConns: 8})
	if err != nil {
		t.Fatalf("Open second store: %v", err)
	}
	defer st2.Close()
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions = map[int64]bool{}
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := state.Store(st)
			if w%2 == 1 {
				s = st2
			}
			for i := 0; i < each; i++ {
				res, err := s.AppendSnapshot(bg, "s", state.AppendInput{State: js(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				if versions[res.Version] {
					t.Errorf("version %d given twice", res.Version)
				}
				versions[res.Version] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for v := int64(1); v <= workers*each; v++ {
		if !versions[v] {
			t.Fatalf("version %d missing: versions have a gap", v)
		}
	}
	sess, err := st.GetSession(bg, "s")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Version != workers*each || sess.SnapshotCount != workers*each {
		t.Fatalf("session version %d count %d, want %d", sess.Version, sess.SnapshotCount, workers*each)
	}
}

func TestStore_AppendConflictAndIdempotency(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	r1, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`), ExpectedVersion: &zero, IdempotencyKey: "k"})
	if err != nil || r1.Version != 1 {
		t.Fatalf("first append = %+v, %v", r1, err)
	}
	// The retry answers the first result, although its expected version is
	// no longer the latest.
	r2, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`1`), ExpectedVersion: &zero, IdempotencyKey: "k"})
	if err != nil || !r2.Replayed || r2.Version != 1 || !r2.CreatedAt.Equal(r1.CreatedAt) || r2.SizeBytes != r1.SizeBytes {
		t.Fatalf("retry = %+v, %v; want the first result %+v replayed", r2, err, r1)
	}
	_, err = st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`2`), ExpectedVersion: &zero})
	var ce *state.ConflictError
	if !errors.As(err, &ce) || ce.Expected != 0 || ce.Actual != 1 || !errors.Is(err, state.ErrVersionConflict) {
		t.Fatalf("stale expected version: %v, want *state.ConflictError{0, 1}", err)
	}
	// Keys are per session.
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "t"}); err != nil {
		t.Fatal(err)
	}
	r3, err := st.AppendSnapshot(bg, "t", state.AppendInput{State: js(`3`), IdempotencyKey: "k"})
	if err != nil || r3.Replayed || r3.Version != 1 {
		t.Fatalf("same key on another session = %+v, %v", r3, err)
	}
}

func TestStore_StateRoundTrip(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`{"b":1, "a":[1,2,3], "a":2}`, ` "text" `, `null`, `1e400`, `{"z":"\u0000é"}`} {
		res, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(in), Metadata: js(`{"y":1,"x":2}`)})
		if err != nil {
			t.Fatalf("append %s: %v", in, err)
		}
		sn, err := st.GetSnapshot(bg, "s", res.Version)
		if err != nil {
			t.Fatal(err)
		}
		if string(sn.State) != in || sn.SizeBytes != int64(len(in)) || string(sn.Metadata) != `{"y":1,"x":2}` {
			t.Fatalf("read back %q (%d bytes, metadata %s), want %q verbatim", sn.State, sn.SizeBytes, sn.Metadata, in)
		}
		if !sn.CreatedAt.Equal(res.CreatedAt) || sn.CreatedAt.Location() != time.UTC {
			t.Fatalf("created_at read back %v, appended %v", sn.CreatedAt, res.CreatedAt)
		}
	}
}

func TestStore_DeleteCascadesAndLateAppend(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`{}`), IdempotencyKey: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSession(bg, "s"); err != nil {
		t.Fatal(err)
	}
	// The delete leaves a tombstone; the janitor's reclaim takes the rows.
	if n, err := st.ExpireSessions(bg, 0); err != nil || n != 1 {
		t.Fatalf("ExpireSessions after the delete: %d, %v; want 1", n, err)
	}
	var n int
	if err := st.Pool().QueryRow(bg, `SELECT (SELECT count(*) FROM state_snapshots) + (SELECT count(*) FROM snapshot_idempotency_keys)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d snapshot/key rows left after the delete and its reclaim", n)
	}
	_, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: js(`{}`)})
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("late append: %v, want ErrNotFound", err)
	}
	if _, err := st.GetSession(bg, "s"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("late append resurrected the session: %v", err)
	}
}

func TestStore_CreateExists(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	_, err := st.CreateSession(bg, state.SessionInput{ID: "s"})
	if !errors.Is(err, state.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
}

func TestOpen_ConcurrentMigrations(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := pgstore.Open(bg, url, pgstore.Config{MaxConns: 2})
			if err == nil {
				_, err = st.CreateSession(bg, state.SessionInput{ID: fmt.Sprintf("s%d", i)})
				st.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	var count, max int
	if err := conn.QueryRow(bg, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&count, &max); err != nil {
		t.Fatal(err)
	}
	if count != pgstore.SchemaVersion() || max != pgstore.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", count, max, pgstore.SchemaVersion())
	}
}

func TestOpen_NewerSchemaRefused(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	if _, err := st.Pool().Exec(bg, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())`); err != nil {
		t.Fatal(err)
	}
	_, err := pgstore.Open(bg, url, pgstore.Config{})
	if err == nil {
		t.Fatal("Open on a newer schema succeeded")
	}
}

func TestOpen_Unreachable(t *testing.T) {
	_, err := pgstore.Open(bg, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", pgstore.Config{ConnectTimeout: 3 * time.Second})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Open on a closed port: %v, want ErrUnavailable", err)
	}
}

func TestStore_PruneJanitorsConcurrent(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{MaxConns: 8})
	const sessions, each = 10, 30
	for i := 0; i < sessions; i++ {
		id := fmt.Sprintf("s%d", i)
		if _, err := st.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
		items := make([]state.BatchItem, each)
		for j := range items {
			items[j] = state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: js(`{}`)}}
		}
		if _, err := st.AppendBatch(bg, items); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
	)
	for j := 0; j < 3; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := st.Prune(bg, state.PruneOptions{KeepLast: 5, Limit: 7})
				if err != nil {
					t.Errorf("prune: %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	// A janitor may stop early while another holds a session; finish up.
	for {
		n, err := st.Prune(bg, state.PruneOptions{KeepLast: 5, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if want := int64(sessions * (each - 5)); total != want {
		t.Fatalf("pruned %d snapshots, want %d", total, want)
	}
	for i := 0; i < sessions; i++ {
		sess, err := st.GetSession(bg, fmt.Sprintf("s%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if sess.SnapshotCount != 5 || sess.Version != each {
			t.Fatalf("session %s: count %d version %d, want 5 and %d", sess.ID, sess.SnapshotCount, sess.Version, each)
		}
	}
}

// Pruning by count while appends hold the session's row takes only the
// oldest snapshots: the kept versions stay one run ending at the latest.
// (FOR UPDATE SKIP LOCKED on the joined rows skipped the oldest while an
// append held the row, then took newer ones.)
func TestPrune_KeepsARunUnderAppends(t *testing.T) {
	st, _ := openStore(t, pgstore.Config{MaxConns: 8})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "h"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				st.AppendSnapshot(ctx, "h", state.AppendInput{State: js(`{}`)})
			}
		})
	}
	holes := 0
	for ctx.Err() == nil && holes == 0 {
		if _, err := st.Prune(ctx, state.PruneOptions{KeepLast: 20, Limit: 5}); err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		page, err := st.History(bg, "h", state.HistoryOptions{Limit: state.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(page.Snapshots); i++ {
			if page.Snapshots[i].Version != page.Snapshots[i-1].Version-1 {
				holes++
				t.Errorf("kept versions %d then %d: a newer snapshot was pruned before an older one",
					page.Snapshots[i].Version, page.Snapshots[i-1].Version)
			}
		}
	}
	cancel()
	wg.Wait()
}
