package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
)

// lookupEnv reads the environment; tests replace it.
var lookupEnv = os.LookupEnv

// envName is the environment twin of a flag: --busy-timeout → CORTEX_BUSY_TIMEOUT.
func envName(flagName string) string {
	return "CORTEX_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// noEnvTwin are the flags of one invocation, not of a configuration: they
// have no environment variable, so that one left exported (CORTEX_FORCE,
// CORTEX_ACCEPT_WAL_LOSS) cannot change every later command, and commands
// that share a flag name (checkpoint's and bench's --mode) do not share a
// variable.
var noEnvTwin = map[string]bool{
	"force": true, "accept-wal-loss": true, "json": true, "out": true,
	"from": true, "to": true, "mode": true, "compact": true, "integrity": true, "verify-only": true,
}

// envOverride gives a flag of one command another environment twin than
// CORTEX_<FLAG>, keyed by "command.flag"; "" means none. bench's --token
// reads the variable serve's --api-token reads, and bench's --db reads no
// variable: a CORTEX_DB exported for the ops commands names a SQLite file,
// and bench makes its own.
var envOverride = map[string]string{
	"bench.token": "CORTEX_API_TOKEN",
	"bench.db":    "",
}

// envTwin is the environment variable of a command's flag, "" for none.
func envTwin(cmd, flagName string) string {
	if v, ok := envOverride[cmd+"."+flagName]; ok {
		return v
	}
	if noEnvTwin[flagName] {
		return ""
	}
	return envName(flagName)
}

// examples are the lines the -h of each command ends with.
var examples = map[string]string{
	"serve": `cortex serve                                   # 127.0.0.1:8080, database ./data/cortex.db
  cortex serve --db /var/lib/cortex/cortex.db --addr :8080 --api-token "$(cat /etc/cortex/token)"
  cortex serve --db postgres://cortex@db:5432/cortex --keep-snapshots 100`,
	"stats":      `cortex stats --db ./data/cortex.db --json`,
	"health":     `cortex health --db ./data/cortex.db --integrity quick || echo "exit $?"`,
	"checkpoint": `cortex checkpoint --db ./data/cortex.db --mode truncate`,
	"backup": `cortex backup --db ./data/cortex.db --out /var/backups/cortex-$(date +%F).db
  cortex backup --db ./data/cortex.db --out ./small.db --compact`,
	"restore": `cortex restore --db ./data/cortex.db --from /var/backups/cortex-2026-12-05.db   # stop the server first`,
	"explain": `cortex explain --db ./data/cortex.db "SELECT id FROM sessions ORDER BY last_active DESC LIMIT 10"
  cortex explain "SELECT version, size_bytes FROM state_snapshots WHERE session_id = 1" --json`,
	"migrate": `cortex migrate --from ./data/cortex.db --to postgres://cortex@db:5432/cortex
  cortex migrate --from postgres://cortex@db:5432/cortex --to ./copy.db --json`,
	"bench": `cortex bench --workload append --concurrency 1,8,64 \
    --configs sqlite-normal,sqlite-full,naive,seed --json --svg out.svg > out.json
  cortex bench --mode http --url http://127.0.0.1:8080 --workload mix`,
}

// flagTypeName is the word -h shows after a flag: the flag package's
// (string, duration, int) or, for this package's values, what they take.
func flagTypeName(f *flag.Flag) (name, usage string) {
	name, usage = flag.UnquoteUsage(f)
	switch v := f.Value.(type) {
	case choice:
		name = strings.Join(v.allowed, "|")
	case *byteSize, *setSize:
		name = "size"
	}
	if name == "value" {
		name = "string"
	}
	return name, usage
}

// newFlagSet makes a command's flag set; usage is its one-line synopsis.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	synopses[name] = usage
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cortex %s\n\nFlags (before or after the arguments; those with a [$VARIABLE] are also read from it; a flag beats its variable):\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			tname, u := flagTypeName(f)
			line := "  --" + f.Name
			if tname != "" {
				line += " " + tname
			}
			fmt.Fprintf(stderr, "%s\n    \t%s", line, strings.ReplaceAll(u, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(stderr, " (default %s)", f.DefValue)
			}
			if env := envTwin(name, f.Name); env != "" {
				fmt.Fprintf(stderr, " [$%s]", env)
			}
			fmt.Fprintln(stderr)
		})
		if ex := examples[name]; ex != "" {
			fmt.Fprintf(stderr, "\nExamples:\n  %s\n", ex)
		}
	}
	return fs
}

