package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
)

// commands are the commands with flags, for the tests that walk them all.
var commands = []string{"serve", "stats", "health", "checkpoint", "backup", "restore", "explain", "migrate", "bench", "version"}

// helpOf is the -h text of a command.
func helpOf(t *testing.T, cmd string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{cmd, "-h"}, &out, &errOut)
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && ee.code == 0) {
		t.Fatalf("cortex %s -h: %v", cmd, err)
	}
	return out.String() + errOut.String()
}

func clidb(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// Flags after the positional arguments are read, not ignored (Go's own
// flag package stops at the first argument).
func TestCLI_FlagsAfterArguments(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	out, _, err := clidb(t, "explain", "SELECT * FROM sessions WHERE id = 's'", "--json", "--db", db)
	var plan []sqlitedb.PlanRow
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || len(plan) == 0 {
		t.Fatalf("explain <sql> --json --db: %v, want JSON\n%s", err, out)
	}
	// After "--" everything is an argument: here a second word of the SQL.
	_, _, err = clidb(t, "explain", "--db", db, "--", "SELECT", "--json")
	if err == nil || strings.Contains(errorText(err), "flag") {
		t.Fatalf("explain -- SELECT --json: %v, want SQLite refusing the statement, not a flag error", err)
	}
	// A command without arguments refuses one, naming it, wherever it is.
	_, _, err = clidb(t, "stats", "--db", db, "extra", "--json")
	if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), `"extra"`) {
		t.Fatalf("stats extra: %v, want a usage error naming the argument", err)
	}
}

// Flag errors name flags as the help does, with two dashes.
func TestCLI_FlagErrorsUseDoubleDash(t *testing.T) {
	withEnv(t, nil)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stats", "--bogus"}, "not defined: --bogus"},
		{[]string{"stats", "-bogus"}, "not defined: --bogus"},
		{[]string{"stats", "--db"}, "needs an argument: --db"},
		{[]string{"stats", "--busy-timeout", "soon"}, "for flag --busy-timeout"},
		{[]string{"stats", "--json=maybe"}, "for --json"},
	} {
		_, _, err := clidb(t, c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), c.want) {
			t.Errorf("%v: %v, want a usage error with %q", c.args, err, c.want)
		}
	}
}

// Every command's -h has examples, names every flag's type (never the
// flag package's "value"), and the file-only commands' --db offers no URL.
func TestCLI_HelpIdiom(t *testing.T) {
	withEnv(t, nil)
	for _, cmd := range commands {
		h := helpOf(t, cmd)
		if cmd != "version" && !strings.Contains(h, "\nExamples:\n  cortex "+cmd) {
			t.Errorf("cortex %s -h has no examples:\n%s", cmd, h)
		}
		if m := regexp.MustCompile(`(?m)^  --[a-z-]+ value$`).FindString(h); m != "" {
			t.Errorf("cortex %s -h shows a flag of type value: %q", cmd, m)
		}
		switch cmd {
		case "stats", "health", "checkpoint", "backup", "restore", "explain":
			if i := strings.Index(h, "  --db "); i < 0 || strings.Contains(strings.SplitN(h[i:], "\n  --", 3)[1], "postgres") {
				t.Errorf("cortex %s -h: --db offers PostgreSQL, which the command refuses", cmd)
			}
		}
	}
	if h := helpOf(t, "health"); !strings.Contains(h, "2 unhealthy") || !strings.Contains(h, "3 a usage error") {
		t.Errorf("health -h does not explain its exit status:\n%s", h)
	}
}

// bench ignores CORTEX_DB (it makes its own files) and reads the token
// from serve's variable.
func TestCLI_BenchEnvironment(t *testing.T) {
	withEnv(t, map[string]string{"CORTEX_DB": "./data/cortex.db", "CORTEX_API_TOKEN": "tok", "CORTEX_TOKEN": "old"})
	var c benchCmd
	if err := parseFlags(c.flags(&bytes.Buffer{}), nil, 0); err != nil {
		t.Fatalf("bench with CORTEX_DB set: %v", err)
	}
	if c.db.db != "" || c.token != "tok" {
		t.Fatalf("bench: --db %q (want none: CORTEX_DB is not bench's), --token %q (want CORTEX_API_TOKEN's)", c.db.db, c.token)
	}
	if h := helpOf(t, "bench"); !strings.Contains(h, "[$CORTEX_API_TOKEN]") || strings.Contains(h, "[$CORTEX_DB]") {
		t.Errorf("bench -h shows the wrong variables")
	}
}

