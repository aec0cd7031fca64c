package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

func TestJanitor_Pass(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateSession(ctx, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := st.AppendSnapshot(ctx, "s", state.AppendInput{State: []byte(`1`)}); err != nil {
			t.Fatal(err)
		}
	}
	j := &janitor{store: st, opts: state.PruneOptions{KeepLast: 2}, log: slog.New(slog.DiscardHandler)}
	if err := j.pass(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err := st.GetSession(ctx, "s")
	if err != nil || sess.SnapshotCount != 2 || sess.Version != 5 {
		t.Fatalf("after pruning to 2: %+v, %v", sess, err)
	}
	if c := j.counts(); c.Runs != 1 || c.Pruned != 3 {
		t.Fatalf("janitor counts %+v, want 1 run, 3 pruned", c)
	}
}

func TestBackupScheduler_Prune(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		scheduledPrefix + "20250101T000000.000Z.db",
		scheduledPrefix + "20250102T000000.000Z.db",
		scheduledPrefix + "20250103T000000.000Z.db",
		"manual.db", // not a scheduled backup: never pruned
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &backupScheduler{dir: dir, keep: 2, log: slog.New(slog.DiscardHandler)}
	if err := s.prune(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	want := []string{names[1], names[2], "manual.db"}
	sort.Strings(want)
	if len(left) != 3 || left[0] != want[0] || left[1] != want[1] || left[2] != want[2] {
		t.Fatalf("left %v, want %v", left, want)
	}
}
