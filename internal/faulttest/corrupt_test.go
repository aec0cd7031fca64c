package faulttest

import (
	"bytes"
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
	"github.com/cortex-db/cortex/state"
)

// populate runs `cortex serve` on a new database at db, appends from 8
// clients for a moment, stops the server gracefully (its final checkpoint
// moves everything into the database file) and returns the ledger.
func populate(t *testing.T, db string) []e2e.Ack {
	t.Helper()
	s := e2e.StartServer(t, db)
	sessions := e2e.MakeSessions(t, s.Base, 8)
	l := e2e.NewLoad()
	l.StateBytes = 1024
	stop := make(chan struct{})
	wg := l.Run(s.Base, 8, sessions, stop)
	for len(l.Ledger()) < 1500 && len(l.Errors()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(l.Errs) > 0 {
		t.Fatalf("populate: %v", l.Errs[0])
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("populate: exit %d", code)
	}
	return l.Acks
}

// startOrRefuse runs `cortex serve` on db. When it refuses to start it
// returns nil and its output; when it serves, the running server (killed
// at cleanup).
func startOrRefuse(t *testing.T, db string) (*e2e.Server, string) {
	t.Helper()
	addr := e2e.FreeAddr(t)
	cmd := execServe(t, db, addr)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			out, _ := os.ReadFile(logPath)
			if cmd.ProcessState.ExitCode() == 0 {
				t.Fatalf("cortex serve exited 0 without serving\n%s", out)
			}
			return nil, string(out)
		default:
		}
		if st, _ := get(http.DefaultClient, "http://"+addr+"/healthz"); st == 200 {
			t.Cleanup(func() { cmd.Process.Kill(); <-done })
			return &e2e.Server{Cmd: cmd, Base: "http://" + addr, Log: logPath}, ""
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatal("cortex serve neither served nor exited within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAll reads every acknowledged session's latest snapshot and each
// acknowledged version: each answer is either right (200 with the content
// acknowledged) or an error (5xx problem), never wrong data. It returns the
// count of error answers.
func readAll(t *testing.T, base string, acks []e2e.Ack) (errorsSeen int) {
	t.Helper()
	c := checkedClient(t, 10*time.Second)
	for i, a := range acks {
		if i%7 != 0 { // a sample keeps it quick under -race
			continue
		}
		st, b := get(c, fmt.Sprintf("%s/v1/sessions/%s/snapshots/%d", base, a.Session, a.Version))
		switch {
		case st == 200:
			var snap state.Snapshot
			var got struct{ N int64 }
			if json.Unmarshal(b, &snap) != nil || json.Unmarshal(snap.State, &got) != nil || got.N != a.N {
				t.Fatalf("damaged database served wrong data for %s v%d: %.200s", a.Session, a.Version, b)
			}
		case st >= 500:
			if errorsSeen == 0 {
				t.Logf("first failed read: %d %.300s", st, b)
			}
			errorsSeen++
		default:
			t.Fatalf("damaged database answered %d for acknowledged %s v%d: %.300s", st, a.Session, a.Version, b)
		}
	}
	return errorsSeen
}

// damage overwrites n pages of the file from page first (1-based, 4 KiB
// pages) with noise whose first byte is not a valid b-tree page type.
func damage(t *testing.T, path string, first, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	noise := bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 4096*n/4)
	if _, err := f.WriteAt(noise, int64(first-1)*4096); err != nil {
		t.Fatal(err)
	}
}

// refusedUntouched checks a refusal at start: it says to restore, and the
// database file still has the hash it had before.
func refusedUntouched(t *testing.T, db, out, before string) {
	t.Helper()
	t.Logf("refused: %s", out)
	checkRefusal(t, out, "restore")
	if fileHash(t, db) != before {
		t.Fatal("the refused database file was changed")
	}
}

func checkRefusal(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("refusal does not say %q:\n%s", w, out)
		}
	}
}

// TestCorrupt_DamagedPages: pages in the middle of the database are
// overwritten with noise. cortex serve either refuses to start (file
// untouched) or serves, and then never answers wrong data: reads of the
// damaged pages fail with 5xx, the integrity check reports 503, and
// /readyz turns 503 from then on.
func TestCorrupt_DamagedPages(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	acks := populate(t, db)
	pages := int(fileSize(db) / 4096)
	damage(t, db, pages/2, 8)
	refusedOrNoWrongData(t, db, acks, "damaged")
}

