// Command cortex is the cortex server and ops CLI.
//
// Usage:
//
//	cortex serve [flags]      run the HTTP API (embedded SQLite by default)
//	cortex version            print the version
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
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// exitError carries a specific exit code out of run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errUsage marks a command-line usage error (exit code 2).
var errUsage = errors.New("usage")

func main() {
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
		fmt.Fprintln(os.Stderr, "Error:", err)
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
  version     print the version

Run 'cortex <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given: %w", errUsage)
	}
	switch args[0] {
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "cortex %s\n", Version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
}
