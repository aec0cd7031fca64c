//go:build cgo

package sqlitedb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/sqlitedb/internal/crashvfs"
)

var powerLossSoak = flag.Bool("soak", false, "power-loss tests: the long run (scripts/soak)")

// The power-loss suite. A workload of numbered commits runs on real files
// through crashvfs, which journals every write, sync, truncate and delete
// of the database and -wal files. Then, at many points of that journal, the
// power is cut: the files are rebuilt as they could be on disk then, with
// what a completed sync covered kept and the rest dropped, reordered or
// torn at 512-byte sectors (crashvfs.Fate), and SQLite opens them. Each
// image must hold:
//
//   - PRAGMA integrity_check is ok;
//   - the rows are commits 1..m, each with its exact bytes (a prefix of the
//     acknowledged commits, plus at most the one in flight);
//   - synchronous=full: no acknowledged commit is missing;
//   - synchronous=normal: only commits acknowledged after the last
//     completed sync of the -wal or the database file can be missing;
//   - with every completed write kept (a process crash, not a power cut),
//     no acknowledged commit is missing in either mode.
//
// The workload has large transactions that spill the page cache (so SQLite
// rewrites frames and their checksums before the commit), checkpoints of
// every mode, WAL restarts, and truncations (journal_size_limit, TRUNCATE).

// powerLossRun is one configuration of the suite.
type powerLossRun struct {
	sync    string // normal or full
	walbuf  bool
	commits int  // in the workload
	points  int  // crash points tried, at random places of the journal
	atMarks bool // also a crash point just after each acknowledgement
}

type powerLossResult struct {
	points, images int
	failures       []string
	truncates      int
	restarts       int
	entries        int
	syncs          int
}

func TestPowerLoss(t *testing.T) {
	if err := crashvfs.Register(); err != nil {
		t.Fatal(err)
	}
	commits, points := 160, 200
	if raceBuild {
		commits, points = 100, 30
	}
	if *powerLossSoak {
		commits, points = 800, 2500
	}
	total := 0
	for _, sync := range []string{"normal", "full"} {
		for _, wb := range []bool{true, false} {
			name := fmt.Sprintf("sync=%s/walbuf=%v", sync, wb)
			t.Run(name, func(t *testing.T) {
				res := runPowerLoss(t, powerLossRun{sync: sync, walbuf: wb, commits: commits, points: points}, 1)
				for _, f := range res.failures[:min(len(res.failures), 10)] {
					t.Error(f)
				}
				if len(res.failures) > 0 {
					t.Fatalf("%d of %d crash images failed", len(res.failures), res.images)
				}
				if res.truncates == 0 || res.restarts == 0 {
					t.Fatalf("the workload made %d truncates and %d WAL restarts; want some of each", res.truncates, res.restarts)
				}
				total += res.points
				t.Logf("%d crash points, %d images checked (%d journal entries, %d syncs, %d WAL truncates, %d WAL restarts in the journal)",
					res.points, res.images, res.entries, res.syncs, res.truncates, res.restarts)
			})
		}
	}
	t.Logf("power loss: %d crash points tried", total)
}

// TestPowerLossCatchesBrokenWALBuffer breaks walbuf's knowledge of where a
// transaction ends (walbufBreakForTest) and shows the suite fails: commits
// are acknowledged while their last frames are still in the shim's buffer.
func TestPowerLossCatchesBrokenWALBuffer(t *testing.T) {
	if err := crashvfs.Register(); err != nil {
		t.Fatal(err)
	}
	walbufBreakForTest(true)
	defer walbufBreakForTest(false)
	res := runPowerLoss(t, powerLossRun{sync: "normal", walbuf: true, commits: 30, points: 40, atMarks: true}, 2)
	if len(res.failures) == 0 {
		t.Fatalf("with walbuf's commit detection broken, all %d crash images passed: the suite cannot see the breakage", res.images)
	}
	t.Logf("broken walbuf: %d of %d images failed, as they must; first: %s", len(res.failures), res.images, res.failures[0])
}

