package sqlitedb

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortex-db/cortex/health"
)

// syncBuf is a log sink safe for the DB's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// holdReader opens a read transaction on path from a connection of its
// own, as Litestream does, and keeps it until the test ends. A test that
// plays Litestream's checkpoint ends it early (tx.Rollback) and goes on
// with raw.
func holdReader(t *testing.T, path string) (raw *sql.DB, tx *sql.Tx) {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	tx, err = raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(); _ = raw.Close() })
	return raw, tx
}

// waitUntil polls cond until it holds, and fails the test with what after
// a minute. The replication monitor reads Litestream's files and the WAL
// index on its own schedule: the stats it publishes are the event.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

// openLitestream opens a database at dir/r.db in the Litestream mode, with
// Litestream's files in dir/meta and cfg's other settings, creates table t,
// and returns it with the folder of Litestream's level-0 LTX files.
func openLitestream(t *testing.T, dir string, cfg Config) (db *DB, path, l0 string) {
	t.Helper()
	path, meta := filepath.Join(dir, "r.db"), filepath.Join(dir, "meta")
	cfg.Replication, cfg.LitestreamMetaDir = ReplicationLitestream, meta
	ctx := context.Background()
	db, err := Open(ctx, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	l0 = filepath.Join(meta, "ltx", "0")
	mustMkdir(t, l0)
	return db, path, l0
}

// ltxFile is the name Litestream gives level-0 LTX file i.
func ltxFile(l0 string, i int) string {
	return filepath.Join(l0, fmt.Sprintf("%016x-%016x.ltx", i, i))
}

// litestreamSynced plays the end of Litestream's sync i: its LTX file
// appears, and the monitor sees the position move.
func litestreamSynced(t *testing.T, db *DB, l0 string, i int) {
	t.Helper()
	mustWrite(t, ltxFile(l0, i))
	waitUntil(t, "the monitor never saw Litestream's LTX file", func() bool { return db.replicationStats().TXID == uint64(i) })
}

func fillRows(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	pad := strings.Repeat("x", 3000)
	for i := range n {
		if err := db.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t(v) VALUES (?)", pad)
			return err
		}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

// modesSeen writes n rows and returns the checkpoint modes recorded while
// they ran, past a reader that holds an old snapshot as Litestream does.
func modesSeen(t *testing.T, replication string) map[CheckpointMode]bool {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	db, err := Open(ctx, path, Config{
		Replication: replication, WALLimit: 256 << 10, BusyTimeout: 50 * time.Millisecond,
		CheckpointInterval: time.Hour, ReplicationStallAfter: time.Hour, ReplicationHardLimit: 1 << 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	holdReader(t, path)
	seen := map[CheckpointMode]bool{}
	for range 70 {
		fillRows(t, db, 1)
		db.ckstats.mu.Lock()
		if db.ckstats.last != nil {
			seen[db.ckstats.last.Mode] = true
		}
		db.ckstats.mu.Unlock()
	}
	return seen
}

// In the replication mode neither the writer's guard nor the checkpointer
// runs a RESTART or TRUNCATE checkpoint (which wait for the replicator's
// read transaction); without it the guard does, past the reader.
func TestReplication_OnlyPassiveBehindReplicator(t *testing.T) {
	if seen := modesSeen(t, ReplicationNone); !seen[Restart] && !seen[Truncate] {
		t.Fatalf("mode none: checkpoint modes %v, want a RESTART or TRUNCATE past the WAL limit (the test does not exercise the guard)", seen)
	}
	if seen := modesSeen(t, ReplicationLitestream); seen[Restart] || seen[Truncate] {
		t.Fatalf("mode litestream: checkpoint modes %v, want PASSIVE only", seen)
	}
}

// A replicator that makes no progress: health says "replication stalled
// since", past the hard limit cortex takes checkpointing back and the WAL
// comes back under its limit; with never-truncate it does not.
func TestReplication_StallAndTakeover(t *testing.T) {
	for _, never := range []bool{false, true} {
		t.Run(map[bool]string{false: "takeover", true: "never-truncate"}[never], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			ctx := context.Background()
			logs := &syncBuf{}
			db, err := Open(ctx, path, Config{
				Replication: ReplicationLitestream, WALLimit: 256 << 10, ReplicationHardLimit: 512 << 10,
				ReplicationStallAfter: 50 * time.Millisecond, ReplicationNeverTruncate: never,
				CheckpointInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Write(ctx, func(tx *Tx) error {
				_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			// A reader holds the WAL while it grows past the hard limit (a
			// live but stalled Litestream), then goes (Litestream dies).
			raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			tx, err := raw.Begin()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			for db.walBytes() <= 600<<10 {
				fillRows(t, db, 10)
			}
			_ = tx.Rollback()
			// Wait for the monitor's verdict (an event), then for the WAL.
			deadline := time.Now().Add(60 * time.Second)
			for {
				st := db.replicationStats()
				if st.Stalled && (never || st.CortexCheckpointing) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no stall/takeover: %+v", st)
				}
				fillRows(t, db, 1)
			}
			h := db.Health(ctx, HealthOptions{})
			var detail string
			for _, c := range h.Checks {
				if c.Name == "replication" {
					detail = c.Detail
				}
			}
			if h.Status != health.Degraded || !strings.Contains(detail, "replication stalled since") {
				t.Fatalf("health %s, replication check %q: want degraded, replication stalled since …", h.Status, detail)
			}
			if never {
				if !strings.Contains(detail, "without bound") {
					t.Fatalf("never-truncate: detail %q, want it to say the WAL grows without bound", detail)
				}
				for range 20 {
					fillRows(t, db, 5)
				}
				if w := db.walBytes(); w <= 512<<10 {
					t.Fatalf("never-truncate: WAL %d bytes, want it left past the hard limit", w)
				}
				if db.replicationStats().CortexCheckpointing {
					t.Fatal("never-truncate: cortex took checkpointing back")
				}
				return
			}
			if !strings.Contains(logs.String(), "cortex takes checkpointing back") {
				t.Fatalf("no takeover log line:\n%s", logs.String())
			}
			// Cortex checkpoints now: the WAL comes back under its limit
			// while writes go on.
			for db.walBytes() > 256<<10 {
				if time.Now().After(deadline) {
					t.Fatalf("WAL still %d bytes after the takeover", db.walBytes())
				}
				fillRows(t, db, 1)
			}
		})
	}
}

// Litestream's tables in the database are detected and logged, in either
// mode.
func TestReplication_DetectsLitestreamTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	db, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER); CREATE TABLE _litestream_lock (id INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, mode := range []string{ReplicationNone, ReplicationLitestream} {
		logs := &syncBuf{}
		db, err := Open(ctx, path, Config{Replication: mode, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		want := map[string]string{ReplicationNone: "but the replication mode is none", ReplicationLitestream: "Litestream detected"}[mode]
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("mode %s: log %q, want %q", mode, logs.String(), want)
		}
	}
}

func TestLitestreamPosition(t *testing.T) {
	dir := t.TempDir()
	if _, ok := litestreamPosition(dir); ok {
		t.Fatal("position found in an empty folder")
	}
	l0 := filepath.Join(dir, "ltx", "0")
	mustMkdir(t, l0)
	for _, n := range []string{"0000000000000001-0000000000000001.ltx", "0000000000000002-000000000000001a.ltx", "junk.tmp"} {
		mustWrite(t, filepath.Join(l0, n))
	}
	if got, ok := litestreamPosition(dir); !ok || got != 0x1a {
		t.Fatalf("position %d %v, want 26", got, ok)
	}
	if got := LitestreamMetaDir("/a/b/cortex.db"); got != "/a/b/.cortex.db-litestream" {
		t.Fatalf("meta dir %s", got)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Right after Litestream finishes a sync of a WAL of 1,000 frames or more
// (a new level-0 LTX file), its checkpoint asks for the write lock: the
// writer starts no group until that checkpoint has copied the WAL. The
// test plays Litestream: a reader that holds the WAL (so cortex's own
// PASSIVE checkpoints cannot copy it), an LTX file, then the checkpoint.
func TestReplication_WriterWaitsForLitestreamCheckpoint(t *testing.T) {
	defer func(d time.Duration) { replAssistMax = d }(replAssistMax)
	replAssistMax = time.Minute // the writer waits for the checkpoint, not a clock
	dir := t.TempDir()
	ctx := context.Background()
	const litestreamCheckpointFrames = 1000 // Litestream's own default
	db, path, l0 := openLitestream(t, dir, Config{
		CheckpointInterval: time.Hour, ReplicationStallAfter: time.Hour, ReplicationHardLimit: 1 << 40,
		LitestreamCheckpointPages: litestreamCheckpointFrames,
	})
	litestreamSynced(t, db, l0, 1)
	raw, rtx := holdReader(t, path)
	fillRows(t, db, 1200) // past 1,000 frames; no new LTX file: no pause
	if got := db.repl.assists.Load(); got != 0 {
		t.Fatalf("%d pauses before Litestream's sync, want none", got)
	}
	if mx, backfill, ok := db.walIndex(); !ok || mx < litestreamCheckpointFrames || backfill >= mx {
		t.Fatalf("WAL index mx %d backfill %d ok %v: want %d frames or more, not all copied", mx, backfill, ok, litestreamCheckpointFrames)
	}

	// Litestream's sync ends: the next write waits for its checkpoint.
	mustWrite(t, ltxFile(l0, 2))
	type index struct{ mx, backfill int64 }
	seen := make(chan index, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- db.Write(ctx, func(tx *Tx) error {
			mx, backfill, _ := db.walIndex()
			seen <- index{mx, backfill}
			_, err := tx.Exec(ctx, "INSERT INTO t(v) VALUES ('after')")
			return err
		})
	}()
	waitUntil(t, "the writer never paused for Litestream's checkpoint", func() bool {
		select {
		case ix := <-seen:
			t.Fatalf("the write ran before Litestream's checkpoint (WAL index mx %d backfill %d)", ix.mx, ix.backfill)
		default:
		}
		return db.repl.assists.Load() != 0
	})
	// Litestream's checkpoint: its reader goes, PASSIVE copies the WAL.
	_ = rtx.Rollback()
	if _, err := raw.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if ix := <-seen; ix.backfill < ix.mx {
		t.Fatalf("the write ran with the WAL index at mx %d backfill %d: want it after the checkpoint", ix.mx, ix.backfill)
	}
	if st := db.replicationStats(); st.WriterCheckpointWaits != 1 || st.WriterYields != 0 {
		t.Fatalf("checkpoint waits %d, yields %d: want 1 and 0", st.WriterCheckpointWaits, st.WriterYields)
	}
}

// Litestream checkpoints after a sync only once the WAL holds its
// min-checkpoint-page-count frames (LitestreamCheckpointPages): after a
// sync of a shorter WAL no checkpoint comes, and the writer does not pause.
func TestReplication_WriterPausesOnlyPastLitestreamCheckpointPages(t *testing.T) {
	defer func(d time.Duration) { replAssistMax = d }(replAssistMax)
	replAssistMax = time.Millisecond // a pause would end at once, and be counted
	dir := t.TempDir()
	const pages = 4000
	db, path, l0 := openLitestream(t, dir, Config{
		CheckpointInterval: time.Hour, ReplicationStallAfter: time.Hour, ReplicationHardLimit: 1 << 40,
		LitestreamCheckpointPages: pages,
	})
	litestreamSynced(t, db, l0, 1)
	// Litestream's reader holds the WAL, so nothing is copied.
	holdReader(t, path)
	fillRows(t, db, 1200) // past Litestream's default of 1,000 frames, short of 4,000
	mx, _, ok := db.walIndex()
	if !ok || mx < 1000 || mx >= pages {
		t.Fatalf("WAL index mx %d ok %v: want 1,000 to %d frames", mx, ok, pages)
	}
	// A sync ends: the next writes run without a pause.
	mustWrite(t, ltxFile(l0, 2))
	fillRows(t, db, 10)
	if got := db.repl.assists.Load(); got != 0 {
		t.Fatalf("the writer paused %d times for a checkpoint Litestream does not run below %d frames", got, pages)
	}
	// Past the pages, the sync's end makes it pause.
	fillRows(t, db, pages-int(mx))
	mustWrite(t, ltxFile(l0, 3))
	fillRows(t, db, 1)
	if got := db.repl.assists.Load(); got != 1 {
		t.Fatalf("the writer paused %d times past %d frames after a sync, want 1", got, pages)
	}
}

// Litestream restarts the WAL without truncating it: the -wal file keeps
// the size of its longest run. Once Litestream has checkpointed and the
// WAL started over, replication is not stalled, however large the file.
func TestReplication_StartedOverWALIsNotStalled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	const limit = 256 << 10
	db, err := Open(ctx, path, Config{
		Replication: ReplicationLitestream, WALLimit: limit, ReplicationHardLimit: 1 << 40,
		ReplicationStallAfter: time.Hour, CheckpointInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t(v TEXT)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Litestream's connection: no journal_size_limit, as in Litestream.
	raw, rtx := holdReader(t, path)
	raw.SetMaxOpenConns(1)
	for db.walBytes() <= 3*limit {
		fillRows(t, db, 10)
	}
	waitStalled := func(want bool) {
		t.Helper()
		waitUntil(t, fmt.Sprintf("replication's stalled is never %v", want), func() bool { return db.replicationStats().Stalled == want })
	}
	waitStalled(true)
	// Litestream checkpoints, and its next write starts the WAL over.
	_ = rtx.Rollback()
	if _, err := raw.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("INSERT INTO t(v) VALUES ('bump')"); err != nil {
		t.Fatal(err)
	}
	if w := db.walBytes(); w <= limit {
		t.Fatalf("the -wal file is %d bytes after the restart: the test wants it left past the limit", w)
	}
	waitStalled(false)
}

// In the replication mode the WAL limit's default fits Litestream's
// checkpoint cadence: it checkpoints once the WAL holds
// LitestreamCheckpointPages frames (docs/replication.md's litestream.yml),
// and the writer must not slow down (past three quarters of the limit)
// before that.
func TestReplication_Defaults(t *testing.T) {
	c := Config{Replication: "Litestream"}.withDefaults()
	if c.WALLimit != DefaultReplicationWALLimit || c.ReplicationHardLimit != 2*DefaultReplicationWALLimit || c.LitestreamCheckpointPages != DefaultLitestreamCheckpointPages {
		t.Fatalf("litestream defaults: WALLimit %d, hard limit %d, pages %d", c.WALLimit, c.ReplicationHardLimit, c.LitestreamCheckpointPages)
	}
	if frames := walHeaderBytes + int64(c.LitestreamCheckpointPages)*(4096+walFrameHeaderBytes); frames > c.WALLimit/4*3 {
		t.Fatalf("Litestream checkpoints at %d bytes of WAL, past the writer's back-pressure at %d", frames, c.WALLimit/4*3)
	}
	if c := (Config{}).withDefaults(); c.WALLimit != DefaultWALLimit {
		t.Fatalf("mode none: WALLimit %d, want %d", c.WALLimit, DefaultWALLimit)
	}
	if c := (Config{Replication: ReplicationLitestream, WALLimit: 1 << 20}).withDefaults(); c.WALLimit != 1<<20 || c.ReplicationHardLimit != 2<<20 {
		t.Fatalf("a WALLimit given: %d (hard %d), want it kept", c.WALLimit, c.ReplicationHardLimit)
	}
	if err := (Config{Replication: ReplicationLitestream, LitestreamCheckpointPages: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "LitestreamCheckpointPages") {
		t.Fatalf("negative pages: %v", err)
	}
}

// A litestream.yml without cortex's min-checkpoint-page-count (Litestream's
// default 1000, e.g. one written for an older cortex) makes Litestream
// checkpoint long before the writer steps aside: cortex sees the WAL start
// over again and again short of LitestreamCheckpointPages while
// Litestream's position moves, and says what to set. The test plays
// Litestream: LTX files, and checkpoints (cortex's own PASSIVE ones, which
// complete with no Litestream reader).
func TestReplication_WarnsOfLowerLitestreamCheckpointPages(t *testing.T) {
	const want = "its min-checkpoint-page-count is lower than cortex's"
	// Restarts at ~150 frames: far short of 100,000 pages (warned); past
	// half of 250 (Litestream's checkpoints, as configured: no warning).
	if logs := restartsShortOf(t, 100000, func(l string) bool { return strings.Contains(l, want) }); strings.Count(logs, want) != 1 {
		t.Fatalf("warned %d times, want once; log:\n%s", strings.Count(logs, want), logs)
	}
	if logs := restartsShortOf(t, 250, func(string) bool { return false }); strings.Contains(logs, want) {
		t.Fatalf("warned with restarts past half of the pages; log:\n%s", logs)
	}
}

// restartsShortOf restarts the WAL at about 150 frames, with Litestream's
// position moving in between, until done(log) or 10 times, and returns
// the log.
func restartsShortOf(t *testing.T, pages int, done func(string) bool) string {
	dir := t.TempDir()
	ctx := context.Background()
	logs := &syncBuf{}
	db, _, l0 := openLitestream(t, dir, Config{
		WALAutoCheckpoint: 100, ReplicationStallAfter: time.Hour, LitestreamCheckpointPages: pages,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	for i := 1; i <= 10 && !done(logs.String()); i++ {
		// Litestream syncs: a new LTX file; the monitor sees its position move.
		litestreamSynced(t, db, l0, i)
		// The WAL grows; the monitor sees it long.
		fillRows(t, db, 150)
		waitUntil(t, "the monitor never saw the WAL grow", func() bool { return db.walLastMx() >= 150 })
		// Litestream checkpoints (here cortex's PASSIVE, which completes
		// with no reader) and the next write starts the WAL over.
		reset := db.replicationStats().WALResetAt
		if _, err := db.Checkpoint(ctx, Passive); err != nil {
			t.Fatal(err)
		}
		fillRows(t, db, 1)
		waitUntil(t, "the monitor never saw the WAL start over", func() bool {
			r := db.replicationStats().WALResetAt
			return r != nil && (reset == nil || r.After(*reset))
		})
	}
	return logs.String()
}

// walLastMx is the WAL length the replication monitor saw last.
func (db *DB) walLastMx() int64 {
	db.repl.mu.Lock()
	defer db.repl.mu.Unlock()
	return db.repl.lastMx
}
