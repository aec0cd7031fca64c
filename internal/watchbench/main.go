// Command watchbench measures watching and searching for BENCHMARKS.md:
//
//	go run ./internal/watchbench -what latency -watchers 1,100,10000
//	go run ./internal/watchbench -what throughput -watchers 1000
//	go run ./internal/watchbench -what search -sessions 1000000
//	go run ./internal/watchbench -what pg-latency -watchers 100   (needs CORTEX_TEST_POSTGRES_URL)
//
// The server (httpapi on a real store) runs in this process; the watchers
// are SSE clients in a child process (this binary with -role clients),
// which reports each event's delay from the snapshot's created_at (same
// machine, same clock) to its arrival.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

var bg = context.Background()

func main() {
	role := flag.String("role", "bench", "bench, or clients (internal)")
	what := flag.String("what", "latency", "latency | throughput | search | pg-latency")
	watchers := flag.String("watchers", "1,100,10000", "watcher counts")
	appends := flag.Int("appends", 50, "appends per latency run")
	sessions := flag.Int("sessions", 1000000, "sessions for the search benchmark")
	url := flag.String("url", "", "clients: server URL")
	n := flag.Int("n", 1, "clients: streams")
	session := flag.String("session", "s", "clients: session id (%d: one per stream)")
	flag.Parse()
	raiseNoFile()
	var err error
	switch *role {
	case "clients":
		err = clients(*url, *n, *session)
	default:
		switch *what {
		case "latency":
			err = latency(*watchers, *appends)
		case "throughput":
			err = throughput(*watchers)
		case "search":
			err = search(*sessions)
		case "pg-latency":
			err = pgLatency(*watchers, *appends)
		default:
			err = fmt.Errorf("unknown -what %q", *what)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchbench:", err)
		os.Exit(1)
	}
}

func raiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// clients opens n event streams and prints, per snapshot event, its delay
// in µs; "open" once all are open.
func clients(url string, n int, session string) error {
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n, DisableCompression: true}
	cl := &http.Client{Transport: tr}
	out := make(chan int64, 100000)
	var opened sync.WaitGroup
	opened.Add(n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		id := session
		if strings.Contains(session, "%d") {
			id = fmt.Sprintf(session, i)
		}
		go func() {
			res, err := cl.Get(url + "/v1/sessions/" + id + "/events")
			if err != nil {
				errs <- err
				opened.Done()
				return
			}
			defer res.Body.Close()
			rd := bufio.NewReaderSize(res.Body, 1024)
			first := true
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if first && strings.HasPrefix(line, "event: session") {
					first = false
					opened.Done()
				}
				if strings.HasPrefix(line, "data: {\"session_id\"") {
					var sn state.Snapshot
					if json.Unmarshal([]byte(line[6:]), &sn) == nil && sn.Version > 0 {
						out <- time.Since(sn.CreatedAt).Microseconds()
					}
				}
			}
		}()
	}
	opened.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Println("open")
	w := bufio.NewWriter(os.Stdout)
	for d := range out {
		fmt.Fprintln(w, d)
		if len(out) == 0 {
			w.Flush()
		}
	}
	return nil
}

// serve runs the API on st on a loopback port.
func serve(st state.Store, maxWatchers int) (string, func(), error) {
	api, err := httpapi.New(httpapi.Config{Store: st, MaxWatchers: maxWatchers})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: api}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { api.CloseStreams(); srv.Close() }, nil
}

// startClients starts the client process and waits until its streams are
// open; delays come on the returned channel.
func startClients(url string, n int, session string) (chan int64, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-role", "clients", "-url", url, "-n", strconv.Itoa(n), "-session", session)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "open" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, fmt.Errorf("clients did not open: %q", sc.Text())
	}
	ch := make(chan int64, 1<<20)
	go func() {
		for sc.Scan() {
			v, _ := strconv.ParseInt(sc.Text(), 10, 64)
			ch <- v
		}
		close(ch)
	}()
	stop := func() {
		cmd.Process.Kill() // the child this function started
		cmd.Wait()
	}
	return ch, stop, nil
}

func pct(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(float64(len(xs))*p))]
}

