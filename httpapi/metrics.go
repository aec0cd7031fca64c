package httpapi

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the per-request metrics, labelled by route pattern (which
// includes the method, e.g. "POST /v1/sessions/{id}/snapshots", or
// "unmatched") and status code, so their cardinality is bounded.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   sync.Map // routeCode → *routeSeries, bounded as the labels are
	// inflightRefused counts the 503s of a full in-flight budget.
	inflightRefused prometheus.Counter
}

// registerInflight adds the in-flight budget's metrics.
func (m *httpMetrics) registerInflight(reg prometheus.Registerer, b *inflight) error {
	m.inflightRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cortex_http_inflight_refused_total",
		Help: "Requests answered 503 because the budget of bytes in flight (--max-inflight-bytes) stayed full.",
	})
	for _, c := range []prometheus.Collector{
		m.inflightRefused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cortex_http_inflight_bytes",
			Help: "Bytes of the in-flight budget charged to requests being served.",
		}, func() float64 { return float64(b.inUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cortex_http_inflight_limit_bytes",
			Help: "The budget of bytes in flight (--max-inflight-bytes).",
		}, func() float64 { return float64(b.size) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

type routeCode struct {
	route string
	code  int
}

// routeSeries are one route and status's metrics, looked up once: the
// vectors' lookups hash the label values on every request.
type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cortex_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cortex_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(route string, status int, d time.Duration) {
	k := routeCode{route, status}
	v, ok := m.series.Load(k)
	if !ok {
		code := strconv.Itoa(status)
		v, _ = m.series.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, code),
			duration: m.duration.WithLabelValues(route, code),
		})
	}
	rs := v.(*routeSeries)
	rs.requests.Inc()
	rs.duration.Observe(d.Seconds())
}

// Figures are the storage figures exported as metrics. Counters count since
// the database was opened. A backend fills what it has and leaves the rest
// zero (a PostgreSQL store has no WAL frames or writer queue of its own).
type Figures struct {
	// Writer: the single writer and its group commit.
	WriterQueueDepth int64
	WriterQueueCap   int64
	Commits          int64
	Writes           int64
	WriteFailures    int64
	Retries          int64
	// BatchedWrites is the sum of the group sizes of all commits;
	// BatchedWrites/Commits is the mean group size.
	BatchedWrites int64
	MaxBatch      int64
	// CommitSeconds is the total time spent committing groups.
	CommitSeconds float64
	// CommitBuckets and BatchBuckets are the histograms of the groups'
	// commit times and sizes: cumulative counts at each upper bound (in
	// seconds, in requests). Nil when the backend has none.
	CommitBuckets map[float64]uint64
	BatchBuckets  map[float64]uint64

	// Checkpoints.
	Checkpoints                    int64
	CheckpointsIncomplete          int64
	CheckpointsStarved             int64
	LastCheckpointWALFrames        int64
	LastCheckpointCheckpointedFrms int64

	// Files.
	DBBytes          int64
	WALBytes         int64
	WALPendingFrames int64
	WALLimitBytes    int64

	// Reader pool.
	ReaderPoolSize    int64
	ReadersInUse      int64
	ReaderAcquires    int64
	ReaderWaits       int64
	ReaderWaitSeconds float64
	ReaderTimeouts    int64

	// Retention janitor.
	JanitorRuns            int64
	JanitorPrunedSnapshots int64
	JanitorExpiredSessions int64
	JanitorErrors          int64
	// The janitor's slices of writer time (SQLite), the writer time they
	// used, and the deleted or expired sessions' snapshots they removed.
	JanitorSlices             int64
	JanitorWriterSeconds      float64
	JanitorReclaimedSnapshots int64
	// A running backup's pages copied and to copy (0 and 0 when none runs).
	BackupPagesDone, BackupPagesTotal int64
	// IntegrityJobRunning is 1 while an integrity job runs.
	IntegrityJobRunning int64

	// Replication (--replication=litestream); zero when off.
	Replication                 bool
	ReplicationTXID             int64
	ReplicationLagSeconds       float64
	ReplicationStalled          bool
	ReplicationStalledSeconds   float64
	ReplicationCortexCheckpoint bool
	ReplicationTakeovers        int64
	LastCompleteCheckpointUnix  float64
}

// StatsFunc gathers the current Figures.
type StatsFunc func(ctx context.Context) (Figures, error)

