package sqlitedb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cortex-db/cortex/health"
)

// Replication modes (Config.Replication).
const (
	// ReplicationNone: cortex owns checkpointing (PASSIVE in the
	// background, RESTART/TRUNCATE to keep the WAL under Config.WALLimit).
	ReplicationNone = "none"
	// ReplicationLitestream: a Litestream sidecar
	// (https://litestream.io, v0.5) replicates the database. Litestream
	// keeps a read transaction open on the database at all times and
	// runs its own checkpoints; cortex then runs only PASSIVE checkpoints
	// (which never wait for a reader and never copy a frame Litestream has
	// not read), never RESTART or TRUNCATE, and its writer never waits on
	// Litestream's reader. If Litestream stops making progress, the
	// fallback (Config.ReplicationStallAfter, Config.ReplicationHardLimit,
	// Config.ReplicationNeverTruncate) keeps the disk safe and health says
	// why.
	ReplicationLitestream = "litestream"
)

// Replication defaults.
const (
	DefaultReplicationStallAfter = 30 * time.Second
	// DefaultReplicationWALLimit is Config.WALLimit's default in the
	// replication mode. Litestream copies the WAL once a second and
	// checkpoints after the sync that finds DefaultLitestreamCheckpointPages
	// frames (about 135 MB): the WAL then reaches about that plus one
	// second of writes, which at 64 MiB made the writer slow down
	// (back-pressure past three quarters of the limit) for 7-45% of its
	// time at 16 clients (BENCHMARKS.md).
	DefaultReplicationWALLimit = 512 << 20
	// DefaultLitestreamCheckpointPages is Config.LitestreamCheckpointPages'
	// default, the min-checkpoint-page-count of docs/replication.md's
	// litestream.yml. Each of Litestream's checkpoints stops the writer for
	// tens of milliseconds whatever its size (measured: 7-450 ms for 1,500
	// to 13,600 frames, 100-160 ms for 33,000 to 41,000), so fewer, larger
	// ones cost the writer less.
	DefaultLitestreamCheckpointPages = 32768
	// replPoll is how often the replication monitor looks at Litestream's
	// position (a directory listing) and the WAL.
	replPoll = 250 * time.Millisecond
)

// Litestream's names (v0.5): the tables it creates in the database it
// replicates, and its metadata folder beside the database,
// <dir>/.<file>-litestream, whose ltx/0 folder holds one LTX file per
// transaction range it has read from the WAL, named
// <min txid>-<max txid>.ltx in hex.
const (
	litestreamSeqTable  = "_litestream_seq"
	litestreamLockTable = "_litestream_lock"
	litestreamMetaSufx  = "-litestream"
)

// LitestreamMetaDir is where Litestream v0.5 keeps its metadata for the
// database at path when its configuration names no meta-path.
func LitestreamMetaDir(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+litestreamMetaSufx)
}

