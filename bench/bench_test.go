package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/bench"
	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// short are the options of a test step: 200 ms, few sessions, no timing
// assertions anywhere.
func short(w bench.Workload) bench.Options {
	return bench.Options{
		Workload:    w,
		Concurrency: []int{1, 4},
		Duration:    200 * time.Millisecond,
		Sessions:    50,
	}
}

// checkSteps fails unless every step ran operations without errors.
func checkSteps(t *testing.T, steps []bench.Step, want int) {
	t.Helper()
	if len(steps) != want {
		t.Fatalf("got %d steps, want %d", len(steps), want)
	}
	for _, s := range steps {
		if s.Skipped != "" {
			t.Errorf("%s at %d skipped: %s", s.Config, s.Concurrency, s.Skipped)
		}
		if s.Ops == 0 || s.OpsPerSec <= 0 {
			t.Errorf("%s at %d: %d ops, %.0f/s: want some", s.Config, s.Concurrency, s.Ops, s.OpsPerSec)
		}
		if s.Errors != 0 {
			t.Errorf("%s at %d: %d errors: %+v", s.Config, s.Concurrency, s.Errors, s.ErrorSamples)
		}
		if l := s.Latency; l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 {
			t.Errorf("%s at %d: latency %+v: want 0 < p50 ≤ p99 ≤ p99.9 ≤ max", s.Config, s.Concurrency, l)
		}
	}
}

func TestRun_Lib(t *testing.T) {
	for _, w := range bench.Workloads {
		t.Run(string(w), func(t *testing.T) {
			dir := t.TempDir()
			cfg := bench.SQLiteConfiguration("sqlite-normal", dir, sqlitedb.Config{Readers: 4})
			steps, err := bench.Run(context.Background(), short(w), []bench.Configuration{cfg})
			if err != nil {
				t.Fatal(err)
			}
			checkSteps(t, steps, 2)
			for _, s := range steps {
				if s.WAL == nil || s.WAL.Checkpoints == nil {
					t.Errorf("step at %d: no WAL figures: %+v", s.Concurrency, s.WAL)
				}
				if m := s.Memory; m == nil || m.FirstTenth.RSSAnonBytes <= 0 || m.LastTenth.GoHeapBytes <= 0 || m.LastTenth.SQLiteBytes <= 0 ||
					m.Max.RSSAnonBytes < m.LastTenth.RSSAnonBytes {
					t.Errorf("step at %d: memory figures %+v: want RSS, Go heap and SQLite at both ends and the peak", s.Concurrency, m)
				}
				if w == bench.Mixed && (s.ByOp["latest"].Ops == 0 || s.ByOp["append"].Ops == 0) {
					t.Errorf("mix at %d: by op %+v: want latest and append", s.Concurrency, s.ByOp)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "sqlite-normal.db")); err != nil {
				t.Errorf("the database is not a real file in dir: %v", err)
			}
		})
	}
}

func TestRun_Naive(t *testing.T) {
	for _, w := range []bench.Workload{bench.Append, bench.Latest, bench.History, bench.Mixed} {
		t.Run(string(w), func(t *testing.T) {
			dir := t.TempDir()
			cfgs := []bench.Configuration{
				bench.SQLiteConfiguration("sqlite-full", dir, sqlitedb.Config{Synchronous: "full", Readers: 4}),
				bench.NaiveConfiguration(dir),
			}
			opts := short(w)
			opts.Concurrency = []int{2}
			steps, err := bench.Run(context.Background(), opts, cfgs)
			if err != nil {
				t.Fatal(err)
			}
			checkSteps(t, steps, 2)
			for _, s := range steps {
				switch {
				case s.Config == "naive" && (!s.Baseline || len(s.Ratios) != 0):
					t.Errorf("naive at %d: baseline %v, ratios %v: want a baseline without ratios", s.Concurrency, s.Baseline, s.Ratios)
				case s.Config != "naive" && (len(s.Ratios) != 1 || s.Ratios[0].Baseline != "naive" || s.Ratios[0].Throughput <= 0 || s.Ratios[0].P99 <= 0):
					t.Errorf("%s at %d: ratios %+v: want one to naive", s.Config, s.Concurrency, s.Ratios)
				}
			}
		})
	}
}