// plPayload is commit k's row: its bytes depend on k alone.
func plPayload(k int) []byte {
	n := 60 + (k*7919)%1500
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(k*31 + i*7)
	}
	return b
}

func runPowerLoss(t *testing.T, run powerLossRun, seed uint64) powerLossResult {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "p.db")
	cfg := Config{
		Synchronous:        run.sync,
		NoWALBuffer:        !run.walbuf,
		vfs:                crashvfs.Name,
		CacheSizeKiB:       64, // large transactions spill
		JournalSizeLimit:   32 << 10,
		CheckpointInterval: -1, // checkpoints come from the workload, in order
		WALAutoCheckpoint:  50, // and from SQLite's own, inside commits
		NoCloseCheckpoint:  true,
	}

	// The schema, outside the journal: the image before the first entry.
	createPowerLossSchema(t, path)
	initial := map[string][]byte{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	initial[path] = b
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("a -wal file was left after Close")
	}

	writes0, _ := walbufCounts()
	crashvfs.Start()
	db, err := Open(ctx, path, cfg)
	if err != nil {
		crashvfs.Stop()
		t.Fatal(err)
	}
	if want := map[bool]string{true: "on", false: "off: Config.NoWALBuffer"}[run.walbuf]; db.walbuf != want {
		crashvfs.Stop()
		t.Fatalf("walbuf is %q, want %q", db.walbuf, want)
	}
	modes := []CheckpointMode{Passive, Full, Restart, Truncate}
	r := rand.New(rand.NewPCG(seed, 7))
	for k := 1; k <= run.commits; k++ {
		big := k%9 == 0
		err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO t(k, v) VALUES(?, ?)", k, plPayload(k)); err != nil {
				return err
			}
			if big {
				// ~200 KiB over a 64 KiB cache: the pager spills frames to
				// the WAL before the commit, then rewrites them.
				return plSpill(ctx, tx)
			}
			return nil
		})
		if err != nil {
			crashvfs.Stop()
			db.Close()
			t.Fatalf("commit %d: %v", k, err)
		}
		crashvfs.Mark(int64(k))
		if k%7 == 0 {
			if _, err := db.Checkpoint(ctx, modes[r.IntN(len(modes))]); err != nil {
				crashvfs.Stop()
				db.Close()
				t.Fatalf("checkpoint after commit %d: %v", k, err)
			}
		}
	}
	j, err := crashvfs.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The configuration is the one asked for: the shim buffered the
	// -wal writes, or saw none to buffer.
	if writes1, _ := walbufCounts(); (writes1 > writes0) != run.walbuf {
		t.Fatalf("walbuf=%v, but the shim buffered %d -wal writes", run.walbuf, writes1-writes0)
	}

	res := powerLossResult{entries: len(j.Ops)}
	walPath := path + "-wal"
	walWrites := 0
	for _, o := range j.Ops {
		switch {
		case o.Kind == crashvfs.OpTruncate && o.File == walPath:
			res.truncates++
		case o.Kind == crashvfs.OpWrite && o.File == walPath && o.Off == 0:
			walWrites++ // a new WAL header: the first, or a restart
		case o.Kind == crashvfs.OpSync:
			res.syncs++
		}
	}
	res.restarts = max(walWrites-1, 0)

	// Crash points: random places in the journal, in order, plus the end.
	pts := make([]int, 0, run.points+1)
	for range run.points {
		pts = append(pts, 1+r.IntN(len(j.Ops)))
	}
	pts = append(pts, len(j.Ops))
	if run.atMarks {
		for i, o := range j.Ops {
			if o.Kind == crashvfs.OpMark {
				pts = append(pts, i+1)
			}
		}
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)

	rep := crashvfs.NewReplayer(j, initial)
	img := filepath.Join(t.TempDir(), "img")
	if err := os.Mkdir(img, 0o700); err != nil {
		t.Fatal(err)
	}
	fates := []crashvfs.Fate{crashvfs.KeepAll, crashvfs.DropAll, crashvfs.Random, crashvfs.Random}
	for _, n := range pts {
		rep.Advance(n)
		res.points++
		acked := int(rep.Acked())
		durable := acked // synchronous=full: every acknowledged commit
		if run.sync == "normal" {
			durable = int(max(rep.AckedAtSync(walPath), rep.AckedAtSync(path)))
		}
		for _, fate := range fates {
			files, unsynced := rep.Image(fate, r)
			if fate != crashvfs.KeepAll && unsynced == 0 && fate != crashvfs.DropAll {
				continue // the same image as DropAll
			}
			res.images++
			min := durable
			if fate == crashvfs.KeepAll {
				min = acked // a process crash loses nothing acknowledged
			}
			if err := checkCrashImage(img, files, path, min, acked+1); err != nil {
				res.failures = append(res.failures, fmt.Sprintf("crash after journal entry %d of %d (%s, %d unsynced entries, %d commits acknowledged): %v",
					n, len(j.Ops), fate, unsynced, acked, err))
			}
		}
	}
	return res
}

