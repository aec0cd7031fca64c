package sqlitedb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Integrity jobs: checks of the whole file run in the background, one at a
// time, reported by id (POST /v1/admin/integrity, GET its job URL) and in
// Health. Health itself never runs a check.
//
// What each mode proves, and what it costs (BENCHMARKS.md has the figures;
// docs/operations-at-scale.md explains them):
//
//   - quick: PRAGMA quick_check on a reader, in one read transaction.
//     Every b-tree page of every table and index is read and its structure
//     checked (cell bounds, key order, overflow chains, free-list, no page
//     used twice or never), and NOT NULL/CHECK constraints; not whether
//     each index holds exactly its table's rows. Reads the whole file
//     once; not resumable, no finer progress than its phase.
//   - full: PRAGMA integrity_check: quick_check plus every index against
//     its table (one index lookup per row and index), so it costs a few
//     times quick on large tables.
//   - verify: the background verifier. It walks every rowid table in
//     paced slices of bounded time, each slice its own short read
//     transaction on a reader (so checkpoints go on meanwhile), with
//     cell_size_check on, reading every row and its overflow pages:
//     every table page that holds data is read from disk and its cells
//     checked as SQLite loads it. It proves the table data readable and
//     well formed; it does not check indexes against tables, the
//     free-list or pages no b-tree uses (full does). Tables without a
//     rowid are checked whole with quick_check(table). It reports
//     progress in rows and bytes, and it is resumable: a verify job
//     stopped (cancelled, or by Close) continues where it stopped when
//     the next one starts in the same process.
//
// SQLite keeps no page checksums in this build (the cksumvfs extension is
// not compiled in), so no check here can tell a page whose bytes changed
// into another well-formed page; a full check after each backup and the
// backup copy's own integrity_check are the defence.

// Verify is the background verifier's mode.
const IntegrityVerify IntegrityMode = "verify"

// ErrJobRunning is returned by StartIntegrity while another integrity job
// runs: one at a time.
var ErrJobRunning = errors.New("an integrity job is already running")

// Integrity job states.
const (
	JobRunning  = "running"
	JobDone     = "done"
	JobFailed   = "failed"
	JobCanceled = "canceled"
)

// IntegrityProgress is how far a job got.
type IntegrityProgress struct {
	// Phase names the step: "quick_check", "integrity_check", or
	// "table <name>" for the verifier.
	Phase string `json:"phase"`
	// Tables done of the tables to walk (verify only).
	TablesDone  int `json:"tables_done"`
	TablesTotal int `json:"tables_total"`
	// Rows and Bytes read so far (verify only).
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Slices is how many paced read transactions the verifier ran.
	Slices int64 `json:"slices"`
	// FileBytes is the database file's size when the job started.
	FileBytes int64 `json:"file_bytes"`
	// Restarts counts the times a quick or full check was stopped because
	// its snapshot held the WAL past the snapshot WAL limit, and started
	// over (at most 3).
	Restarts int `json:"restarts,omitempty"`
}

// maxHeldRestarts bounds how often a quick or full check starts over after
// being stopped for holding the WAL.
const maxHeldRestarts = 3

// waitWALReset waits until the -wal file is back under Config.WALLimit
// (the checkpointer resets it once no long read holds it), polling at the
// checkpointer's pace.
func (db *DB) waitWALReset(ctx context.Context) error {
	for db.walBytes() > db.cfg.WALLimit {
		if !sleepCtx(ctx, DefaultCheckpointPoll) {
			return ctx.Err()
		}
	}
	return nil
}