// ReplicationStats is what cortex can see of the replication: Litestream's
// position (the newest transaction id it has captured from the WAL into
// its local LTX files, which it then uploads to the replica) and how long
// commits have waited for it, the WAL, and the checkpoints. The JSON names
// are the same in /v1/admin/stats, the CLI's --json and /metrics.
type ReplicationStats struct {
	Mode string `json:"mode"`
	// TablesDetected: Litestream's _litestream_seq and _litestream_lock
	// tables are in the database (it has opened it at least once).
	TablesDetected bool   `json:"tables_detected"`
	MetaDir        string `json:"meta_dir,omitempty"`
	// TXID is the newest transaction id in Litestream's local LTX files (0:
	// none seen); PositionChangedAt when cortex last saw it change.
	TXID              uint64     `json:"txid"`
	PositionChangedAt *time.Time `json:"position_changed_at,omitempty"`
	// LagSeconds is how long the oldest commit Litestream has not yet
	// captured has waited (0 when it has every commit cortex made).
	LagSeconds float64 `json:"lag_seconds"`
	// Stalled: no position change for Config.ReplicationStallAfter while
	// commits waited, or the WAL holding more than Config.WALLimit since
	// it last started over; StalledSince when
	// that began, StallReason why.
	Stalled      bool       `json:"stalled"`
	StalledSince *time.Time `json:"stalled_since,omitempty"`
	StallReason  string     `json:"stall_reason,omitempty"`
	// CortexCheckpointing: past HardLimitBytes while stalled, cortex took
	// checkpointing back (RESTART/TRUNCATE) to bound the WAL; Litestream
	// takes a new snapshot when it returns. TakeoverCount counts the
	// takeovers since Open.
	CortexCheckpointing bool  `json:"cortex_checkpointing"`
	TakeoverCount       int64 `json:"takeover_count"`
	NeverTruncate       bool  `json:"never_truncate"`
	HardLimitBytes      int64 `json:"hard_limit_bytes"`
	WALBytes            int64 `json:"wal_bytes"`
	// WALResetAt is when cortex last saw the WAL start over (a checkpoint
	// that completed: Litestream's, or cortex's own).
	WALResetAt *time.Time `json:"wal_reset_at,omitempty"`
	// WriterCheckpointWaits counts the writer's pauses that leave
	// Litestream the write lock for its checkpoint, right after a sync of
	// a WAL of LitestreamCheckpointPages frames or more; WriterCheckpointWaitSeconds is their
	// total time.
	WriterCheckpointWaits       int64   `json:"writer_checkpoint_waits"`
	WriterCheckpointWaitSeconds float64 `json:"writer_checkpoint_wait_seconds"`
	// WriterYields counts the writer's 2 ms pauses between groups while
	// the WAL is past three quarters of Config.WALLimit (Litestream behind
	// the write rate: back-pressure); WriterYieldSeconds their total time.
	WriterYields       int64   `json:"writer_yields"`
	WriterYieldSeconds float64 `json:"writer_yield_seconds"`
	// WriterLockWaitSeconds is the writer's total time in BEGIN IMMEDIATE,
	// nearly all of it waiting for the write lock while Litestream held it
	// (its checkpoint barrier and its _litestream_seq bumps).
	WriterLockWaitSeconds float64 `json:"writer_lock_wait_seconds"`
	// LastCompleteCheckpointAt is cortex's own last checkpoint that copied
	// every frame.
	LastCompleteCheckpointAt *time.Time `json:"last_complete_checkpoint_at,omitempty"`
}

// replMonitor watches Litestream's progress for the replication mode.
type replMonitor struct {
	db   *DB
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu             sync.Mutex
	detected       bool
	txid           uint64
	posAt          time.Time // when txid last changed
	commitsAtPos   int64     // writer commits when txid last changed
	unseenSince    time.Time // first look at which commits were past commitsAtPos
	stalledSince   time.Time
	stallReason    string
	takeover       bool
	takeovers      int64
	lastMx         int64
	walResetAt     time.Time
	loggedStall    bool
	loggedTakeover bool
	// shortResetAt is when the WAL last started over short of
	// LitestreamCheckpointPages frames while Litestream was live; two
	// within replShortResets say its min-checkpoint-page-count is lower.
	shortResetAt  time.Time
	loggedPagesLo bool

	// ltxDir is Litestream's level-0 LTX folder; nextTXID the transaction
	// id of the LTX file the writer looks for next (writer goroutine only).
	ltxDir   string
	nextTXID uint64

	// The writer's pauses (yieldWAL) and their total time: for
	// Litestream's checkpoints, and back-pressure.
	assists, assistNanos atomic.Int64
	yields, yieldNanos   atomic.Int64
	// beginNanos is the writer's total time in BEGIN IMMEDIATE: waiting
	// for the write lock while Litestream holds it.
	beginNanos atomic.Int64
}

func newReplMonitor(db *DB) *replMonitor {
	return &replMonitor{db: db, quit: make(chan struct{}), done: make(chan struct{}),
		ltxDir: filepath.Join(db.cfg.LitestreamMetaDir, "ltx", "0")}
}

func (m *replMonitor) stop() {
	m.once.Do(func() { close(m.quit) })
	<-m.done
}

// replicaHolds reports whether a replicator owns WAL restarts and
// truncation: the replication mode is on and cortex has not taken
// checkpointing back.
func (db *DB) replicaHolds() bool {
	if db.repl == nil {
		return false
	}
	db.repl.mu.Lock()
	defer db.repl.mu.Unlock()
	return !db.repl.takeover
}

