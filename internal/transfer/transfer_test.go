package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/internal/transfer"
	"github.com/cortex-db/cortex/internal/transfer/transfertest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

var bg = context.Background()

func openSQLite(t *testing.T, name string, opts state.Options) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(bg, filepath.Join(t.TempDir(), name), sqlitestore.Config{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPG(t *testing.T, opts ...state.Options) *pgstore.Store {
	t.Helper()
	var cfg pgstore.Config
	if len(opts) > 0 {
		cfg.Options = opts[0]
	}
	st, err := pgstore.Open(bg, pgtest.NewDatabase(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMigrate_SQLiteToSQLite(t *testing.T) {
	src := openSQLite(t, "src.db", state.Options{Now: transfertest.Clock()})
	fill(t, src, 20, 30)
	dst := openSQLite(t, "dst.db", state.Options{})
	var phases []string
	res, err := transfer.Migrate(bg, src, dst, transfer.Options{BatchSize: 7, Progress: func(p transfer.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Done > p.Total {
			t.Errorf("progress %+v: done over total", p)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verify.OK() {
		t.Fatalf("verify: %+v", res.Verify)
	}
	if got := strings.Join(phases, ","); got != "count,sessions,snapshots,verify" {
		t.Errorf("phases %s", got)
	}
	want := dump(t, src)
	transfertest.Same(t, want, dump(t, dst))
	if res.Copied.Snapshots != res.Verify.SourceSnapshots || res.Copied.Sessions != 22 {
		t.Errorf("copied %+v, verify %+v", res.Copied, res.Verify)
	}

	// Again: upserts, nothing duplicated, same content.
	if res, err = transfer.Migrate(bg, src, dst, transfer.Options{BatchSize: 50}); err != nil || !res.Verify.OK() {
		t.Fatalf("second run: %v %+v", err, res.Verify)
	}
	transfertest.Same(t, want, dump(t, dst))

	// The copy behaves like the original: appends continue the versions,
	// and a known idempotency key replays.
	r, err := dst.AppendSnapshot(bg, "s-0001", state.AppendInput{State: json.RawMessage(`1`)})
	if err != nil || r.Version != 31 {
		t.Fatalf("append after migrate: %+v %v", r, err)
	}
	r, err = dst.AppendSnapshot(bg, "s-0001", state.AppendInput{State: json.RawMessage(`1`), IdempotencyKey: "key-7"})
	if err != nil || !r.Replayed || r.Version != 8 {
		t.Fatalf("replayed key after migrate: %+v %v", r, err)
	}
}

// A destination written to since an earlier run (or an unrelated
// database) is refused before anything is written: upserts would overwrite
// its snapshots and move its sessions' versions back.
func TestMigrate_RefusesDestinationAhead(t *testing.T) {
	src := openSQLite(t, "src.db", state.Options{})
	fill(t, src, 3, 2)
	dst := openSQLite(t, "dst.db", state.Options{})
	if res, err := transfer.Migrate(bg, src, dst, transfer.Options{}); err != nil || !res.Verify.OK() {
		t.Fatalf("first run: %v %+v", err, res.Verify)
	}
	// An acknowledged write to the destination, then a rerun.
	ack, err := dst.AppendSnapshot(bg, "s-0001", state.AppendInput{State: json.RawMessage(`{"dest":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	before := dump(t, dst)
	_, err = transfer.Migrate(bg, src, dst, transfer.Options{})
	if !errors.Is(err, transfer.ErrDestinationAhead) || !strings.Contains(err.Error(), "session s-0001: source has") {
		t.Fatalf("rerun over a written destination: %v, want ErrDestinationAhead naming s-0001", err)
	}
	transfertest.Same(t, before, dump(t, dst))
	if sn, err := dst.GetSnapshot(bg, "s-0001", ack.Version); err != nil || string(sn.State) != `{"dest":1}` {
		t.Fatalf("the acknowledged snapshot: %s, %v", sn.State, err)
	}
	if r, err := dst.AppendSnapshot(bg, "s-0001", state.AppendInput{State: json.RawMessage(`2`)}); err != nil || r.Version != ack.Version+1 {
		t.Fatalf("append after the refusal: %+v, %v", r, err)
	}

	// Both sides took writes since the first run: the destination looks
	// behind by its tallies, but its version holds another state.
	split := openSQLite(t, "split.db", state.Options{})
	if _, err := transfer.Copy(bg, src, split, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	mine, err := split.AppendSnapshot(bg, "s-0002", state.AppendInput{State: json.RawMessage(`{"dest":"acknowledged"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := src.AppendSnapshot(bg, "s-0002", state.AppendInput{State: json.RawMessage(`{"src":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := transfer.Migrate(bg, src, split, transfer.Options{}); !errors.Is(err, transfer.ErrDestinationAhead) || !strings.Contains(err.Error(), "session s-0002: version") {
		t.Fatalf("migrate over a split history: %v, want ErrDestinationAhead naming s-0002", err)
	}
	if sn, err := split.GetSnapshot(bg, "s-0002", mine.Version); err != nil || string(sn.State) != `{"dest":"acknowledged"}` {
		t.Fatalf("the acknowledged snapshot after the refusal: %s, %v", sn.State, err)
	}

	// A session only the destination has is refused too.
	other := openSQLite(t, "other.db", state.Options{})
	if _, err := other.CreateSession(bg, state.SessionInput{ID: "mine"}); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Migrate(bg, src, other, transfer.Options{}); !errors.Is(err, transfer.ErrDestinationAhead) || !strings.Contains(err.Error(), "only in the destination") {
		t.Fatalf("migrate into an unrelated database: %v", err)
	}

	// A destination behind the source (an interrupted run) is finished.
	behind := openSQLite(t, "behind.db", state.Options{})
	if _, err := transfer.Copy(bg, src, behind, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	// More snapshots and a new session on the source.
	if _, err := src.AppendSnapshot(bg, "s-0002", state.AppendInput{State: json.RawMessage(`3`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateSession(bg, state.SessionInput{ID: "late"}); err != nil {
		t.Fatal(err)
	}
	if res, err := transfer.Migrate(bg, src, behind, transfer.Options{}); err != nil || !res.Verify.OK() {
		t.Fatalf("rerun over a destination behind the source: %v %+v", err, res.Verify)
	}
}

func TestVerify_ReportsDifferences(t *testing.T) {
	src := openSQLite(t, "src.db", state.Options{})
	fill(t, src, 5, 4)
	dst := openSQLite(t, "dst.db", state.Options{})
	if _, err := transfer.Copy(bg, src, dst, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	// One session more on the source, one snapshot more on the destination,
	// one session only on the destination.
	if _, err := src.CreateSession(bg, state.SessionInput{ID: "late"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.AppendSnapshot(bg, "fork", state.AppendInput{State: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.CreateSession(bg, state.SessionInput{ID: "extra"}); err != nil {
		t.Fatal(err)
	}
	r, err := transfer.Verify(bg, src, dst, transfer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || r.DifferenceCount != 3 {
		t.Fatalf("report %+v", r)
	}
	var got []string
	for _, d := range r.Differences {
		got = append(got, d.String())
	}
	want := []string{
		"session extra: only in the destination (0 snapshots, latest version 0)",
		"session fork: source has 3 snapshots, latest version 3; destination has 4, latest version 4",
		"session late: missing in the destination (source: 0 snapshots, latest version 0)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestImport_SnapshotWithoutSession(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) state.Importer{
		"sqlite":   func(t *testing.T) state.Importer { return openSQLite(t, "x.db", state.Options{}) },
		"postgres": func(t *testing.T) state.Importer { return openPG(t) },
	} {
		t.Run(name, func(t *testing.T) {
			st := open(t) // in the subtest: without PostgreSQL only its subtest skips
			err := st.ImportSnapshots(bg, []state.ExportedSnapshot{{Snapshot: state.Snapshot{
				SessionID: "nope", Version: 1, State: json.RawMessage(`1`), Metadata: json.RawMessage(`{}`)}}})
			if err == nil || !strings.Contains(err.Error(), "session") {
				t.Fatalf("got %v, want an error naming the missing session", err)
			}
			if !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("got %v, want state.ErrNotFound", err)
			}
		})
	}
}

func TestMigrate_SQLiteToPostgresAndBack(t *testing.T) {
	src := openSQLite(t, "src.db", state.Options{Now: transfertest.Clock()})
	fill(t, src, 30, 25)
	// On the source's clock: a session past its TTL is absent, and every
	// third has one.
	pg := openPG(t, state.Options{Now: transfertest.Clock()})
	if res, err := transfer.Migrate(bg, src, pg, transfer.Options{BatchSize: 64}); err != nil || !res.Verify.OK() {
		t.Fatalf("to postgres: %v %+v", err, res.Verify)
	}
	want := dump(t, src)
	transfertest.Same(t, want, dump(t, pg))
	back := openSQLite(t, "back.db", state.Options{})
	if res, err := transfer.Migrate(bg, pg, back, transfer.Options{BatchSize: 64}); err != nil || !res.Verify.OK() {
		t.Fatalf("back to sqlite: %v %+v", err, res.Verify)
	}
	transfertest.Same(t, want, dump(t, back))
	// Idempotency keys work on PostgreSQL after the copy.
	r, err := pg.AppendSnapshot(bg, "s-0003", state.AppendInput{State: json.RawMessage(`1`), IdempotencyKey: "key-14"})
	if err != nil || !r.Replayed || r.Version != 15 {
		t.Fatalf("replayed key on postgres: %+v %v", r, err)
	}
}

func fill(t *testing.T, st state.Store, sessions, perSession int) int64 {
	t.Helper()
	n, err := transfertest.Fill(bg, st, sessions, perSession)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func dump(t *testing.T, e state.Exporter) []string {
	t.Helper()
	lines, err := transfertest.Dump(bg, e)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}