// goFlagName matches the single-dash flag names in the flag package's
// errors ("flag provided but not defined: -bogus"), which the help and
// the docs write with two.
var goFlagName = regexp.MustCompile(`(defined: |argument: |for flag |for )-([^-\s:][^\s:]*)`)

// dashdash rewrites the flag package's error to name flags as --flag.
func dashdash(err error) string {
	return goFlagName.ReplaceAllString(err.Error(), "${1}--${2}")
}

// parseInterleaved parses flags wherever they are among the positional
// arguments, as Go's own tools do (cortex explain "SELECT 1" --json);
// everything after a "--" is positional. It leaves fs.Args() holding the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Parse once more over "--" and the positional arguments alone: the
	// values set stay set, and fs.Args() is the positional arguments.
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseFlags parses args, flags before or after the positional
// arguments, then fills every flag not given on the command line from its
// environment twin. Extra positional arguments are refused unless maxArgs
// allows them.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) error {
	// The flag package prints the error and the whole usage on a bad
	// flag; only -h gets the usage here, a bad flag one line and a hint.
	if flagSetSeen != nil {
		flagSetSeen(fs)
	}
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := parseInterleaved(fs, args)
	fs.SetOutput(out)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return &exitError{code: 0}
		}
		return withHint(fmt.Errorf("%s: %w", dashdash(err), errUsage), fmt.Sprintf("cortex %s -h", fs.Name()))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		env := envTwin(fs.Name(), f.Name)
		if err != nil || given[f.Name] || env == "" {
			return
		}
		if v, ok := lookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = withHint(fmt.Errorf("%s=%q: %v: %w", env, v, e, errUsage), fmt.Sprintf("fix or unset %s", env))
			}
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() > maxArgs {
		return withHint(fmt.Errorf("unexpected argument %q: %w", fs.Arg(maxArgs), errUsage), fmt.Sprintf("cortex %s -h", fs.Name()))
	}
	return nil
}

// choice is a flag.Value for a string out of a fixed set (case-insensitive,
// kept in lower case), so a wrong value is a usage error naming the flag.
type choice struct {
	v       *string
	allowed []string
}

func (c choice) String() string {
	if c.v == nil {
		return ""
	}
	return *c.v
}

func (c choice) Set(s string) error {
	s = strings.ToLower(s)
	if slices.Contains(c.allowed, s) {
		*c.v = s
		return nil
	}
	return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
}

// byteSize is a flag.Value for sizes such as 64MiB, 1GiB, 512KB or 1048576.
type byteSize int64

func (b *byteSize) String() string { return formatSize(int64(*b)) }

// Set parses a size: a number with an optional unit B, KiB, MiB, GiB, TiB
// (powers of 1024) or KB, MB, GB, TB (powers of 1000).
func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// setSize is a byteSize that remembers whether it was given, by its flag
// or its environment twin.
type setSize struct {
	byteSize
	set bool
}

func (s *setSize) Set(v string) error {
	s.set = true
	return s.byteSize.Set(v)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, such as 64MiB, 1GiB or 1048576", s)
	}
	v := f * float64(mult)
	if v > math.MaxInt64/2 || v < math.MinInt64/2 {
		return 0, fmt.Errorf("size %q is out of range", s)
	}
	return int64(v), nil
}