// detectLitestream reports whether Litestream's tables are in the database.
func (db *DB) detectLitestream(ctx context.Context) (bool, error) {
	var n int
	err := db.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?)",
			litestreamSeqTable, litestreamLockTable).Scan(&n)
	})
	return n == 2, err
}

// logDetection logs, once at Open, what was found of Litestream.
func (db *DB) logDetection(ctx context.Context) {
	found, err := db.detectLitestream(ctx)
	if err != nil {
		db.cfg.Logger.Warn("could not look for Litestream's tables", "err", err)
		return
	}
	log := db.cfg.Logger
	switch {
	case found && db.cfg.Replication == ReplicationLitestream:
		log.Info("replication: Litestream detected (tables _litestream_seq and _litestream_lock); cortex runs only PASSIVE checkpoints and leaves WAL restarts to Litestream",
			"mode", db.cfg.Replication, "meta_dir", db.cfg.LitestreamMetaDir)
	case found:
		log.Warn("replication: Litestream's tables _litestream_seq and _litestream_lock are in this database, but the replication mode is none: cortex's RESTART/TRUNCATE checkpoints will wait on Litestream's read transaction",
			"path", db.path, "hint", "--replication=litestream if Litestream replicates this database")
	case db.cfg.Replication == ReplicationLitestream:
		log.Info("replication: mode litestream, Litestream's tables are not in the database yet (it creates them when it starts replicating)",
			"meta_dir", db.cfg.LitestreamMetaDir)
	}
	if fb := db.w.guard.frameBytes; db.repl != nil && fb > 0 && db.walFramesBytes(int64(db.cfg.LitestreamCheckpointPages)) > db.cfg.WALLimit/4*3 {
		// Litestream checkpoints only once the WAL holds this many frames,
		// but the writer slows down past three quarters of the limit and
		// health reports a stall past it.
		log.Warn("replication: --wal-limit is too small for Litestream's checkpoints: the WAL grows to --litestream-checkpoint-pages frames and more before Litestream checkpoints, but the writer slows down past three quarters of --wal-limit",
			"wal_limit_bytes", db.cfg.WALLimit, "litestream_checkpoint_pages", db.cfg.LitestreamCheckpointPages,
			"checkpoint_wal_bytes", db.walFramesBytes(int64(db.cfg.LitestreamCheckpointPages)),
			"hint", "raise --wal-limit above 4/3 of that plus a second of writes, or lower min-checkpoint-page-count in litestream.yml and --litestream-checkpoint-pages together")
	}
	if db.repl != nil {
		db.repl.mu.Lock()
		db.repl.detected = found
		db.repl.mu.Unlock()
	}
}

// litestreamPosition reads the newest transaction id in Litestream's
// level-0 LTX folder: a directory listing, no lock, no SQLite access.
func litestreamPosition(metaDir string) (uint64, bool) {
	// Every compaction level: Litestream compacts level 0's files into
	// higher levels and removes them, so level 0 alone can be empty for a
	// moment while the position is where the higher levels say.
	levels, err := os.ReadDir(filepath.Join(metaDir, "ltx"))
	if err != nil {
		return 0, false
	}
	var ents []os.DirEntry
	for _, l := range levels {
		if !l.IsDir() {
			continue
		}
		es, err := os.ReadDir(filepath.Join(metaDir, "ltx", l.Name()))
		if err == nil {
			ents = append(ents, es...)
		}
	}
	var best uint64
	found := false
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".ltx") {
			continue
		}
		_, maxHex, ok := strings.Cut(strings.TrimSuffix(name, ".ltx"), "-")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(maxHex, 16, 64)
		if err != nil {
			continue
		}
		found = true
		best = max(best, v)
	}
	return best, found
}

func (m *replMonitor) loop() {
	defer close(m.done)
	t := time.NewTicker(replPoll)
	defer t.Stop()
	m.mu.Lock()
	m.posAt = time.Now()
	m.commitsAtPos = m.db.w.commits.Load()
	m.mu.Unlock()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		m.observe(time.Now())
	}
}

