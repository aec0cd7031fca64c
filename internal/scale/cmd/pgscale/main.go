// Command pgscale is scripts/scale-pg's driver: see scale.PGOps.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/cortex-db/cortex/internal/scale"
	"github.com/cortex-db/cortex/pgstore"
)

func main() {
	var cfg scale.PGConfig
	flag.StringVar(&cfg.URL, "pg", "", "the PostgreSQL database (a postgres:// URL; its tables are created); required")
	flag.IntVar(&cfg.Big, "big", 100_000, "snapshots of the session forked and deleted")
	flag.IntVar(&cfg.Sessions, "sessions", 1000, "sessions of the retention set")
	flag.IntVar(&cfg.PerSession, "per-session", 200, "snapshots of each session of the retention set")
	flag.IntVar(&cfg.Prune, "prune", 30, "snapshots each retention pass removes from each session of the set")
	flag.BoolVar(&cfg.SkipBig, "skip-big", false, "skip the fork and delete of the big session (retention passes only)")
	flag.IntVar(&cfg.Writers, "writers", 4, "goroutines appending while an operation runs")
	flag.DurationVar(&cfg.Baseline, "baseline", 5*time.Second, "how long appends run alone for the baseline")
	out := flag.String("out", "", "write the Markdown table to this file")
	pairs := flag.Int("pairs", 0, "measure in alternating pairs instead: a baseline of -baseline, then the operation (delete+reclaim of a -big session; a retention pass over the set), this many times each, with load averages, slice times and what the slow appends saw (scale.PGPairs)")
	slowMS := flag.Float64("slow-ms", 50, "with -pairs: appends at least this slow (ms) are attributed")
	var sc pgstore.SliceConfig
	flag.DurationVar(&sc.Budget, "slice-budget", 0, "with -pairs: pgstore's slice budget (0: its default)")
	flag.IntVar(&sc.Rows, "slice-rows", 0, "with -pairs: pgstore's rows per statement (0: its default)")
	flag.Parse()
	if cfg.URL == "" {
		fmt.Fprintln(os.Stderr, "pgscale: -pg postgres://… is required (scripts/scale-pg starts a throwaway cluster when it is not given)")
		os.Exit(2)
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *pairs > 0 {
		big := cfg.Big
		if cfg.SkipBig {
			big = -1
		}
		rows, err := scale.PGPairs(ctx, scale.PGPairsConfig{URL: cfg.URL, Pairs: *pairs, Big: big, Sessions: cfg.Sessions, PerSession: cfg.PerSession,
			Prune: cfg.Prune, Writers: cfg.Writers, Baseline: cfg.Baseline, SlowMS: *slowMS, Slices: sc, Log: os.Stderr})
		report(scale.PairsMarkdown(rows), *out, err)
		return
	}
	rows, err := scale.PGOps(ctx, cfg)
	report(scale.Markdown(rows), *out, err)
}

// report prints the table, writes it to out (when set), and exits 1 on err.
func report(table, out string, err error) {
	fmt.Print(table)
	if out != "" {
		if werr := os.WriteFile(out, []byte(table), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "pgscale:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgscale:", err)
		os.Exit(1)
	}
}
