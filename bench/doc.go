// Package bench is the load generator behind `cortex bench`: it drives a
// state.Store (in-process), a running `cortex serve` (over keep-alive HTTP)
// or a baseline with one of a few workloads, at each of a sweep of
// concurrencies, and reports throughput, latency percentiles, errors and
// the SQLite WAL activity seen during each step.
//
// # Workloads
//
// Every workload uses the seed reference's data set (see seed_reference.py
// in this folder, a copy of ../shared/bench/seed_reference.py): Sessions
// sessions (1,000 by default), JSON states of StateBytes bytes (512 by
// default), and a random session per operation.
//
//   - append: append a snapshot (512-byte states)
//   - append-large: append a snapshot (64 KiB states)
//   - latest: read a session's latest snapshot
//   - history: read a page of a session's history (versions, no states)
//   - mix: latest, append and history by weight (70/20/10 by default)
//
// # Configurations and baselines
//
// A run compares Configurations side by side: cortex on SQLite
// (synchronous normal or full), on PostgreSQL, over HTTP, and the two
// baselines, Naive (one transaction per write through plain database/sql)
// and the seed's Python reference implementation (Seed). Every step of a
// configuration that is not a baseline carries its Ratios to each baseline
// at the same concurrency.
//
// # Usage
//
//	cfgs := []bench.Configuration{
//		bench.SQLiteConfiguration("sqlite-normal", dir, sqlitedb.Config{Synchronous: "normal"}),
//		bench.NaiveConfiguration(dir),
//	}
//	rep, err := bench.Run(ctx, bench.Options{
//		Workload:    bench.Append,
//		Concurrency: []int{1, 8, 64},
//		Duration:    5 * time.Second,
//	}, cfgs)
//	if err != nil { … }
//	rep.WriteTable(os.Stdout)
//
// Run is not safe to call concurrently with itself on the same files;
// every Target is safe for concurrent use by the workers of one step.
package bench
