package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
)

// checkpointCmd is `cortex checkpoint --mode`: one WAL checkpoint.
type checkpointCmd struct {
	db   dbFlags
	json bool
	mode string
}

func (c *checkpointCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("checkpoint", "checkpoint [--mode passive|full|restart|truncate] [flags]", stderr)
	c.db.registerFile(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON (the same fields as POST /v1/admin/checkpoint)")
	fs.StringVar(&c.mode, "mode", "passive", "checkpoint mode: passive, full, restart or truncate")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	mode, err := sqlitedb.ParseCheckpointMode(c.mode)
	if err != nil {
		return withHint(fmt.Errorf("--mode: %v: %w", err, errUsage), "cortex checkpoint --mode truncate")
	}
	db, err := openForOps(ctx, &c.db, "checkpoint")
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := runCheckpoint(ctx, db, mode)
	if err != nil {
		return withHint(fmt.Errorf("checkpoint %s: %w", c.db.db, err), "again later, or a PASSIVE checkpoint, which never waits")
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	if err := table(stdout, rep.rows()); err != nil {
		return err
	}
	if rep.Busy {
		fmt.Fprintln(stderr, "Note: the checkpoint could not complete: another connection held a lock it needed (a long read, or the server's writer). Try again, or use --mode passive.")
	}
	return nil
}

// walBytes is the size of the database's -wal file, 0 when there is none.
func walBytes(db string) int64 {
	st, err := os.Stat(db + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// checkpointReport is what a checkpoint did, the same fields in
// `cortex checkpoint`'s table, its --json and POST /v1/admin/checkpoint.
type checkpointReport struct {
	Mode      sqlitedb.CheckpointMode `json:"mode"`
	Busy      bool                    `json:"busy"`
	WALFrames int64                   `json:"wal_frames"`
	// CheckpointedFrames of WALFrames are in the database file now;
	// RemainingFrames are not.
	CheckpointedFrames int64 `json:"checkpointed_frames"`
	RemainingFrames    int64 `json:"remaining_frames"`
	// SQLite reports 0 frames after a TRUNCATE, which empties the WAL:
	// the file's size before and after shows what it did.
	WALBytesBefore int64     `json:"wal_bytes_before"`
	WALBytesAfter  int64     `json:"wal_bytes_after"`
	At             time.Time `json:"at"`
	DurationMS     float64   `json:"duration_ms"`
}

// runCheckpoint runs one checkpoint and reports it.
func runCheckpoint(ctx context.Context, db *sqlitedb.DB, mode sqlitedb.CheckpointMode) (checkpointReport, error) {
	before := walBytes(db.Path())
	res, err := db.Checkpoint(ctx, mode)
	if err != nil {
		return checkpointReport{}, err
	}
	return checkpointReport{
		Mode: res.Mode, Busy: res.Busy, WALFrames: res.WALFrames,
		CheckpointedFrames: res.CheckpointedFrames, RemainingFrames: res.Remaining(),
		WALBytesBefore: before, WALBytesAfter: walBytes(db.Path()),
		At: res.At, DurationMS: float64(res.Duration.Microseconds()) / 1000,
	}, nil
}

// rows are the report's fields for humans, by their JSON names.
func (r checkpointReport) rows() [][2]string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return [][2]string{
		{"mode", string(r.Mode)},
		{"busy", strconv.FormatBool(r.Busy)},
		{"wal_frames", i(r.WALFrames)},
		{"checkpointed_frames", i(r.CheckpointedFrames)},
		{"remaining_frames", i(r.RemainingFrames)},
		{"wal_bytes_before", i(r.WALBytesBefore) + " (" + formatBytes(r.WALBytesBefore) + ")"},
		{"wal_bytes_after", i(r.WALBytesAfter) + " (" + formatBytes(r.WALBytesAfter) + ")"},
		{"at", r.At.UTC().Format(time.RFC3339Nano)},
		{"duration_ms", strconv.FormatFloat(r.DurationMS, 'f', 3, 64)},
	}
}
