package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// serveCmd is `cortex serve`: the HTTP API with its background work.
type serveCmd struct {
	db              dbFlags
	addr            string
	backupDir       string
	backupInterval  time.Duration
	backupKeep      int
	maxStateBytes   byteSize
	maxMetaBytes    byteSize
	keepSnapshots   int
	snapshotMaxAge  time.Duration
	sessionTTL      time.Duration
	janitorInterval time.Duration
	apiToken        string
	adminToken      string
	apiTokenFile    string
	adminTokenFile  string
	insecure        bool
	allowHost       string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	writeTimeout    time.Duration
	maxWatchers     int
	verifyInterval  time.Duration // the background verifier (integrity.go)
	verifyDuty      float64
	backupRate      byteSize
	metricsAddr     string
	maxInflight     byteSize
	fixPermissions  bool
	diskReserve     byteSize

	// ready, when set (by tests), receives the listening address.
	ready func(addr string)
}

func (c *serveCmd) flags(stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("serve", "serve [flags]", stderr)
	c.db.register(fs)
	c.db.registerServing(fs)
	c.maxStateBytes = state.DefaultMaxStateBytes
	c.maxMetaBytes = state.DefaultMaxMetadataBytes
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address; a non-loopback address needs --api-token (or --insecure)")
	fs.StringVar(&c.backupDir, "backup-dir", "", "the only folder backups go to (default: a backups folder beside the database)")
	fs.DurationVar(&c.backupInterval, "backup-interval", 0, "period of scheduled backups into --backup-dir (0: none)")
	fs.IntVar(&c.backupKeep, "backup-keep", 7, "scheduled backups to keep (0: all)")
	fs.Var(&c.backupRate, "backup-rate", "pace backups (scheduled and POST /v1/admin/backup) to this many bytes per second, e.g. 100MB (0: a file copy at 200 MB/s, a copy from the writer or a reader unpaced)")
	fs.Var(&c.maxStateBytes, "max-state-bytes", "largest snapshot state")
	fs.Var(&c.maxMetaBytes, "max-metadata-bytes", "largest metadata of a session or a snapshot (413 past it)")
	fs.IntVar(&c.keepSnapshots, "keep-snapshots", 0, "keep only the newest N snapshots of each session (0: all)")
	fs.DurationVar(&c.snapshotMaxAge, "snapshot-max-age", 0, "remove snapshots older than this, except each session's latest (0: never)")
	fs.DurationVar(&c.sessionTTL, "session-ttl", 0, "idle time after which a session created without ttl_seconds expires (0: never)")
	fs.DurationVar(&c.janitorInterval, "janitor-interval", time.Minute, "period of the retention janitor")
	fs.DurationVar(&c.verifyInterval, "verify-interval", 24*time.Hour, "period of the background verifier's passes over the SQLite file (0: none; a pass is an integrity job of mode verify)")
	fs.Float64Var(&c.verifyDuty, "verify-duty", 0.1, "share of wall time the verifier reads, in (0, 1]: it sleeps between its 20 ms slices")
	fs.StringVar(&c.apiToken, "api-token", "", "bearer token every /v1 route needs")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token /v1/admin routes need (default: the API token)")
	fs.StringVar(&c.apiTokenFile, "api-token-file", "", "file holding the API token (one trailing newline is ignored): the way to deploy, since a token on the command line shows in ps; not with --api-token")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "file holding the admin token (one trailing newline is ignored); not with --admin-token")
	fs.BoolVar(&c.insecure, "insecure", false, "allow a non-loopback --addr without tokens")
	fs.StringVar(&c.allowHost, "allow-host", "", "comma-separated Host names that routes without a token answer besides localhost, 127.0.0.1 and [::1] (a guard against DNS rebinding); * for any")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "least severe log lines shown: debug (adds a line per successful request), info, warn or error")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "longest wait for in-flight requests on SIGTERM/SIGINT")
	c.maxInflight = httpapi.DefaultMaxInflightBytes
	fs.Var(&c.maxInflight, "max-inflight-bytes", "server-wide budget of bytes in flight (request bodies being read, answers being built); a request that does not fit waits briefly, then gets 503 with Retry-After (0: no budget)")
	c.diskReserve = sqlitedb.DefaultReserveBytes
	fs.Var(&c.diskReserve, "disk-reserve", "SQLite: a ballast file of this size (at most 5% of the volume) kept beside the database and deleted when the disk fills, so that deleting sessions and a truncating checkpoint can still run; made again once there is room (0: none)")
	fs.BoolVar(&c.fixPermissions, "fix-permissions", false, "bring the SQLite database, -wal and -shm to mode 0600 when others can read them (without it, a warning)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "also serve /metrics, /healthz and /readyz (only those, without tokens) on this address, for a monitoring network apart from the API's")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 2*time.Minute, "longest time to answer a /v1 request, its response sent included, so a client that stops reading cannot hold a connection and its buffers (admin routes have none: a backup or a full integrity check takes as long as it takes)")
	fs.IntVar(&c.maxWatchers, "max-watchers", httpapi.DefaultMaxWatchers, "most open event streams (GET /v1/sessions/{id}/events) and long polls (snapshots/latest?wait=) at once; past it they get 503")
	return fs
}

