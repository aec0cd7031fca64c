package sqlitedb

import (
	"context"
	"time"
)

// Stats are the database's figures. Gathering them has no side effects: the
// WAL size comes from the -wal file's size, not from a checkpoint. The JSON
// names are the same in the HTTP API and the CLI's --json.
type Stats struct {
	Path          string `json:"path"`
	SQLiteVersion string `json:"sqlite_version"`
	JournalMode   string `json:"journal_mode"`
	Synchronous   string `json:"synchronous"`

	// SchemaVersion is PRAGMA user_version: the newest schema migration
	// applied (see Migrate).
	SchemaVersion int64 `json:"schema_version"`
	PageCount     int64 `json:"page_count"`
	PageSize      int64 `json:"page_size"`
	SizeBytes     int64 `json:"size_bytes"`
	FreelistCount int64 `json:"freelist_count"`
	// WALBytes is the -wal file's size; WALFrames the frames it can hold,
	// (WALBytes−32)/(PageSize+24). A WAL that was reset is reused from its
	// start, so this is the file's size, not the frames still to checkpoint
	// (WALPendingFrames).
	WALBytes         int64 `json:"wal_bytes"`
	WALFrames        int64 `json:"wal_frames"`
	WALPendingFrames int64 `json:"wal_pending_frames"`
	WALLimitBytes    int64 `json:"wal_limit_bytes"`
	// WALBuffer is "on" when connections use walbuf (Config.NoWALBuffer),
	// else "off: " and why.
	WALBuffer string `json:"wal_buffer"`

	Readers    ReaderStats     `json:"readers"`
	Writer     WriterStats     `json:"writer"`
	Checkpoint CheckpointStats `json:"checkpoint"`
	// Replication is there in the replication mode (Config.Replication).
	Replication *ReplicationStats `json:"replication,omitempty"`
}

// ReaderStats describe the read-only connection pool.
type ReaderStats struct {
	Size     int   `json:"size"`
	InUse    int64 `json:"in_use"`
	Acquires int64 `json:"acquires"`
	Waits    int64 `json:"waits"`
	WaitMS   int64 `json:"wait_ms"`
	Timeouts int64 `json:"timeouts"`
}

// WriterStats describe the writer and its group commit.
type WriterStats struct {
	QueueDepth int   `json:"queue_depth"`
	QueueCap   int   `json:"queue_cap"`
	Commits    int64 `json:"commits"`
	// Writes are the Write calls committed; Failed those the engine failed
	// (a SQLite error: busy past retries, disk full, I/O, corruption);
	// Refused those whose function returned its own error (a store's not
	// found, version conflict or already exists: ordinary outcomes for
	// the client, not faults). Writes/Commits is the mean group size.
	Writes       int64   `json:"writes"`
	Failed       int64   `json:"failed"`
	Refused      int64   `json:"refused"`
	Retries      int64   `json:"retries"`
	MaxBatch     int64   `json:"max_batch"`
	MeanBatch    float64 `json:"mean_batch"`
	MeanCommitMS float64 `json:"mean_commit_ms"`
	// CommitSeconds is the total time spent in COMMIT.
	CommitSeconds float64 `json:"commit_seconds"`
	// Reruns counts groups run again with savepoints after a request in
	// them failed.
	Reruns        int64      `json:"reruns"`
	LastCommitAt  *time.Time `json:"last_commit_at,omitempty"`
	BatchedWrites int64      `json:"-"`
	// CommitBuckets and BatchBuckets are the histograms of the groups'
	// commit times and sizes: for each bound of CommitSecondsBounds and
	// BatchSizeBounds, the commits at or below it.
	CommitBuckets []uint64 `json:"-"`
	BatchBuckets  []uint64 `json:"-"`
}

// CheckpointStats describe checkpoints since Open.
type CheckpointStats struct {
	Count int64 `json:"count"`
	// Incomplete counts checkpoints that were busy or left frames behind;
	// Starved is how many of the latest ones in a row were.
	Incomplete int64             `json:"incomplete"`
	Starved    int64             `json:"starved"`
	Last       *CheckpointResult `json:"last,omitempty"`
	// LastCompleteAt is when the last checkpoint that copied every frame
	// finished.
	LastCompleteAt *time.Time `json:"last_complete_at,omitempty"`

	// The checkpoints run on the writer connection between groups (writes
	// wait meanwhile), by kind: the writer's own RESTART as the WAL nears
	// Config.WALLimit (Guard), the checkpointer's hand-off of the tail
	// (Tail) and its RESTART past half the limit (HalfRestart). And the
	// checkpointer's rounds and PASSIVE passes on its own connection. For
	// benchmarks and scripts/sqlite-floor's "floor-stats" line; not in the
	// JSON.
	Guard       WriterCheckpoints `json:"-"`
	Tail        WriterCheckpoints `json:"-"`
	HalfRestart WriterCheckpoints `json:"-"`
	Rounds      int64             `json:"-"`
	Wakes       int64             `json:"-"` // rounds the writer started before the poll
	Passes      int64             `json:"-"`
}

