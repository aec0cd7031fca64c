// Command cortex is the cortex server and ops CLI.
//
// Usage:
//
//	cortex serve [flags]         run the HTTP API (embedded SQLite by default)
//	cortex stats [flags]         database statistics
//	cortex health [flags]        health checks (exit 0 healthy, 1 degraded, 2 unhealthy)
//	cortex checkpoint [flags]    run a WAL checkpoint
//	cortex backup --out <file>   online, checked backup
//	cortex restore --from <file> replace the database with a backup
//	cortex explain "<sql>"       query plan of a read-only statement
//	cortex migrate --from … --to …  copy a database between SQLite and PostgreSQL
//	cortex version               module version, SQLite version, build settings
//
// Every flag has an environment twin, CORTEX_<FLAG> (--busy-timeout:
// CORTEX_BUSY_TIMEOUT); a flag on the command line beats its variable.
//
// main only turns run's error into a message on stderr and an exit code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cortex-db/cortex/sqlitedb"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// exitError carries a specific exit code out of run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// errUsage marks a command-line usage error (exit code 2).
var errUsage = errors.New("usage")

func main() {
	// SQLite's memory through cgo stays flat only with few malloc arenas
	// (see LimitMallocArenas).
	sqlitedb.LimitMallocArenas(2)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	case errors.Is(err, errUsage):
		code = 2
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "Error:", strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
	}
	os.Exit(code)
}

// errSilent marks an error already reported to the user.
var errSilent = errors.New("already reported")

const usage = `cortex — durable session state on SQLite or PostgreSQL

Usage:
  cortex <command> [flags]

Commands:
  serve       run the HTTP API server
  stats       database statistics
  health      health checks (exit 0 healthy, 1 degraded, 2 unhealthy, 3 usage error)
  checkpoint  run a WAL checkpoint (--mode passive|full|restart|truncate)
  backup      online, checked backup (--out <file>)
  restore     replace the database with a backup (--from <file>)
  explain     query plan of a read-only statement
  migrate     copy a database between SQLite and PostgreSQL (--from, --to), verified
  bench       load generator: workloads, concurrency sweep, baselines (--json, --svg)
  version     module version, SQLite version and build settings (--json)

The ops commands (stats to explain) work on a SQLite database file (--db),
also while a server is using it. Configuration flags have an environment
twin: --db is CORTEX_DB.

Run 'cortex <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given: %w", errUsage)
	}
	switch args[0] {
	case "version", "-version", "--version":
		return runVersion(args[1:], stdout, stderr)
	case "serve":
		return (&serveCmd{}).run(ctx, args[1:], stdout, stderr)
	case "stats":
		return (&statsCmd{}).run(ctx, args[1:], stdout, stderr)
	case "health":
		return (&healthCmd{}).run(ctx, args[1:], stdout, stderr)
	case "checkpoint":
		return (&checkpointCmd{}).run(ctx, args[1:], stdout, stderr)
	case "backup":
		return (&backupCmd{}).run(ctx, args[1:], stdout, stderr)
	case "restore":
		return (&restoreCmd{}).run(ctx, args[1:], stdout, stderr)
	case "explain":
		return (&explainCmd{}).run(ctx, args[1:], stdout, stderr)
	case "migrate":
		return (&migrateCmd{}).run(ctx, args[1:], stdout, stderr)
	case "bench":
		return (&benchCmd{}).run(ctx, args[1:], stdout, stderr)
	case "docs-flags": // hidden: prints docs/configuration.md
		return writeConfigurationDoc(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
}