func (c *serveCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.flags(stderr)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	if c.maxStateBytes <= 0 || c.maxStateBytes > 1<<30 {
		return fmt.Errorf("--max-state-bytes %s: want 1B to 1GiB: %w", c.maxStateBytes.String(), errUsage)
	}
	if c.maxMetaBytes <= 0 || c.maxMetaBytes > 1<<30 {
		return fmt.Errorf("--max-metadata-bytes %s: want 1B to 1GiB: %w", c.maxMetaBytes.String(), errUsage)
	}
	if c.sessionTTL != 0 && (c.sessionTTL < time.Second || c.sessionTTL > state.MaxTTL) {
		return fmt.Errorf("--session-ttl %s: want 0 (never expires) or 1s to %dh (100 years, %d seconds): %w", c.sessionTTL, state.MaxTTL/time.Hour, state.MaxTTLSeconds, errUsage)
	}
	if c.backupKeep < 0 || c.keepSnapshots < 0 || c.snapshotMaxAge < 0 || c.sessionTTL < 0 || c.backupInterval < 0 {
		return fmt.Errorf("--backup-keep, --keep-snapshots, --snapshot-max-age, --session-ttl and --backup-interval must not be negative: %w", errUsage)
	}
	if c.maxInflight < 0 {
		return fmt.Errorf("--max-inflight-bytes must not be negative (0: no budget): %w", errUsage)
	}
	if c.writeTimeout < 0 {
		return fmt.Errorf("--write-timeout must not be negative (0: none): %w", errUsage)
	}
	if c.maxWatchers <= 0 {
		return fmt.Errorf("--max-watchers must be positive: %w", errUsage)
	}
	if c.verifyInterval < 0 || c.verifyDuty <= 0 || c.verifyDuty > 1 {
		return fmt.Errorf("--verify-interval must not be negative and --verify-duty must be in (0, 1]: %w", errUsage)
	}
	if c.janitorInterval <= 0 {
		return fmt.Errorf("--janitor-interval must be positive: %w", errUsage)
	}
	loopback, err := isLoopback(c.addr)
	if err != nil {
		return withHint(fmt.Errorf("--addr %q: %v: %w", c.addr, err, errUsage), "--addr 127.0.0.1:8080")
	}
	if c.apiToken, err = tokenFromFile("--api-token", c.apiToken, c.apiTokenFile, log); err != nil {
		return err
	}
	if c.adminToken, err = tokenFromFile("--admin-token", c.adminToken, c.adminTokenFile, log); err != nil {
		return err
	}
	for _, t := range []struct{ flag, token string }{{"--api-token", c.apiToken}, {"--admin-token", c.adminToken}} {
		if err := checkToken(t.token); err != nil {
			return withHint(fmt.Errorf("%s: %v: %w", t.flag, err, errUsage), "a long random token, such as the output of: openssl rand -hex 32")
		}
		if t.token != "" && len(t.token) < 16 {
			log.Warn("a short token can be guessed; use 16 characters or more, such as the output of: openssl rand -hex 32", "flag", t.flag)
		}
	}
	if !loopback && c.apiToken == "" && !c.insecure {
		return withHint(fmt.Errorf("refusing to serve on %s, which is not a loopback address, without --api-token: anyone who can reach it could read and change every session", c.addr), "--api-token <secret> (and --admin-token <another>), or --insecure if the network is trusted")
	}

	if c.maxInflight > 0 {
		if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
			// The budget bounds the bytes requests hold; the garbage they
			// leave counts too until the collector runs, which by default
			// waits for the heap to double. A soft limit of twice the
			// budget plus room for the rest makes it run sooner under load
			// (TestServe_InflightBudgetBoundsRSS; GOMEMLIMIT overrides).
			debug.SetMemoryLimit(2*int64(c.maxInflight) + 256<<20)
		}
		if _, set := os.LookupEnv("GOGC"); !set {
			// The live heap under appends is ~1 MiB, so Go's default
			// collects every 4 MiB of garbage: ~22 cycles per 10,000
			// HTTP appends, each with two stop-the-world pauses that
			// take milliseconds on a busy machine. At serveGCPercent:
			// ~3, and ~8% less CPU per append (BENCHMARKS.md, session
			// 11 http4). The memory limit above still bounds the heap
			// (TestServe_GCPercent; GOGC overrides).
			debug.SetGCPercent(serveGCPercent)
		}
	}
	var jan atomic.Pointer[state.Janitor] // set once the store is open; read by metrics
	janitorStats := func() janitorCounts {
		j := jan.Load()
		if j == nil {
			return janitorCounts{}
		}
		st := j.Stats()
		return janitorCounts{Runs: st.Passes, Pruned: st.SnapshotsPruned, Expired: st.SessionsExpired, Errors: st.Errors,
			Slices: st.Slices, Reclaimed: st.SnapshotsReclaimed, WriterSeconds: st.WriterSeconds}
	}
	if !c.db.isPostgres() {
		if err := checkFileModes(c.db.db, c.fixPermissions, log); err != nil {
			return err
		}
	}
	b, err := openBackend(ctx, &c.db, state.Options{MaxStateBytes: int(c.maxStateBytes), MaxMetadataBytes: int(c.maxMetaBytes)}, log, janitorStats)
	if err != nil {
		return err
	}
	closeStore := sync.OnceValue(b.store.Close)
	defer closeStore()
	var onFull func() bool
	if b.sqlite != nil {
		if onFull, err = c.openReserve(b.sqlite, log); err != nil {
			return err
		}
	}

	backupDir := c.backupDir
	if backupDir == "" && !c.db.isPostgres() {
		backupDir = filepath.Join(filepath.Dir(c.db.db), "backups")
	}
	if backupDir != "" {
		// Absolute, so that backup results and logs name the file
		// whatever the reader's working folder.
		if abs, err := filepath.Abs(backupDir); err == nil {
			backupDir = abs
		}
		// The folder is made by the first backup written into it, not
		// here: a server that never backs up leaves no empty folder.
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		httpapi.NewCollector(b.figures),
	)
	api, err := httpapi.New(httpapi.Config{
		Store:            b.store,
		Ops:              b.ops,
		APIToken:         c.apiToken,
		AdminToken:       c.adminToken,
		AllowedHosts:     splitList(c.allowHost),
		MaxStateBytes:    int(c.maxStateBytes),
		MaxMetadataBytes: int(c.maxMetaBytes),
		BackupDir:        backupDir,
		DefaultTTL:       c.sessionTTL,
		Logger:           log,
		Registry:         reg,
		MaxWatchers:      c.maxWatchers,
		OnStorageFull:    onFull,
		MaxInflightBytes: func() int64 {
			if c.maxInflight == 0 {
				return -1 // no budget
			}
			return int64(c.maxInflight)
		}(),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", c.addr, err), "another --addr, or stop what is using that port")
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for requests to finish, which event streams never do
	// by themselves: end them first.
	srv.RegisterOnShutdown(api.CloseStreams)

	var monSrv *http.Server
	if c.metricsAddr != "" {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			ln.Close()
			return withHint(fmt.Errorf("listen on --metrics-addr %s: %w", c.metricsAddr, err), "another --metrics-addr, or stop what is using that port")
		}
		monSrv = &http.Server{
			Handler:           api.MonitoringHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       time.Minute,
			WriteTimeout:      time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			if err := monSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "error", err)
			}
		}()
		defer monSrv.Close()
		log.Info("serving metrics and health", "addr", mln.Addr().String())
	}

	bgCtx, stopBG := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	j := state.NewJanitor(b.store, state.JanitorConfig{
		Interval: c.janitorInterval, KeepLast: c.keepSnapshots, MaxAge: c.snapshotMaxAge, Logger: log,
	})
	jan.Store(j)
	// Before the server answers anything: the stats answer reads it.
	switch o := b.ops.(type) {
	case *sqliteOps:
		o.retention = c.retentionFunc(j)
	case *pgOps:
		o.retention = c.retentionFunc(j)
	}
	bg.Go(func() { j.Run(bgCtx) })
	if b.sqlite != nil && b.sqlite.reserve != nil {
		// Make the disk reserve again once there is room, also when no
		// health probe asks.
		r := b.sqlite.reserve
		bg.Go(func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-bgCtx.Done():
					return
				case <-t.C:
					if !r.Released() {
						continue
					}
					if ok, err := r.Restore(); err != nil {
						log.Warn("disk reserve", "error", err)
					} else if ok {
						log.Info("disk reserve made again", "path", r.Path(), "bytes", r.Size())
					}
				}
			}
		})
	}
	if c.backupInterval > 0 {
		if b.sqlite == nil {
			log.Warn("scheduled backups are SQLite's; ignoring --backup-interval on PostgreSQL (use pg_dump or pg_basebackup)")
		} else {
			bs := &backupScheduler{ops: b.sqlite, dir: backupDir, keep: c.backupKeep, log: log}
			bg.Go(func() { bs.loop(bgCtx, c.backupInterval) })
		}
	}

	if b.sqlite != nil {
		vc := sqlitedb.VerifyConfig{Duty: c.verifyDuty}
		b.sqlite.verify = vc
		b.sqlite.backupRate = int64(c.backupRate)
		if c.verifyInterval > 0 {
			db := b.sqlite.db
			bg.Go(func() { db.RunVerifier(bgCtx, c.verifyInterval, vc) })
		}
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("cortex serving", "version", Version, "addr", ln.Addr().String(), "db", redactDB(c.db.db), "auth", c.apiToken != "")
	if c.ready != nil {
		c.ready(ln.Addr().String())
	}

	var runErr error
	select {
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("in-flight requests did not finish in time", "timeout", c.shutdownTimeout, "error", err)
			srv.Close()
		}
		cancel()
	}
	stopBG()
	bg.Wait()
	log.Info("closing the store: draining the writer, final checkpoint")
	if err := closeStore(); err != nil {
		log.Error("close store", "error", err)
		if runErr == nil {
			runErr = fmt.Errorf("close store: %w", err)
		}
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// newLogger makes the server's logger in the --log-format, showing lines
// from --log-level up.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error: %w", level, errUsage)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json: %w", format, errUsage)
}

