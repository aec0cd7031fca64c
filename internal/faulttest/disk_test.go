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

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/state"
)

// TestFullDisk_Tmpfs runs `cortex serve` with its database on a real 8 MiB
// tmpfs that also holds a 2 MiB filler file, and appends until the
// filesystem is full: appends then fail with 507 (or 503) problem+json and
// nothing else, nothing acknowledged is lost, reads keep working; once the
// filler is deleted, appends succeed again without a restart; a graceful
// stop exits 0 and the database holds every acknowledged append. Mounting
// needs root: the test skips loudly without it, and fails in CI.
func TestFullDisk_Tmpfs(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	mountTmpfs(t, mnt, 0, "size=8m,mode=0700")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(mnt, "cortex.db")
	s := e2e.StartServer(t, db, "--backup-dir", filepath.Join(dir, "backups"), "--wal-limit", "1MiB", "--checkpoint-interval", "100ms")
	sessions := e2e.MakeSessions(t, s.Base, 4)
	client := checkedClient(t, 30*time.Second)

	// Append 16 KiB states, one client per session, until the disk is full.
	pad := strings.Repeat("x", 16<<10)
	var ledger []e2e.Ack
	var full []string // the refusals seen
	n := int64(0)
	for len(full) < 20 {
		if n > 5000 {
			t.Fatalf("%d appends of 16 KiB fitted on an 8 MiB filesystem", n)
		}
		sid := sessions[n%int64(len(sessions))]
		n++
		st, ct, b := post(client, s.Base+"/v1/sessions/"+sid+"/snapshots", fmt.Sprintf(`{"state":{"n":%d,"pad":%q}}`, n, pad))
		switch st {
		case http.StatusCreated:
			var r state.AppendResult
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			ledger = append(ledger, e2e.Ack{Session: sid, Version: r.Version, N: n})
		case http.StatusInsufficientStorage, http.StatusServiceUnavailable:
			var p httpapi.Problem
			if ct != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Status != st || p.Detail == "" {
				t.Fatalf("disk full answered %d %q %s, want a problem+json document with a detail", st, ct, b)
			}
			full = append(full, fmt.Sprintf("%d %s", st, p.Title))
		default:
			t.Fatalf("append on a full disk answered %d %s, want 201, 507 or 503", st, b)
		}
	}
	if len(ledger) == 0 {
		t.Fatal("nothing acknowledged before the disk filled up")
	}
	t.Logf("%d appends acknowledged, then refusals: %v", len(ledger), full[:3])
	var df syscall.Statfs_t
	syscall.Statfs(mnt, &df)
	t.Logf("free on the tmpfs: %d bytes; database %d, WAL %d bytes", df.Bavail*uint64(df.Bsize), fileSize(db), fileSize(db+"-wal"))

	// Reads keep working, and answer the last acknowledged version.
	last := map[string]int64{}
	for _, a := range ledger {
		last[a.Session] = max(last[a.Session], a.Version)
	}
	for sid, v := range last {
		var snap state.Snapshot
		if err := json.Unmarshal(e2e.MustDo(t, "GET", s.Base+"/v1/sessions/"+sid+"/snapshots/latest", "", 200), &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Version != v {
			t.Fatalf("latest of %s on a full disk is version %d, want %d", sid, snap.Version, v)
		}
		e2e.MustDo(t, "GET", s.Base+"/v1/sessions/"+sid+"/snapshots?limit=5", "", 200)
	}
	e2e.MustDo(t, "GET", s.Base+"/v1/sessions?limit=10", "", 200)
	st, body := get(client, s.Base+"/readyz")
	t.Logf("/readyz on a full disk: %d %.300s", st, body)

	// Free space: writes succeed again, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var recovered int
	for i := range 200 {
		sid := sessions[i%len(sessions)]
		n++
		st, _, b := post(client, s.Base+"/v1/sessions/"+sid+"/snapshots", fmt.Sprintf(`{"state":{"n":%d,"pad":"after"}}`, n))
		if st == http.StatusCreated {
			var r state.AppendResult
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			ledger = append(ledger, e2e.Ack{Session: sid, Version: r.Version, N: n})
			recovered++
			if recovered == 20 {
				break
			}
			continue
		}
		if recovered > 0 {
			t.Fatalf("after space was freed and appends succeeded, one failed: %d %s", st, b)
		}
		t.Logf("append %d after freeing space: %d %.200s", i, st, b)
		time.Sleep(50 * time.Millisecond) // a checkpoint may be needed to reuse the space
	}
	if recovered < 20 {
		b, _ := os.ReadFile(s.Log)
		t.Fatalf("appends still fail after space was freed, without a restart\n%s", e2e.Tail(b, 3000))
	}
	if st, body := get(client, s.Base+"/readyz"); st != 200 {
		t.Fatalf("/readyz after space was freed: %d %s", st, body)
	}

	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		b, _ := os.ReadFile(s.Log)
		t.Fatalf("exit %d after SIGTERM\n%s", code, e2e.Tail(b, 3000))
	}
	e2e.VerifyAcks(t, db, ledger)
}