// TestCorrupt_Truncated: the database file cut to half its size.
func TestCorrupt_Truncated(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	acks := populate(t, db)
	if err := os.Truncate(db, fileSize(db)/2); err != nil {
		t.Fatal(err)
	}
	refusedOrNoWrongData(t, db, acks, "truncated")
}

// refusedOrNoWrongData starts cortex serve on the damaged database db
// (what says how it is damaged). It either refuses, leaving the file
// untouched, or serves: then reads of acks may fail but never answer wrong
// data (readAll), the integrity check answers 503 saying to restore, and
// /readyz is 503 from then on.
func refusedOrNoWrongData(t *testing.T, db string, acks []e2e.Ack, what string) {
	t.Helper()
	before := fileHash(t, db)
	s, out := startOrRefuse(t, db)
	if s == nil {
		refusedUntouched(t, db, out, before)
		return
	}
	c := checkedClient(t, 10*time.Second)
	st, body := get(c, s.Base+"/readyz")
	t.Logf("/readyz at start: %d %.300s", st, body)
	errs := readAll(t, s.Base, acks)
	t.Logf("%d of the sampled reads failed", errs)
	st, body = get(c, s.Base+"/readyz")
	t.Logf("/readyz after failed reads: %d %.300s", st, body)
	// An integrity job (health runs none): it finds the damage, and
	// health then answers 503 saying to restore.
	st, _, body = post(c, s.Base+"/v1/admin/integrity", `{"mode":"quick"}`)
	var job struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &job); st != 202 || err != nil {
		t.Fatalf("integrity job on a %s database: %d %s", what, st, body)
	}
	for job.State == "running" { // the job's end is the event waited for
		time.Sleep(10 * time.Millisecond)
		_, body = get(c, s.Base+"/v1/admin/integrity/"+job.ID)
		json.Unmarshal(body, &job)
	}
	t.Logf("integrity job on a %s database: %.300s", what, body)
	st, body = get(c, s.Base+"/v1/admin/health")
	if st != 503 || !strings.Contains(string(body), "restore") {
		t.Fatalf("health after an integrity job on a %s database: %d %s, want 503 saying to restore", what, st, body)
	}
	if st, body = get(c, s.Base+"/readyz"); st != 503 {
		t.Fatalf("/readyz after a failed integrity check: %d %s, want 503", st, body)
	}
}

// TestCorrupt_ForeignFile: a file that is not a SQLite database at --db is
// refused at start, with advice, and left byte for byte as it was; no -wal
// or -shm appears beside it.
func TestCorrupt_ForeignFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	if err := os.WriteFile(db, bytes.Repeat([]byte("my precious spreadsheet\n"), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, db)
	code, out := runCortex(t, 20*time.Second, "serve", "--db", db, "--addr", e2e.FreeAddr(t))
	if code == 0 {
		t.Fatalf("exit 0 on a foreign file\n%s", out)
	}
	checkRefusal(t, out, "not a SQLite database", "untouched", "Try:")
	if fileHash(t, db) != before {
		t.Fatal("the foreign file was changed")
	}
	for _, ext := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(db + ext); err == nil {
			t.Fatalf("%s%s was created beside a foreign file", db, ext)
		}
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(out))
}

// TestCorrupt_DamagedPagesReadyz: once a read has met a damaged page,
// /readyz must say so (503), so a load balancer stops sending traffic to a
// server that answers errors, without waiting for someone to run an
// integrity check.
func TestCorrupt_DamagedPagesReadyz(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cortex.db")
	acks := populate(t, db)
	damage(t, db, int(fileSize(db)/4096)/2, 8)
	s, out := startOrRefuse(t, db)
	if s == nil {
		checkRefusal(t, out, "restore")
		return
	}
	if readAll(t, s.Base, acks) == 0 {
		t.Fatal("no read met the damage")
	}
	if st, body := get(http.DefaultClient, s.Base+"/readyz"); st != 503 {
		t.Fatalf("/readyz after reads failed on damaged pages: %d %.300s, want 503", st, body)
	}
}

