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
	rate    byteSize
}

func (c *backupCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "backup --out <file> [flags]", stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON (the same fields as POST /v1/admin/backup)")
	fs.StringVar(&c.out, "out", "", "the backup file to write (its folder must exist)")
	fs.BoolVar(&c.compact, "compact", false, "write a compacted copy with VACUUM INTO (smaller, slower, no progress)")
	fs.BoolVar(&c.force, "force", false, "replace --out if it exists")
	fs.Var(&c.rate, "backup-rate", "pace the copy to this many bytes per second, e.g. 100MB (0: a file copy at 200 MB/s, a copy from the writer or a reader unpaced; see docs/operations-at-scale.md)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if c.out == "" {
		return withHint(fmt.Errorf("--out is required: %w", errUsage), fmt.Sprintf("cortex backup --db %s --out ./cortex-backup.db", c.db.db))
	}
	_, statErr := os.Lstat(c.out) // a dangling link is there too
	exists := statErr == nil
	if exists && !c.force {
		return withHint(fmt.Errorf("%s exists", c.out), "another --out, or --force to replace it")
	}
	if abs, _ := filepath.Abs(c.out); abs != "" {
		if dbAbs, _ := filepath.Abs(c.db.db); dbAbs == abs {
			return withHint(fmt.Errorf("--out is the database itself: %w", errUsage), "--out <another file>")
		}
	}
	db, err := openForOps(ctx, &c.db, "backup")
	if err != nil {
		return err
	}
	defer db.Close()

	// sqlitedb never replaces a file; --force writes the new backup in a
	// folder of its own beside --out and renames it over the old one, so
	// the old backup stays until the new one is complete and checked.
	dest := c.out
	if exists {
		tmpDir, err := os.MkdirTemp(filepath.Dir(c.out), ".cortex-replace-*")
		if err != nil {
			return withHint(fmt.Errorf("backup to %s: %w", c.out, err), "check that the folder of --out exists and is writable")
		}
		defer os.RemoveAll(tmpDir)
		dest = filepath.Join(tmpDir, "backup.db")
	}
	var res sqlitedb.BackupResult
	if c.compact {
		res, err = db.VacuumInto(ctx, dest)
	} else {
		p := newProgress(stderr, c.json)
		res, err = db.BackupWith(ctx, dest, sqlitedb.BackupOptions{Progress: p.report, RateBytes: int64(c.rate)})
		p.done(err == nil)
	}
	if err == nil && dest != c.out {
		err = replaceDurably(dest, c.out)
		res.Path = c.out
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("backup interrupted; %s was not written", c.out)
		}
		return withHint(err, "check that the folder of --out exists and has room")
	}
	if c.json {
		return writeJSON(stdout, res)
	}
	return table(stdout, [][2]string{
		{"path", res.Path},
		{"bytes", strconv.FormatInt(res.Bytes, 10) + " (" + formatBytes(res.Bytes) + ")"},
		{"pages", strconv.FormatInt(res.Pages, 10)},
		{"duration_ms", strconv.FormatInt(res.DurationMS, 10) + " (copy " + strconv.FormatInt(res.CopyMS, 10) + ", check " + strconv.FormatInt(res.CheckMS, 10) + ")"},
		{"integrity", res.Integrity + " (" + string(res.Check) + ")"},
		{"source", backupSource(res)},
	})
}

// backupSource says where the copy came from: "file (N rounds …)",
// "writer (N steps, M ms of the writer)" or "reader".
func backupSource(res sqlitedb.BackupResult) string {
	s := string(res.Source)
	switch res.Source {
	case sqlitedb.BackupFromWriter:
		s += " (" + strconv.Itoa(res.Steps) + " steps, " + strconv.FormatInt(res.WriterMS, 10) + " ms of the writer)"
	case sqlitedb.BackupFromFile:
		s += " (" + strconv.Itoa(res.Steps) + " rounds after the first, " + strconv.FormatInt(res.RecopiedPages, 10) + " pages copied again, " +
			strconv.FormatInt(res.WriterMS, 10) + " ms of the writer)"
	}
	if res.Restarts > 0 {
		s += ", restarted " + strconv.Itoa(res.Restarts) + " times by another connection's writes"
	}
	return s
}

// replaceDurably renames src over dst and fsyncs dst's folder.
func replaceDurably(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// progress shows a backup's progress: a bar on a terminal, a plain line
// every second otherwise, nothing in --json mode. The same helper shows
// other long operations' counts (cortex migrate).
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	bar    *progressbar.ProgressBar
	last   time.Time
	total  int64
	done_  int64
	label  string // "backup"
	unit   string // "pages"
	finish string // appended to the last plain line: ", checked"
	decile int64  // of the last plain line: one is also printed at every 10%
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := newCountProgress(w, quiet, "backup", "pages")
	p.finish = ", checked"
	return p
}

// newCountProgress names the operation and the unit counted.
func newCountProgress(w io.Writer, quiet bool, label, unit string) *progress {
	p := &progress{w: w, quiet: quiet, label: label, unit: unit}
	if f, ok := w.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) report(bp sqlitedb.BackupProgress) { p.set(bp.PagesDone, bp.PagesTotal) }

// set shows done of total: on the bar, or as a plain line at most every
// second and at every 10% (the first report at once), short of the end:
// the last line is done's.
func (p *progress) set(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done_ = total, done
	switch {
	case p.quiet:
	case p.bar != nil:
		if p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Set64(done)
	case done >= total:
	case time.Since(p.last) >= time.Second || percent(done, total)/10 > p.decile:
		p.last, p.decile = time.Now(), percent(done, total)/10
		fmt.Fprintf(p.w, "%s: %d of %d %s (%d%%)\n", p.label, done, total, p.unit, percent(done, total))
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
		fmt.Fprintf(p.w, "%s: %d of %d %s (100%%)%s\n", p.label, p.done_, p.total, p.unit, p.finish)
	}
}

func percent(a, b int64) int64 {
	if b <= 0 {
		return 100
	}
	return a * 100 / b
}