// checkCrashImage writes files into dir, opens them with SQLite's default
// VFS, and checks integrity and that the rows are commits 1..m with
// lo <= m <= hi.
func checkCrashImage(dir string, files map[string][]byte, path string, lo, hi int) error {
	renamed := map[string][]byte{}
	for name, b := range files {
		if !strings.HasPrefix(name, path) {
			return fmt.Errorf("unexpected file %s in the journal", name)
		}
		renamed[name] = b
	}
	if err := crashvfs.WriteImage(dir, renamed); err != nil {
		return err
	}
	d, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, filepath.Base(path))+"?vfs=unix&_mutex=no&_sync=OFF")
	if err != nil {
		return err
	}
	defer d.Close()
	d.SetMaxOpenConns(1)
	var ok string
	if err := d.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if ok != "ok" {
		return fmt.Errorf("integrity_check: %s", ok)
	}
	rows, err := d.Query("SELECT k, v FROM t ORDER BY k")
	if err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	m := 0
	for rows.Next() {
		var k int
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if k != m+1 {
			return fmt.Errorf("rows are not a prefix: commit %d follows %d", k, m)
		}
		if !bytes.Equal(v, plPayload(k)) {
			return fmt.Errorf("commit %d: its row's bytes differ from what was written", k)
		}
		m = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	if m < lo {
		return fmt.Errorf("commits %d..%d are missing: %d rows, want at least %d", m+1, lo, m, lo)
	}
	if m > hi {
		return fmt.Errorf("%d rows, but only %d commits had started", m, hi)
	}
	return nil
}

// TestPowerLossWALWriteErrors: a write to the -wal that fails, wherever it
// falls (a frame, a spill, a checksum rewrite, a header), fails the
// transaction whose data it carried before that commit is acknowledged;
// every acknowledged commit is in the files; and from then on the database
// refuses writes and Health says why.
func TestPowerLossWALWriteErrors(t *testing.T) {
	if err := crashvfs.Register(); err != nil {
		t.Fatal(err)
	}
	defer crashvfs.FailWALWrites(-1)
	for _, wb := range []bool{true, false} {
		t.Run(fmt.Sprintf("walbuf=%v", wb), func(t *testing.T) {
			tried, failedAt := 0, map[string]int{}
			// Every fault point of the first commits, densely: the one
			// that hits a commit frame's rewritten header is a single
			// write (after=63 here, without walbuf's fix).
			n := 80
			if raceBuild && !wb {
				n = 20 // the fault that matters is walbuf's (above)
			}
			if *powerLossSoak {
				n = 400
			}
			for after := 0; after < n; after++ {
				tried++
				where := runWALWriteError(t, wb, after)
				failedAt[where]++
			}
			t.Logf("%d fault points: %v", tried, failedAt)
		})
	}
}

