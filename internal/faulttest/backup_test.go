package faulttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
)

// TestBackup_DrillUnderLoad: three backups (POST /v1/admin/backup) taken
// while 32 clients append; then, on the stopped server's database, each is
// restored with `cortex restore --from …` (newest first, then the
// oldest over it): the restored database passes integrity_check and holds
// every append acknowledged before that backup began. A server then starts
// on the restored database and serves.
func TestBackup_DrillUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cortex.db")
	bk := filepath.Join(dir, "backups")
	s := e2e.StartServer(t, db, "--backup-dir", bk)
	sessions := e2e.MakeSessions(t, s.Base, 16)
	l := e2e.NewLoad()
	l.StateBytes = 512
	stop := make(chan struct{})
	wg := l.Run(s.Base, 32, sessions, stop)
	var before [][]e2e.Ack
	for i := range 3 {
		time.Sleep(400 * time.Millisecond)
		acked := l.Ledger() // every one of these was answered before the backup was asked for
		e2e.MustDo(t, "POST", s.Base+"/v1/admin/backup", fmt.Sprintf(`{"name":"drill-%d.db"}`, i), 201)
		before = append(before, acked)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, err := range l.Errs {
		t.Fatalf("error under load while backups ran: %v", err)
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	t.Logf("%d appends acknowledged; %d, %d, %d before each backup", len(l.Acks), len(before[0]), len(before[1]), len(before[2]))
	if len(before[0]) == 0 {
		t.Fatal("nothing acknowledged before the first backup")
	}

	for _, i := range []int{2, 0, 1} {
		from := filepath.Join(bk, fmt.Sprintf("drill-%d.db", i))
		if res := integrity(t, from); res != "ok" {
			t.Fatalf("backup %d: integrity_check: %s", i, res)
		}
		code, out := runCortex(t, 60*time.Second, "restore", "--db", db, "--from", from)
		if code != 0 {
			t.Fatalf("restore %s: exit %d\n%s", from, code, out)
		}
		e2e.VerifyAcks(t, db, before[i])
	}
	s = e2e.StartServer(t, db)
	e2e.MustDo(t, "GET", s.Base+"/readyz", "", 200)
	e2e.MustDo(t, "POST", s.Base+"/v1/sessions/"+sessions[0]+"/snapshots", `{"state":"after restore"}`, 201)
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestBackup_ScheduledKeep: with --backup-interval 200ms --backup-keep 3
// under load, after at least five scheduled backups exactly three are
// kept and each passes integrity_check. (Temporary files: see
// TestBackup_NoTemporaryFilesLeft.)
func TestBackup_ScheduledKeep(t *testing.T) {
	dir := t.TempDir()
	bk := filepath.Join(dir, "backups")
	s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--backup-dir", bk, "--backup-interval", "200ms", "--backup-keep", "3")
	sessions := e2e.MakeSessions(t, s.Base, 8)
	l := e2e.NewLoad()
	stop := make(chan struct{})
	wg := l.Run(s.Base, 8, sessions, stop)
	s.WaitLog(t, "scheduled backup", 5, 60*time.Second)
	close(stop)
	wg.Wait()
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if len(l.Errs) > 0 {
		t.Fatalf("errors under load: %v", l.Errs[0])
	}
	entries, err := os.ReadDir(bk)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		kept = append(kept, e.Name())
		if res := integrity(t, filepath.Join(bk, e.Name())); res != "ok" {
			t.Fatalf("%s: integrity_check: %s", e.Name(), res)
		}
	}
	if len(kept) != 3 {
		t.Fatalf("%d backups kept, want 3: %v", len(kept), kept)
	}
}

// TestBackup_NoTemporaryFilesLeft: a finished backup leaves exactly one
// file in the backup folder, the backup.
func TestBackup_NoTemporaryFilesLeft(t *testing.T) {
	dir := t.TempDir()
	bk := filepath.Join(dir, "backups")
	s := e2e.StartServer(t, filepath.Join(dir, "cortex.db"), "--backup-dir", bk)
	e2e.MakeSessions(t, s.Base, 1)
	e2e.MustDo(t, "POST", s.Base+"/v1/admin/backup", `{"name":"one.db"}`, 201)
	entries, err := os.ReadDir(bk)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "one.db" {
		t.Fatalf("backup folder holds %v, want only one.db", names)
	}
}