func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// dbFlags are the flags of every command that opens a database.
type dbFlags struct {
	db                 string
	journalMode        string
	synchronous        string
	busyTimeout        time.Duration
	mmapSize           byteSize
	readers            int
	poolTimeout        time.Duration
	walAutocheckpoint  int
	checkpointInterval time.Duration
	walLimit           setSize
	allowNetworkFS     bool
	acceptWALLoss      bool
	// replication (serving only)
	replication           string
	replicationStallAfter time.Duration
	replicationHardLimit  byteSize
	snapshotWALLimit      byteSize
	replicationNoTruncate bool
	litestreamMetaDir     string
	litestreamCkptPages   int
	walBuffer             string
}

// defaultDB is where the database lives when --db is not given.
const defaultDB = "./data/cortex.db"

// register adds the flags of the database file, which every command that
// opens one takes.
func (f *dbFlags) register(fs *flag.FlagSet) {
	f.mmapSize = sqlitedb.DefaultMmapSize
	f.walLimit = setSize{byteSize: sqlitedb.DefaultWALLimit}
	fs.StringVar(&f.db, "db", defaultDB, "database: a SQLite file path, or a postgres:// URL for PostgreSQL")
	f.journalMode, f.synchronous = sqlitedb.DefaultJournalMode, sqlitedb.DefaultSynchronous
	fs.Var(choice{&f.journalMode, []string{"wal", "delete", "memory"}}, "journal-mode", "SQLite journal mode: wal, delete or memory (memory is not durable)")
	fs.Var(choice{&f.synchronous, []string{"normal", "full"}}, "synchronous", "SQLite synchronous: normal (WAL: safe on process crash, the last commits may be lost on power loss) or full (fsync every commit)")
	fs.DurationVar(&f.busyTimeout, "busy-timeout", sqlitedb.DefaultBusyTimeout, "how long SQLite waits for a lock held by another process")
	fs.Var(&f.mmapSize, "mmap-size", "memory-mapped I/O size (0 disables it)")
	fs.Var(&f.walLimit, "wal-limit", "bound on the -wal file: past half of it checkpoints end with a RESTART, past it a TRUNCATE shrinks the file and health degrades (512MiB unless given with --replication=litestream, and for a file with Litestream's metadata folder beside it: Litestream's checkpoints set the WAL's length, docs/replication.md)")
	fs.BoolVar(&f.allowNetworkFS, "allow-network-fs", false, "open a WAL database on a network filesystem anyway (unsafe: WAL locking does not work across machines)")
	fs.BoolVar(&f.acceptWALLoss, "accept-wal-loss", false, "open a database whose -wal has a damaged frame, letting recovery drop the commits after it (otherwise refused: restore a backup instead)")
}

// registerFile adds the flags of the database file for a command that
// works on a SQLite file only (the ops commands): its --db takes no URL.
func (f *dbFlags) registerFile(fs *flag.FlagSet) {
	f.register(fs)
	fs.Lookup("db").Usage = "the SQLite database file (these commands work on a file; for PostgreSQL use its own tools)"
}

