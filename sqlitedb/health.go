package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cortex-db/cortex/health"
)

// IntegrityMode selects the integrity check Health runs.
type IntegrityMode string

// Integrity check modes.
const (
	IntegrityNone  IntegrityMode = ""
	IntegrityQuick IntegrityMode = "quick" // PRAGMA quick_check: O(N), skips index contents
	IntegrityFull  IntegrityMode = "full"  // PRAGMA integrity_check: also verifies indexes
)

// HealthOptions select the optional checks.
type HealthOptions struct {
	// Integrity runs quick_check or integrity_check. They read the whole
	// database; the last result is cached and reported with its time.
	Integrity IntegrityMode
	// Timeout bounds each query check (default 2s).
	Timeout time.Duration
}

// Health is the verdict and the checks behind it (package health's
// vocabulary, shared with the stores and the HTTP API), with the
// integrity and backup figures they read.
type Health struct {
	health.Report
	Integrity *IntegrityResult `json:"integrity,omitempty"`
	// IntegrityAgeSeconds is how long ago Integrity (the last completed
	// check) finished.
	IntegrityAgeSeconds *float64 `json:"integrity_age_seconds,omitempty"`
	// IntegrityJob is the integrity job running now (integrity.go).
	IntegrityJob *IntegrityJob `json:"integrity_job,omitempty"`
	// Backup is the running backup's progress (backup.go).
	Backup *BackupProgress `json:"backup,omitempty"`
}

// IntegrityResult is the last integrity check's outcome.
type IntegrityResult struct {
	Mode     IntegrityMode `json:"mode"`
	OK       bool          `json:"ok"`
	Problems []string      `json:"problems,omitempty"`
	// Skipped names what a verify pass could not check this time (a
	// WITHOUT ROWID table whose check was stopped for holding the WAL).
	Skipped   []string      `json:"skipped,omitempty"`
	CheckedAt time.Time     `json:"checked_at"`
	Duration  time.Duration `json:"duration_ns"`
}

type integrityCache struct {
	mu   sync.Mutex
	last *IntegrityResult
}

// minFreeDisk is the free space below which health is degraded.
const minFreeDisk = 256 << 20

// Health runs the health checks: a query on a reader and a transaction on
// the writer (or, when either did its work successfully within the last
// second, that work: health answers at once under load), the WAL size against Config.WALLimit, checkpoint starvation, free
// disk space, the SQLite version, and, when asked, an integrity check. Any
// failing query or a failed integrity check makes it Unhealthy; a large
// WAL, starvation or low disk space Degraded. It never returns an error: a
// failure is a check's detail.
func (db *DB) Health(ctx context.Context, opts HealthOptions) Health {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	h := Health{Report: health.NewReport()}
	add := func(name string, st health.Status, detail string) {
		h.Add(health.Check{Name: name, Status: st, Detail: detail})
	}
	addHint := func(name string, st health.Status, detail, hint string) {
		h.Add(health.Check{Name: name, Status: st, Detail: detail, Hint: hint})
	}
	queryCheck := func(name string, run func(context.Context) error) {
		cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		if err := run(cctx); err != nil {
			addHint(name, health.Unhealthy, err.Error(), errHint(err))
			return
		}
		add(name, health.Healthy, "")
	}
	// The reader and the writer answer from what they did last when
	// they did it within healthFresh: under load a probe write waits in
	// the writer's queue behind whole groups and their checkpoints
	// (measured: health p99 75-380 ms under appends), while the commits
	// that keep it waiting already prove the writer works. Idle, or
	// after a failure, the probes run.
	// A closed DB answers from nothing: its probes fail with ErrClosed.
	open := db.enter() == nil
	if open {
		db.ops.Done()
	}
	if ago, ok := freshSince(db.lastRead.Load()); ok && open {
		add("reader", health.Healthy, "read "+ago+" ago")
	} else {
		queryCheck("reader", func(ctx context.Context) error {
			return db.Read(ctx, func(tx *Tx) error {
				var n int
				return tx.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
			})
		})
	}
	if ago, ok := freshSince(db.w.lastCommit.Load()); ok && open && db.walErr() == nil && db.w.lastErrAt.Load() < db.w.lastCommit.Load() {
		add("writer", health.Healthy, "committed "+ago+" ago")
	} else {
		queryCheck("writer", func(ctx context.Context) error {
			return db.Write(ctx, func(tx *Tx) error {
				var n int
				return tx.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
			})
		})
	}

	if db.cfg.JournalMode == "wal" {
		wal := db.walBytes()
		if wal > db.cfg.WALLimit {
			add("wal", health.Degraded, fmt.Sprintf("WAL is %s, over its limit of %s: checkpoints are not keeping up", formatBytes(wal), formatBytes(db.cfg.WALLimit)))
		} else {
			add("wal", health.Healthy, fmt.Sprintf("%s of %s", formatBytes(wal), formatBytes(db.cfg.WALLimit)))
		}
		if db.repl != nil {
			h.Add(db.replicationCheck())
		}
		if db.replicaHolds() {
			// Litestream's read transaction keeps PASSIVE checkpoints
			// short of the WAL's end by design: not starvation.
			add("checkpoint", health.Healthy, "PASSIVE only: Litestream restarts the WAL")
		} else if n := db.ckstats.starvedNow(); n >= starvationThreshold {
			add("checkpoint", health.Degraded, fmt.Sprintf("the last %d checkpoints could not complete: long read transactions hold old snapshots", n))
		} else {
			add("checkpoint", health.Healthy, "")
		}
	}

	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(db.path), &st); err != nil {
		add("disk", health.Degraded, err.Error())
	} else if free := int64(st.Bavail) * st.Bsize; free < minFreeDisk {
		add("disk", health.Degraded, fmt.Sprintf("%s free, under %s", formatBytes(free), formatBytes(minFreeDisk)))
	} else {
		add("disk", health.Healthy, fmt.Sprintf("%s free", formatBytes(free)))
	}

	if bad, why := unsafeVersion(db.version); bad {
		add("sqlite_version", health.Degraded, why)
	} else {
		add("sqlite_version", health.Healthy, db.version)
	}

	if opts.Integrity != IntegrityNone {
		res, err := db.IntegrityCheck(ctx, opts.Integrity)
		switch {
		case err != nil:
			addHint("integrity", health.Unhealthy, err.Error(), errHint(err))
		case !res.OK:
			add("integrity", health.Unhealthy, strings.Join(res.Problems, "; "))
		default:
			add("integrity", health.Healthy, string(res.Mode)+" ok")
		}
	}
	if err := db.walErr(); err != nil {
		add("wal_io", health.Unhealthy, err.Error())
	}
	if ev := db.corrupt.Load(); ev != nil {
		addHint("corruption", health.Unhealthy, "a query met a damaged page at "+ev.at.Format(time.RFC3339)+": "+ev.err, "restore from a backup (cortex restore)")
	}
	db.integrity.mu.Lock()
	if db.integrity.last != nil {
		last := *db.integrity.last
		h.Integrity = &last
		age := time.Since(last.CheckedAt).Seconds()
		h.IntegrityAgeSeconds = &age
		if !last.OK && opts.Integrity == IntegrityNone {
			add("integrity", health.Unhealthy, "last check at "+last.CheckedAt.Format(time.RFC3339)+" failed: "+strings.Join(last.Problems, "; "))
		}
	}
	db.integrity.mu.Unlock()
	if job, ok := db.RunningIntegrity(); ok {
		h.IntegrityJob = &job
	}
	if bp, ok := db.BackupProgressNow(); ok {
		h.Backup = &bp
	}
	return h
}