// isLoopback reports whether a listen address only accepts local
// connections. An empty host (":8080") listens on every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// backupScheduler writes a backup every interval and keeps the newest.
type backupScheduler struct {
	ops  *sqliteOps
	dir  string
	keep int
	log  *slog.Logger
}

// scheduledPrefix names scheduled backups; only they are pruned.
const scheduledPrefix = "cortex-scheduled-"

// serveGCPercent is the collector's GOGC under cortex serve when the
// environment sets none and a memory limit is in force (the in-flight
// budget's): the heap goal is at least 16 MiB instead of 4 MiB
// (docs/performance.md, HTTP).
const serveGCPercent = 400

func (s *backupScheduler) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			name := scheduledPrefix + time.Now().UTC().Format("20060102T150405.000Z") + ".db"
			if err := os.MkdirAll(s.dir, 0o700); err != nil {
				s.log.Error("scheduled backup", "error", fmt.Errorf("backup folder %s: %w", s.dir, err))
				continue
			}
			res, err := s.ops.db.BackupWith(ctx, filepath.Join(s.dir, name), sqlitedb.BackupOptions{RateBytes: s.ops.backupRate})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("scheduled backup", "error", err)
				}
				continue
			}
			s.log.Info("scheduled backup", "path", res.Path, "bytes", res.Bytes, "duration_ms", res.DurationMS)
			if err := s.prune(); err != nil {
				s.log.Warn("prune scheduled backups", "error", err)
			}
		}
	}
}

