package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cortex-db/cortex/internal/transfer"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// migrateCmd is `cortex migrate --from … --to …`: a faithful copy of a
// database to another engine (SQLite ⇄ PostgreSQL), verified at the end.
type migrateCmd struct {
	from, to  string
	batchSize int
	json      bool
}

// migrateStore is an opened side of a migration.
type migrateStore interface {
	state.Store
	transfer.Destination
}

// migrateSummary is the --json output.
type migrateSummary struct {
	From string `json:"from"`
	To   string `json:"to"`
	OK   bool   `json:"ok"`
	transfer.Result
}

func (c *migrateCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate --from <sqlite path | postgres://…> --to <postgres://… | sqlite path> [flags]", stderr)
	fs.StringVar(&c.from, "from", "", "the database to copy: a SQLite file path or a postgres:// URL")
	fs.StringVar(&c.to, "to", "", "the database to copy into (created if needed): a postgres:// URL or a SQLite file path")
	fs.IntVar(&c.batchSize, "batch-size", transfer.DefaultBatchSize, "rows per read and per write transaction")
	fs.BoolVar(&c.json, "json", false, "print the summary as JSON (no progress)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case c.from == "" || c.to == "":
		return withHint(fmt.Errorf("--from and --to are required: %w", errUsage), "cortex migrate --from ./data/cortex.db --to postgres://user@host:5432/cortex")
	case c.from == c.to:
		return withHint(fmt.Errorf("--from and --to are the same database: %w", errUsage), "--to <another database>")
	case c.batchSize < 1 || c.batchSize > 100000:
		return withHint(fmt.Errorf("--batch-size %d is out of range: %w", c.batchSize, errUsage), fmt.Sprintf("a value from 1 to 100000 (default %d)", transfer.DefaultBatchSize))
	}
	if !isPostgresURL(c.from) {
		if _, err := os.Stat(c.from); err != nil {
			return withHint(fmt.Errorf("source database %s: %w", c.from, err), "--from <path to an existing SQLite database> or a postgres:// URL")
		}
	}
	if !isPostgresURL(c.to) {
		if abs, _ := filepath.Abs(c.to); abs != "" {
			if fromAbs, _ := filepath.Abs(c.from); fromAbs == abs {
				return withHint(fmt.Errorf("--from and --to are the same file: %w", errUsage), "--to <another file>")
			}
		}
	}

	src, err := openMigrateStore(ctx, c.from, "source")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openMigrateStore(ctx, c.to, "destination")
	if err != nil {
		return err
	}
	defer dst.Close()

	// One progress display per phase: count, sessions, snapshots, verify.
	var (
		bar   *progress
		phase string
	)
	show := func(p transfer.Progress) {
		if p.Phase != phase {
			if bar != nil {
				bar.done(true)
			}
			phase = p.Phase
			bar = newCountProgress(stderr, c.json, "migrate "+p.Phase, migrateUnit(p.Phase))
		}
		bar.set(p.Done, p.Total)
	}
	res, err := transfer.Migrate(ctx, src, dst, transfer.Options{BatchSize: c.batchSize, Progress: show})
	if bar != nil {
		bar.done(err == nil)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return withHint(fmt.Errorf("migrate interrupted: %w", err), "run the same command again; it copies everything again as upserts and duplicates nothing")
		}
		if errors.Is(err, transfer.ErrDestinationAhead) {
			return withHint(fmt.Errorf("migrate %s → %s: %w", redactDB(c.from), redactDB(c.to), err), "migrate into a new, empty database (stop the writers of both first); if the destination's own writes are unwanted, remove it and run again")
		}
		return withHint(fmt.Errorf("migrate %s → %s: %w", redactDB(c.from), redactDB(c.to), err), "fix the cause, then run the same command again; it duplicates nothing")
	}

	sum := migrateSummary{From: redactDB(c.from), To: redactDB(c.to), OK: res.Verify.OK(), Result: res}
	if c.json {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		v := res.Verify
		rows := [][2]string{
			{"from", sum.From},
			{"to", sum.To},
			{"copied sessions", strconv.FormatInt(res.Copied.Sessions, 10)},
			{"copied snapshots", strconv.FormatInt(res.Copied.Snapshots, 10)},
			{"state bytes", strconv.FormatInt(res.Copied.StateBytes, 10) + " (" + formatBytes(res.Copied.StateBytes) + ")"},
			{"duration", res.Duration.Round(1e6).String()},
			{"sessions (source / destination)", fmt.Sprintf("%d / %d", v.SourceSessions, v.DestSessions)},
			{"snapshots (source / destination)", fmt.Sprintf("%d / %d", v.SourceSnapshots, v.DestSnapshots)},
			{"sessions that differ", strconv.Itoa(v.DifferenceCount)},
		}
		if err := table(stdout, rows); err != nil {
			return err
		}
		for _, d := range v.Differences {
			fmt.Fprintln(stdout, "  "+d.String())
		}
		if v.DifferenceCount > len(v.Differences) {
			fmt.Fprintf(stdout, "  … and %d more\n", v.DifferenceCount-len(v.Differences))
		}
	}
	if !sum.OK {
		return &exitError{code: 1, err: withHint(fmt.Errorf("verification failed: %w (%d sessions differ; sessions %d/%d, snapshots %d/%d)",
			transfer.ErrDifferent, res.Verify.DifferenceCount, res.Verify.SourceSessions, res.Verify.DestSessions,
			res.Verify.SourceSnapshots, res.Verify.DestSnapshots),
			"stop every writer of the source and of the destination, then run the same command again")}
	}
	return nil
}

func migrateUnit(phase string) string {
	if phase == transfer.PhaseSnapshots {
		return "snapshots"
	}
	return "sessions"
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openMigrateStore opens one side of a migration: a pgstore for a
// postgres:// URL, else the SQLite file (created for a destination), with
// the default settings (its checkpointer keeps a destination's WAL small).
func openMigrateStore(ctx context.Context, db, side string) (migrateStore, error) {
	if isPostgresURL(db) {
		st, err := pgstore.Open(ctx, db, pgstore.Config{})
		if err != nil {
			return nil, withHint(fmt.Errorf("open the %s %s: %w", side, redactDB(db), err), "check that PostgreSQL is running and the URL (user, password, database) is right; create the database first (createdb)")
		}
		return st, nil
	}
	st, err := sqlitestore.Open(ctx, db, sqlitestore.Config{})
	if err != nil {
		return nil, fmt.Errorf("open the %s: %w", side, openAdvice(db, err))
	}
	return st, nil
}

// redactDB hides the passwords in a --db setting before it is logged or
// printed: a PostgreSQL URL's user password and its password and
// sslpassword query parameters. A SQLite path is returned as it is.
func redactDB(db string) string {
	if !isPostgresURL(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://…"
	}
	if q := u.Query(); q.Has("password") || q.Has("sslpassword") {
		for _, k := range []string{"password", "sslpassword"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