// checkpoint's table and --json have the same fields, those of the admin
// API (sqliteOps.Checkpoint answers the same report).
func TestCLI_CheckpointFieldsAgree(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	out, _, err := clidb(t, "checkpoint", "--db", db, "--json")
	var js map[string]any
	if err != nil || json.Unmarshal([]byte(out), &js) != nil {
		t.Fatalf("checkpoint --json: %v\n%s", err, out)
	}
	human, _, err := clidb(t, "checkpoint", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(human), "\n") {
		rows = append(rows, strings.Fields(l)[0])
	}
	var keys []string
	for k := range js {
		keys = append(keys, k)
	}
	slices.Sort(rows)
	slices.Sort(keys)
	if !slices.Equal(rows, keys) {
		t.Fatalf("checkpoint: table rows %v, JSON fields %v", rows, keys)
	}
	d, err := sqlitedb.Open(t.Context(), db, sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := (&sqliteOps{db: d}).Checkpoint(t.Context(), "passive")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	var api map[string]any
	json.Unmarshal(b, &api)
	var apiKeys []string
	for k := range api {
		apiKeys = append(apiKeys, k)
	}
	slices.Sort(apiKeys)
	if !slices.Equal(apiKeys, keys) {
		t.Fatalf("admin API checkpoint fields %v, CLI's %v", apiKeys, keys)
	}
}

// health prints sizes as stats does, never a raw byte count.
func TestCLI_HealthSizes(t *testing.T) {
	withEnv(t, nil)
	db := seed(t)
	out, _, err := clidb(t, "health", "--db", db)
	if err != nil {
		t.Fatalf("health: %v\n%s", err, out)
	}
	if regexp.MustCompile(`\d{4,} bytes`).MatchString(out) || !regexp.MustCompile(`\d+\.\d [KMGT]iB free`).MatchString(out) {
		t.Fatalf("health prints raw bytes, want 56.0 KiB as stats:\n%s", out)
	}
}

func TestCLI_Version(t *testing.T) {
	withEnv(t, nil)
	out, _, err := clidb(t, "version", "--json")
	var v versionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if v.Module != "github.com/cortex-db/cortex" || v.SQLite != sqlitedb.LibVersion() || !strings.HasPrefix(v.SQLite, "3.") || v.Settings["CGO_ENABLED"] != "1" {
		t.Fatalf("version: %+v", v)
	}
	out, _, err = clidb(t, "version")
	if err != nil || !strings.HasPrefix(out, "cortex ") || !strings.Contains(out, "sqlite") {
		t.Fatalf("version: %v\n%s", err, out)
	}
}

// stats (CLI and admin API) has the session count, from the counter, not
// a scan.
func TestCLI_StatsCounts(t *testing.T) {
	withEnv(t, nil)
	db := seed(t) // one session, two snapshots
	out, _, err := clidb(t, "stats", "--db", db, "--json")
	var st struct{ Sessions *int64 }
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Sessions == nil || *st.Sessions != 1 {
		t.Fatalf("stats --json: %v, want sessions 1\n%s", err, out)
	}
	human, _, err := clidb(t, "stats", "--db", db)
	if err != nil || !regexp.MustCompile(`(?m)^sessions\s+1$`).MatchString(human) {
		t.Fatalf("stats: %v\n%s", err, human)
	}
	d, err := sqlitedb.Open(t.Context(), db, sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := (&sqliteOps{db: d}).Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	if err := json.Unmarshal(b, &st); err != nil || st.Sessions == nil || *st.Sessions != 1 {
		t.Fatalf("admin stats: %s", b)
	}
}