// prune removes the oldest scheduled backups beyond keep.
func (s *backupScheduler) prune() error {
	if s.keep <= 0 {
		return nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), scheduledPrefix) && strings.HasSuffix(e.Name(), ".db") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // the timestamps sort by time
	var errs []error
	for len(names) > s.keep {
		if err := os.Remove(filepath.Join(s.dir, names[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		names = names[1:]
	}
	return errors.Join(errs...)
}

// checkToken refuses a bearer token that no client could send: one with
// spaces or control characters (Authorization headers are trimmed, and
// the server would start with a secret nothing can match).
func checkToken(t string) error {
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("the token has a space or control character (%q); a bearer token cannot carry one", r)
		}
	}
	return nil
}

// tokenFromFile gives the token of one role: token (from --<role>-token
// or its variable) or the content of file (--<role>-token-file), without
// one trailing newline, as editors and `echo` leave it. Both at once is a
// usage error: which one counts would be a guess.
func tokenFromFile(flagName, token, file string, log *slog.Logger) (string, error) {
	if file == "" {
		return token, nil
	}
	if token != "" {
		return "", withHint(fmt.Errorf("%s and %s-file both set a token for the same routes: %w", flagName, flagName, errUsage), fmt.Sprintf("keep only %s-file (or unset %s)", flagName, envName(strings.TrimPrefix(flagName, "--"))))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", withHint(fmt.Errorf("%s-file: %w: %w", flagName, err, errUsage), "a file readable by this user holding only the token")
	}
	t := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if t == "" {
		return "", withHint(fmt.Errorf("%s-file %s is empty: %w", flagName, file, errUsage), fmt.Sprintf("write the token into it, such as: openssl rand -hex 32 > %s", file))
	}
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the token file can be read by other users; chmod 600 it", "flag", flagName+"-file", "path", file, "mode", fmt.Sprintf("%#o", st.Mode().Perm()))
	}
	return t, nil
}

