package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/internal/pgtest"
)

// consoleStats are the fields cortex serve adds to GET /v1/admin/stats for
// the console (consolestats.go, httpapi/consolestats.go).
type consoleStats struct {
	Engine    string          `json:"engine"`
	HTTP      *map[string]any `json:"http"`
	Retention *struct {
		KeepSnapshots          int     `json:"keep_snapshots"`
		SnapshotMaxAgeSeconds  float64 `json:"snapshot_max_age_seconds"`
		SessionTTLSeconds      float64 `json:"session_ttl_seconds"`
		JanitorIntervalSeconds float64 `json:"janitor_interval_seconds"`
		Janitor                *struct {
			Passes int64 `json:"passes"`
		} `json:"janitor"`
	} `json:"retention"`
	CommitHistogram *histogramView `json:"commit_seconds_histogram"`
	BatchHistogram  *histogramView `json:"batch_size_histogram"`
	Disk            *diskStats     `json:"disk"`
}

func readConsoleStats(t *testing.T, base string) consoleStats {
	t.Helper()
	var st consoleStats
	b := e2e.MustDo(t, "GET", base+"/v1/admin/stats", "", 200)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	if st.HTTP == nil || st.Retention == nil || st.Retention.Janitor == nil {
		t.Fatalf("stats without http or retention: %s", b)
	}
	r := st.Retention
	if r.KeepSnapshots != 5 || r.SnapshotMaxAgeSeconds != 7200 || r.SessionTTLSeconds != 86400 || r.JanitorIntervalSeconds != 30 {
		t.Fatalf("retention settings %+v, want the flags' values: %s", *r, b)
	}
	return st
}

var retentionFlags = []string{"--keep-snapshots", "5", "--snapshot-max-age", "2h", "--session-ttl", "24h", "--janitor-interval", "30s"}

// The stats answer of a SQLite server holds the retention settings and the
// janitor, the writer's histograms and the volume's free space.
func TestServe_ConsoleStats(t *testing.T) {
	srv := e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), retentionFlags...)
	e2e.MustDo(t, "PUT", srv.Base+"/v1/sessions/s", `{}`, 201)
	e2e.MustDo(t, "POST", srv.Base+"/v1/sessions/s/snapshots", `{"state":1}`, 201)
	st := readConsoleStats(t, srv.Base)
	if st.Disk == nil || st.Disk.FreeBytes <= 0 {
		t.Fatalf("disk %+v", st.Disk)
	}
	for _, h := range []*histogramView{st.CommitHistogram, st.BatchHistogram} {
		if h == nil || len(h.Bounds) == 0 || len(h.Counts) != len(h.Bounds) || h.Counts[len(h.Counts)-1] == 0 {
			t.Fatalf("histogram %+v: want bounds and cumulative counts with the commits made", h)
		}
	}
}

// On PostgreSQL: the retention settings and the janitor, no SQLite figures.
func TestPG_ServeConsoleStats(t *testing.T) {
	url := pgtest.NewDatabase(t)
	srv := e2e.StartServer(t, url, retentionFlags...)
	st := readConsoleStats(t, srv.Base)
	if st.Engine != "postgres" || st.Disk != nil || st.CommitHistogram != nil {
		t.Fatalf("PostgreSQL stats %+v", st)
	}
}