// IntegrityJob is one integrity check run in the background. JSON names
// are the HTTP API's.
type IntegrityJob struct {
	ID         string            `json:"id"`
	Mode       IntegrityMode     `json:"mode"`
	State      string            `json:"state"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt *time.Time        `json:"finished_at,omitempty"`
	ElapsedMS  int64             `json:"elapsed_ms"`
	Progress   IntegrityProgress `json:"progress"`
	// Result is set once the job is done (also when it found problems).
	Result *IntegrityResult `json:"result,omitempty"`
	// Error says why a failed or cancelled job stopped.
	Error string `json:"error,omitempty"`
	// Resumed is true when a verify job continued a stopped one.
	Resumed bool `json:"resumed,omitempty"`
}

// VerifyConfig paces the verifier. Zero values are the defaults.
type VerifyConfig struct {
	// SliceTime bounds one slice's read transaction (default 20ms).
	SliceTime time.Duration
	// Duty is the share of wall time the verifier spends reading, in
	// (0, 1] (default 0.25): after a slice that took d it sleeps
	// d×(1−Duty)/Duty.
	Duty float64
}

func (c VerifyConfig) withDefaults() VerifyConfig {
	if c.SliceTime <= 0 {
		c.SliceTime = 20 * time.Millisecond
	}
	if c.Duty <= 0 || c.Duty > 1 {
		c.Duty = 0.25
	}
	return c
}

// maxJobs bounds the finished jobs kept for GET by id.
const maxJobs = 16

// integrityJobs is the DB's job table.
type integrityJobs struct {
	mu      sync.Mutex
	running *IntegrityJob
	cancel  context.CancelFunc
	done    chan struct{} // closed when the running job ends
	recent  []*IntegrityJob
	stopped bool
	cursor  *verifyCursor // where a stopped verify job stopped
}

// verifyCursor is the verifier's position: table index and last rowid.
type verifyCursor struct {
	table  int
	rowid  int64
	tables []string
	// noRowid marks the WITHOUT ROWID tables, checked whole.
	noRowid []bool
	prog    IntegrityProgress
}

// stop cancels the running job and waits for it; no job starts after.
// Close calls it first.
func (j *integrityJobs) stop() {
	j.mu.Lock()
	j.stopped = true
	cancel, done := j.cancel, j.done
	j.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// StartIntegrity starts an integrity job in the background and returns its
// first view: mode quick, full or verify (the paced verifier, with vc).
// While a job runs it fails with an error wrapping ErrJobRunning that
// names the running job. The job runs until done, until CancelIntegrityJob,
// or until Close.
func (db *DB) StartIntegrity(mode IntegrityMode, vc VerifyConfig) (IntegrityJob, error) {
	switch mode {
	case IntegrityQuick, IntegrityFull, IntegrityVerify:
	default:
		return IntegrityJob{}, fmt.Errorf("unknown integrity mode %q: want quick, full or verify", mode)
	}
	if err := db.enter(); err != nil {
		return IntegrityJob{}, err
	}
	defer db.ops.Done()
	j := &db.jobs
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped {
		return IntegrityJob{}, ErrClosed
	}
	if r := j.running; r != nil {
		return IntegrityJob{}, fmt.Errorf("%w: job %s (%s) started at %s", ErrJobRunning, r.ID, r.Mode, r.StartedAt.Format(time.RFC3339))
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	job := &IntegrityJob{ID: hex.EncodeToString(b[:]), Mode: mode, State: JobRunning, StartedAt: time.Now().UTC()}
	job.Progress.FileBytes = fileSize(db.path)
	ctx, cancel := context.WithCancel(context.Background())
	j.running, j.cancel, j.done = job, cancel, make(chan struct{})
	done := j.done
	go func() {
		defer close(done)
		defer cancel()
		if mode == IntegrityVerify {
			// Paced and in short snapshots: it can wait for idle CPUs.
			lowPriority(func() { db.runJob(ctx, job, vc.withDefaults()) })
			return
		}
		// quick and full hold one snapshot to their end, and the WAL
		// grows meanwhile: starving them (on a busy machine a nice 19
		// thread barely runs) would grow it without bound.
		db.runJob(ctx, job, vc.withDefaults())
	}()
	return *job, nil
}

// IntegrityJobByID returns a running or recent job (the last 16 are kept).
func (db *DB) IntegrityJobByID(id string) (IntegrityJob, bool) {
	j := &db.jobs
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running != nil && j.running.ID == id {
		return j.view(j.running), true
	}
	for _, r := range j.recent {
		if r.ID == id {
			return *r, true
		}
	}
	return IntegrityJob{}, false
}

// RunningIntegrity returns the running job, if any.
func (db *DB) RunningIntegrity() (IntegrityJob, bool) {
	j := &db.jobs
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running == nil {
		return IntegrityJob{}, false
	}
	return j.view(j.running), true
}

// WaitIntegrity waits for the running job to end and returns it. With no
// job running it returns the last one that ended (a job started just
// before may already have ended), and false when there is none.
func (db *DB) WaitIntegrity(ctx context.Context) (IntegrityJob, bool) {
	j := &db.jobs
	j.mu.Lock()
	r, done := j.running, j.done
	if r == nil {
		defer j.mu.Unlock()
		if n := len(j.recent); n > 0 {
			return *j.recent[n-1], true
		}
		return IntegrityJob{}, false
	}
	j.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return db.IntegrityJobByID(r.ID)
}

// CancelIntegrityJob stops the running job if its id is id (any running
// job when id is ""), waits for it to stop and returns its final view.
func (db *DB) CancelIntegrityJob(id string) (IntegrityJob, bool) {
	j := &db.jobs
	j.mu.Lock()
	r, cancel, done := j.running, j.cancel, j.done
	j.mu.Unlock()
	if r == nil || (id != "" && r.ID != id) {
		return IntegrityJob{}, false
	}
	cancel()
	<-done
	return db.IntegrityJobByID(r.ID)
}

// view copies a running job with its elapsed time.
func (j *integrityJobs) view(r *IntegrityJob) IntegrityJob {
	v := *r
	if v.FinishedAt == nil {
		v.ElapsedMS = time.Since(v.StartedAt).Milliseconds()
	}
	return v
}

// update changes the running job under the lock.
func (db *DB) updateJob(job *IntegrityJob, fn func(*IntegrityJob)) {
	db.jobs.mu.Lock()
	fn(job)
	db.jobs.mu.Unlock()
}

func (db *DB) runJob(ctx context.Context, job *IntegrityJob, vc VerifyConfig) {
	var res IntegrityResult
	var err error
	switch job.Mode {
	case IntegrityVerify:
		res, err = db.verify(ctx, job, vc)
	default:
		phase := "quick_check"
		if job.Mode == IntegrityFull {
			phase = "integrity_check"
		}
		db.updateJob(job, func(j *IntegrityJob) { j.Progress.Phase = phase })
		// The check holds one read snapshot from start to end, as a
		// backup does: a long read (longread.go), so the writer's WAL
		// guard does not stall appends waiting for a WAL reset the
		// snapshot forbids (measured: appends fell to 8% with stalls of
		// 6.6 s without), and it is stopped if the WAL passes
		// SnapshotWALLimit meanwhile. Then it waits for the WAL to be
		// reset and starts over, up to maxHeldRestarts times.
		for {
			res, err = db.IntegrityCheck(ctx, job.Mode)
			if !errors.Is(err, ErrSnapshotHeld) || ctx.Err() != nil {
				break
			}
			if job.Progress.Restarts >= maxHeldRestarts {
				err = fmt.Errorf("%w; it started over %d times and was stopped each time: the writes outpace the check. Run mode verify (it reads in short slices and never holds the WAL), run this check at a quieter time, or raise --snapshot-wal-limit", err, maxHeldRestarts)
				break
			}
			db.updateJob(job, func(j *IntegrityJob) {
				j.Progress.Restarts++
				j.Progress.Phase = phase + " (waiting for the WAL to be reset)"
			})
			if werr := db.waitWALReset(ctx); werr != nil {
				err = werr
				break
			}
			db.updateJob(job, func(j *IntegrityJob) { j.Progress.Phase = phase })
		}
	}
	j := &db.jobs
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now().UTC()
	job.FinishedAt = &now
	job.ElapsedMS = now.Sub(job.StartedAt).Milliseconds()
	switch {
	case err == nil:
		job.State = JobDone
		job.Result = &res
	case ctx.Err() != nil:
		job.State = JobCanceled
		job.Error = "cancelled: " + err.Error()
	default:
		job.State = JobFailed
		job.Error = err.Error()
	}
	j.running, j.cancel, j.done = nil, nil, nil
	j.recent = append(j.recent, job)
	if len(j.recent) > maxJobs {
		j.recent = j.recent[len(j.recent)-maxJobs:]
	}
}

// verify is the paced walk; see the top of this file.
func (db *DB) verify(ctx context.Context, job *IntegrityJob, vc VerifyConfig) (IntegrityResult, error) {
	start := time.Now()
	res := IntegrityResult{Mode: IntegrityVerify}
	db.jobs.mu.Lock()
	cur := db.jobs.cursor
	db.jobs.cursor = nil
	db.jobs.mu.Unlock()
	if cur == nil {
		cur = &verifyCursor{}
		err := db.Read(ctx, func(tx *Tx) error {
			rows, err := tx.Query(ctx, "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var n string
				var wr bool
				if err := rows.Scan(&n, &wr); err != nil {
					return err
				}
				cur.tables = append(cur.tables, n)
				cur.noRowid = append(cur.noRowid, wr)
			}
			return rows.Err()
		})
		if err != nil {
			return res, fmt.Errorf("verify: list tables: %w", err)
		}
		cur.rowid = minRowid
	} else {
		db.updateJob(job, func(j *IntegrityJob) {
			fb := j.Progress.FileBytes
			j.Progress = cur.prog
			j.Progress.FileBytes = fb
			j.Resumed = true
		})
	}
	saveCursor := func() {
		db.jobs.mu.Lock()
		cur.prog = job.Progress
		db.jobs.cursor = cur
		db.jobs.mu.Unlock()
	}
	db.updateJob(job, func(j *IntegrityJob) { j.Progress.TablesTotal = len(cur.tables) })
	for cur.table < len(cur.tables) {
		name := cur.tables[cur.table]
		db.updateJob(job, func(j *IntegrityJob) { j.Progress.Phase = "table " + name })
		t0 := time.Now()
		var rows, bytes int64
		var last int64
		var end bool
		var err error
		if cur.noRowid[cur.table] {
			// A WITHOUT ROWID table: checked whole.
			// One snapshot for the whole table: a long read, stopped
			// (and the table skipped this pass, reported) if it holds
			// the WAL past SnapshotWALLimit.
			var problems []string
			lctx, endLong := db.beginLongRead(ctx, "verify of table "+name)
			err = db.Read(lctx, func(tx *Tx) error {
				var e error
				problems, e = checkRows(lctx, tx, "PRAGMA quick_check("+quoteIdent(name)+")")
				return e
			})
			endLong()
			if err = heldErr(lctx, err); errors.Is(err, ErrSnapshotHeld) && ctx.Err() == nil {
				res.Skipped = append(res.Skipped, "table "+name+": "+err.Error())
				err = nil
			}
			res.Problems = append(res.Problems, problems...)
			end = true
		} else {
			err = db.Read(ctx, func(tx *Tx) error {
				rows, bytes, last, end = 0, 0, cur.rowid, false
				if _, err := tx.Exec(ctx, "PRAGMA cell_size_check = ON"); err != nil {
					return err
				}
				defer func() { _, _ = tx.Exec(context.Background(), "PRAGMA cell_size_check = OFF") }()
				var err error
				rows, bytes, last, end, err = verifySlice(ctx, tx, name, cur.rowid, t0.Add(vc.SliceTime))
				return err
			})
		}
		if err != nil && errors.Is(err, ErrCorrupt) {
			res.Problems = append(res.Problems, fmt.Sprintf("table %s after rowid %d: %v", name, cur.rowid, err))
			err, end = nil, true
		}
		if err != nil {
			if ctx.Err() != nil {
				saveCursor() // stopped: the next pass resumes here
			} // else the next pass starts over (a dropped table, say)
			return res, fmt.Errorf("verify table %s: %w", name, err)
		}
		cur.rowid = last
		db.updateJob(job, func(j *IntegrityJob) {
			j.Progress.Rows += rows
			j.Progress.Bytes += bytes
			j.Progress.Slices++
			if end {
				j.Progress.TablesDone++
			}
		})
		if end {
			cur.table++
			cur.rowid = minRowid
		}
		if len(res.Problems) >= maxProblems {
			break
		}
		// Pace: the walk's share of wall time is Duty.
		d := time.Since(t0)
		pause := time.Duration(float64(d) * (1 - vc.Duty) / vc.Duty)
		if !sleepCtx(ctx, pause) {
			saveCursor()
			return res, ctx.Err()
		}
	}
	db.updateJob(job, func(j *IntegrityJob) { j.Progress.Phase = "done" })
	res.OK = len(res.Problems) == 0
	db.recordIntegrity(&res, start)
	return res, nil
}

// minRowid is below every rowid.
const minRowid = -1 << 63

// verifySlice reads the rows of table after rowid, in rowid order, until
// deadline; it returns the rows and bytes read, the last rowid, and
// whether the table's end was reached.
func verifySlice(ctx context.Context, tx *Tx, table string, after int64, deadline time.Time) (n, bytes, last int64, end bool, err error) {
	last = after
	// >= for the very first rowid (minRowid itself is a valid rowid).
	op := ">"
	if after == minRowid {
		op = ">="
	}
	rows, err := tx.Query(ctx, "SELECT _rowid_, * FROM "+quoteIdent(table)+" WHERE _rowid_ "+op+" ? ORDER BY _rowid_", after)
	if err != nil {
		return 0, 0, last, false, err
	}
	defer rows.Close()
	for rows.Next() {
		n++
		for i, v := range rows.vals {
			switch x := v.(type) {
			case []byte:
				bytes += int64(len(x))
			case string:
				bytes += int64(len(x))
			case int64:
				if i == 0 {
					last = x
				}
				bytes += 8
			default:
				bytes += 8
			}
		}
		if n%64 == 0 && time.Now().After(deadline) {
			return n, bytes, last, false, nil
		}
	}
	return n, bytes, last, true, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// RunVerifier runs a verify job every interval (the first after one
// interval) until ctx ends; a pass is skipped while another job runs.
// interval <= 0 returns at once.
func (db *DB) RunVerifier(ctx context.Context, interval time.Duration, vc VerifyConfig) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := db.StartIntegrity(IntegrityVerify, vc); err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			continue
		}
		db.WaitIntegrity(ctx)
	}
}

// fileSize is path's size, 0 when it cannot be read (a look, not a check).
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
