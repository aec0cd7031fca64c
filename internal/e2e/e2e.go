// Package e2e holds the helpers of the end-to-end tests that build the
// cortex binary, run `cortex serve` on a free port and drive it over HTTP:
// the server, a load of appending clients with the ledger of acknowledged
// appends, and the check that a database file holds every one of them.
//
// Packages that use it call Cleanup from their TestMain to remove the built
// binary.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortex-db/cortex/client"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// Cleanup removes the binary Binary built; call it from TestMain after
// m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Binary builds the cortex binary once per test run and returns its path.
// It skips the test with -short.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "cortex-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "cortex")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/cortex-db/cortex/cmd/cortex").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreeAddr returns a loopback address with a port free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Server is a running `cortex serve`.
type Server struct {
	Cmd  *exec.Cmd
	Base string // http://host:port
	Log  string // the file with its stdout and stderr
	done chan error
}

// StartServer runs cortex serve on db and waits until /healthz answers.
func StartServer(t testing.TB, db string, args ...string) *Server {
	t.Helper()
	bin := Binary(t)
	addr := FreeAddr(t)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--db", db, "--addr", addr, "--log-format", "json"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Cmd: cmd, Base: "http://" + addr, Log: logPath, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(s.Base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cortex serve exited early: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("cortex serve did not answer /healthz within 20s\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait waits for the server to exit and returns its exit code.
func (s *Server) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.Cmd.Process.Kill()
		<-s.done
		b, _ := os.ReadFile(s.Log)
		t.Fatalf("cortex serve did not exit within %v\n%s", timeout, Tail(b, 4000))
	}
	return s.Cmd.ProcessState.ExitCode()
}

// WaitLog waits, at most timeout, until the server's log holds n lines
// whose msg is msg (the server logs JSON); it fails the test otherwise.
func (s *Server) WaitLog(t testing.TB, msg string, n int, timeout time.Duration) {
	t.Helper()
	needle := []byte(`"msg":"` + msg + `"`)
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(s.Log)
		if bytes.Count(b, needle) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d %q log lines after %v\n%s", n, msg, timeout, Tail(b, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Tail returns the last n bytes of b.
func Tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Ack is one acknowledged append.
type Ack struct {
	Session string
	Version int64
	N       int64 // the client's sequence number, in the state
}

// Load runs clients that append until stopped, and keeps the ledger of
// acknowledged appends (201 answers only) and the errors seen.
type Load struct {
	mu     sync.Mutex
	Acks   []Ack
	Errs   []error
	Client *http.Client
	// StateBytes pads each state with this many bytes (0: none).
	StateBytes int
	seq        atomic.Int64
	firstOnce  sync.Once
	first      chan struct{}
}

// FirstAck is closed once the first append has been acknowledged: tests
// wait on it (an event) rather than sleeping for a time that a busy machine
// may not honour.
func (l *Load) FirstAck() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == nil {
		l.first = make(chan struct{})
	}
	return l.first
}

// NewLoad makes a Load with its own HTTP client. Its first 200 exchanges,
// then one in 100, are checked against the OpenAPI document (a mismatch is
// one of the Load's errors, starting "append", as an error answer is):
// they are all appends of one shape, and a check costs about a millisecond
// of CPU (ten under the race detector), which would slow the load itself.
func NewLoad() *Load {
	l := &Load{}
	base := &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 0}
	checked := apitest.Transport(base, func(err error) {
		l.Fail(fmt.Errorf("append: OpenAPI contract: %w", err))
	})
	var n atomic.Int64
	l.Client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if i := n.Add(1); i <= 200 || i%100 == 0 {
				return checked.RoundTrip(r)
			}
			return base.RoundTrip(r)
		}),
	}
	return l
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Run starts clients that append until stop is closed; client i appends to
// session sessions[i%len(sessions)]. They go through the Go client (package
// client) with retries off and no idempotency keys: an append is sent once,
// and acknowledged or not. A client stops at its first transport error
// (the server is going away). Wait on the returned group.
func (l *Load) Run(base string, clients int, sessions []string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	pad := strings.Repeat("p", l.StateBytes)
	c, err := client.New(base, client.WithHTTPClient(l.Client),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithIdempotencyKeys(false))
	if err != nil {
		l.Fail(err)
		return &wg
	}
	for i := range clients {
		wg.Go(func() {
			sid := sessions[i%len(sessions)]
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := l.seq.Add(1)
				st := fmt.Sprintf(`{"client":%d,"n":%d,"pad":%q}`, i, n, pad)
				r, err := c.Append(context.Background(), sid, client.AppendInput{
					State: json.RawMessage(st), Metadata: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
				})
				if err != nil {
					if client.StatusOf(err) == 0 {
						l.Fail(err)
						return // a refused connection: the server is going away
					}
					l.Fail(fmt.Errorf("append: %w", err))
					continue
				}
				l.mu.Lock()
				l.Acks = append(l.Acks, Ack{sid, r.Version, n})
				if l.first == nil {
					l.first = make(chan struct{})
				}
				l.firstOnce.Do(func() { close(l.first) })
				l.mu.Unlock()
			}
		})
	}
	return &wg
}

// Fail records an error.
func (l *Load) Fail(err error) {
	l.mu.Lock()
	l.Errs = append(l.Errs, err)
	l.mu.Unlock()
}

// Ledger returns a copy of the acknowledged appends so far; safe while
// clients run.
func (l *Load) Ledger() []Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Ack(nil), l.Acks...)
}

