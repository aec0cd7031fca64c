package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64MiB", 64 << 20, true}, {"1MiB", 1 << 20, true}, {"256mib", 256 << 20, true},
		{"1GiB", 1 << 30, true}, {"512KiB", 512 << 10, true}, {"1048576", 1 << 20, true},
		{"10MB", 10e6, true}, {"1.5KiB", 1536, true}, {"0", 0, true}, {"-1", -1, true},
		{"", 0, false}, {"MiB", 0, false}, {"ten", 0, false}, {"1e30GiB", 0, false},
	} {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	if s := formatSize(64 << 20); s != "64MiB" {
		t.Errorf("formatSize(64MiB) = %q", s)
	}
}

// withEnv replaces the environment lookup for one test.
func withEnv(t *testing.T, env map[string]string) {
	t.Helper()
	old := lookupEnv
	lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	t.Cleanup(func() { lookupEnv = old })
}

func TestFlags_EnvTwins(t *testing.T) {
	withEnv(t, map[string]string{
		"CORTEX_BUSY_TIMEOUT": "9s",
		"CORTEX_MMAP_SIZE":    "64MiB",
		"CORTEX_DB":           "/from/env.db",
		"CORTEX_API_TOKEN":    "env-token",
	})
	var c serveCmd
	fs := c.flags(&bytes.Buffer{})
	if err := parseFlags(fs, []string{"--db", "/from/flag.db"}, 0); err != nil {
		t.Fatal(err)
	}
	if c.db.db != "/from/flag.db" {
		t.Errorf("--db = %q: a flag must beat its env twin", c.db.db)
	}
	if c.db.busyTimeout != 9*time.Second || c.db.mmapSize != 64<<20 || c.apiToken != "env-token" {
		t.Errorf("env twins not applied: busy %v mmap %d token %q", c.db.busyTimeout, c.db.mmapSize, c.apiToken)
	}
	// Defaults as DESIGN.md's Configuration section.
	withEnv(t, nil)
	var d serveCmd
	if err := parseFlags(d.flags(&bytes.Buffer{}), nil, 0); err != nil {
		t.Fatal(err)
	}
	if d.db.db != "./data/cortex.db" || d.addr != "127.0.0.1:8080" || d.db.journalMode != "wal" || d.db.synchronous != "normal" ||
		d.db.busyTimeout != 5*time.Second || d.db.mmapSize != 256<<20 || d.db.poolTimeout != 5*time.Second ||
		d.db.walAutocheckpoint != 1000 || d.db.checkpointInterval != 5*time.Minute || d.db.walLimit.byteSize != 64<<20 ||
		d.maxStateBytes != 1<<20 || d.logFormat != "text" || d.logLevel != "info" {
		t.Errorf("defaults differ from DESIGN.md: %+v", d)
	}
	withEnv(t, map[string]string{"CORTEX_BUSY_TIMEOUT": "soon"})
	var e serveCmd
	err := parseFlags(e.flags(&bytes.Buffer{}), nil, 0)
	if err == nil || !strings.Contains(errorText(err), "CORTEX_BUSY_TIMEOUT") {
		t.Errorf("a bad env value: %v, want an error naming CORTEX_BUSY_TIMEOUT", err)
	}
}

// TestNewLogger: --log-level picks the least severe line shown; a line per
// successful request is DEBUG, so the default log carries refusals and
// events only.
func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("request", "status", 201)
	log.Info("request", "status", 404)
	if got := buf.String(); strings.Contains(got, "201") || !strings.Contains(got, "404") {
		t.Errorf("at info: %q", got)
	}
	buf.Reset()
	if log, err = newLogger(&buf, "text", "debug"); err != nil {
		t.Fatal(err)
	}
	log.Debug("request", "status", 201)
	if !strings.Contains(buf.String(), "201") {
		t.Errorf("at debug: %q", buf.String())
	}
	if _, err := newLogger(&buf, "text", "loud"); !errors.Is(err, errUsage) || !strings.Contains(errorText(err), "--log-level") {
		t.Errorf("--log-level loud: %v", err)
	}
}

