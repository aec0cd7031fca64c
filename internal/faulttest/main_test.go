package faulttest

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/internal/e2e"
	_ "github.com/cortex-db/cortex/sqlitedb" // registers the "sqlite" driver
)

var (
	soak        = flag.Bool("soak", false, "run the long versions: more crash rounds, the soak")
	soakMinutes = flag.Float64("soak.minutes", 10, "length of TestSoak in minutes (with -soak)")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}

// newRand returns a seeded generator and logs the seed, so a failing round
// can be replayed with FAULTTEST_SEED.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTTEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FAULTTEST_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with FAULTTEST_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// fileHash returns the SHA-256 of a file, or "" when it does not exist.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// integrity runs PRAGMA integrity_check on a database file, read-only and
// immutable (nothing is written, no -wal or -shm is created), and returns
// its first line: "ok" for a sound file.
func integrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sqlOpenRO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		return "error: " + err.Error()
	}
	return res
}

// copyFile copies src to dst; a missing src is not an error.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshotFiles copies a database and its -wal (not the -shm, which a
// reopening process rebuilds) into a new folder, and returns the copy's
// path: the files as a crash left them, to check without touching the
// originals.
func snapshotFiles(t *testing.T, db string) string {
	t.Helper()
	dir := t.TempDir()
	dst := filepath.Join(dir, filepath.Base(db))
	copyFile(t, db, dst)
	copyFile(t, db+"-wal", dst+"-wal")
	return dst
}

// runCortex runs the cortex binary to its end with a timeout and returns
// its exit code and combined output.
func runCortex(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	return runCmd(t, exec.Command(e2e.Binary(t), args...), timeout)
}

func runCmd(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (int, string) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %v (it should refuse to start)\n%s", cmd.Args, timeout, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// get sends a GET and returns the status and body; a transport error is
// status 0 with the error as body.
func get(c *http.Client, url string) (int, []byte) {
	res, err := c.Get(url)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// post sends a JSON POST and returns the status, content type and body.
func post(c *http.Client, url, body string) (int, string, []byte) {
	res, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// inCI reports whether the run is CI's, where a fault that cannot be set up
// is a failure instead of a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// mountTmpfs mounts a tmpfs with opts at dir (created) and unmounts it at
// cleanup. It skips the test, loudly, when mounting fails outside CI, and
// fails it in CI.
func mountTmpfs(t *testing.T, dir string, flags uintptr, opts string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mount(dir, flags, opts); err != nil {
		msg := "cannot mount a tmpfs at " + dir + " (" + err.Error() + "; mounting needs root or CAP_SYS_ADMIN)"
		if inCI() {
			t.Fatalf("CI=true: %s: this fault test must run in CI", msg)
		}
		t.Skipf("!!! SKIPPED: %s", msg)
	}
	t.Cleanup(func() { unmount(t, dir) })
}

// execServe prepares `cortex serve` on db and addr (not started).
func execServe(t *testing.T, db, addr string, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(e2e.Binary(t), append([]string{"serve", "--db", db, "--addr", addr}, args...)...)
}

// sqlOpenRO opens a database file read-only and immutable: nothing is
// written, no -wal or -shm is created or read.
func sqlOpenRO(path string) (*sql.DB, error) {
	return sql.Open("sqlite3", "file:"+path+"?mode=ro&immutable=1")
}

// checkedClient is an HTTP client whose every exchange is checked against
// the OpenAPI document (internal/apitest): a fault must still be answered
// as the contract says (a documented status, a problem document).
func checkedClient(t *testing.T, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: apitest.Transport(nil, func(err error) {
		t.Errorf("OpenAPI contract: %v", err)
	})}
}