// openReserve keeps the disk reserve (--disk-reserve) beside a SQLite
// database and returns the OnStorageFull hook that releases it.
func (c *serveCmd) openReserve(ops *sqliteOps, log *slog.Logger) (func() bool, error) {
	if c.diskReserve < 0 {
		return nil, fmt.Errorf("--disk-reserve must not be negative (0: none): %w", errUsage)
	}
	size, err := sqlitedb.ReserveSize(filepath.Dir(c.db.db), int64(c.diskReserve))
	if err != nil {
		return nil, err
	}
	r, err := sqlitedb.OpenReserve(c.db.db, size)
	if err != nil {
		return nil, withHint(err, "--disk-reserve 0 to run without a reserve")
	}
	if r == nil {
		return nil, nil
	}
	ops.reserve, ops.log = r, log
	if r.Released() {
		log.Warn("disk full at start: the disk reserve could not be made; it will be once there is room", "path", r.Path(), "bytes", r.Size())
	}
	return func() bool {
		released, err := r.Release()
		if err != nil {
			log.Error("disk full: releasing the disk reserve failed", "error", err)
			return false
		}
		if released {
			log.Warn("disk full: released the disk reserve so that deletes and checkpoints can free room; it is made again once the volume has room for it twice over",
				"path", r.Path(), "bytes", r.Size())
		}
		return released
	}, nil
}
