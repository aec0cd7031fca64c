package scale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// The built-in operations. Delete and retention register themselves the
// same way (see Register), as Destructive operations.
func init() {
	Register(Op{Name: "backup", Run: BackupOp(sqlitedb.BackupOptions{})})
	Register(Op{Name: "integrity quick", Run: integrity(sqlitedb.IntegrityQuick, sqlitedb.VerifyConfig{})})
	Register(Op{Name: "integrity full", Run: integrity(sqlitedb.IntegrityFull, sqlitedb.VerifyConfig{})})
	Register(Op{Name: "integrity verify (duty 1)", Run: integrity(sqlitedb.IntegrityVerify, sqlitedb.VerifyConfig{Duty: 1})})
	Register(Op{Name: "restore (vs cp)", Offline: true, Run: restore})
	Register(Op{Name: "delete a big session + reclaim", Destructive: true, Setup: setupBigSession, Run: deleteBig})
	Register(Op{Name: "retention pass (keep last 140)", Destructive: true, Run: retention})
	Register(Op{Name: "retention pass (max age: oldest 30%)", Destructive: true, Setup: setupMaxAge, Run: retentionMaxAge})
	Register(Op{Name: "retention pass with nothing to prune", Destructive: true, Run: retentionNothing})
}

// bigSize is the big session's snapshot count: 100k, less on small
// databases (the tiny test).
func bigSize(env *Env) int { return min(100_000, env.Snapshots/2+1) }

// setupBigSession appends a session of bigSize snapshots (not measured).
func setupBigSession(ctx context.Context, env *Env) error {
	id := fmt.Sprintf("big-%d", time.Now().UnixNano())
	if _, err := env.Store.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
		return err
	}
	st := makeState(rand.New(rand.NewPCG(3, 3)), stateBytes)
	batch := make([]state.BatchItem, 0, state.MaxBatch)
	for i := range bigSize(env) {
		batch = append(batch, state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: st}})
		if len(batch) == cap(batch) || i == bigSize(env)-1 {
			if _, err := env.Store.AppendBatch(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	env.Big = id
	return nil
}

// deleteBig deletes the big session (gone at once, its id free) and then
// reclaims its rows as the janitor does, at its default writer share.
func deleteBig(ctx context.Context, env *Env) (string, error) {
	t0 := time.Now()
	if err := env.Store.DeleteSession(ctx, env.Big); err != nil {
		return "", err
	}
	del := time.Since(t0)
	if _, err := env.Store.CreateSession(ctx, state.SessionInput{ID: env.Big}); err != nil {
		return "", fmt.Errorf("the deleted id is not free at once: %w", err)
	}
	rs := &recordedSlices{Store: env.Store}
	j := state.NewJanitor(rs, state.JanitorConfig{})
	t1 := time.Now()
	if err := passUntilDone(ctx, j); err != nil {
		return "", err
	}
	st := j.Stats()
	return fmt.Sprintf("%d snapshots: delete answered in %.1f ms, reclaim %d in %d slices (%s; writer %.1f s, %.1f%% of the pass's %.1f s)",
		bigSize(env), float64(del.Microseconds())/1e3, st.SnapshotsReclaimed, st.Slices, rs.quantiles(), st.WriterSeconds, 100*st.WriterSeconds/time.Since(t1).Seconds(), time.Since(t1).Seconds()), nil
}

// recordedSlices is the store, with the writer time of each of its slices
// kept, for their distribution.
type recordedSlices struct {
	*sqlitestore.Store
	mu sync.Mutex
	d  []time.Duration
}

func (r *recordedSlices) keep(res state.SliceResult, err error) (state.SliceResult, error) {
	r.mu.Lock()
	r.d = append(r.d, res.WriterTime)
	r.mu.Unlock()
	return res, err
}

func (r *recordedSlices) PruneSlice(ctx context.Context, opts state.PruneOptions) (state.SliceResult, error) {
	return r.keep(r.Store.PruneSlice(ctx, opts))
}

func (r *recordedSlices) ReclaimSlice(ctx context.Context) (state.SliceResult, error) {
	return r.keep(r.Store.ReclaimSlice(ctx))
}

// quantiles says the slices' writer time: p50, p99 and max.
func (r *recordedSlices) quantiles() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := slices.Clone(r.d)
	slices.Sort(d)
	return fmt.Sprintf("slice p50 %.1f ms, p99 %.1f ms, max %.1f ms", quantileMS(d, 0.5), quantileMS(d, 0.99), quantileMS(d, 1))
}

