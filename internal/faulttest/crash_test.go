package faulttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
)

// TestCrash_SIGKILLRounds kills `cortex serve` with SIGKILL under HTTP load
// (32 appending clients), round after round on the same database, at a
// random moment: in a third of the rounds while a TRUNCATE checkpoint
// (POST /v1/admin/checkpoint) is in flight, in another third while a
// backup (POST /v1/admin/backup) is. After each kill the files as the crash
// left them open, pass integrity_check, and hold every append acknowledged
// (201) in every round so far; every backup file that exists passes
// integrity_check too. The next round's server recovers the WAL itself.
// 10 rounds; 50 with -soak.
func TestCrash_SIGKILLRounds(t *testing.T) {
	rounds := 10
	if *soak {
		rounds = 50
	}
	rng := newRand(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cortex.db")
	backups := filepath.Join(dir, "backups")
	var ledger []e2e.Ack
	var sessions []string
	client := &http.Client{Timeout: 30 * time.Second}
	var inFlight = map[string]int{}
	checkedBackups := 0
	for round := range rounds {
		s := e2e.StartServer(t, db, "--backup-dir", backups, "--checkpoint-interval", "200ms", "--wal-autocheckpoint", "500")
		if round == 0 {
			sessions = e2e.MakeSessions(t, s.Base, 16)
		}
		l := e2e.NewLoad()
		l.StateBytes = 512
		stop := make(chan struct{})
		wg := l.Run(s.Base, 32, sessions, stop)
		// The first acknowledged append (an event, however slow the
		// machine), then a random while longer.
		select {
		case <-l.FirstAck():
		case <-time.After(2 * time.Minute):
			t.Fatalf("round %d: no append acknowledged in 2 minutes: %v", round, l.Errors())
		}
		time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)

		kind := []string{"plain", "checkpoint", "backup"}[round%3]
		answered := make(chan string, 1)
		answer := "" // the admin call's answer, when it came before the kill
		backupName := fmt.Sprintf("round-%d.db", round)
		switch kind {
		case "checkpoint":
			go func() {
				st, _, b := post(client, s.Base+"/v1/admin/checkpoint", `{"mode":"truncate"}`)
				answered <- fmt.Sprintf("%d %.100s", st, b)
			}()
		case "backup":
			go func() {
				st, _, b := post(client, s.Base+"/v1/admin/backup", `{"name":"`+backupName+`"}`)
				answered <- fmt.Sprintf("%d %.100s", st, b)
			}()
			// A backup of a database this size takes longer than the
			// random delay below: every other backup round waits for its
			// answer, the others until its temporary file is being
			// written, so that both a finished backup and one cut short
			// are there to check.
			if round/3%2 == 1 {
				answer = <-answered
			} else {
				answer = waitForTemp(t, backups, backupName, answered)
			}
		}
		if kind != "plain" {
			time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		}
		if err := s.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.Wait(t, 30*time.Second)
		close(stop)
		wg.Wait()
		outcome := "killed in flight"
		if kind != "plain" {
			a := answer
			if a == "" {
				a = <-answered
			}
			if strings.HasPrefix(a, "200 ") || strings.HasPrefix(a, "201 ") {
				outcome = "answered before the kill"
				if kind == "backup" {
					if _, err := os.Stat(filepath.Join(backups, backupName)); err != nil {
						t.Fatalf("round %d: backup answered %s but its file is missing: %v", round, a, err)
					}
				}
			} else if !strings.HasPrefix(a, "0 ") {
				t.Fatalf("round %d: %s answered %s", round, kind, a)
			}
			inFlight[kind+": "+outcome]++
		}
		for _, err := range l.Errs {
			if strings.HasPrefix(err.Error(), "append") {
				t.Fatalf("round %d: an error answer under load, before the kill: %v", round, err)
			}
		}
		if len(l.Acks) == 0 {
			t.Fatalf("round %d: no append acknowledged before the kill", round)
		}
		ledger = append(ledger, l.Acks...)
		t.Logf("round %d (%s, %s): %d acknowledged, %d in all; WAL %d bytes at the kill", round, kind, outcome, len(l.Acks), len(ledger), fileSize(db+"-wal"))

		// The files as the crash left them: open, intact, this round's
		// acknowledged appends there with their content, and no session
		// with a gap (so the earlier rounds' versions are there too; their
		// content is checked once more at the end).
		e2e.VerifyAcks(t, snapshotFiles(t, db), l.Acks)
		entries, _ := os.ReadDir(backups)
		checkedBackups = 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue // a temporary file of a backup the kill interrupted
			}
			if res := integrity(t, filepath.Join(backups, e.Name())); res != "ok" {
				t.Fatalf("round %d: backup %s: integrity_check: %s", round, e.Name(), res)
			}
			checkedBackups++
		}
	}
	t.Logf("checkpoints and backups at the kill: %v; %d backup files checked", inFlight, checkedBackups)
	if inFlight["backup: answered before the kill"] == 0 || checkedBackups == 0 {
		t.Fatalf("no backup finished before a kill (%v): the backup checks ran on nothing", inFlight)
	}
	// And the database itself, after the last crash.
	e2e.VerifyAcks(t, db, ledger)
	// A server starts on it once more and serves every session.
	s := e2e.StartServer(t, db)
	for _, sid := range sessions {
		var sess struct{ Version int64 }
		if err := json.Unmarshal(e2e.MustDo(t, "GET", s.Base+"/v1/sessions/"+sid, "", 200), &sess); err != nil {
			t.Fatal(err)
		}
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// waitForTemp waits until the temporary file of the backup name is in
// dir, or the backup answered (its answer is returned then), at most 10 s.
func waitForTemp(t *testing.T, dir, name string, answered <-chan string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case a := <-answered:
			return a
		case <-time.After(time.Millisecond):
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "."+name+".tmp-") {
				return ""
			}
		}
	}
	t.Fatalf("backup %s: no temporary file in %s after 10 s, and no answer", name, dir)
	return ""
}