// observe takes one look at Litestream's position and the WAL, and
// decides whether replication is stalled and whether cortex checkpoints.
func (m *replMonitor) observe(now time.Time) {
	db := m.db
	cfg := db.cfg
	txid, found := litestreamPosition(cfg.LitestreamMetaDir)
	commits := db.w.commits.Load()
	wal := db.walBytes()
	mx, _, idx := db.walIndex()
	if idx && db.w.guard.frameBytes > 0 {
		// What the WAL holds since it last started over: the file keeps
		// the size of its longest run (Litestream restarts it without
		// truncating), which says nothing about whether Litestream keeps up.
		wal = db.walFramesBytes(mx)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.detected && txid != 0 {
		m.detected = true
		cfg.Logger.Info("replication: Litestream detected (it has written LTX files)", "meta_dir", cfg.LitestreamMetaDir, "txid", txid)
	}
	if mx < m.lastMx {
		m.walResetAt = now
		m.noteReset(now, m.lastMx)
	}
	m.lastMx = mx
	// A look that finds no LTX file (Litestream not started yet, or a
	// level being replaced) is no position: it never moves it back.
	moved := found && txid > m.txid
	if moved {
		m.txid, m.posAt, m.commitsAtPos, m.unseenSince = txid, now, commits, time.Time{}
	} else if commits > m.commitsAtPos && m.unseenSince.IsZero() {
		m.unseenSince = now
	}

	reason := ""
	switch {
	case !m.unseenSince.IsZero() && now.Sub(m.unseenSince) >= cfg.ReplicationStallAfter:
		reason = fmt.Sprintf("Litestream's position (txid %d) has not moved for %s while commits waited", m.txid, now.Sub(m.posAt).Round(time.Second))
	case wal > cfg.WALLimit:
		reason = fmt.Sprintf("the WAL holds %d bytes since it last started over, past --wal-limit %d: Litestream is not checkpointing", wal, cfg.WALLimit)
	}
	if reason == "" {
		if !m.stalledSince.IsZero() {
			cfg.Logger.Info("replication: Litestream is making progress again", "txid", m.txid, "stalled_for", now.Sub(m.stalledSince).Round(time.Millisecond))
		}
		if m.takeover {
			cfg.Logger.Info("replication: giving checkpointing back to Litestream", "txid", m.txid)
		}
		m.stalledSince, m.stallReason, m.takeover = time.Time{}, "", false
		m.loggedStall, m.loggedTakeover = false, false
		return
	}
	if m.stalledSince.IsZero() {
		m.stalledSince = now
	}
	m.stallReason = reason
	if !m.loggedStall {
		m.loggedStall = true
		cfg.Logger.Warn("replication stalled", "since", m.stalledSince.Format(time.RFC3339), "reason", reason)
	}
	if !m.takeover && wal > cfg.ReplicationHardLimit {
		if cfg.ReplicationNeverTruncate {
			if !m.loggedTakeover {
				m.loggedTakeover = true
				cfg.Logger.Error("replication stalled and the WAL is past its hard limit; not truncating behind the replica (never-truncate is set): the WAL grows without bound",
					"wal_bytes", wal, "hard_limit_bytes", cfg.ReplicationHardLimit)
			}
			return
		}
		m.takeover = true
		m.takeovers++
		cfg.Logger.Error("replication stalled and the WAL is past its hard limit: cortex takes checkpointing back (RESTART/TRUNCATE) to bound the WAL; Litestream takes a new snapshot when it returns",
			"wal_bytes", wal, "hard_limit_bytes", cfg.ReplicationHardLimit, "since", m.stalledSince.Format(time.RFC3339))
	}
}

// replShortResets: two WAL restarts short of LitestreamCheckpointPages
// within this time are Litestream's checkpoints at a lower
// min-checkpoint-page-count (its time-based checkpoint-interval comes at
// most once a minute).
const replShortResets = 20 * time.Second

// noteReset looks at a WAL restart (the WAL held lastMx frames before it)
// for a litestream.yml whose min-checkpoint-page-count is lower than
// Config.LitestreamCheckpointPages (seen when the WAL starts over short of
// half of them). Litestream's read transaction keeps
// cortex's own PASSIVE checkpoints from completing while it runs, so
// while its position moves and cortex has not taken checkpointing back,
// a restart is Litestream's checkpoint. Its checkpoints then ask for the
// write lock while the writer keeps it: they wait up to Litestream's
// busy-timeout, delaying its syncs, and run at random moments. It logs a
// warning once. m.mu is held.
func (m *replMonitor) noteReset(now time.Time, lastMx int64) {
	pages := int64(m.db.cfg.LitestreamCheckpointPages)
	// Half: the monitor's last look before a restart may come before the
	// WAL reached the pages (it looks every replPoll).
	if m.takeover || m.loggedPagesLo || lastMx >= pages/2 || m.posAt.IsZero() || m.txid == 0 || now.Sub(m.posAt) > 5*time.Second {
		return
	}
	if !m.shortResetAt.IsZero() && now.Sub(m.shortResetAt) < replShortResets {
		m.loggedPagesLo = true
		m.db.cfg.Logger.Warn("replication: Litestream checkpoints before the WAL holds --litestream-checkpoint-pages frames, so its checkpoints find the write lock taken (they wait, and delay its syncs); its min-checkpoint-page-count is lower than cortex's",
			"frames_at_restart", lastMx, "litestream_checkpoint_pages", pages,
			"hint", fmt.Sprintf("set min-checkpoint-page-count: %d in litestream.yml (docs/replication.md), or --litestream-checkpoint-pages to Litestream's value", pages))
	}
	m.shortResetAt = now
}

// The writer's pauses in the replication mode (yieldWAL).
//
// Litestream checkpoints inside a write transaction (its _litestream_lock
// barrier) and waits for the write lock with SQLite's busy handler, which
// polls (after 1, 2, 5, 10, … ms). A writer that takes the lock again the
// instant it commits starves it: its checkpoints fail "database busy", the
// WAL grows, and past --wal-limit health says replication stalled. So the
// writer steps aside, but only when Litestream is about to ask: Litestream
// checkpoints right after a sync that leaves min-checkpoint-page-count
// (Config.LitestreamCheckpointPages) frames in the WAL, and every sync writes a level-0 LTX
// file. When the writer, between two groups, finds that file and the WAL
// that long, it starts no group until Litestream's checkpoint has copied
// the WAL (the WAL index shows backfill at mxFrame) or the WAL started
// over, for at most replAssistMax. That costs the writer about one
// checkpoint a second. Past three quarters of --wal-limit (Litestream
// falling behind the write rate) it also pauses replYield between groups:
// back-pressure that keeps the WAL under the limit.
const (
	replAssistPoll = 500 * time.Microsecond
	replYield      = 2 * time.Millisecond
)

// replAssistMax bounds one pause for Litestream's checkpoint (a variable
// for the tests).
var replAssistMax = 100 * time.Millisecond

// yieldWAL runs on the writer goroutine between groups, in the
// replication mode.
func (w *writer) yieldWAL() {
	db := w.db
	m := db.repl
	mx, backfill, ok := db.walIndex()
	if !ok {
		return
	}
	if m.litestreamSynced() && mx >= int64(db.cfg.LitestreamCheckpointPages) && mx > backfill {
		m.assistCheckpoint(db, mx)
		return
	}
	if db.walFramesBytes(mx) <= db.cfg.WALLimit/4*3 {
		return
	}
	m.yields.Add(1)
	t0 := time.Now()
	time.Sleep(replYield)
	m.yieldNanos.Add(int64(time.Since(t0)))
}

// litestreamSynced reports whether Litestream wrote a new level-0 LTX file
// since the writer's last look, that is, finished a sync. One stat of the
// next file's name (<txid>-<txid>.ltx, in hex) per group; writer goroutine
// only.
func (m *replMonitor) litestreamSynced() bool {
	if m.nextTXID == 0 {
		m.mu.Lock()
		txid := m.txid
		m.mu.Unlock()
		if txid == 0 {
			return false // Litestream not seen yet
		}
		m.nextTXID = txid + 1
	}
	found := false
	for {
		name := fmt.Sprintf("%016x-%016x.ltx", m.nextTXID, m.nextTXID)
		if _, err := os.Stat(filepath.Join(m.ltxDir, name)); err != nil {
			break
		}
		found = true
		m.nextTXID++
	}
	if !found {
		// Litestream may have moved on by a range (a snapshot after a
		// restart): follow the monitor's position.
		m.mu.Lock()
		if m.txid >= m.nextTXID {
			m.nextTXID = m.txid + 1
		}
		m.mu.Unlock()
	}
	return found
}

// assistCheckpoint pauses the writer while Litestream checkpoints: until
// the WAL index shows every frame copied (backfill at mxFrame) or the WAL
// started over, at most replAssistMax.
func (m *replMonitor) assistCheckpoint(db *DB, mx0 int64) {
	m.assists.Add(1)
	t0 := time.Now()
	for time.Since(t0) < replAssistMax {
		time.Sleep(replAssistPoll)
		mx, backfill, ok := db.walIndex()
		if !ok || mx < mx0 || backfill >= mx {
			break
		}
	}
	m.assistNanos.Add(int64(time.Since(t0)))
}

// replicationStats fills ReplicationStats; nil when the mode is none.
func (db *DB) replicationStats() *ReplicationStats {
	if db.repl == nil {
		return nil
	}
	m := db.repl
	now := time.Now()
	tp := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	m.mu.Lock()
	s := &ReplicationStats{
		Mode:                db.cfg.Replication,
		TablesDetected:      m.detected,
		MetaDir:             db.cfg.LitestreamMetaDir,
		TXID:                m.txid,
		PositionChangedAt:   tp(m.posAt),
		Stalled:             !m.stalledSince.IsZero(),
		StalledSince:        tp(m.stalledSince),
		StallReason:         m.stallReason,
		CortexCheckpointing: m.takeover,
		TakeoverCount:       m.takeovers,
		NeverTruncate:       db.cfg.ReplicationNeverTruncate,
		HardLimitBytes:      db.cfg.ReplicationHardLimit,
		WALResetAt:          tp(m.walResetAt),
	}
	if !m.unseenSince.IsZero() {
		s.LagSeconds = now.Sub(m.unseenSince).Seconds()
	}
	m.mu.Unlock()
	s.WALBytes = db.walBytes()
	s.WriterCheckpointWaits = m.assists.Load()
	s.WriterCheckpointWaitSeconds = float64(m.assistNanos.Load()) / 1e9
	s.WriterYields = m.yields.Load()
	s.WriterYieldSeconds = float64(m.yieldNanos.Load()) / 1e9
	s.WriterLockWaitSeconds = float64(m.beginNanos.Load()) / 1e9
	s.LastCompleteCheckpointAt = db.ckstats.lastCompleteAt()
	return s
}

// replicationCheck is the health check of the replication mode.
func (db *DB) replicationCheck() health.Check {
	s := db.replicationStats()
	if !s.Stalled {
		return health.Check{Name: "replication", Status: health.Healthy, Detail: fmt.Sprintf("Litestream at txid %d, lag %.1fs", s.TXID, s.LagSeconds)}
	}
	c := health.Check{Name: "replication", Status: health.Degraded, Detail: "replication stalled since " + s.StalledSince.Format(time.RFC3339) + ": " + s.StallReason}
	switch {
	case s.CortexCheckpointing:
		c.Detail += fmt.Sprintf("; the WAL passed its hard limit of %d bytes, so cortex checkpoints (RESTART/TRUNCATE) to bound it", s.HardLimitBytes)
		c.Hint = "restart Litestream (it takes a new snapshot)"
	case s.NeverTruncate && s.WALBytes > s.HardLimitBytes:
		c.Detail += fmt.Sprintf("; the WAL is %d bytes, past its hard limit of %d, and grows without bound (never-truncate is set)", s.WALBytes, s.HardLimitBytes)
		c.Hint = "restart Litestream now"
	default:
		c.Detail += fmt.Sprintf("; past %d bytes of WAL cortex takes checkpointing back", s.HardLimitBytes)
		c.Hint = "check that litestream replicate runs and can reach its replica"
	}
	return c
}
