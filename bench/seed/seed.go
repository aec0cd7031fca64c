// Package seed runs the seed's Python reference implementation
// (bench/seed_reference.py) as a baseline of package bench. It lives apart
// from bench so that the cortex binary, which imports bench, never links a
// runner of Python: run it with `go run ./bench/cmd/seed`, which writes a
// report that `cortex bench --baseline seed` reads.
package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/cortex-db/cortex/bench"
)

// Options locate the seed's Python reference implementation.
type Options struct {
	// Python is the interpreter (default "python3").
	Python string
	// Script is the path of seed_reference.py (required).
	Script string
	// Dir is where the script makes its database (default: a new temporary
	// folder per step, removed after it).
	Dir string
}

// seedResult is the JSON object seed_reference.py prints.
type seedResult struct {
	Impl        string           `json:"impl"`
	SQLite      string           `json:"sqlite"`
	Threads     int              `json:"threads"`
	Readers     int              `json:"readers"`
	Seconds     float64          `json:"seconds"`
	WritesPerS  float64          `json:"writes_per_s"`
	WriteErrors int64            `json:"write_errors"`
	ErrorKinds  map[string]int64 `json:"error_kinds"`
	WriteP50MS  *float64         `json:"write_p50_ms"`
	WriteP99MS  *float64         `json:"write_p99_ms"`
	ReadsPerS   float64          `json:"reads_per_s"`
}

// Available reports why the seed baseline cannot run here (no python,
// no script), or "" when it can.
func Available(o Options) string {
	py := o.Python
	if py == "" {
		py = "python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		return py + " not found"
	}
	if _, err := os.Stat(o.Script); err != nil {
		return "seed script: " + err.Error()
	}
	return ""
}

// Configuration is the baseline of the seed's Python reference
// implementation: each step runs
//
//	python3 seed_reference.py DIR --threads N --readers 0 --seconds S --sessions K --payload P
//
// for the append workloads (N writer threads; P makes its states the
// step's size). Other workloads are skipped: the script's database starts
// with sessions but no snapshots, so its readers would time empty
// lookups. The script reports throughput, p50 and p99 only. (After its timed part the
// script also times a 100,000-row batch insert, which adds a second or two
// to each step's wall time but not to its figures.)
func Configuration(o Options) bench.Configuration {
	if o.Python == "" {
		o.Python = "python3"
	}
	return bench.Configuration{Name: "seed", Baseline: true, External: func(ctx context.Context, s bench.StepSpec) (bench.Step, error) {
		threads, readers := s.Concurrency, 0
		switch s.Workload {
		case bench.Append, bench.AppendLarge:
		default:
			// Its readers only find the snapshots its own writers made during
			// the run: without writers they would time empty lookups, and
			// with them their count depends on the writers' pace.
			return bench.Step{}, fmt.Errorf("seed: %w (the script measures appends only: its database starts with no snapshots to read)", bench.ErrUnsupported)
		}
		dir := o.Dir
		if dir == "" {
			d, err := os.MkdirTemp("", "cortex-bench-seed-")
			if err != nil {
				return bench.Step{}, err
			}
			defer os.RemoveAll(d)
			dir = d
		}
		// The script's state is {"blob": "<payload letters>"}: 12 bytes of JSON around the payload.
		payload := max(1, s.StateBytes-12)
		args := []string{o.Script, dir, "--threads", strconv.Itoa(threads), "--readers", strconv.Itoa(readers),
			"--seconds", strconv.FormatFloat(s.Duration.Seconds(), 'f', -1, 64),
			"--sessions", strconv.Itoa(s.Sessions), "--payload", strconv.Itoa(payload)}
		cmd := exec.CommandContext(ctx, o.Python, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return bench.Step{}, fmt.Errorf("run %s %s: %w: %s", o.Python, strings.Join(args, " "), err, lastLine(stderr.String()))
		}
		var r seedResult
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			return bench.Step{}, fmt.Errorf("read seed script output: %w: %q", err, lastLine(stdout.String()))
		}
		step := bench.Step{Seconds: r.Seconds, Note: "seed_reference.py, SQLite " + r.SQLite,
			OpsPerSec: r.WritesPerS, Errors: r.WriteErrors}
		if r.WriteP50MS != nil {
			step.Latency.P50 = *r.WriteP50MS
		}
		if r.WriteP99MS != nil {
			step.Latency.P99 = *r.WriteP99MS
		}
		for msg, n := range r.ErrorKinds {
			step.ErrorSamples = append(step.ErrorSamples, bench.ErrorSample{Message: msg, Count: n})
		}
		sort.Slice(step.ErrorSamples, func(i, j int) bool { return step.ErrorSamples[i].Count > step.ErrorSamples[j].Count })
		step.Ops = int64(step.OpsPerSec * r.Seconds)
		return step, nil
	}}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
