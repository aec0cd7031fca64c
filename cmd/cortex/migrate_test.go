package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/internal/pgtest"
	"github.com/cortex-db/cortex/internal/transfer"
	"github.com/cortex-db/cortex/internal/transfer/transfertest"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// runMigrate runs the built binary's migrate and returns its --json summary.
func runMigrate(t *testing.T, bin string, args ...string) migrateSummary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"migrate", "--json"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cortex migrate %v: %v\n%s\n%s", args, err, stdout.Bytes(), stderr.Bytes())
	}
	var sum migrateSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("migrate --json: %v\n%s", err, stdout.Bytes())
	}
	return sum
}

// TestMigrate_RoundTripResumingAfterSIGKILL copies a SQLite database of
// 100,000 snapshots to PostgreSQL with the built binary, SIGKILLs it once
// its progress shows half the snapshots copied, runs it again to the end,
// copies the result back down to a new SQLite file, and compares every
// field of every row of the three databases.
func TestMigrate_RoundTripResumingAfterSIGKILL(t *testing.T) {
	bin := e2e.Binary(t)
	pgURL := pgtest.NewDatabase(t)
	ctx := context.Background()
	dir := t.TempDir()
	srcPath, backPath := filepath.Join(dir, "src.db"), filepath.Join(dir, "back.db")

	// The fixture command fills the source with AppendBatch of 1000 items,
	// out of this race-instrumented process. Its clock keeps whole
	// microseconds, PostgreSQL's resolution: with SQLite's nanoseconds the
	// copy through PostgreSQL would drop the rest.
	fixture := transfertest.Fixture(t)
	if n := transfertest.RunFixture(t, fixture, "fill", srcPath, "1000", "100"); n != "100000" {
		t.Fatalf("source holds %s snapshots, want 100000", n)
	}
	const total = 100000
	want := transfertest.DumpFile(t, fixture, srcPath)
	src, err := sqlitestore.Open(ctx, srcPath, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	// First run: killed mid-way.
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "migrate", "--from", srcPath, "--to", pgURL, "--batch-size", "500")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^migrate snapshots: (\d+) of (\d+) `)
	killed := false
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		m := line.FindStringSubmatch(sc.Text())
		if m == nil || killed {
			continue
		}
		done, _ := strconv.ParseInt(m[1], 10, 64)
		all, _ := strconv.ParseInt(m[2], 10, 64)
		if done*2 >= all && done < all {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			t.Logf("SIGKILL after progress line %q", sc.Text())
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the migration ended (%v) before its progress showed it partly done:\n%s", err, stderr.Bytes())
	}
	pg, err := pgstore.Open(ctx, pgURL, pgstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	rep, err := transfer.Verify(ctx, src, pg, transfer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.DestSnapshots < total/2 || rep.DestSnapshots >= total {
		t.Fatalf("after the kill the destination holds %d of %d snapshots, want half of them or more, not all (%+v)", rep.DestSnapshots, total, rep)
	}
	t.Logf("killed with %d of %d snapshots copied", rep.DestSnapshots, total)

	// Second run: to the end, nothing duplicated.
	start := time.Now()
	sum := runMigrate(t, bin, "--from", srcPath, "--to", pgURL)
	t.Logf("SQLite → PostgreSQL: %d snapshots in %v", sum.Copied.Snapshots, time.Since(start).Round(time.Millisecond))
	if !sum.OK || sum.Verify.DestSnapshots != total || sum.Verify.DestSessions != 1002 || sum.Copied.Snapshots != total {
		t.Fatalf("resumed migration: %+v", sum)
	}
	transfertest.Same(t, want, transfertest.DumpFile(t, fixture, pgURL))

	// And back down to a new file.
	start = time.Now()
	sum = runMigrate(t, bin, "--from", pgURL, "--to", backPath)
	t.Logf("PostgreSQL → SQLite: %d snapshots in %v", sum.Copied.Snapshots, time.Since(start).Round(time.Millisecond))
	if !sum.OK || sum.Verify.DestSnapshots != total {
		t.Fatalf("migration back: %+v", sum)
	}
	transfertest.Same(t, want, transfertest.DumpFile(t, fixture, backPath))
}

// TestMigrate_RefusesDestinationAhead runs migrate in-process into a
// SQLite file that already holds a session the source does not: it is
// refused before anything is written, naming the session and what to do.
// Then a migration into a new file succeeds, with plain progress lines.
func TestMigrate_RefusesDestinationAhead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath, dstPath := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	for path, id := range map[string]string{srcPath: "a", dstPath: "stray"} {
		st, err := sqlitestore.Open(ctx, path, sqlitestore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendSnapshot(ctx, id, state.AppendInput{State: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"migrate", "--from", srcPath, "--to", dstPath}, &stdout, &stderr)
	if !errors.Is(err, transfer.ErrDestinationAhead) || !strings.Contains(errorText(err), "session stray: only in the destination") || !strings.Contains(errorText(err), "Try:") {
		t.Fatalf("got %v, want ErrDestinationAhead naming the stray session, with a Try line", err)
	}
	st, err := sqlitestore.Open(ctx, dstPath, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSession(ctx, "a"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the refused migration wrote session a: %v", err)
	}
	st.Close()

	stdout.Reset()
	stderr.Reset()
	if err := run(ctx, []string{"migrate", "--from", srcPath, "--to", filepath.Join(dir, "new.db")}, &stdout, &stderr); err != nil {
		t.Fatalf("migrate into a new file: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "migrate snapshots:") {
		t.Errorf("no plain progress lines on a non-terminal:\n%s", stderr.String())
	}
}

func TestMigrate_Usage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--from and --to are required"},
		{[]string{"--from", "x.db"}, "--from and --to are required"},
		{[]string{"--from", "x.db", "--to", "x.db"}, "the same database"},
		{[]string{"--from", filepath.Join(dir, "missing.db"), "--to", filepath.Join(dir, "out.db")}, "Try: --from <path to an existing SQLite database>"},
		{[]string{"--from", "a.db", "--to", "b.db", "--batch-size", "0"}, "--batch-size 0 is out of range"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(ctx, append([]string{"migrate"}, tc.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(errorText(err), tc.want) {
			t.Errorf("migrate %v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