func TestServe_RefusesOpenAddrWithoutTokens(t *testing.T) {
	withEnv(t, nil)
	db := filepath.Join(t.TempDir(), "c.db")
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"serve", "--db", db, "--addr", "0.0.0.0:0"}, &out, &errOut)
	if err == nil || !strings.Contains(errorText(err), "--api-token") || !strings.Contains(errorText(err), "Try:") {
		t.Fatalf("serve on 0.0.0.0 without tokens: %v", err)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a refused serve created the database")
	}
	for _, addr := range []string{"127.0.0.1:1", "localhost:1", "[::1]:1"} {
		if ok, err := isLoopback(addr); !ok || err != nil {
			t.Errorf("isLoopback(%q) = %v, %v", addr, ok, err)
		}
	}
	for _, addr := range []string{":8080", "0.0.0.0:1", "10.0.0.1:1"} {
		if ok, _ := isLoopback(addr); ok {
			t.Errorf("isLoopback(%q) = true", addr)
		}
	}
}

func TestServe_RefusesUnsendableTokens(t *testing.T) {
	withEnv(t, nil)
	for _, args := range [][]string{{"--api-token", " "}, {"--api-token", "two words"}, {"--admin-token", "tab\there"}, {"--api-token", "secret\n"}} {
		db := filepath.Join(t.TempDir(), "c.db")
		var out, errOut bytes.Buffer
		err := run(t.Context(), append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, args...), &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), args[0]) || !strings.Contains(errorText(err), "Try:") {
			t.Errorf("serve %q: %v", args, err)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("serve %q: a refused serve created the database", args)
		}
	}
}

// Bad choices are usage errors naming the flag (or variable); a foreign
// backup is refused with one hint that fits.
func TestCLI_ErrorsNameTheCause(t *testing.T) {
	withEnv(t, nil)
	db := filepath.Join(t.TempDir(), "c.db")
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"--journal-mode", "bogus"}, {"--synchronous", "off"}} {
		err := run(t.Context(), append([]string{"serve", "--db", db}, args...), &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), args[0][2:]) || strings.Contains(errorText(err), "config:") {
			t.Errorf("serve %v: %v, want a usage error naming the flag", args, err)
		}
	}
	good := seed(t)
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	os.WriteFile(foreign, bytes.Repeat([]byte("not sqlite"), 500), 0o600)
	err := run(t.Context(), []string{"restore", "--db", good, "--from", foreign}, &out, &errOut)
	if err == nil || strings.Count(errorText(err), "Try:") != 1 || strings.Contains(errorText(err), "--db points") {
		t.Errorf("restore from a foreign file: %v, want one Try line about the backup", err)
	}
}

func TestRedactDB(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h/db":                            "postgres://u:xxxxx@h/db",
		"postgresql://u@h/db?password=secret":                 "postgresql://u@h/db?password=xxxxx",
		"postgres://u:p1@h/db?sslmode=require&sslpassword=p2": "postgres://u:xxxxx@h/db?sslmode=require&sslpassword=xxxxx",
		"postgres://u@h/db?sslmode=disable":                   "postgres://u@h/db?sslmode=disable",
		"./data/cortex.db":                                    "./data/cortex.db",
		"/srv/password=x.db":                                  "/srv/password=x.db",
	} {
		if got := redactDB(in); got != want {
			t.Errorf("redactDB(%q) = %q, want %q", in, got, want)
		}
	}
}

