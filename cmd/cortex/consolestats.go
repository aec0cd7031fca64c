package main

import (
	"path/filepath"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// The figures cortex serve adds to GET /v1/admin/stats for the operations
// console (and any other reader): additive fields, absent from the CLI's
// `cortex stats`, which opens the file afresh and has no server around it.

// retentionStats are the retention settings of the serving process and
// what its janitor did: "retention" in the stats answer, on both engines.
type retentionStats struct {
	// KeepSnapshots is --keep-snapshots (0: all); SnapshotMaxAgeSeconds
	// --snapshot-max-age (0: never); SessionTTLSeconds --session-ttl (0:
	// never); JanitorIntervalSeconds --janitor-interval.
	KeepSnapshots          int     `json:"keep_snapshots"`
	SnapshotMaxAgeSeconds  float64 `json:"snapshot_max_age_seconds"`
	SessionTTLSeconds      float64 `json:"session_ttl_seconds"`
	JanitorIntervalSeconds float64 `json:"janitor_interval_seconds"`
	// Janitor is the janitor's work since start, with its last pass.
	Janitor state.JanitorStats `json:"janitor"`
}

// histogramView is a histogram of the writer: for each of Bounds, the
// count of observations at or below it (cumulative, as Prometheus reads
// them), since the database was opened. Quantiles over a window are the
// differences of two readings.
type histogramView struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
}

// diskStats are the free space of the database's volume and the disk
// reserve (--disk-reserve): "disk" in the SQLite stats answer.
type diskStats struct {
	// FreeBytes are the bytes an unprivileged writer can still use on the
	// database's volume.
	FreeBytes int64 `json:"free_bytes"`
	// ReserveBytes is the reserve's size (0: none); ReserveInUse is true
	// from the moment a full disk released it until it is made again.
	ReserveBytes int64 `json:"reserve_bytes"`
	ReserveInUse bool  `json:"reserve_in_use"`
}

// retentionFunc makes the reader of a janitor's figures for the stats
// answer.
func (c *serveCmd) retentionFunc(j *state.Janitor) func() *retentionStats {
	return func() *retentionStats {
		return &retentionStats{
			KeepSnapshots:          c.keepSnapshots,
			SnapshotMaxAgeSeconds:  c.snapshotMaxAge.Seconds(),
			SessionTTLSeconds:      c.sessionTTL.Seconds(),
			JanitorIntervalSeconds: c.janitorInterval.Seconds(),
			Janitor:                j.Stats(),
		}
	}
}

// addServerStats fills the serving process's fields of a SQLite stats
// answer.
func (o *sqliteOps) addServerStats(out *sqliteStats, st sqlitedb.Stats) {
	if o.retention != nil {
		out.Retention = o.retention()
	}
	if len(st.Writer.CommitBuckets) > 0 {
		out.CommitHistogram = &histogramView{Bounds: sqlitedb.CommitSecondsBounds, Counts: st.Writer.CommitBuckets}
	}
	if len(st.Writer.BatchBuckets) > 0 {
		out.BatchHistogram = &histogramView{Bounds: sqlitedb.BatchSizeBounds, Counts: st.Writer.BatchBuckets}
	}
	if free, ok := volumeFree(filepath.Dir(st.Path)); ok {
		d := &diskStats{FreeBytes: free}
		if o.reserve != nil {
			d.ReserveBytes = o.reserve.Size()
			d.ReserveInUse = o.reserve.Released()
		}
		out.Disk = d
	}
}