func openSQLite(dir string) (*sqlitestore.Store, error) {
	return sqlitestore.Open(bg, filepath.Join(dir, "bench.db"), sqlitestore.Config{DB: sqlitedb.Config{}})
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

// latency: N watchers of one session; appends at 20/s; delay per delivered
// event.
func latency(counts string, appends int) error {
	for _, c := range strings.Split(counts, ",") {
		n, _ := strconv.Atoi(c)
		dir, _ := os.MkdirTemp("", "watchbench")
		st, err := openSQLite(dir)
		if err != nil {
			return err
		}
		if _, err := st.CreateSession(bg, state.SessionInput{ID: "s"}); err != nil {
			return err
		}
		url, stopSrv, err := serve(st, n+10)
		if err != nil {
			return err
		}
		runtime.GC()
		debug.FreeOSMemory()
		before := rssKB()
		ch, stop, err := startClients(url, n, "s")
		if err != nil {
			return err
		}
		runtime.GC()
		debug.FreeOSMemory()
		after := rssKB()
		var ds []int64
		for i := 0; i < appends; i++ {
			if _, err := st.AppendSnapshot(bg, "s", state.AppendInput{State: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}); err != nil {
				return err
			}
			for j := 0; j < n; j++ {
				ds = append(ds, <-ch)
			}
		}
		stop()
		stopSrv()
		st.Close()
		os.RemoveAll(dir)
		fmt.Printf("sqlite watchers=%d events=%d p50=%dµs p99=%dµs server RSS +%d KiB (%.1f KiB/watcher)\n",
			n, len(ds), pct(ds, 0.5), pct(ds, 0.99), after-before, float64(after-before)/float64(n))
	}
	return nil
}

// throughput: appends/s from 16 goroutines for 3 s, on 64 sessions, with
// and without n idle watchers (on other sessions), alternating, 3 pairs.
func throughput(counts string) error {
	n, _ := strconv.Atoi(strings.Split(counts, ",")[0])
	dir, _ := os.MkdirTemp("", "watchbench")
	defer os.RemoveAll(dir)
	st, err := openSQLite(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := 0; i < 64; i++ {
		if _, err := st.CreateSession(bg, state.SessionInput{ID: fmt.Sprintf("w%d", i)}); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		if _, err := st.CreateSession(bg, state.SessionInput{ID: fmt.Sprintf("idle%d", i)}); err != nil {
			return err
		}
	}
	url, stopSrv, err := serve(st, n+10)
	if err != nil {
		return err
	}
	defer stopSrv()
	run := func() float64 {
		var ops atomic.Int64
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					if _, err := st.AppendSnapshot(bg, fmt.Sprintf("w%d", (g*7+i)%64), state.AppendInput{State: json.RawMessage(`{"x":1}`)}); err == nil {
						ops.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return float64(ops.Load()) / 3
	}
	var with, without []float64
	for pair := 0; pair < 3; pair++ {
		without = append(without, run())
		_, stop, err := startClients(url, n, "idle%d")
		if err != nil {
			return err
		}
		with = append(with, run())
		stop()
		fmt.Printf("pair %d: without %.0f/s, with %d idle watchers %.0f/s (%.1f%%)\n", pair+1, without[pair], n, with[pair], 100*with[pair]/without[pair])
	}
	sw, so := 0.0, 0.0
	for i := range with {
		sw += with[i]
		so += without[i]
	}
	fmt.Printf("sqlite append throughput with %d idle watchers: %.1f%% of without (mean of 3 pairs)\n", n, 100*sw/so)
	return nil
}

// search: sessions with metadata {"user":"u<i%100000>","tenant":"t<i%100>"}
// (10 per user), then the p50/p99 of 2,000 searches for one user; and the
// cost of the index to creates: 20,000 CreateSession with metadata, with
// and without the search triggers, alternating.
func search(total int) error {
	dir, _ := os.MkdirTemp("", "watchbench")
	defer os.RemoveAll(dir)
	st, err := openSQLite(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	const chunk = 10000
	for base := 0; base < total; base += chunk {
		err := st.DB().Write(bg, func(tx *sqlitedb.Tx) error {
			for i := base; i < min(base+chunk, total); i++ {
				now := time.Now().UnixNano()
				md := fmt.Sprintf(`{"user":"u%d","tenant":"t%d"}`, i%100000, i%100)
				if _, err := tx.Exec(bg, `INSERT INTO sessions (id, created_at, last_active, ttl, metadata) VALUES (?, ?, ?, 0, ?)`,
					fmt.Sprintf("s%07d", i), now, now, md); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Printf("sqlite: loaded %d sessions in %s\n", total, time.Since(start).Round(time.Second))
	var ds []int64
	for q := 0; q < 2000; q++ {
		t := time.Now()
		p, err := st.ListSessions(bg, state.ListOptions{Metadata: json.RawMessage(fmt.Sprintf(`{"user":"u%d"}`, (q*7919)%100000))})
		if err != nil {
			return err
		}
		ds = append(ds, time.Since(t).Microseconds())
		if len(p.Sessions) != total/100000 && total >= 100000 {
			return fmt.Errorf("search found %d", len(p.Sessions))
		}
	}
	fmt.Printf("sqlite search over %d sessions, one user (%d matches): p50=%dµs p99=%dµs\n", total, total/100000, pct(ds, 0.5), pct(ds, 0.99))
	ds = ds[:0]
	for q := 0; q < 2000; q++ {
		t := time.Now()
		if _, err := st.ListSessions(bg, state.ListOptions{Metadata: json.RawMessage(fmt.Sprintf(`{"user":"u%d","tenant":"t%d"}`, q%100000, q%100))}); err != nil {
			return err
		}
		ds = append(ds, time.Since(t).Microseconds())
	}
	fmt.Printf("sqlite search, user and tenant: p50=%dµs p99=%dµs\n", pct(ds, 0.5), pct(ds, 0.99))
	return createCost()
}

// createCost: 16 goroutines × CreateSession with metadata, on a fresh
// database with and without migration 6's triggers, 3 alternating pairs.
func createCost() error {
	run := func(triggers bool) (float64, error) {
		dir, _ := os.MkdirTemp("", "watchbench")
		defer os.RemoveAll(dir)
		st, err := openSQLite(dir)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		if !triggers {
			err := st.DB().Write(bg, func(tx *sqlitedb.Tx) error {
				for _, t := range []string{"session_tags_insert", "session_tags_update", "session_tags_delete"} {
					if _, err := tx.Exec(bg, "DROP TRIGGER "+t); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return 0, err
			}
		}
		const n = 20000
		var next atomic.Int64
		t := time.Now()
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Go(func() {
				for {
					i := next.Add(1)
					if i > n {
						return
					}
					md := fmt.Sprintf(`{"user":"u%d","tenant":"t%d","source":"bench"}`, i, i%100)
					st.CreateSession(bg, state.SessionInput{Metadata: json.RawMessage(md)})
				}
			})
		}
		wg.Wait()
		return n / time.Since(t).Seconds(), nil
	}
	var with, without float64
	for pair := 0; pair < 3; pair++ {
		a, err := run(false)
		if err != nil {
			return err
		}
		b, err := run(true)
		if err != nil {
			return err
		}
		fmt.Printf("creates pair %d: without index %.0f/s, with %.0f/s\n", pair+1, a, b)
		without += a
		with += b
	}
	fmt.Printf("sqlite creates with 3-key metadata: with the search index %.1f%% of the rate without\n", 100*with/without)
	return nil
}

// pgLatency: two stores (servers A and B) on one PostgreSQL database; N
// watchers through A's HTTP API; appends on B.
func pgLatency(counts string, appends int) error {
	url := os.Getenv("CORTEX_TEST_POSTGRES_URL")
	if url == "" {
		return fmt.Errorf("CORTEX_TEST_POSTGRES_URL is not set")
	}
	a, err := pgstore.Open(bg, url, pgstore.Config{})
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := pgstore.Open(bg, url, pgstore.Config{})
	if err != nil {
		return err
	}
	defer b.Close()
	for _, c := range strings.Split(counts, ",") {
		n, _ := strconv.Atoi(c)
		id := fmt.Sprintf("bench-%d-%d", n, time.Now().UnixNano())
		if _, err := b.CreateSession(bg, state.SessionInput{ID: id}); err != nil {
			return err
		}
		srvURL, stopSrv, err := serve(a, n+10)
		if err != nil {
			return err
		}
		ch, stop, err := startClients(srvURL, n, id)
		if err != nil {
			return err
		}
		var ds []int64
		for i := 0; i < appends; i++ {
			if _, err := b.AppendSnapshot(bg, id, state.AppendInput{State: json.RawMessage(`1`)}); err != nil {
				return err
			}
			for j := 0; j < n; j++ {
				ds = append(ds, <-ch)
			}
		}
		stop()
		stopSrv()
		b.DeleteSession(bg, id)
		fmt.Printf("postgres across two servers: watchers=%d events=%d p50=%dµs p99=%dµs\n", n, len(ds), pct(ds, 0.5), pct(ds, 0.99))
	}
	return nil
}
