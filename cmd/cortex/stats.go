package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
)

// statsCmd is `cortex stats`: the database's figures.
type statsCmd struct {
	db   dbFlags
	json bool
}

func (c *statsCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", "stats [flags]", stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON (the file's fields of GET /v1/admin/stats)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	db, err := openForOps(ctx, &c.db, "stats")
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil {
		return fmt.Errorf("read stats of %s: %w", c.db.db, err)
	}
	fst := fileStats{Stats: st}
	counts, ok, err := sqlitestore.ReadCounts(ctx, db)
	if err != nil {
		return fmt.Errorf("read stats of %s: %w", c.db.db, err)
	}
	if ok {
		fst.Sessions = &counts.Sessions
	}
	if c.json {
		return writeJSON(stdout, fst)
	}
	rows := statsRows(st)
	if ok {
		rows = append(rows, [2]string{"sessions", strconv.FormatInt(counts.Sessions, 10)})
	}
	return table(stdout, rows)
}

// fileStats are the figures of the file alone. The reader pool, the writer
// and the checkpointer in sqlitedb.Stats are this command's own, opened a
// moment ago, not a server's (those are in GET /v1/admin/stats): the nil
// fields here hide them, as encoding/json prefers the shallower field.
type fileStats struct {
	sqlitedb.Stats
	Readers    *sqlitedb.ReaderStats     `json:"readers,omitempty"`
	Writer     *sqlitedb.WriterStats     `json:"writer,omitempty"`
	Checkpoint *sqlitedb.CheckpointStats `json:"checkpoint,omitempty"`
	// Sessions is the store's count, kept in O(1) by the schema's
	// triggers (absent on a schema that predates it).
	Sessions *int64 `json:"sessions,omitempty"`
}

func statsRows(st sqlitedb.Stats) [][2]string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	rows := [][2]string{
		{"path", st.Path},
		{"sqlite_version", st.SQLiteVersion},
		{"journal_mode", st.JournalMode},
		{"synchronous", st.Synchronous},
		{"schema_version", i(st.SchemaVersion)},
		{"page_size", i(st.PageSize)},
		{"page_count", i(st.PageCount)},
		{"size_bytes", i(st.SizeBytes) + " (" + formatBytes(st.SizeBytes) + ")"},
		{"freelist_count", i(st.FreelistCount)},
		{"wal_bytes", i(st.WALBytes) + " (" + formatBytes(st.WALBytes) + ")"},
		{"wal_frames", i(st.WALFrames)},
		{"wal_pending_frames", i(st.WALPendingFrames)},
		{"wal_limit_bytes", i(st.WALLimitBytes) + " (" + formatBytes(st.WALLimitBytes) + ")"},
	}
	return rows
}

// formatBytes prints a byte count with a binary unit, as sqlitedb's health
// details do: 512 B, 56.0 KiB, 64.0 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
