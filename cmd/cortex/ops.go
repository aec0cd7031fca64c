package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// sqliteOps serves httpapi.Ops with a sqlitedb.DB.
type sqliteOps struct {
	db *sqlitedb.DB
	// store, when set, is the store on db: health is its report (the
	// engine's checks and the schema's).
	store *sqlitestore.Store
	// janitor, when set, adds the retention janitor's counters to Figures.
	janitor func() janitorCounts
	// verify paces verify jobs (--verify-duty).
	verify sqlitedb.VerifyConfig
	// backupRate paces backups (--backup-rate; 0: none).
	backupRate int64
	// reserve, when set, is the disk reserve (cortex serve --disk-reserve),
	// reported by Health; log receives its errors.
	reserve *sqlitedb.Reserve
	log     *slog.Logger
	// retention, when set (cortex serve), adds the retention settings and
	// the janitor's work to Stats (consolestats.go).
	retention func() *retentionStats
}

// janitorCounts are the retention janitor's counters since start.
type janitorCounts struct {
	Runs, Pruned, Expired, Errors int64
	// Slices, WriterSeconds and Reclaimed: the janitor's slices
	// (state.Slicer: writer time on SQLite, transaction time on
	// PostgreSQL) and the deleted or expired sessions' snapshots they
	// removed.
	Slices, Reclaimed int64
	WriterSeconds     float64
}

var (
	_ httpapi.Ops           = (*sqliteOps)(nil)
	_ httpapi.IntegrityJobs = (*sqliteOps)(nil)
)

func (o *sqliteOps) StartIntegrity(ctx context.Context, mode string) (string, any, error) {
	job, err := o.db.StartIntegrity(sqlitedb.IntegrityMode(mode), o.verify)
	if err != nil {
		if errors.Is(err, sqlitedb.ErrJobRunning) {
			return "", nil, fmt.Errorf("%w: %w; GET its job URL, and start another when it is done", httpapi.ErrJobRunning, err)
		}
		return "", nil, opsError(err)
	}
	return job.ID, job, nil
}

func (o *sqliteOps) IntegrityJob(ctx context.Context, id string) (any, bool) {
	return o.db.IntegrityJobByID(id)
}

func (o *sqliteOps) CancelIntegrity(ctx context.Context, id string) (any, bool) {
	return o.db.CancelIntegrityJob(id)
}

func (o *sqliteOps) Stats(ctx context.Context) (any, error) {
	st, err := o.db.Stats(ctx)
	if err != nil {
		return nil, opsError(err)
	}
	out := sqliteStats{Stats: st}
	if c, ok, err := sqlitestore.ReadCounts(ctx, o.db); err != nil {
		return nil, opsError(err)
	} else if ok {
		out.Sessions = &c.Sessions
	}
	o.addServerStats(&out, st)
	return out, nil
}

// sqliteStats are sqlitedb's figures with the store's session count
// (exact, kept in O(1); absent on a database whose schema predates it).
type sqliteStats struct {
	sqlitedb.Stats
	Sessions *int64 `json:"sessions,omitempty"`
	// The serving process's figures (consolestats.go): retention and the
	// janitor, the writer's histograms, the volume's free space.
	Retention       *retentionStats `json:"retention,omitempty"`
	CommitHistogram *histogramView  `json:"commit_seconds_histogram,omitempty"`
	BatchHistogram  *histogramView  `json:"batch_size_histogram,omitempty"`
	Disk            *diskStats      `json:"disk,omitempty"`
}

func (o *sqliteOps) Health(ctx context.Context, integrity string) (httpapi.HealthStatus, any) {
	store := o.store
	if store == nil {
		store = sqlitestore.New(o.db, state.Options{})
	}
	h := store.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityMode(integrity)})
	if o.reserve == nil {
		return httpapi.HealthStatus(h.Status), h
	}
	if o.reserve.Released() {
		if _, err := o.reserve.Restore(); err != nil {
			o.log.Warn("disk reserve", "error", err)
		}
	}
	status := httpapi.HealthStatus(h.Status)
	rep := reserveHealth{Health: h, Reserve: "in place"}
	if o.reserve.Released() {
		rep.Reserve = "disk full, reserve in use"
		if status == httpapi.Healthy {
			status = httpapi.Degraded
			rep.Status = health.Degraded
		}
	}
	return status, rep
}

// reserveHealth is a health report with the disk reserve's state.
type reserveHealth struct {
	sqlitedb.Health
	// Reserve is "in place", or "disk full, reserve in use" from the
	// moment a write found the disk full until the volume has room for
	// the reserve twice over and it is made again.
	Reserve string `json:"reserve"`
}

func (o *sqliteOps) Checkpoint(ctx context.Context, mode string) (any, error) {
	m, err := sqlitedb.ParseCheckpointMode(mode)
	if err != nil {
		return nil, state.Invalid("mode", "%v", err)
	}
	res, err := runCheckpoint(ctx, o.db, m)
	if err != nil {
		return nil, opsError(err)
	}
	return res, nil
}