// WriterCheckpoints count checkpoints of one kind run on the writer, and
// the writer's wall time in them (waiting for a checkpoint in progress on
// the checkpointer's connection included).
type WriterCheckpoints struct {
	Count   int64
	Seconds float64
}

// Stats gathers the database's figures from a reader connection and the
// counters kept since Open.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	s := Stats{
		Path:          db.path,
		SQLiteVersion: db.version,
		JournalMode:   db.cfg.JournalMode,
		Synchronous:   db.cfg.Synchronous,
		WALLimitBytes: db.cfg.WALLimit,
		WALBuffer:     db.walbuf,
	}
	err := db.Read(ctx, func(tx *Tx) error {
		for _, q := range []struct {
			sql string
			dst *int64
		}{
			{"PRAGMA user_version", &s.SchemaVersion},
			{"PRAGMA page_count", &s.PageCount},
			{"PRAGMA page_size", &s.PageSize},
			{"PRAGMA freelist_count", &s.FreelistCount},
		} {
			if err := tx.QueryRow(ctx, q.sql).Scan(q.dst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	s.SizeBytes = s.PageCount * s.PageSize
	s.WALBytes = db.walBytes()
	if s.WALBytes > 32 && s.PageSize > 0 {
		s.WALFrames = (s.WALBytes - 32) / (s.PageSize + 24)
	}
	s.WALPendingFrames = db.walPendingFrames()

	p := db.readers
	s.Readers = ReaderStats{
		Size:     cap(p.conns),
		InUse:    p.inUse.Load(),
		Acquires: p.acquires.Load(),
		Waits:    p.waits.Load(),
		WaitMS:   p.waitNanos.Load() / int64(time.Millisecond),
		Timeouts: p.timeouts.Load(),
	}
	w := db.w
	s.Writer = WriterStats{
		QueueDepth:    len(w.queue),
		QueueCap:      cap(w.queue),
		Commits:       w.commits.Load(),
		Writes:        w.writes.Load(),
		Failed:        w.failed.Load(),
		Refused:       w.refused.Load(),
		Retries:       w.retries.Load(),
		MaxBatch:      w.maxBatch.Load(),
		BatchedWrites: w.batchedReqs.Load(),
		CommitSeconds: float64(w.commitNanos.Load()) / 1e9,
		Reruns:        w.reruns.Load(),
	}
	s.Writer.CommitBuckets, s.Writer.BatchBuckets = w.histograms().commit.cumulative(), w.histograms().batch.cumulative()
	if s.Writer.Commits > 0 {
		s.Writer.MeanBatch = float64(s.Writer.BatchedWrites) / float64(s.Writer.Commits)
		s.Writer.MeanCommitMS = float64(w.commitNanos.Load()) / float64(s.Writer.Commits) / 1e6
	}
	if ns := w.lastCommit.Load(); ns > 0 {
		t := time.Unix(0, ns).UTC()
		s.Writer.LastCommitAt = &t
	}
	s.Replication = db.replicationStats()
	cs := &db.ckstats
	cs.mu.Lock()
	s.Checkpoint = CheckpointStats{Count: cs.count, Incomplete: cs.busy, Starved: cs.starved}
	if !cs.complete.IsZero() {
		t := cs.complete
		s.Checkpoint.LastCompleteAt = &t
	}
	if cs.last != nil {
		last := *cs.last
		s.Checkpoint.Last = &last
	}
	cs.mu.Unlock()
	if k := db.ckpt; k != nil {
		s.Checkpoint.Rounds, s.Checkpoint.Passes, s.Checkpoint.Wakes = k.rounds.Load(), k.passes.Load(), k.wakes.Load()
	}
	s.Checkpoint.Guard = w.ckGuard.stats()
	s.Checkpoint.Tail = w.ckTail.stats()
	s.Checkpoint.HalfRestart = w.ckHalf.stats()
	return s, nil
}
