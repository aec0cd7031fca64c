package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

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
	c.db.register(fs)
	fs.BoolVar(&c.json, "json", false, "print JSON (the same fields as POST /v1/admin/checkpoint)")
	fs.StringVar(&c.mode, "mode", "passive", "checkpoint mode: passive, full, restart or truncate")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	mode, err := sqlitedb.ParseCheckpointMode(c.mode)
	if err != nil {
		return fmt.Errorf("--mode: %v\nTry: cortex checkpoint --mode truncate: %w", err, errUsage)
	}
	db, err := openForOps(ctx, &c.db, "checkpoint")
	if err != nil {
		return err
	}
	defer db.Close()
	before := walBytes(c.db.db)
	res, err := db.Checkpoint(ctx, mode)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w\nTry: again later, or a PASSIVE checkpoint, which never waits", c.db.db, err)
	}
	if c.json {
		return writeJSON(stdout, res)
	}
	rows := [][2]string{
		{"mode", string(res.Mode)},
		{"busy", strconv.FormatBool(res.Busy)},
		{"wal_frames", strconv.FormatInt(res.WALFrames, 10)},
		{"checkpointed_frames", strconv.FormatInt(res.CheckpointedFrames, 10)},
		{"remaining_frames", strconv.FormatInt(res.Remaining(), 10)},
		{"duration", res.Duration.String()},
		// SQLite reports 0 frames after a TRUNCATE, which empties the
		// WAL: the file's size before and after shows what it did.
		{"wal_bytes", fmt.Sprintf("%s before, %s after", formatBytes(before), formatBytes(walBytes(c.db.db)))},
	}
	if err := table(stdout, rows); err != nil {
		return err
	}
	if res.Busy {
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