// Errors returns a copy of the errors so far; safe while clients run.
func (l *Load) Errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.Errs...)
}

// checkedClients are the HTTP clients of Do, one per test, whose every
// request and answer is checked against the OpenAPI document.
var checkedClients sync.Map // testing.TB → *http.Client

// HTTPClient returns an HTTP client for t whose every request and answer
// is checked against the OpenAPI document (internal/apitest): a mismatch
// fails t.
func HTTPClient(t testing.TB) *http.Client {
	if c, ok := checkedClients.Load(t); ok {
		return c.(*http.Client)
	}
	c := &http.Client{Transport: apitest.Transport(nil, func(err error) {
		t.Errorf("OpenAPI contract: %v", err)
	})}
	if prev, loaded := checkedClients.LoadOrStore(t, c); loaded {
		return prev.(*http.Client)
	}
	t.Cleanup(func() { checkedClients.Delete(t) })
	return c
}

// Client returns a Go client (package client) of the server at base for
// t, every exchange checked against the OpenAPI document; opts add to it
// (a token).
func Client(t testing.TB, base string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, append([]client.Option{client.WithHTTPClient(HTTPClient(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Do sends a request (a JSON body when body is not empty) and returns the
// status, the content type and the body; a transport error fails the test.
// The exchange is checked against the OpenAPI document. (It is for the
// requests a test builds by hand, bad ones included; Client is the Go
// client.)
func Do(t testing.TB, method, url, body string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := HTTPClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// MustDo sends a JSON request and fails the test on an unexpected status.
func MustDo(t testing.TB, method, url, body string, want int) []byte {
	t.Helper()
	status, _, b := Do(t, method, url, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, status, b, want)
	}
	return b
}

// MakeSessions creates n sessions load-0 … load-(n-1) through the Go
// client.
func MakeSessions(t testing.TB, base string, n int) []string {
	t.Helper()
	c := Client(t, base)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-%d", i)
		if _, created, err := c.PutSession(context.Background(), ids[i], client.SessionInput{}); err != nil || !created {
			t.Fatalf("create session %s: created %v, %v", ids[i], created, err)
		}
	}
	return ids
}

// VerifyAcks opens the database file directly (after the server is gone)
// and checks that it is intact and holds every acknowledged append, with
// its content, and no gaps.
func VerifyAcks(t testing.TB, dbPath string, acks []Ack) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, dbPath, sqlitestore.Config{})
	if err != nil {
		t.Fatalf("reopen %s: %v", dbPath, err)
	}
	defer st.Close()
	res, err := st.DB().IntegrityCheck(ctx, sqlitedb.IntegrityFull)
	if err != nil || !res.OK {
		t.Fatalf("integrity check: %v %v", err, res.Problems)
	}
	CheckAcks(t, st, acks)
}

// CheckAcks checks that st holds every acknowledged append, with its
// content, no version acknowledged twice, and no gaps, on any engine.
func CheckAcks(t testing.TB, st state.Store, acks []Ack) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]map[int64]bool{}
	for _, a := range acks {
		if seen[a.Session] == nil {
			seen[a.Session] = map[int64]bool{}
		}
		if seen[a.Session][a.Version] {
			t.Fatalf("version %d of %s acknowledged twice", a.Version, a.Session)
		}
		seen[a.Session][a.Version] = true
		snap, err := st.GetSnapshot(ctx, a.Session, a.Version)
		if err != nil {
			t.Fatalf("acknowledged %s version %d is missing: %v", a.Session, a.Version, err)
		}
		var got struct{ N int64 }
		if err := json.Unmarshal(snap.State, &got); err != nil || got.N != a.N {
			t.Fatalf("%s version %d holds %.200s, want n=%d", a.Session, a.Version, snap.State, a.N)
		}
	}
	for sid, vs := range seen {
		sess, err := st.GetSession(ctx, sid)
		if err != nil {
			t.Fatalf("session %s: %v", sid, err)
		}
		if sess.Version < int64(len(vs)) || sess.SnapshotCount != sess.Version {
			t.Fatalf("session %s: version %d, %d snapshots, %d acknowledged: gaps or losses", sid, sess.Version, sess.SnapshotCount, len(vs))
		}
	}
}

// Need ends t when anything in missing (an outside dependency: a browser,
// node, npm packages) is absent: it skips on a developer's machine and
// fails when CI=true, where a missing dependency is a failure.
func Need(t testing.TB, what string, missing []string) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s: missing %s", what, strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Chromium is the headless browser's path ($CHROMIUM, else Debian's).
func Chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// NeedBrowser ends t as Need does when chromium, node or the
// playwright-core package that drives the browser (npm ci in dir, the
// test's own folder) is missing.
func NeedBrowser(t testing.TB, what, dir string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(Chromium()); err != nil {
		missing = append(missing, "chromium (apt-get install chromium)")
	}
	Need(t, what, append(missing, missingNode(dir, []string{"node"}, []string{"playwright-core"})...))
}

// NeedNode ends t as Need does when a program of bins is not on the PATH
// or a package of pkgs (a path under node_modules, as "@scope/name") is
// not installed in the test's own folder, dir (where npm ci installs it).
func NeedNode(t testing.TB, what, dir string, bins []string, pkgs ...string) {
	t.Helper()
	Need(t, what, missingNode(dir, bins, pkgs))
}

func missingNode(dir string, bins, pkgs []string) []string {
	var missing []string
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join("node_modules", filepath.FromSlash(p))); err != nil {
			missing = append(missing, p+" (npm ci in "+dir+")")
		}
	}
	return missing
}