// TestCorrupt_DamagedWAL: a -wal file with a flipped byte in the middle of
// its frames, as a crash left it. SQLite's recovery would stop at the first
// bad frame and silently drop every later commit, so cortex serve refuses
// to start, files untouched, saying to restore a backup or to accept the
// loss with --accept-wal-loss. With that flag the server starts, the
// database passes integrity_check, and it holds exactly the appends
// committed before the damaged frame, in order, with no gaps.
func TestCorrupt_DamagedWAL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cortex.db")
	// No checkpoints: every commit stays in the WAL until the kill.
	s := e2e.StartServer(t, db, "--wal-autocheckpoint", "0", "--checkpoint-interval", "0")
	sessions := e2e.MakeSessions(t, s.Base, 4)
	c := checkedClient(t, 10*time.Second)
	var ledger []e2e.Ack // in commit order: one client, one append at a time
	for n := int64(1); n <= 400; n++ {
		sid := sessions[n%4]
		st, _, b := post(c, s.Base+"/v1/sessions/"+sid+"/snapshots", fmt.Sprintf(`{"state":{"n":%d,"pad":%q}}`, n, strings.Repeat("w", 2000)))
		if st != 201 {
			t.Fatalf("append: %d %s", st, b)
		}
		var r state.AppendResult
		json.Unmarshal(b, &r)
		ledger = append(ledger, e2e.Ack{Session: sid, Version: r.Version, N: n})
	}
	s.Cmd.Process.Signal(syscall.SIGKILL)
	s.Wait(t, 30*time.Second)

	wal := db + "-wal"
	size := fileSize(wal)
	const pageSize, frameHeader, walHeader = 4096, 24, 32
	frames := (size - walHeader) / (pageSize + frameHeader)
	if frames < 100 {
		t.Fatalf("WAL has %d frames, want the whole run in it", frames)
	}
	// Flip a byte in the page data of the middle frame.
	bad := frames / 2
	off := walHeader + bad*(pageSize+frameHeader) + frameHeader + 100
	f, err := os.OpenFile(wal, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	f.ReadAt(one[:], off)
	one[0] ^= 0xFF
	f.WriteAt(one[:], off)
	f.Close()
	os.Remove(db + "-shm") // as after a reboot: the index is rebuilt from the WAL

	walBefore, dbBefore := fileHash(t, wal), fileHash(t, db)
	if s, out := startOrRefuse(t, db); s != nil {
		t.Fatal("cortex serve started on a WAL whose recovery drops acknowledged commits")
	} else {
		checkRefusal(t, out, "damaged frame", "restore", "--accept-wal-loss")
	}
	if fileHash(t, wal) != walBefore || fileHash(t, db) != dbBefore {
		t.Fatal("the refused database or its -wal was changed")
	}

	s = e2e.StartServer(t, db, "--accept-wal-loss")
	if st, body := get(c, s.Base+"/readyz"); st != 200 {
		t.Fatalf("/readyz after recovery from a damaged WAL: %d %s", st, body)
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if res := integrity(t, db); res != "ok" {
		t.Fatalf("integrity_check after recovery from a damaged WAL: %s", res)
	}
	// A prefix of the commits survives: find the first lost append; every
	// later one is lost too.
	kept := 0
	for kept < len(ledger) && present(t, db, ledger[kept]) {
		kept++
	}
	for _, a := range ledger[kept:] {
		if present(t, db, a) {
			t.Fatalf("append n=%d survived after the lost n=%d: not a prefix", a.N, ledger[kept].N)
		}
	}
	e2e.VerifyAcks(t, db, ledger[:kept]) // content, integrity, no gaps
	if kept == 0 {
		// The damage is mid-WAL: the commits before it must be there.
		t.Fatal("no acknowledged append found, not even before the damaged frame (does present still read the schema right?)")
	}
	if kept == len(ledger) {
		t.Fatal("no commit was lost: the damaged frame was not read")
	}
	t.Logf("WAL of %d frames damaged at frame %d: the first %d of %d acknowledged appends survive, the last %d are lost, silently", frames, bad, kept, len(ledger), len(ledger)-kept)
}

// present reports whether an acknowledged append is in the database file.
func present(t *testing.T, db string, a e2e.Ack) bool {
	t.Helper()
	h, err := sqlOpenRO(db)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var st string
	err = h.QueryRow("SELECT state FROM state_snapshots WHERE session_id = (SELECT sid FROM sessions WHERE id = ?) AND version = ?", a.Session, a.Version).Scan(&st)
	if err != nil {
		return false
	}
	var got struct{ N int64 }
	return json.Unmarshal([]byte(st), &got) == nil && got.N == a.N
}
