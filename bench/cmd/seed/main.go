// Command seed runs the seed's Python reference implementation
// (bench/seed_reference.py) as a baseline and writes the run's report as
// JSON, by default to bench/seed-results.json in the repository, where
// `cortex bench --baseline seed` reads it:
//
//	go run ./bench/cmd/seed --workload append --concurrency 1,8,64 --duration 5s
//	cortex bench --workload append --concurrency 1,8,64 --baseline naive,seed
//
// It is a separate command so that the cortex binary runs no Python.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/bench"
	"github.com/cortex-db/cortex/bench/seed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run() error {
	root := repoRoot()
	workload := flag.String("workload", "append", "append or append-large (the script measures appends only)")
	concurrency := flag.String("concurrency", "1,8,64", "comma-separated writer thread counts: one step each")
	duration := flag.Duration("duration", 5*time.Second, "measured time of each step")
	sessions := flag.Int("sessions", 1000, "sessions the workload spreads over")
	stateBytes := flag.Int("state-bytes", 0, "size of each JSON state (default: 512, or 64 KiB for append-large)")
	script := flag.String("script", filepath.Join(root, "bench", "seed_reference.py"), "path of seed_reference.py")
	python := flag.String("python", "python3", "Python interpreter")
	out := flag.String("o", filepath.Join(root, "bench", "seed-results.json"), "file to write the report to (- for standard output)")
	flag.Parse()

	w, err := bench.ParseWorkload(*workload)
	if err != nil {
		return fmt.Errorf("--workload: %w", err)
	}
	opts := bench.Options{Workload: w, Duration: *duration, Sessions: *sessions, StateBytes: *stateBytes}
	for _, p := range strings.Split(*concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return fmt.Errorf("--concurrency %q: want positive integers such as 1,8,64", *concurrency)
		}
		opts.Concurrency = append(opts.Concurrency, n)
	}
	o := seed.Options{Python: *python, Script: *script}
	if why := seed.Available(o); why != "" {
		return fmt.Errorf("cannot run the seed baseline: %s", why)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	configs := []bench.Configuration{seed.Configuration(o)}
	rep := bench.NewReport(os.Args, bench.NewSettings("lib", opts, configs))
	steps, runErr := bench.Run(ctx, opts, configs)
	rep.Steps = steps
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	f := os.Stdout
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
	}
	if err := rep.WriteJSON(f); err != nil {
		return err
	}
	if f != os.Stdout {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seed: %d steps written to %s\n", len(steps), *out)
	}
	return runErr
}

// repoRoot is the folder holding go.mod, found from the working directory
// upwards ("." when there is none).
func repoRoot() string {
	d, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return "."
		}
		d = up
	}
}
