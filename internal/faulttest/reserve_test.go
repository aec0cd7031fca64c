package faulttest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
)

// TestDiskReserve_Tmpfs: on a real 16 MiB tmpfs, `cortex serve` keeps a
// disk reserve (5% of the volume: 819 KiB) beside the database. Appends
// fill the disk until one is refused with 507; that releases the reserve,
// so that DELETE of a session and a truncating checkpoint succeed on the
// full disk (without the reserve they answer 507 too, issue 14); health
// says "disk full, reserve in use" until the volume has room again, and
// then the reserve is made again. Mounting needs root (skips without it,
// fails in CI).
func TestDiskReserve_Tmpfs(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	mountTmpfs(t, mnt, 0, "size=16m,mode=0700")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(mnt, "cortex.db")
	reserve := db + ".reserve"
	s := e2e.StartServer(t, db, "--backup-dir", filepath.Join(dir, "backups"), "--wal-limit", "1MiB", "--checkpoint-interval", "100ms")
	if st, err := os.Stat(reserve); err != nil || st.Size() != (16<<20)/20 {
		t.Fatalf("reserve file: %v %v, want %d bytes", st, err, (16<<20)/20)
	}
	sessions := e2e.MakeSessions(t, s.Base, 8)
	client := checkedClient(t, 30*time.Second)

	pad := strings.Repeat("x", 16<<10)
	full := false
	for n := 0; !full; n++ {
		if n > 5000 {
			t.Fatal("5000 appends of 16 KiB fitted on a 16 MiB filesystem")
		}
		st, _, b := post(client, s.Base+"/v1/sessions/"+sessions[n%len(sessions)]+"/snapshots", fmt.Sprintf(`{"state":{"n":%d,"pad":%q}}`, n, pad))
		switch st {
		case http.StatusCreated:
		case http.StatusInsufficientStorage:
			full = true
		default:
			t.Fatalf("append: %d %s", st, b)
		}
	}
	if _, err := os.Stat(reserve); !os.IsNotExist(err) {
		t.Fatalf("after a 507 the reserve is still there: %v", err)
	}
	if _, b := get(client, s.Base+"/v1/admin/health"); !strings.Contains(string(b), "disk full, reserve in use") {
		t.Fatalf("health on a full disk: %s", b)
	}

	// The operator frees room through the API.
	if st, _, b := do(client, "DELETE", s.Base+"/v1/sessions/"+sessions[0]); st != http.StatusNoContent {
		t.Fatalf("DELETE of a session on a full disk: %d %s", st, b)
	}
	if st, _, b := post(client, s.Base+"/v1/admin/checkpoint", `{"mode":"truncate"}`); st != http.StatusOK {
		t.Fatalf("truncating checkpoint on a full disk: %d %s", st, b)
	}

	// Room comes back: the reserve is made again, and health says so.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, b := get(client, s.Base+"/v1/admin/health")
		if strings.Contains(string(b), `"reserve":"in place"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reserve was not made again after room came back: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, err := os.Stat(reserve); err != nil || st.Size() != (16<<20)/20 {
		t.Fatalf("reserve file after room came back: %v %v", st, err)
	}
}

func do(c *http.Client, method, url string) (int, string, []byte) {
	req, _ := http.NewRequest(method, url, nil)
	res, err := c.Do(req)
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res.StatusCode, res.Header.Get("Content-Type"), []byte(b.String())
}
