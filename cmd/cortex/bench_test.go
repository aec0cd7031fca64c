package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortex-db/cortex/bench"
)

func TestBench_JSONAndSVG(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "out.svg")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--workload", "mix", "--concurrency", "1,2",
		"--duration", "200ms", "--warmup", "0s", "--sessions", "20", "--dir", filepath.Join(dir, "db"),
		"--configs", "sqlite-normal,sqlite-full", "--baseline", "naive", "--json", "--svg", svg}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep struct {
		Machine struct {
			Cores int    `json:"cores"`
			Go    string `json:"go"`
		} `json:"machine"`
		Command string `json:"command"`
		Steps   []struct {
			Config string `json:"config"`
			Ops    int64  `json:"ops"`
			Errors int64  `json:"errors"`
			Ratios []struct {
				Baseline string `json:"baseline"`
			} `json:"ratios"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out.String())
	}
	if rep.Machine.Cores == 0 || rep.Machine.Go == "" || rep.Command == "" {
		t.Errorf("report machine %+v, command %q", rep.Machine, rep.Command)
	}
	if len(rep.Steps) != 6 {
		t.Fatalf("%d steps, want 3 configurations × 2 concurrencies", len(rep.Steps))
	}
	for _, s := range rep.Steps {
		if s.Ops == 0 || s.Errors != 0 {
			t.Errorf("%s: %d ops, %d errors", s.Config, s.Ops, s.Errors)
		}
		if s.Config != "naive" && (len(s.Ratios) != 1 || s.Ratios[0].Baseline != "naive") {
			t.Errorf("%s: ratios %+v, want one to naive", s.Config, s.Ratios)
		}
	}
	f, err := os.Open(svg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("--svg file is not well-formed: %v", err)
		}
	}
}

func TestBench_Table(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--concurrency", "2", "--duration", "200ms", "--warmup", "0s",
		"--sessions", "20", "--quiet"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("sqlite-normal")) || !bytes.Contains(out.Bytes(), []byte("p99.9 ms")) {
		t.Errorf("table:\n%s", out.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("--quiet wrote to stderr: %q", errOut.String())
	}
}

func TestBench_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--workload", "nope"},
		{"--concurrency", "0"},
		{"--configs", "sqlite-fast"},
		{"--baseline", "mysql"},
		{"--mode", "grpc"},
		{"--mix", "latest=0"},
		{"--db", "some.db"},
		{"--configs", "postgres"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, args...), &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("bench %q: err = %v, want a usage error", args, err)
		}
	}
}

// TestBench_SeedResults: the seed baseline comes from the report that
// `go run ./bench/cmd/seed` writes, never from running Python here; its
// steps at the run's concurrencies get ratios, the others are left out.
func TestBench_SeedResults(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "seed-results.json")
	seedRep := bench.Report{Steps: []bench.Step{
		{Config: "seed", Baseline: true, Workload: bench.Append, Concurrency: 2, OpsPerSec: 100, Latency: bench.Latency{P99: 10}},
		{Config: "seed", Baseline: true, Workload: bench.Append, Concurrency: 64, OpsPerSec: 100, Latency: bench.Latency{P99: 10}},
	}}
	var buf bytes.Buffer
	if err := seedRep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--concurrency", "2", "--duration", "200ms", "--warmup", "0s",
		"--sessions", "20", "--quiet", "--json", "--dir", filepath.Join(dir, "db"), "--baseline", "seed", "--seed-results", results}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	rep, err := bench.ReadReport(&out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 2 || rep.Steps[1].Config != "seed" || len(rep.Steps[0].Ratios) != 1 || rep.Steps[0].Ratios[0].Baseline != "seed" || rep.Steps[0].Ratios[0].Throughput == 0 {
		t.Fatalf("steps %+v: want sqlite-normal with a ratio to the seed's step at 2", rep.Steps)
	}

	// No results file: the baseline is skipped, with the command that makes it.
	out.Reset()
	errOut.Reset()
	err = run(context.Background(), []string{"bench", "--concurrency", "2", "--duration", "200ms", "--warmup", "0s",
		"--sessions", "20", "--quiet", "--dir", filepath.Join(dir, "db2"), "--baseline", "seed", "--seed-results", filepath.Join(dir, "none.json")}, &out, &errOut)
	if err != nil || !bytes.Contains(errOut.Bytes(), []byte("go run ./bench/cmd/seed")) {
		t.Fatalf("bench without results: %v, stderr %q", err, errOut.String())
	}
}