// Collector is a prometheus.Collector of the storage figures, read from a
// StatsFunc on every scrape. Build it with NewCollector and register it on
// the Registry given to New. It is safe for concurrent use.
type Collector struct {
	stats   StatsFunc
	timeout time.Duration
	up      *prometheus.Desc
	descs   []figureDesc
}

type figureDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*Figures) float64
}

// NewCollector builds a Collector over stats; each scrape waits at most 5s
// for it.
func NewCollector(stats StatsFunc) *Collector {
	c := &Collector{
		stats:   stats,
		timeout: 5 * time.Second,
		up:      prometheus.NewDesc("cortex_db_up", "1 when the storage figures could be read, 0 otherwise.", nil, nil),
	}
	add := func(name, help string, kind prometheus.ValueType, v func(*Figures) float64) {
		c.descs = append(c.descs, figureDesc{prometheus.NewDesc(name, help, nil, nil), kind, v})
	}
	i := func(p func(*Figures) int64) func(*Figures) float64 {
		return func(f *Figures) float64 { return float64(p(f)) }
	}
	G, C := prometheus.GaugeValue, prometheus.CounterValue
	add("cortex_writer_queue_depth_requests", "Write requests waiting for the writer.", G, i(func(f *Figures) int64 { return f.WriterQueueDepth }))
	add("cortex_writer_queue_capacity_requests", "Capacity of the writer queue.", G, i(func(f *Figures) int64 { return f.WriterQueueCap }))
	add("cortex_writer_commits_total", "Transactions committed by the writer (one per group).", C, i(func(f *Figures) int64 { return f.Commits }))
	add("cortex_writer_writes_total", "Write requests committed.", C, i(func(f *Figures) int64 { return f.Writes }))
	add("cortex_writer_failures_total", "Write requests the storage engine failed (busy past retries, disk full, I/O, corruption); the store's refusals (not found, version conflict, already exists) are not failures.", C, i(func(f *Figures) int64 { return f.WriteFailures }))
	add("cortex_writer_retries_total", "Transactions retried after SQLITE_BUSY.", C, i(func(f *Figures) int64 { return f.Retries }))
	add("cortex_writer_batch_size_requests_max", "Largest group committed in one transaction.", G, i(func(f *Figures) int64 { return f.MaxBatch }))
	add("cortex_checkpoint_runs_total", "WAL checkpoints run.", C, i(func(f *Figures) int64 { return f.Checkpoints }))
	add("cortex_checkpoint_incomplete_total", "WAL checkpoints that were busy or left frames behind.", C, i(func(f *Figures) int64 { return f.CheckpointsIncomplete }))
	add("cortex_checkpoint_starved_runs", "Latest checkpoints in a row that could not complete.", G, i(func(f *Figures) int64 { return f.CheckpointsStarved }))
	add("cortex_checkpoint_last_wal_frames", "WAL size in frames at the last checkpoint.", G, i(func(f *Figures) int64 { return f.LastCheckpointWALFrames }))
	add("cortex_checkpoint_last_checkpointed_frames", "Frames the last checkpoint copied into the database.", G, i(func(f *Figures) int64 { return f.LastCheckpointCheckpointedFrms }))
	add("cortex_db_size_bytes", "Database file size (pages × page size).", G, i(func(f *Figures) int64 { return f.DBBytes }))
	add("cortex_wal_size_bytes", "Size of the -wal file.", G, i(func(f *Figures) int64 { return f.WALBytes }))
	add("cortex_wal_pending_frames", "WAL frames not yet checkpointed.", G, i(func(f *Figures) int64 { return f.WALPendingFrames }))
	add("cortex_wal_limit_bytes", "WAL size past which checkpoints escalate and health degrades.", G, i(func(f *Figures) int64 { return f.WALLimitBytes }))
	add("cortex_reader_pool_size_connections", "Read-only connections in the pool.", G, i(func(f *Figures) int64 { return f.ReaderPoolSize }))
	add("cortex_reader_in_use_connections", "Read-only connections in use.", G, i(func(f *Figures) int64 { return f.ReadersInUse }))
	add("cortex_reader_acquires_total", "Reader connections acquired.", C, i(func(f *Figures) int64 { return f.ReaderAcquires }))
	add("cortex_reader_waits_total", "Reader acquisitions that had to wait.", C, i(func(f *Figures) int64 { return f.ReaderWaits }))
	add("cortex_reader_wait_seconds_total", "Time spent waiting for reader connections.", C, func(f *Figures) float64 { return f.ReaderWaitSeconds })
	add("cortex_reader_timeouts_total", "Reader acquisitions that timed out.", C, i(func(f *Figures) int64 { return f.ReaderTimeouts }))
	add("cortex_janitor_runs_total", "Retention janitor passes.", C, i(func(f *Figures) int64 { return f.JanitorRuns }))
	add("cortex_janitor_pruned_snapshots_total", "Snapshots removed by retention.", C, i(func(f *Figures) int64 { return f.JanitorPrunedSnapshots }))
	add("cortex_janitor_expired_sessions_total", "Sessions expired by their TTL.", C, i(func(f *Figures) int64 { return f.JanitorExpiredSessions }))
	add("cortex_janitor_errors_total", "Retention janitor passes that failed.", C, i(func(f *Figures) int64 { return f.JanitorErrors }))
	add("cortex_janitor_slices_total", "Slices of writer time the janitor ran (SQLite: prune and reclaim, each its own short write).", C, i(func(f *Figures) int64 { return f.JanitorSlices }))
	add("cortex_janitor_writer_seconds_total", "Writer time the janitor's slices used; its share is bounded (default 10%).", C, func(f *Figures) float64 { return f.JanitorWriterSeconds })
	add("cortex_janitor_reclaimed_snapshots_total", "Snapshots of deleted or expired sessions the janitor removed.", C, i(func(f *Figures) int64 { return f.JanitorReclaimedSnapshots }))
	add("cortex_backup_pages_done", "Pages the running backup has copied (0 when none runs).", G, i(func(f *Figures) int64 { return f.BackupPagesDone }))
	add("cortex_backup_pages_total", "Pages the running backup copies (0 when none runs).", G, i(func(f *Figures) int64 { return f.BackupPagesTotal }))
	add("cortex_integrity_job_running", "1 while an integrity job (POST /v1/admin/integrity or the background verifier) runs.", G, i(func(f *Figures) int64 { return f.IntegrityJobRunning }))
	b := func(p func(*Figures) bool) func(*Figures) float64 {
		return func(f *Figures) float64 {
			if p(f) {
				return 1
			}
			return 0
		}
	}
	add("cortex_replication_enabled", "1 when a replicator (Litestream) owns WAL restarts (--replication).", G, b(func(f *Figures) bool { return f.Replication }))
	add("cortex_replication_txid", "Newest transaction id Litestream has captured from the WAL (its local LTX position).", G, i(func(f *Figures) int64 { return f.ReplicationTXID }))
	add("cortex_replication_lag_seconds", "How long the oldest commit Litestream has not captured has waited (0: caught up).", G, func(f *Figures) float64 { return f.ReplicationLagSeconds })
	add("cortex_replication_stalled", "1 while replication is stalled (no progress past --replication-stall-after, or the WAL past --wal-limit).", G, b(func(f *Figures) bool { return f.ReplicationStalled }))
	add("cortex_replication_stalled_seconds", "How long replication has been stalled (0: not stalled).", G, func(f *Figures) float64 { return f.ReplicationStalledSeconds })
	add("cortex_replication_cortex_checkpointing", "1 while cortex has taken checkpointing back from a stalled replicator (WAL past --replication-hard-limit).", G, b(func(f *Figures) bool { return f.ReplicationCortexCheckpoint }))
	add("cortex_replication_takeovers_total", "Times cortex took checkpointing back from a stalled replicator.", C, i(func(f *Figures) int64 { return f.ReplicationTakeovers }))
	add("cortex_checkpoint_last_complete_timestamp_seconds", "Unix time of cortex's last checkpoint that copied every frame (0: none).", G, func(f *Figures) float64 { return f.LastCompleteCheckpointUnix })
	return c
}

var (
	batchSizeDesc = prometheus.NewDesc("cortex_writer_batch_size_requests",
		"Write requests per committed group (group commit).", nil, nil)
	commitDurationDesc = prometheus.NewDesc("cortex_writer_commit_duration_seconds",
		"Time to run and commit a group.", nil, nil)
)

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- batchSizeDesc
	ch <- commitDurationDesc
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect reads the figures and sends them; when they cannot be read it
// sends only cortex_db_up 0.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	f, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	// Histograms, not summaries: buckets aggregate across servers.
	ch <- prometheus.MustNewConstHistogram(batchSizeDesc, uint64(max(f.Commits, 0)), float64(f.BatchedWrites), f.BatchBuckets)
	ch <- prometheus.MustNewConstHistogram(commitDurationDesc, uint64(max(f.Commits, 0)), f.CommitSeconds, f.CommitBuckets)
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(&f))
	}
}
