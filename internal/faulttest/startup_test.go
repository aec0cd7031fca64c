package faulttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/e2e"
)

// makeDB creates a database at db with one session, through a server that
// is then stopped gracefully.
func makeDB(t *testing.T, db string) {
	t.Helper()
	s := e2e.StartServer(t, db)
	e2e.MakeSessions(t, s.Base, 1)
	s.Cmd.Process.Signal(syscall.SIGTERM)
	if code := s.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func wantRefusal(t *testing.T, code int, out string, wants ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0, want a refusal\n%s", out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("exit %d; the message does not say %q:\n%s", code, w, out)
		}
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(out))
}

// TestStartup_ReadOnlyFolder: a database in a folder on a read-only mount
// (a new one, and an existing one whose folder was remounted read-only):
// cortex serve refuses to start with a non-zero exit and a message that
// says what to do, and leaves the file as it was.
func TestStartup_ReadOnlyFolder(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ro")
		mountTmpfs(t, dir, syscall.MS_RDONLY, "size=1m")
		code, out := runCortex(t, 20*time.Second, "serve", "--db", filepath.Join(dir, "cortex.db"), "--addr", e2e.FreeAddr(t))
		wantRefusal(t, code, out, "not writable", "Try:")
	})
	t.Run("Existing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ro")
		mountTmpfs(t, dir, 0, "size=4m")
		db := filepath.Join(dir, "cortex.db")
		makeDB(t, db)
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
		before := fileHash(t, db)
		code, out := runCortex(t, 20*time.Second, "serve", "--db", db, "--addr", e2e.FreeAddr(t))
		wantRefusal(t, code, out, "Try:")
		if fileHash(t, db) != before {
			t.Fatal("the database changed")
		}
	})
}

// TestStartup_MissingFolder: a --db in folders that do not exist yet: they
// are created (0700) and the server serves.
func TestStartup_MissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	db := filepath.Join(dir, "cortex.db")
	s := e2e.StartServer(t, db)
	sid := e2e.MakeSessions(t, s.Base, 1)[0]
	e2e.MustDo(t, "POST", s.Base+"/v1/sessions/"+sid+"/snapshots", `{"state":1}`, 201)
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("folder %s: %v %v, want it created 0700", dir, st.Mode(), err)
	}
}

// TestStartup_PermissionDenied runs cortex serve as an unprivileged user
// (uid 65534, "nobody") on a database file owned by root that it may not
// read (0600), in a folder it may write: refused at start, non-zero exit,
// with a message that says what to do, the file left as it was. Switching
// user needs root: the test skips loudly without it, and fails in CI.
func TestStartup_PermissionDenied(t *testing.T) {
	code, out, changed := serveAsNobody(t, 0o600)
	wantRefusal(t, code, out, "permission", "Try:")
	if changed {
		t.Fatal("the database changed")
	}
}

// TestStartup_ReadOnlyFile: the same with a file it may read but not write
// (0644): it must be refused at start too, not served with every write
// failing.
func TestStartup_ReadOnlyFile(t *testing.T) {
	code, out, changed := serveAsNobody(t, 0o644)
	wantRefusal(t, code, out, "Try:")
	if changed {
		t.Fatal("the database changed")
	}
}

// serveAsNobody makes a database owned by root with mode in a
// world-writable folder, runs cortex serve on it as uid 65534, and returns
// its exit code and output and whether the file changed. A server that
// serves instead of refusing fails the test after 20 s.
func serveAsNobody(t *testing.T, mode os.FileMode) (int, string, bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "running as uid " + itoa(os.Geteuid()) + ": root is needed to run the server as another user (as root, permission bits do not apply)"
		if inCI() {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip("!!! SKIPPED: " + msg)
	}
	// A world-readable copy of the binary and a world-writable folder,
	// so that only the file's own permissions stand in the way.
	pub, err := os.MkdirTemp("", "cortex-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	os.Chmod(pub, 0o755)
	bin := filepath.Join(pub, "cortex")
	b, err := os.ReadFile(e2e.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(pub, "db")
	db := filepath.Join(dir, "cortex.db")
	makeDB(t, db)
	os.Chmod(dir, 0o777)
	os.Chmod(db, mode)
	before := fileHash(t, db)
	cmd := exec.Command(bin, "serve", "--db", db, "--addr", e2e.FreeAddr(t), "--backup-dir", filepath.Join(pub, "bk"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = pub
	code, out := runCmd(t, cmd, 20*time.Second)
	return code, out, fileHash(t, db) != before
}

func itoa(n int) string { return fmtInt(n) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// The network-filesystem refusal (statfs type NFS, SMB/CIFS, FUSE, …) cannot
// be shown end to end here: no network filesystem can be mounted in the
// test environment (no NFS server, no FUSE program). It is proven in
// sqlitedb (TestOpen_NetworkFS in internal_test.go replaces the statfs
// hook), and cmd/cortex's openAdvice adds "Try: move the database to a
// local disk (or --allow-network-fs, unsafe)".
