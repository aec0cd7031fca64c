package seed_test

import (
	"context"
	"testing"
	"time"

	"github.com/cortex-db/cortex/bench"
	"github.com/cortex-db/cortex/bench/seed"
)

func TestRun_Seed(t *testing.T) {
	o := seed.Options{Script: "../seed_reference.py"}
	if why := seed.Available(o); why != "" {
		t.Skip(why)
	}
	opts := bench.Options{Workload: bench.Append, Concurrency: []int{2}, Duration: 200 * time.Millisecond, Sessions: 50}
	steps, err := bench.Run(context.Background(), opts, []bench.Configuration{seed.Configuration(o)})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].OpsPerSec <= 0 || steps[0].Latency.P99 <= 0 || !steps[0].Baseline {
		t.Fatalf("seed steps %+v: want one baseline step with throughput and p99", steps)
	}
	opts.Workload = bench.History
	steps, err = bench.Run(context.Background(), opts, []bench.Configuration{seed.Configuration(o)})
	if err != nil || len(steps) != 1 || steps[0].Skipped == "" {
		t.Fatalf("seed on history: %+v, %v: want one skipped step", steps, err)
	}
}