func TestRun_HTTP(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "cortex.db"), sqlitestore.Config{DB: sqlitedb.Config{Readers: 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := httpapi.New(httpapi.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, w := range []bench.Workload{bench.Append, bench.Mixed} {
		t.Run(string(w), func(t *testing.T) {
			cfg := bench.HTTPConfiguration("http", srv.URL, bench.HTTPOptions{})
			steps, err := bench.Run(context.Background(), short(w), []bench.Configuration{cfg})
			if err != nil {
				t.Fatal(err)
			}
			checkSteps(t, steps, 2)
			for _, s := range steps {
				if s.Memory != nil {
					t.Errorf("http step at %d reports memory %+v: the server is another process", s.Concurrency, s.Memory)
				}
			}
		})
	}
	// Teardown deleted the run's sessions.
	page, err := st.ListSessions(context.Background(), stateListAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) != 0 {
		t.Errorf("%d sessions left on the server after the run, want 0", len(page.Sessions))
	}
}

// sampleReport is a report with two configurations, a skipped step and
// ratios, built without running anything.
func sampleReport() *bench.Report {
	steps := []bench.Step{
		{Config: "sqlite-normal", Workload: bench.Append, Concurrency: 1, Seconds: 1, Ops: 5000, OpsPerSec: 5000, Latency: bench.Latency{P50: 0.1, P99: 0.5, P999: 1, Max: 3}, Ratios: []bench.Ratio{{Baseline: "naive", Throughput: 2.5, P99: 0.5}}},
		{Config: "sqlite-normal", Workload: bench.Append, Concurrency: 64, Seconds: 1, Ops: 50000, OpsPerSec: 50000, Latency: bench.Latency{P50: 1, P99: 5, P999: 9, Max: 12}, Ratios: []bench.Ratio{{Baseline: "naive", Throughput: 25, P99: 0.1}}},
		{Config: "naive", Baseline: true, Workload: bench.Append, Concurrency: 1, Seconds: 1, Ops: 2000, OpsPerSec: 2000, Latency: bench.Latency{P50: 0.4, P99: 1, P999: 2, Max: 4}, Errors: 1, ErrorSamples: []bench.ErrorSample{{Message: `append: <busy> & "locked"`, Count: 1}}},
		{Config: "naive", Baseline: true, Workload: bench.Append, Concurrency: 64, Skipped: "not supported"},
	}
	rep := bench.NewReport([]string{"cortex", "bench", "--svg", "a b.svg"}, bench.NewSettings("lib", bench.Options{Concurrency: []int{1, 64}}, nil))
	rep.Steps = steps
	return rep
}

func TestReport_WriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	var polylines, texts int
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "text":
				texts++
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	// sqlite-normal has two points in each of the two panels; naive only one
	// (its other step was skipped), so no line.
	if polylines != 2 {
		t.Errorf("%d polylines, want 2", polylines)
	}
	if texts < 10 {
		t.Errorf("%d text elements: want axes, labels and a legend", texts)
	}
}

func TestReport_JSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Machine  map[string]any   `json:"machine"`
		Date     string           `json:"date"`
		Command  string           `json:"command"`
		Args     []string         `json:"args"`
		Settings map[string]any   `json:"settings"`
		Steps    []map[string]any `json:"steps"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cores", "gomaxprocs", "cpu", "kernel", "go"} {
		if _, ok := doc.Machine[k]; !ok {
			t.Errorf("machine has no %q: %v", k, doc.Machine)
		}
	}
	if doc.Command != "cortex bench --svg 'a b.svg'" || len(doc.Args) != 4 {
		t.Errorf("command %q, args %q", doc.Command, doc.Args)
	}
	if _, err := time.Parse(time.RFC3339, doc.Date); err != nil {
		t.Errorf("date %q: %v", doc.Date, err)
	}
	if len(doc.Steps) != 4 {
		t.Fatalf("%d steps, want 4", len(doc.Steps))
	}
	for _, k := range []string{"config", "workload", "concurrency", "seconds", "ops", "ops_per_sec", "latency_ms", "errors", "ratios"} {
		if _, ok := doc.Steps[0][k]; !ok {
			t.Errorf("step has no %q: %v", k, doc.Steps[0])
		}
	}
	lat := doc.Steps[0]["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p99", "p99_9", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency has no %q: %v", k, lat)
		}
	}
}

func TestReport_WriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sqlite-normal", "×naive", "25×", "skipped: not supported", "50,000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table has no %q:\n%s", want, b.String())
		}
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bench.Mix
		ok   bool
	}{
		{"latest=70,append=20,history=10", bench.Mix{Latest: 70, Append: 20, History: 10}, true},
		{"append=1", bench.Mix{Append: 1}, true},
		{"latest=0", bench.Mix{}, false},
		{"reads=5", bench.Mix{}, false},
		{"latest=-1,append=2", bench.Mix{}, false},
	} {
		got, err := bench.ParseMix(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMix(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestMakeState(t *testing.T) {
	for _, n := range []int{512, 64 << 10, 1} {
		s := bench.MakeState(n)
		if !json.Valid(s) || (n >= 12 && len(s) != n) {
			t.Errorf("MakeState(%d): %d bytes, valid JSON %v", n, len(s), json.Valid(s))
		}
	}
}

func stateListAll() state.ListOptions { return state.ListOptions{Limit: state.MaxLimit} }
