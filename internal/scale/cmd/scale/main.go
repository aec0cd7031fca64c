// Command scale is scripts/scale's driver: see package scale.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/internal/scale"
	"github.com/cortex-db/cortex/sqlitedb"
)

func main() {
	sizes := flag.String("sizes", "0.2M", "comma-separated snapshot counts: 2000, 0.2M, 5M, 20M (20M only where the free-disk check passes)")
	dir := flag.String("dir", "", "folder for the built databases (kept and reused) and scratch files (default: $TMPDIR/cortex-scale)")
	only := flag.String("only", "", "comma-separated operation names to run (default: all)")
	writers := flag.Int("writers", 4, "goroutines appending while an operation runs")
	baseline := flag.Duration("baseline", 5*time.Second, "how long appends run alone for the baseline")
	tail := flag.Duration("tail", 2*time.Second, "how long appends go on after each operation, counted in its figures (what it leaves behind, such as a long WAL to copy back and cut, is its effect too)")
	candidates := flag.Bool("backup-candidates", false, "also measure the backup candidates (old step size, paced rates, VACUUM INTO)")
	out := flag.String("out", "", "write the Markdown table to this file")
	skipAlone := flag.Bool("skip-alone", false, "run each online operation only under appends (halves a long run; its time then bounds its cost per GB from above)")
	pgURL := flag.String("pg", "", "also measure appends during a big session's delete on this PostgreSQL database (a postgres:// URL; its tables are created)")
	pgSize := flag.Int("pg-size", 100_000, "with -pg: the deleted session's snapshots")
	flag.Parse()
	if *dir == "" {
		*dir = os.TempDir() + "/cortex-scale"
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if *candidates {
		registerCandidates()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := scale.Config{Dir: *dir, Sizes: ns, Writers: *writers, Baseline: *baseline, Tail: *tail, SkipAlone: *skipAlone, Log: os.Stderr}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	rows, err := scale.Run(ctx, cfg)
	if *pgURL != "" && err == nil {
		var pr []scale.Row
		pr, err = scale.PGDelete(ctx, *pgURL, *pgSize, *writers, os.Stderr)
		rows = append(rows, pr...)
	}
	table := scale.Markdown(rows)
	fmt.Print(table)
	if *out != "" {
		if werr := os.WriteFile(*out, []byte(table), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "scale:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("size %q: want a count such as 2000, 0.2M or 5M", s)
	}
	return int(f * mult), nil
}

// registerCandidates adds the backup designs measured before choosing.
func registerCandidates() {
	for _, c := range []struct {
		name string
		opts sqlitedb.BackupOptions
	}{
		{"backup copy of the file (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile, Check: sqlitedb.CheckNone}},
		{"backup copy of the file unpaced (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile, RateBytes: -1, Check: sqlitedb.CheckNone}},
		{"backup copy of the file at 200 MB/s (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile, RateBytes: 200e6, Check: sqlitedb.CheckNone}},
		{"backup copy of the file at 100 MB/s (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile, RateBytes: 100e6, Check: sqlitedb.CheckNone}},
		{"backup copy of the file at normal priority (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromFile, NormalPriority: true, Check: sqlitedb.CheckNone}},
		{"backup copy from the writer (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, Check: sqlitedb.CheckNone}},
		{"backup copy from the writer at a 20% share (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromWriter, WriterShare: 0.2, Check: sqlitedb.CheckNone}},
		{"backup copy from a reader snapshot (no check)", sqlitedb.BackupOptions{Source: sqlitedb.BackupFromReader, Check: sqlitedb.CheckNone}},
		{"backup: before (4 MiB steps; journaled copy; normal priority)", sqlitedb.BackupOptions{StepPages: 1024, JournaledCopy: true, NormalPriority: true}},
		{"backup: 16 MiB steps; normal priority", sqlitedb.BackupOptions{NormalPriority: true}},
		{"backup: 4 MiB steps; unjournaled", sqlitedb.BackupOptions{StepPages: 1024}},
		{"backup: 16 MiB steps at 100 MB/s", sqlitedb.BackupOptions{RateBytes: 100e6}},
		{"backup: 16 MiB steps at 50 MB/s", sqlitedb.BackupOptions{RateBytes: 50e6}},
		{"backup: 16 MiB steps; quick_check", sqlitedb.BackupOptions{Check: sqlitedb.IntegrityQuick}},
	} {
		scale.Register(scale.Op{Name: c.name, Run: scale.BackupOp(c.opts)})
	}
	scale.Register(scale.Op{Name: "backup: VACUUM INTO", Run: scale.VacuumOp})
}
