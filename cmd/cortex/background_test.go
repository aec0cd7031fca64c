package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

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