func (o *sqliteOps) Backup(ctx context.Context, dest string) (any, error) {
	res, err := o.db.BackupWith(ctx, dest, sqlitedb.BackupOptions{RateBytes: o.backupRate})
	if err != nil {
		return nil, opsError(err)
	}
	return res, nil
}

func (o *sqliteOps) Explain(ctx context.Context, sql string) (any, error) {
	plan, err := o.db.Explain(ctx, sql)
	if err != nil {
		if errors.Is(err, sqlitedb.ErrNotReadOnly) {
			return nil, state.Invalid("sql", "%v", err)
		}
		if code, ok := sqlitedb.CodeOf(err); ok && code&0xff == 1 { // SQLITE_ERROR: syntax, unknown table…
			return nil, state.Invalid("sql", "%v", err)
		}
		return nil, opsError(err)
	}
	if plan == nil {
		plan = []sqlitedb.PlanRow{}
	}
	return plan, nil
}

// opsError maps sqlitedb's errors onto the domain errors httpapi answers.
func opsError(err error) error {
	switch {
	case errors.Is(err, sqlitedb.ErrDiskFull):
		return fmt.Errorf("%w: %w", state.ErrStorageFull, err)
	case errors.Is(err, sqlitedb.ErrBusy), errors.Is(err, sqlitedb.ErrPoolTimeout),
		errors.Is(err, sqlitedb.ErrQueueFull), errors.Is(err, sqlitedb.ErrClosed):
		return fmt.Errorf("%w: %w", state.ErrUnavailable, err)
	}
	return err
}

// figures reads the database's figures for the metrics collector.
func (o *sqliteOps) figures(ctx context.Context) (httpapi.Figures, error) {
	st, err := o.db.Stats(ctx)
	if err != nil {
		return httpapi.Figures{}, err
	}
	f := httpapi.Figures{
		WriterQueueDepth:      int64(st.Writer.QueueDepth),
		WriterQueueCap:        int64(st.Writer.QueueCap),
		Commits:               st.Writer.Commits,
		Writes:                st.Writer.Writes,
		WriteFailures:         st.Writer.Failed,
		Retries:               st.Writer.Retries,
		BatchedWrites:         st.Writer.BatchedWrites,
		MaxBatch:              st.Writer.MaxBatch,
		CommitSeconds:         st.Writer.CommitSeconds,
		CommitBuckets:         buckets(sqlitedb.CommitSecondsBounds, st.Writer.CommitBuckets),
		BatchBuckets:          buckets(sqlitedb.BatchSizeBounds, st.Writer.BatchBuckets),
		Checkpoints:           st.Checkpoint.Count,
		CheckpointsIncomplete: st.Checkpoint.Incomplete,
		CheckpointsStarved:    st.Checkpoint.Starved,
		DBBytes:               st.SizeBytes,
		WALBytes:              st.WALBytes,
		WALPendingFrames:      st.WALPendingFrames,
		WALLimitBytes:         st.WALLimitBytes,
		ReaderPoolSize:        int64(st.Readers.Size),
		ReadersInUse:          st.Readers.InUse,
		ReaderAcquires:        st.Readers.Acquires,
		ReaderWaits:           st.Readers.Waits,
		ReaderWaitSeconds:     float64(st.Readers.WaitMS) / 1000,
		ReaderTimeouts:        st.Readers.Timeouts,
	}
	if l := st.Checkpoint.Last; l != nil {
		f.LastCheckpointWALFrames = l.WALFrames
		f.LastCheckpointCheckpointedFrms = l.CheckpointedFrames
	}
	if bp, ok := o.db.BackupProgressNow(); ok {
		f.BackupPagesDone, f.BackupPagesTotal = bp.PagesDone, bp.PagesTotal
	}
	if _, ok := o.db.RunningIntegrity(); ok {
		f.IntegrityJobRunning = 1
	}
	if r := st.Replication; r != nil {
		f.Replication, f.ReplicationTXID, f.ReplicationLagSeconds = true, int64(r.TXID), r.LagSeconds
		f.ReplicationStalled, f.ReplicationCortexCheckpoint, f.ReplicationTakeovers = r.Stalled, r.CortexCheckpointing, r.TakeoverCount
		if r.StalledSince != nil {
			f.ReplicationStalledSeconds = time.Since(*r.StalledSince).Seconds()
		}
	}
	if t := st.Checkpoint.LastCompleteAt; t != nil {
		f.LastCompleteCheckpointUnix = float64(t.UnixNano()) / 1e9
	}
	if o.janitor != nil {
		j := o.janitor()
		f.JanitorRuns, f.JanitorPrunedSnapshots, f.JanitorExpiredSessions, f.JanitorErrors = j.Runs, j.Pruned, j.Expired, j.Errors
		f.JanitorSlices, f.JanitorWriterSeconds, f.JanitorReclaimedSnapshots = j.Slices, j.WriterSeconds, j.Reclaimed
	}
	return f, nil
}

// buckets pairs a histogram's bounds with its cumulative counts.
func buckets(bounds []float64, counts []uint64) map[float64]uint64 {
	m := make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		if i < len(counts) {
			m[b] = counts[i]
		}
	}
	return m
}