// retention runs a janitor pass keeping each session's last 140
// snapshots (about 30% of the built ones go).
func retention(ctx context.Context, env *Env) (string, error) {
	return janitorPass(ctx, env, state.JanitorConfig{KeepLast: 140})
}

// janitorPass runs one janitor pass with cfg to its end and describes it.
func janitorPass(ctx context.Context, env *Env, cfg state.JanitorConfig) (string, error) {
	st, rs, took, err := runPass(ctx, env, cfg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pruned %d in %d slices (%s; writer %.1f s, %.1f%% of the pass's %.1f s, slept %.1f s)",
		st.SnapshotsPruned, st.Slices, rs.quantiles(), st.WriterSeconds, 100*st.WriterSeconds/took.Seconds(), took.Seconds(), st.SleepSeconds), nil
}

// runPass runs one janitor pass with cfg to its end: its stats, its
// slices, and how long it took.
func runPass(ctx context.Context, env *Env, cfg state.JanitorConfig) (state.JanitorStats, *recordedSlices, time.Duration, error) {
	rs := &recordedSlices{Store: env.Store}
	j := state.NewJanitor(rs, cfg)
	t0 := time.Now()
	err := passUntilDone(ctx, j)
	return j.Stats(), rs, time.Since(t0), err
}

// setupMaxAge finds the created_at below which the oldest 30% of the
// snapshots lie (not measured), for retentionMaxAge's MaxAge.
func setupMaxAge(ctx context.Context, env *Env) error {
	var at int64
	err := env.Store.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
		return tx.QueryRow(ctx, `SELECT created_at FROM state_snapshots INDEXED BY state_snapshots_created_at ORDER BY created_at LIMIT 1 OFFSET ?`, env.Snapshots*3/10).Scan(&at)
	})
	if err != nil {
		return fmt.Errorf("the 30%% created_at: %w", err)
	}
	env.AgeCutoff = time.Unix(0, at)
	return nil
}

// retentionMaxAge runs a janitor pass removing the snapshots older than
// setupMaxAge's point (about 30% of the built ones, fewer when an earlier
// pass removed some), found on a reader.
func retentionMaxAge(ctx context.Context, env *Env) (string, error) {
	return janitorPass(ctx, env, state.JanitorConfig{MaxAge: time.Since(env.AgeCutoff)})
}

// retentionNothing runs janitor passes (KeepLast, then MaxAge) over the
// database when nothing is prunable (every session holds fewer snapshots
// than KeepLast; none older than MaxAge but each session's latest), as
// the janitor does every interval: what a pass costs when it removes
// nothing.
func retentionNothing(ctx context.Context, env *Env) (string, error) {
	var notes []string
	for _, cfg := range []state.JanitorConfig{
		{KeepLast: 1 << 30},
		{MaxAge: 1000 * time.Hour},
	} {
		st, _, took, err := runPass(ctx, env, cfg)
		if err != nil {
			return "", err
		}
		what := "keep last 2^30"
		if cfg.MaxAge > 0 {
			what = "max age 1000 h"
		}
		notes = append(notes, fmt.Sprintf("%s: pruned %d, pass %.1f ms, %d slices, writer %.1f ms", what, st.SnapshotsPruned, float64(took.Microseconds())/1e3, st.Slices, st.WriterSeconds*1e3))
	}
	return strings.Join(notes, "; "), nil
}

// passUntilDone runs one janitor pass: it goes on until a slice finds
// nothing more (what the concurrent appends add meanwhile included), or
// for at most a minute per phase.
func passUntilDone(ctx context.Context, j *state.Janitor) error {
	_, err := j.Pass(ctx)
	return err
}

