// Package browsertest runs a session's event stream in a real browser:
// headless Debian chromium, driven by playwright-core from npm (run.mjs),
// opens a page of the test's server and reports the snapshot events it
// receives, across a forced reconnect. Set up with `apt-get install
// chromium` and `npm ci` in this folder; without them the test skips, or
// fails when CI=true.
package browsertest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

//go:embed page.html
var page string

// need skips (or, with CI=true, fails) when the browser or the npm
// packages are missing.
func need(t *testing.T) {
	t.Helper()
	e2e.NeedBrowser(t, "browser test", "internal/browsertest")
}

// browser is a page in chromium and the lines it reports.
type browser struct {
	t     *testing.T
	lines chan string
	stdin io.WriteCloser
}

// open starts run.mjs on url.
func open(t *testing.T, url string) *browser {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "run.mjs", url)
	cmd.Env = append(os.Environ(), "CHROMIUM="+e2e.Chromium())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	b := &browser{t: t, lines: make(chan string, 100), stdin: stdin}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	t.Cleanup(func() {
		stdin.Close() // run.mjs closes the browser and exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cancel() // kills this node process only
			<-done
		}
		cancel()
	})
	return b
}

// expect waits for the page to report line ("PAGE " + line), failing on
// another snapshot line first.
func (b *browser) expect(line string) {
	b.t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				b.t.Fatalf("the browser ended before reporting %q", line)
			}
			b.t.Logf("browser: %s", l)
			if l == "PAGE "+line {
				return
			}
			if strings.HasPrefix(l, "PAGE snapshot") || strings.HasPrefix(l, "PAGE error") || strings.HasPrefix(l, "PAGE status") {
				b.t.Fatalf("browser reported %q while waiting for %q", l, line)
			}
		case <-deadline:
			b.t.Fatalf("the browser did not report %q", line)
		}
	}
}

// server serves the API and, at /page, the test page with cfg.
func server(t *testing.T, token string, cfg map[string]string) (*httptest.Server, state.Store) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "cortex.db"), sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api, err := httpapi.New(httpapi.Config{Store: st, APIToken: token})
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(cfg)
	html := strings.Replace(page, "<!--CONFIG-->", "<script>window.CORTEX = "+string(cj)+";</script>", 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	})
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(api.CloseStreams)
	return srv, st
}

func appendOne(t *testing.T, st state.Store, v int) {
	t.Helper()
	r, err := st.AppendSnapshot(context.Background(), "s", state.AppendInput{State: json.RawMessage(fmt.Sprint(v))})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != int64(v) {
		t.Fatalf("append made version %d, want %d", r.Version, v)
	}
}

// run is the scenario of both modes: live appends, then a forced
// reconnect with an append made while the page is cut off, which it must
// get from the history, once.
func run(t *testing.T, srv *httptest.Server, st state.Store) {
	if _, err := st.CreateSession(context.Background(), state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	appendOne(t, st, 1)
	b := open(t, srv.URL+"/page")
	b.expect("snapshot 1 1")
	appendOne(t, st, 2)
	b.expect("snapshot 2 2")
	srv.CloseClientConnections() // the forced reconnect
	appendOne(t, st, 3)          // while the page may be cut off
	b.expect("reconnecting ")
	b.expect("snapshot 3 3")
	appendOne(t, st, 4)
	b.expect("snapshot 4 4")
}

func TestBrowser_EventSource(t *testing.T) {
	need(t)
	srv, st := server(t, "", map[string]string{"session": "s", "mode": "eventsource"})
	run(t, srv, st)
}

func TestBrowser_FetchWithToken(t *testing.T) {
	need(t)
	const token = "browser-test-token-0123456789"
	srv, st := server(t, token, map[string]string{"session": "s", "mode": "fetch", "token": token})
	// Without the token the stream is refused: the page's header is what
	// lets it in.
	res, err := http.Get(srv.URL + "/v1/sessions/s/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events without a token: %d", res.StatusCode)
	}
	run(t, srv, st)
}