// runWALWriteError runs commits with -wal writes failing after after
// successful ones, and checks the contract; it returns which commit
// failed ("none" if none did).
func runWALWriteError(t *testing.T, walbuf bool, after int) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "e.db")
	createPowerLossSchema(t, path)
	initial, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writes0, _ := walbufCounts()
	defer func() {
		if writes1, _ := walbufCounts(); (writes1 > writes0) != walbuf {
			t.Errorf("walbuf=%v, but the shim buffered %d -wal writes", walbuf, writes1-writes0)
		}
	}()
	crashvfs.Start()
	db, err := Open(ctx, path, Config{
		NoWALBuffer: !walbuf, vfs: crashvfs.Name, CacheSizeKiB: 64,
		CheckpointInterval: -1, WALAutoCheckpoint: -1, NoCloseCheckpoint: true,
	})
	if err != nil {
		crashvfs.Stop()
		t.Fatal(err)
	}
	crashvfs.FailWALWrites(after)
	acked, where := 0, "none"
	for k := 1; k <= 30; k++ {
		err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO t(k, v) VALUES(?, ?)", k, plPayload(k)); err != nil {
				return err
			}
			if k%4 == 0 {
				return plSpill(ctx, tx)
			}
			return nil
		})
		if err == nil {
			acked = k
			crashvfs.Mark(int64(k))
			continue
		}
		where = fmt.Sprint("commit ", k%4 == 0)
		if !errors.Is(err, ErrIO) && !errors.Is(err, ErrWALFailed) {
			t.Errorf("after=%d: commit %d failed with %v, want an I/O error", after, k, err)
		}
		err2 := db.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t(k, v) VALUES(?, ?)", k, plPayload(k))
			return err
		})
		if !errors.Is(err2, ErrWALFailed) {
			t.Errorf("after=%d: a write after the I/O error returned %v, want ErrWALFailed", after, err2)
		}
		if h := db.Health(ctx, HealthOptions{}); h.Status != health.Unhealthy {
			t.Errorf("after=%d: health is %s after an I/O error on the WAL, want unhealthy", after, h.Status)
		}
		break
	}
	failed := crashvfs.FailWALWrites(-1)
	db.Close()
	j, err := crashvfs.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if where != "none" && failed == 0 {
		t.Errorf("after=%d: a commit failed but no write was made to fail", after)
	}
	// Every acknowledged commit must be in what reached the OS.
	rep := crashvfs.NewReplayer(j, map[string][]byte{path: initial})
	rep.Advance(rep.Len())
	files, _ := rep.Image(crashvfs.KeepAll, nil)
	img := filepath.Join(t.TempDir(), "img")
	if err := os.Mkdir(img, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkCrashImage(img, files, path, acked, acked+1); err != nil {
		t.Errorf("after=%d (%d writes failed, %d commits acknowledged): %v", after, failed, acked, err)
	}
	return where
}

// plSpill writes ~200 KiB over a 64 KiB page cache, then changes pages it
// wrote first: the pager spills frames to the WAL before the commit, and
// at the commit overwrites some in place and rewrites the frame headers'
// checksums (walRewriteChecksums), the commit frame's last.
func plSpill(ctx context.Context, tx *Tx) error {
	if _, err := tx.Exec(ctx, "DELETE FROM filler"); err != nil {
		return err
	}
	for i := range 50 {
		if _, err := tx.Exec(ctx, "INSERT INTO filler(v) VALUES(randomblob(?))", 3000+i*20); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, "UPDATE filler SET v = randomblob(100) WHERE i IN (SELECT i FROM filler ORDER BY i LIMIT 3)")
	return err
}

// createPowerLossSchema makes the database the power-loss workloads write
// to (tables t and filler), outside any journal being recorded, and closes
// it.
func createPowerLossSchema(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL);
			CREATE TABLE filler(i INTEGER PRIMARY KEY, v BLOB NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