// BackupOp writes a backup into the scratch folder and keeps the last one
// as the restore's source.
func BackupOp(opts sqlitedb.BackupOptions) func(context.Context, *Env) (string, error) {
	return func(ctx context.Context, env *Env) (string, error) {
		dest := filepath.Join(env.Scratch, "backup.db")
		os.Remove(dest)
		res, err := env.Store.DB().BackupWith(ctx, dest, opts)
		if err != nil {
			return "", err
		}
		note := fmt.Sprintf("from the %s: copy %d ms (%.1f s/GB), check %d ms", res.Source, res.CopyMS, float64(res.CopyMS)/1e3/(float64(res.Bytes)/1e9), res.CheckMS)
		switch res.Source {
		case sqlitedb.BackupFromWriter:
			note += fmt.Sprintf(", %d steps, writer %d ms", res.Steps, res.WriterMS)
		case sqlitedb.BackupFromFile:
			note += fmt.Sprintf(", %d rounds after the first, %d pages copied again, writer %d ms", res.Steps, res.RecopiedPages, res.WriterMS)
		}
		if res.Restarts > 0 {
			note += fmt.Sprintf(", %d restarts", res.Restarts)
		}
		return note, nil
	}
}

func integrity(mode sqlitedb.IntegrityMode, vc sqlitedb.VerifyConfig) func(context.Context, *Env) (string, error) {
	return func(ctx context.Context, env *Env) (string, error) {
		db := env.Store.DB()
		if _, err := db.StartIntegrity(mode, vc); err != nil {
			return "", err
		}
		j, _ := db.WaitIntegrity(ctx)
		if j.State == sqlitedb.JobFailed && j.Progress.Restarts > 0 {
			// Stopped each time for holding the WAL: that is the result.
			return "", fmt.Errorf("%w: integrity %s after %d restarts: %s", sqlitedb.ErrSnapshotHeld, mode, j.Progress.Restarts, j.Error)
		}
		if j.State != sqlitedb.JobDone || j.Result == nil || !j.Result.OK {
			return "", fmt.Errorf("integrity %s: %+v", mode, j)
		}
		if mode == sqlitedb.IntegrityVerify {
			return fmt.Sprintf("%d slices", j.Progress.Slices), nil
		}
		if j.Progress.Restarts > 0 {
			return fmt.Sprintf("started over %d times (WAL past the snapshot limit)", j.Progress.Restarts), nil
		}
		return "", nil
	}
}

// restore restores the last backup to a new file, and to it again (keeping
// the replaced one), and times a plain cp of the same file in between.
func restore(ctx context.Context, env *Env) (string, error) {
	src := filepath.Join(env.Scratch, "backup.db")
	if _, err := os.Stat(src); err != nil {
		// The backup operation did not run, or was stopped under
		// appends: make one now, with nothing else running.
		db, err := sqlitedb.Open(ctx, env.Path, sqlitedb.Config{})
		if err != nil {
			return "", err
		}
		_, err = db.BackupWith(ctx, src, sqlitedb.BackupOptions{Check: sqlitedb.CheckNone, NormalPriority: true})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("restore: the backup to restore from: %w", err)
		}
	}
	cpDest := filepath.Join(env.Scratch, "cp.db")
	t0 := time.Now()
	if out, err := exec.CommandContext(ctx, "cp", src, cpDest).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cp: %v: %s", err, out)
	}
	cpTime := time.Since(t0)
	os.Remove(cpDest)
	dest := filepath.Join(env.Scratch, "restored.db")
	os.Remove(dest)
	res, err := sqlitedb.RestoreFile(ctx, dest, src, sqlitedb.RestoreOptions{})
	if err != nil {
		return "", err
	}
	// Over an existing database: it is checkpointed and kept (a link).
	res2, err := sqlitedb.RestoreFile(ctx, dest, src, sqlitedb.RestoreOptions{Check: sqlitedb.CheckNone})
	if err != nil {
		return "", err
	}
	os.Remove(dest)
	if res2.Replaced != "" {
		os.Remove(res2.Replaced)
	}
	gb := float64(res.Bytes) / 1e9
	return fmt.Sprintf("copy+fsync %.2f s/GB = %.0f%% of cp's speed (cp %.2f s/GB, no fsync); quick_check %.2f s/GB; over an existing db: copy %.2f s/GB",
		float64(res.CopyMS)/1e3/gb, 100*cpTime.Seconds()/(float64(res.CopyMS)/1e3), cpTime.Seconds()/gb, float64(res.CheckMS)/1e3/gb, float64(res2.CopyMS)/1e3/gb), nil
}

// VacuumOp writes a VACUUM INTO copy into the scratch folder.
func VacuumOp(ctx context.Context, env *Env) (string, error) {
	dest := filepath.Join(env.Scratch, "vacuum.db")
	os.Remove(dest)
	_, err := env.Store.DB().VacuumInto(ctx, dest)
	os.Remove(dest)
	return "", err
}