// registerServing adds the flags of a long-running process: the reader
// pool and the background checkpointer. The ops commands do not take them:
// they open the file briefly, with two readers and no checkpointer.
func (f *dbFlags) registerServing(fs *flag.FlagSet) {
	fs.IntVar(&f.readers, "readers", 0, "read-only connections (0: 4 × cores, at least 4)")
	fs.DurationVar(&f.poolTimeout, "pool-timeout", sqlitedb.DefaultPoolTimeout, "longest wait for a reader connection")
	fs.IntVar(&f.walAutocheckpoint, "wal-autocheckpoint", sqlitedb.DefaultWALAutoCheckpoint, "WAL frames past which the background checkpointer runs a PASSIVE checkpoint, off the write path (0: none)")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", sqlitedb.DefaultCheckpointInterval, "period of scheduled checkpoints (0: no background checkpointer)")
	f.replication = sqlitedb.ReplicationNone
	fs.Var(choice{&f.replication, []string{sqlitedb.ReplicationNone, sqlitedb.ReplicationLitestream}}, "replication", "none, or litestream: a Litestream sidecar replicates the database; cortex runs only PASSIVE checkpoints and leaves WAL restarts to it (docs/replication.md)")
	fs.DurationVar(&f.replicationStallAfter, "replication-stall-after", sqlitedb.DefaultReplicationStallAfter, "with --replication: commits waiting this long with no Litestream progress make health degraded (replication stalled)")
	fs.Var(&f.snapshotWALLimit, "snapshot-wal-limit", "WAL size past which a long read holding one snapshot (an online backup's copy, a quick or full integrity check) is stopped so the WAL can be reset: a check starts over (at most 3 times), a backup fails (0: 1 GiB or a quarter of the database file, whichever is larger)")
	fs.Var(&f.replicationHardLimit, "replication-hard-limit", "with --replication: WAL size past which, while replication is stalled, cortex takes checkpointing back to bound the WAL (0: 2 × --wal-limit)")
	fs.BoolVar(&f.replicationNoTruncate, "replication-never-truncate", false, "with --replication: never restart or truncate the WAL behind a stalled replica (the WAL grows without bound; health says so)")
	fs.StringVar(&f.litestreamMetaDir, "litestream-meta-dir", "", "with --replication=litestream: Litestream's metadata folder, where cortex reads its position (empty: <dir>/.<file>-litestream, where Litestream keeps it unless its meta-path says otherwise)")
	fs.IntVar(&f.litestreamCkptPages, "litestream-checkpoint-pages", sqlitedb.DefaultLitestreamCheckpointPages, "with --replication=litestream: the min-checkpoint-page-count of litestream.yml (set both to the same value; docs/replication.md's litestream.yml sets 32768): after a Litestream sync that leaves this many WAL frames, the writer steps aside for Litestream's checkpoint")
	f.walBuffer = "on"
	fs.Var(choice{&f.walBuffer, []string{"on", "off"}}, "wal-buffer", "walbuf, the VFS shim that writes each commit's -wal frames in one call: on (used when the SQLite version is one it was tested with; stats say) or off (docs/design-walbuf.md)")
}

// isPostgres reports whether --db selects PostgreSQL.
func (f *dbFlags) isPostgres() bool {
	return strings.HasPrefix(f.db, "postgres://") || strings.HasPrefix(f.db, "postgresql://")
}

// sqliteConfig turns the flags into a sqlitedb.Config. The flags' zero
// means "off" where sqlitedb's zero means "default", so they are mapped.
func (f *dbFlags) sqliteConfig() sqlitedb.Config {
	cfg := sqlitedb.Config{
		JournalMode:        f.journalMode,
		Synchronous:        f.synchronous,
		BusyTimeout:        f.busyTimeout,
		MmapSize:           int64(f.mmapSize),
		Readers:            f.readers,
		PoolTimeout:        f.poolTimeout,
		WALAutoCheckpoint:  f.walAutocheckpoint,
		CheckpointInterval: f.checkpointInterval,
		WALLimit:           int64(f.walLimit.byteSize),
		AllowNetworkFS:     f.allowNetworkFS,
		AcceptWALLoss:      f.acceptWALLoss,

		Replication:               f.replication,
		ReplicationStallAfter:     f.replicationStallAfter,
		ReplicationHardLimit:      int64(f.replicationHardLimit),
		SnapshotWALLimit:          int64(f.snapshotWALLimit),
		ReplicationNeverTruncate:  f.replicationNoTruncate,
		LitestreamMetaDir:         f.litestreamMetaDir,
		LitestreamCheckpointPages: f.litestreamCkptPages,
		NoWALBuffer:               f.walBuffer == "off",
	}

	if cfg.MmapSize == 0 {
		cfg.MmapSize = -1
	}
	if f.replication == sqlitedb.ReplicationLitestream && !f.walLimit.set {
		cfg.WALLimit = 0 // sqlitedb's default for the mode: DefaultReplicationWALLimit
	}
	if cfg.WALAutoCheckpoint == 0 {
		cfg.WALAutoCheckpoint = -1
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = -1
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = time.Millisecond // 0 is sqlitedb's default; the smallest wait is the closest to "none"
	}
	return cfg
}
