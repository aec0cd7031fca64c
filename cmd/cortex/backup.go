package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cortex-db/cortex/sqlitedb"
)

// backupCmd is `cortex backup --out`: an online, checked backup.
type backupCmd struct {
	db      dbFlags
	json    bool
	out     string
	compact bool
	force   bool
}

func (c *backupCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "backup --out <file> [flags]", stderr)
	c.db.register(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON (the same fields as POST /v1/admin/backup)")
	fs.StringVar(&c.out, "out", "", "the backup file to write (its folder must exist)")
	fs.BoolVar(&c.compact, "compact", false, "write a compacted copy with VACUUM INTO (smaller, slower, no progress)")
	fs.BoolVar(&c.force, "force", false, "replace --out if it exists")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if c.out == "" {
		return fmt.Errorf("--out is required\nTry: cortex backup --db %s --out ./cortex-backup.db: %w", c.db.db, errUsage)
	}
	if _, err := os.Stat(c.out); err == nil && !c.force {
		return fmt.Errorf("%s exists\nTry: another --out, or --force to replace it", c.out)
	}
	if abs, _ := filepath.Abs(c.out); abs != "" {
		if dbAbs, _ := filepath.Abs(c.db.db); dbAbs == abs {
			return fmt.Errorf("--out is the database itself\nTry: --out <another file>: %w", errUsage)
		}
	}
	db, err := openForOps(ctx, &c.db, "backup")
	if err != nil {
		return err
	}
	defer db.Close()

	var res sqlitedb.BackupResult
	if c.compact {
		res, err = db.VacuumInto(ctx, c.out)
	} else {
		p := newProgress(stderr, c.json)
		res, err = db.Backup(ctx, c.out, p.report)
		p.done(err == nil)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("backup interrupted; %s was not written", c.out)
		}
		return fmt.Errorf("%w\nTry: check that the folder of --out exists and has room", err)
	}
	if c.json {
		return writeJSON(stdout, res)
	}
	return table(stdout, [][2]string{
		{"path", res.Path},
		{"bytes", strconv.FormatInt(res.Bytes, 10) + " (" + formatBytes(res.Bytes) + ")"},
		{"pages", strconv.FormatInt(res.Pages, 10)},
		{"duration_ms", strconv.FormatInt(res.DurationMS, 10)},
		{"integrity", res.Integrity},
	})
}

// progress shows a backup's progress: a bar on a terminal, a plain line
// every second otherwise, nothing in --json mode.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	bar   *progressbar.ProgressBar
	last  time.Time
	total int64
	done_ int64
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("backup"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("pages"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) report(bp sqlitedb.BackupProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done_ = bp.PagesTotal, bp.PagesDone
	switch {
	case p.quiet:
	case p.bar != nil:
		if p.bar.GetMax64() != bp.PagesTotal {
			p.bar.ChangeMax64(bp.PagesTotal)
		}
		p.bar.Set64(bp.PagesDone)
	case time.Since(p.last) >= time.Second:
		p.last = time.Now()
		fmt.Fprintf(p.w, "backup: %d of %d pages (%d%%)\n", bp.PagesDone, bp.PagesTotal, percent(bp.PagesDone, bp.PagesTotal))
	}
}

func (p *progress) done(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.quiet:
	case p.bar != nil:
		if ok {
			p.bar.Finish()
		}
		fmt.Fprintln(p.w)
	case ok:
		fmt.Fprintf(p.w, "backup: %d of %d pages (100%%), checked\n", p.done_, p.total)
	}
}

func percent(a, b int64) int64 {
	if b <= 0 {
		return 100
	}
	return a * 100 / b
}