// seed makes a database with one session and two snapshots.
func seed(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "c.db")
	st, err := sqlitestore.Open(context.Background(), db, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSession(t.Context(), state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := st.AppendSnapshot(t.Context(), "s", state.AppendInput{State: []byte(`{"a":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCLI_OpsCommands(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	ctx := t.Context()
	cli := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, &out, &errOut)
		return out.String(), errOut.String(), err
	}

	out, _, err := cli("stats", "--db", db)
	if err != nil || !strings.Contains(out, "page_count") || !strings.Contains(out, "wal_bytes") {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	// The schema version is the store's newest migration.
	ms, err := sqlitedb.LoadMigrations(sqlitestore.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = cli("stats", "--db", db, "--json")
	var sj struct {
		SchemaVersion int `json:"schema_version"`
	}
	if err != nil || json.Unmarshal([]byte(out), &sj) != nil || sj.SchemaVersion != len(ms) {
		t.Fatalf("stats --json: schema_version %d, want %d (%v)\n%s", sj.SchemaVersion, len(ms), err, out)
	}
	// The pools and checkpointer would be the command's own: left out.
	for _, key := range []string{`"readers"`, `"writer"`, `"checkpoint"`} {
		if strings.Contains(out, key) {
			t.Fatalf("stats --json has %s, the command's own figures\n%s", key, out)
		}
	}
	out, _, err = cli("health", "--db", db, "--json", "--integrity", "full")
	var h struct{ Status string }
	if err != nil || json.Unmarshal([]byte(out), &h) != nil || h.Status != "healthy" {
		t.Fatalf("health: %v\n%s", err, out)
	}
	out, _, err = cli("checkpoint", "--db", db, "--mode", "truncate", "--json")
	if err != nil || !strings.Contains(out, `"checkpointed_frames"`) {
		t.Fatalf("checkpoint: %v\n%s", err, out)
	}
	_, _, err = cli("checkpoint", "--db", db, "--mode", "sideways")
	if !errors.Is(err, errUsage) {
		t.Fatalf("checkpoint --mode sideways: %v, want a usage error", err)
	}
	out, _, err = cli("explain", "--db", db, "SELECT * FROM sessions WHERE id = 's'")
	if err != nil || !strings.Contains(out, "QUERY PLAN") {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	_, _, err = cli("explain", "--db", db, "DELETE FROM sessions")
	if err == nil || !strings.Contains(errorText(err), "Try:") {
		t.Fatalf("explain DELETE: %v", err)
	}

	backup := filepath.Join(t.TempDir(), "b.db")
	out, errOut, err := cli("backup", "--db", db, "--out", backup)
	if err != nil || !strings.Contains(out, "integrity") || !strings.Contains(errOut, "pages") {
		t.Fatalf("backup: %v\n%s\n%s", err, out, errOut)
	}
	_, _, err = cli("backup", "--db", db, "--out", backup)
	if err == nil || !strings.Contains(errorText(err), "--force") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	for _, extra := range [][]string{nil, {"--compact"}} {
		args := append([]string{"backup", "--db", db, "--out", backup, "--force", "--json"}, extra...)
		out, _, err := cli(args...)
		if err != nil || !strings.Contains(out, `"path": "`+backup+`"`) {
			t.Fatalf("backup --force %v: %v\n%s", extra, err, out)
		}
	}
	if left, _ := os.ReadDir(filepath.Dir(backup)); len(left) != 1 {
		t.Fatalf("after backup --force the folder holds %d entries, want the backup alone", len(left))
	}

	// Change the database, then restore the backup over it.
	st, err := sqlitestore.Open(ctx, db, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSession(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli("restore", "--db", db, "--from", backup); err != nil {
		t.Fatalf("restore: %v", err)
	}
	st, err = sqlitestore.Open(ctx, db, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := st.GetSession(ctx, "s")
	st.Close()
	if err != nil || sess.Version != 2 {
		t.Fatalf("after restore: %+v, %v", sess, err)
	}

	// The replaced database was kept beside it; --discard-current keeps
	// none; --force is gone, with the reason.
	kept, _ := filepath.Glob(db + ".replaced-*")
	if len(kept) != 1 {
		t.Fatalf("kept files after restore: %v, want one <name>.replaced-<time>", kept)
	}
	out, _, err = cli("restore", "--db", db, "--from", backup, "--discard-current", "--json")
	if err != nil || !strings.Contains(out, `"check_ms"`) || strings.Contains(out, `"replaced"`) {
		t.Fatalf("restore --discard-current: %v\n%s", err, out)
	}
	if kept2, _ := filepath.Glob(db + ".replaced-*"); len(kept2) != 1 {
		t.Fatalf("kept files after --discard-current: %v", kept2)
	}
	if _, _, err := cli("restore", "--db", db, "--from", backup, "--force"); !errors.Is(err, errUsage) || !strings.Contains(errorText(err), "stop the server") {
		t.Fatalf("restore --force: %v, want a usage error saying to stop the server", err)
	}

	// A damaged backup is refused and changes nothing.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte("not a database at all, just some bytes"), 0o600)
	if _, _, err := cli("restore", "--db", db, "--from", bad); err == nil {
		t.Fatal("restore from a damaged file succeeded")
	}

	_, _, err = cli("stats", "--db", filepath.Join(t.TempDir(), "missing.db"))
	if err == nil || !strings.Contains(errorText(err), "Try:") {
		t.Fatalf("stats on a missing file: %v", err)
	}
	_, _, err = cli("stats", "--db", "postgres://localhost/x")
	if err == nil || !strings.Contains(errorText(err), "PostgreSQL") {
		t.Fatalf("stats on PostgreSQL: %v", err)
	}
}

// backup and restore with paths relative to the working folder, as the
// README shows them.
func TestCLI_BackupRestoreRelativePaths(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	t.Chdir(filepath.Dir(db))
	rel := "./" + filepath.Base(db)
	for _, args := range [][]string{
		{"backup", "--db", rel, "--out", "./b.db"},
		{"backup", "--db", rel, "--out", "compact.db", "--compact"},
		{"restore", "--db", rel, "--from", "./b.db"},
	} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), args, &out, &errOut); err != nil {
			t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
	}
}

func TestCLI_HealthExitCodes(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"health", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("health of a good database: %v\n%s", err, out.String())
	}
	// A file that is not a database: unhealthy, exit 2.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, bytes.Repeat([]byte("garbage!"), 1024), 0o600)
	err := run(t.Context(), []string{"health", "--db", bad}, &out, &errOut)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("health of a damaged file: %v, want exit 2", err)
	}
	// A WAL over its limit: degraded, exit 1. A store holds the database
	// open with an append not yet checkpointed, so the -wal has frames.
	st, err := sqlitestore.Open(t.Context(), db, sqlitestore.Config{DB: sqlitedb.Config{
		CheckpointInterval: -1, WALAutoCheckpoint: -1, NoCloseCheckpoint: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AppendSnapshot(t.Context(), "s", state.AppendInput{State: []byte(`{"a":2}`)}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(t.Context(), []string{"health", "--db", db, "--wal-limit", "1KiB"}, &out, &errOut)
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("health with the WAL over --wal-limit: %v, want exit 1\n%s", err, out.String())
	}
	// A usage error checks nothing: exit 3, not 2, which means unhealthy.
	for _, args := range [][]string{{"--integrity", "bogus"}, {"--no-such-flag"}, {"extra-arg"}, {"--db", "postgres://u@h/db"}} {
		err = run(t.Context(), append([]string{"health", "--db", db}, args...), &out, &errOut)
		if !errors.As(err, &ee) || ee.code != 3 || !strings.Contains(errorText(err), "Try:") {
			t.Errorf("health %v: %v, want exit 3 with a Try line", args, err)
		}
	}
}

func TestCLI_Help(t *testing.T) {
	withEnv(t, nil)
	for _, cmd := range []string{"serve", "stats", "health", "checkpoint", "backup", "restore", "explain"} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{cmd, "-h"}, &out, &errOut)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 0 {
			t.Errorf("%s -h: %v, want exit 0", cmd, err)
		}
		if !strings.Contains(errOut.String(), "[$CORTEX_DB]") {
			t.Errorf("%s -h does not show the env twins:\n%s", cmd, errOut.String())
		}
		if strings.Contains(errOut.String(), "[$CORTEX_FORCE]") || strings.Contains(errOut.String(), "[$CORTEX_JSON]") {
			t.Errorf("%s -h shows a variable for a flag of one invocation:\n%s", cmd, errOut.String())
		}
		// A bad flag: the error and a hint, not the whole usage.
		out.Reset()
		errOut.Reset()
		err = run(context.Background(), []string{cmd, "--no-such-flag"}, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), "-no-such-flag") || !strings.Contains(errorText(err), "Try: cortex "+cmd+" -h") {
			t.Errorf("%s --no-such-flag: %v", cmd, err)
		}
		if errOut.Len() > 0 {
			t.Errorf("%s --no-such-flag printed:\n%s", cmd, errOut.String())
		}
	}
}

// Flags of one invocation have no environment twin: an exported
// CORTEX_FORCE must not turn every restore into one under a running server.
func TestFlags_NoTwinForOneInvocation(t *testing.T) {
	withEnv(t, map[string]string{"CORTEX_FORCE": "true", "CORTEX_MODE": "http", "CORTEX_JSON": "true", "CORTEX_ACCEPT_WAL_LOSS": "true"})
	var r restoreCmd
	fs := newFlagSet("restore", "restore", &bytes.Buffer{})
	r.db.register(fs)
	fs.BoolVar(&r.force, "force", false, "")
	if err := parseFlags(fs, nil, 0); err != nil || r.force || r.db.acceptWALLoss {
		t.Fatalf("restore flags from the environment: force %v, accept-wal-loss %v, %v", r.force, r.db.acceptWALLoss, err)
	}
	db := seed(t)
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"checkpoint", "--db", db}, &out, &errOut); err != nil {
		t.Fatalf("checkpoint with CORTEX_MODE=http exported: %v", err)
	}
	if strings.HasPrefix(strings.TrimSpace(out.String()), "{") {
		t.Fatalf("CORTEX_JSON made checkpoint print JSON:\n%s", out.String())
	}
}

// Without a terminal, progress is plain lines: the first report, one at
// each 10% step, and the end once.
func TestProgress_PlainLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false)
	for _, done := range []int64{0, 1, 2, 5, 9, 10} {
		p.set(done, 10)
	}
	p.done(true)
	want := "backup: 0 of 10 pages (0%)\n" +
		"backup: 1 of 10 pages (10%)\n" +
		"backup: 2 of 10 pages (20%)\n" +
		"backup: 5 of 10 pages (50%)\n" +
		"backup: 9 of 10 pages (90%)\n" +
		"backup: 10 of 10 pages (100%), checked\n"
	if b.String() != want {
		t.Fatalf("progress printed\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	p = newCountProgress(&b, false, "migrate sessions", "sessions")
	p.set(3, 3)
	p.done(true)
	if want := "migrate sessions: 3 of 3 sessions (100%)\n"; b.String() != want {
		t.Fatalf("a phase done in one report printed\n%s\nwant one line: %s", b.String(), want)
	}
}

// TestCLI_HintOnce: a library error's typed hint is shown once, as the
// "Try:" line after the message, and is not inside the message.
func TestCLI_HintOnce(t *testing.T) {
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	if err := os.WriteFile(foreign, bytes.Repeat([]byte("not sqlite"), 500), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"stats", "--db", foreign}, &out, &errOut)
	if err == nil || state.Hint(err) == "" || strings.Contains(err.Error(), "Try:") {
		t.Fatalf("stats on a foreign file: %v, want an error with a typed hint", err)
	}
	if text := errorText(err); strings.Count(text, "Try:") != 1 || !strings.HasSuffix(text, "\nTry: "+state.Hint(err)) {
		t.Fatalf("shown as %q, want the hint once, on its own line at the end", text)
	}
}

// With --replication=litestream an unset --wal-limit takes the mode's
// default (sqlitedb.DefaultReplicationWALLimit, fitted to Litestream's
// checkpoints); one given by flag or environment is kept.
func TestFlags_WALLimitDefaultWithLitestream(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int64
	}{
		{[]string{"--replication=litestream"}, nil, sqlitedb.DefaultReplicationWALLimit},
		{[]string{"--replication=litestream", "--wal-limit", "64MiB"}, nil, 64 << 20},
		{[]string{"--replication=litestream"}, map[string]string{"CORTEX_WAL_LIMIT": "128MiB"}, 128 << 20},
		{nil, nil, sqlitedb.DefaultWALLimit},
	} {
		withEnv(t, tc.env)
		var c serveCmd
		if err := parseFlags(c.flags(&bytes.Buffer{}), tc.args, 0); err != nil {
			t.Fatal(err)
		}
		cfg := c.db.sqliteConfig()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.Stats(t.Context())
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := st.WALLimitBytes; got != tc.want {
			t.Errorf("%v env %v: WAL limit %d, want %d", tc.args, tc.env, got, tc.want)
		}
	}
}

// The ops commands read a file Litestream replicates (its metadata folder
// beside it) with the replication mode's WAL limit, unless --wal-limit is
// given: a health probe would otherwise call Litestream's normal WAL
// length (up to ~170 MB at its documented checkpoints) degraded.
func TestCLI_OpsWALLimitBesideLitestream(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	limit := func(args ...string) int64 {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), append([]string{"stats", "--db", db, "--json"}, args...), &out, &errOut); err != nil {
			t.Fatalf("stats: %v\n%s", err, errOut.String())
		}
		var sj struct {
			WALLimitBytes int64 `json:"wal_limit_bytes"`
		}
		if err := json.Unmarshal(out.Bytes(), &sj); err != nil {
			t.Fatal(err)
		}
		return sj.WALLimitBytes
	}
	if got := limit(); got != sqlitedb.DefaultWALLimit {
		t.Fatalf("no Litestream: WAL limit %d, want %d", got, sqlitedb.DefaultWALLimit)
	}
	if err := os.Mkdir(sqlitedb.LitestreamMetaDir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := limit(); got != sqlitedb.DefaultReplicationWALLimit {
		t.Fatalf("beside Litestream's folder: WAL limit %d, want %d", got, sqlitedb.DefaultReplicationWALLimit)
	}
	if got := limit("--wal-limit", "64MiB"); got != 64<<20 {
		t.Fatalf("--wal-limit given: %d, want it kept", got)
	}
}