// healthFresh is how recent a read or a commit must be for Health to
// take it as the reader's or the writer's check (a variable for tests).
var healthFresh = time.Second

// freshSince reports how long ago the unix-nanosecond time ns was, and
// whether that is within healthFresh.
func freshSince(ns int64) (string, bool) {
	if ns == 0 {
		return "", false
	}
	ago := time.Since(time.Unix(0, ns))
	if ago > healthFresh || ago < 0 {
		return "", false
	}
	return ago.Round(time.Millisecond).String(), true
}

// errHint is what to do about a failed check's error: its own hint, or
// for damage, a restore.
func errHint(err error) string {
	if h := Hint(err); h != "" {
		return h
	}
	if errors.Is(err, ErrCorrupt) {
		return "restore from a backup"
	}
	return ""
}

// maxProblems bounds the problems an integrity check reports.
const maxProblems = 100

// recordIntegrity stamps a finished check (its time and duration since
// start) and keeps it as the last one, which health reports.
func (db *DB) recordIntegrity(res *IntegrityResult, start time.Time) {
	res.CheckedAt = time.Now().UTC()
	res.Duration = time.Since(start)
	db.integrity.mu.Lock()
	db.integrity.last = res
	db.integrity.mu.Unlock()
}

// IntegrityCheck runs PRAGMA quick_check or integrity_check on a reader and
// caches the result for Health. It holds one read snapshot throughout: when
// that snapshot holds the WAL past Config.SnapshotWALLimit, the check is
// stopped with an error wrapping ErrSnapshotHeld (the integrity job then
// starts it over).
func (db *DB) IntegrityCheck(ctx context.Context, mode IntegrityMode) (IntegrityResult, error) {
	pragma := "PRAGMA quick_check(" + fmt.Sprint(maxProblems) + ")"
	if mode == IntegrityFull {
		pragma = "PRAGMA integrity_check(" + fmt.Sprint(maxProblems) + ")"
	} else if mode != IntegrityQuick {
		return IntegrityResult{}, fmt.Errorf("unknown integrity mode %q: want quick or full", mode)
	}
	start := time.Now()
	res := IntegrityResult{Mode: mode}
	// One read snapshot from start to end: a long read, stopped when it
	// holds the WAL past Config.SnapshotWALLimit (longread.go).
	lctx, end := db.beginLongRead(ctx, string(mode)+" check")
	err := db.Read(lctx, func(tx *Tx) error {
		lines, err := checkRows(lctx, tx, pragma)
		res.Problems = lines
		return err
	})
	end()
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return res, heldErr(lctx, err)
	}
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	res.OK = len(res.Problems) == 0
	if res.OK && mode == IntegrityFull {
		db.corrupt.Store(nil) // the whole file checked out: whatever was met is gone
	}
	db.recordIntegrity(&res, start)
	return res, nil
}

// checkRows runs an integrity pragma and returns its lines other than "ok".
func checkRows(ctx context.Context, tx *Tx, pragma string) ([]string, error) {
	rows, err := tx.Query(ctx, pragma)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return problems, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	return problems, rows.Err()
}

// formatBytes prints a byte count with a binary unit, as `cortex stats`
// does: 512 B, 56.0 KiB, 64.0 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
