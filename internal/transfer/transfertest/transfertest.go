// Package transfertest holds the test helpers of migrations: a clock in
// whole microseconds, a filler that writes every kind of row a store can
// hold, and a dump of every field of every row, to compare two databases.
// The fixture command (transfertest/fixture) runs Fill and Dump in a
// process built without the race detector, which makes SQLite about 30
// times slower.
package transfertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Clock returns a clock that advances 1.5 ms per call, in whole
// microseconds (what PostgreSQL keeps), so that a copy through PostgreSQL
// keeps every time exactly. It is not safe for concurrent use.
func Clock() func() time.Time {
	t := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(1500 * time.Microsecond); return t }
}

// Fill writes sessions s-0000… (metadata with non-ASCII text, a TTL on every
// third) with perSession snapshots each (JSON spelled oddly: spaces, key
// order, 2.50 and 1e3, escapes; an idempotency key on every seventh), in
// batches of state.MaxBatch; then an empty session, a fork of s-0000 at
// version 3, and a prune of 3 snapshots (KeepLast perSession-1), so that
// some sessions' counters are below their versions (sessions × perSession
// snapshots in all). It returns the number of snapshots the store holds.
func Fill(ctx context.Context, st state.Store, sessions, perSession int) (int64, error) {
	ttl := 90*time.Minute + 123*time.Microsecond
	var items []state.BatchItem
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		_, err := st.AppendBatch(ctx, items)
		items = items[:0]
		return err
	}
	for i := range sessions {
		in := state.SessionInput{ID: fmt.Sprintf("s-%04d", i), Metadata: json.RawMessage(fmt.Sprintf(`{"n":%d,"tag":"ü ✓"}`, i))}
		if i%3 == 0 {
			in.TTL = &ttl
		}
		if _, err := st.CreateSession(ctx, in); err != nil {
			return 0, err
		}
		for v := range perSession {
			it := state.BatchItem{SessionID: in.ID, AppendInput: state.AppendInput{
				State:    json.RawMessage(fmt.Sprintf(`{ "z": %d,  "a":[1, 2.50, 1e3], "s":"x\u00e9\n" }`, v)),
				Metadata: json.RawMessage(fmt.Sprintf(`{"v":%d}`, v)),
			}}
			if v%7 == 0 {
				it.IdempotencyKey = fmt.Sprintf("key-%d", v)
			}
			if v%5 == 0 {
				it.Key = fmt.Sprintf("ckpt-%d", v)
			}
			items = append(items, it)
			if len(items) == state.MaxBatch {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	total := int64(sessions * perSession)
	if _, err := st.CreateSession(ctx, state.SessionInput{ID: "Empty.session:1"}); err != nil {
		return 0, err
	}
	if sessions > 0 && perSession >= 3 {
		if _, err := st.ForkSession(ctx, "s-0000", state.ForkInput{NewID: "fork", AtVersion: 3}); err != nil {
			return 0, err
		}
		total += 3
		n, err := st.Prune(ctx, state.PruneOptions{KeepLast: perSession - 1, Limit: 3})
		if err != nil {
			return 0, err
		}
		total -= n
	}
	return total, nil
}

// Dump renders every field of every row of e as lines, sorted, so that two
// databases compare line by line whatever order their engines keep ids in.
func Dump(ctx context.Context, e state.Exporter) ([]string, error) {
	const page = 1000
	var lines []string
	after := ""
	for {
		rows, err := e.ExportSessions(ctx, after, page)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			exp := "-"
			if s.ExpiresAt != nil {
				exp = fmt.Sprint(s.ExpiresAt.UnixNano())
			}
			lines = append(lines, fmt.Sprintf("session %s created=%d active=%d ttl=%d expires=%s md=%s v=%d n=%d",
				s.ID, s.CreatedAt.UnixNano(), s.LastActive.UnixNano(), s.TTL, exp, s.Metadata, s.Version, s.SnapshotCount))
		}
		if len(rows) < page {
			break
		}
		after = rows[len(rows)-1].ID
	}
	sid, ver := "", int64(0)
	for {
		rows, err := e.ExportSnapshots(ctx, sid, ver, page)
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			lines = append(lines, fmt.Sprintf("snapshot %s/%d created=%d size=%d key=%q ckey=%q md=%s state=%q",
				s.SessionID, s.Version, s.CreatedAt.UnixNano(), s.SizeBytes, s.IdempotencyKey, s.Key, s.Metadata, s.State))
		}
		if len(rows) < page {
			break
		}
		sid, ver = rows[len(rows)-1].SessionID, rows[len(rows)-1].Version
	}
	sort.Strings(lines)
	return lines, nil
}

// Same fails tb at the first line where got differs from want.
func Same(tb testing.TB, want, got []string) {
	tb.Helper()
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			tb.Fatalf("row %d of %d differs:\n got %s\nwant %s", i, len(want), got[i], want[i])
		}
	}
	if len(want) != len(got) {
		tb.Fatalf("%d rows, want %d", len(got), len(want))
	}
}

// Fixture builds the fixture command without the race detector into the
// test's temporary folder and returns its path.
func Fixture(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "fixture")
	out, err := exec.Command("go", "build", "-o", path, "github.com/cortex-db/cortex/internal/transfer/transfertest/fixture").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build fixture: %v\n%s", err, out)
	}
	return path
}

// RunFixture runs the fixture command at path with args and returns its
// stdout.
func RunFixture(tb testing.TB, path string, args ...string) string {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("fixture %v: %v\n%s", args, err, stderr.Bytes())
	}
	return strings.TrimSpace(stdout.String())
}

// DumpFile is Dump of db (a SQLite path or postgres:// URL) by the fixture
// command at path, read back as lines.
func DumpFile(tb testing.TB, path, db string) []string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "dump.txt")
	RunFixture(tb, path, "dump", db, out)
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
