package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// sqliteOps serves httpapi.Ops with a sqlitedb.DB.
type sqliteOps struct {
	db *sqlitedb.DB
	// janitor, when set, adds the retention janitor's counters to Figures.
	janitor func() janitorCounts
	// reserve, when set, is the disk reserve (cortex serve --disk-reserve),
	// reported by Health; log receives its errors.
	reserve *sqlitedb.Reserve
	log     *slog.Logger
}

// janitorCounts are the retention janitor's counters since start.
type janitorCounts struct {
	Runs, Pruned, Expired, Errors int64
}

var _ httpapi.Ops = (*sqliteOps)(nil)

func (o *sqliteOps) Stats(ctx context.Context) (any, error) {
	st, err := o.db.Stats(ctx)
	if err != nil {
		return nil, opsError(err)
	}
	return st, nil
}

func (o *sqliteOps) Health(ctx context.Context, integrity string) (httpapi.HealthStatus, any) {
	h := o.db.Health(ctx, sqlitedb.HealthOptions{Integrity: sqlitedb.IntegrityMode(integrity)})
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
			rep.Status = sqlitedb.Degraded
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
	res, err := o.db.Checkpoint(ctx, m)
	if err != nil {
		return nil, opsError(err)
	}
	return res, nil
}

func (o *sqliteOps) Backup(ctx context.Context, dest string) (any, error) {
	res, err := o.db.Backup(ctx, dest, nil)
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
	if o.janitor != nil {
		j := o.janitor()
		f.JanitorRuns, f.JanitorPrunedSnapshots, f.JanitorExpiredSessions, f.JanitorErrors = j.Runs, j.Pruned, j.Expired, j.Errors
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
