package sqlitedb

import (
	"database/sql/driver"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultJournalMode        = "wal"
	DefaultSynchronous        = "normal"
	DefaultBusyTimeout        = 5 * time.Second
	DefaultMmapSize           = 256 << 20
	DefaultJournalSizeLimit   = 64 << 20
	DefaultCacheSizeKiB       = 16 << 10
	DefaultPoolTimeout        = 5 * time.Second
	DefaultWALAutoCheckpoint  = 1000
	DefaultCheckpointInterval = 5 * time.Minute
	DefaultCheckpointPoll     = 100 * time.Millisecond
	DefaultWALLimit           = 64 << 20
	DefaultMaxBatch           = 512
	DefaultMaxQueue           = 8192
	DefaultMaxRetries         = 10
)

// Config configures a DB. The zero value of every field means the default
// named beside it; Validate names the first bad field.
type Config struct {
	// JournalMode is "wal" (default), "delete" or "memory". MEMORY is not
	// durable: a crash mid-transaction can corrupt the database; Open logs a
	// warning. https://www.sqlite.org/pragma.html#pragma_journal_mode
	JournalMode string
	// Synchronous is "normal" (default) or "full". In WAL mode NORMAL loses
	// nothing on a process crash, but the last commits may be rolled back by
	// a power loss or OS crash; FULL fsyncs the WAL on every commit and
	// survives those too. https://www.sqlite.org/pragma.html#pragma_synchronous
	Synchronous string
	// BusyTimeout is how long SQLite waits for a lock held by another
	// connection or process before SQLITE_BUSY. 0 means the default (5s),
	// not "fail at once": SQLite's busy_timeout=0 cannot be asked for, as
	// this package's own connections (the checkpointer, the writer) would
	// fail whenever they met each other; the smallest wait is 1ms.
	BusyTimeout time.Duration
	// MmapSize is the memory-mapped I/O size in bytes (default 256 MiB; <0
	// disables it). https://www.sqlite.org/mmap.html
	MmapSize int64
	// JournalSizeLimit bounds the WAL file left after a checkpoint resets it
	// (default 64 MiB; <0 means no limit), so a RESTART or TRUNCATE
	// checkpoint really gives the space back. While the -wal file is more
	// than 64 MiB past it (a long read held the log), the writer's limit is
	// lifted and the checkpointer cuts the file back in 64 MiB steps
	// instead: SQLite would cut it in one call, on the writer.
	JournalSizeLimit int64
	// CacheSizeKiB is the page cache per connection in KiB (default 16 MiB).
	CacheSizeKiB int
	// Readers is the number of read-only connections (default 4 × cores, at
	// least 4).
	Readers int
	// PoolTimeout bounds the wait for a reader connection (default 5s);
	// past it Read returns ErrPoolTimeout.
	PoolTimeout time.Duration
	// WALAutoCheckpoint is the WAL size in frames past which the background
	// checkpointer runs a PASSIVE checkpoint, off the write path (default
	// 1000; <0 disables frame-triggered checkpoints). SQLite's own
	// wal_autocheckpoint is set to 0 on every connection so commits never run
	// checkpoints themselves.
	WALAutoCheckpoint int
	// CheckpointInterval is the period of scheduled checkpoints (default 5m;
	// <0 disables the background checkpointer altogether, and SQLite's own
	// auto-checkpoint is then left at WALAutoCheckpoint frames).
	CheckpointInterval time.Duration
	// WALLimit bounds the -wal file, in bytes (default 64 MiB; 512 MiB
	// with Replication litestream, DefaultReplicationWALLimit). Past half
	// of it the checkpointer ends its rounds with a RESTART checkpoint, near
	// it the writer runs one before its next transaction, so that the WAL
	// starts over instead of growing under continuous reads; it is passed
	// only while a reader holds an old snapshot for longer than the
	// writer's waits (a backup, a long read), and then health reports
	// degraded and the checkpointer escalates to TRUNCATE.
	WALLimit int64
	// SnapshotWALLimit bounds the -wal file while a long read holds one
	// read snapshot (an online backup's copy, a quick or full integrity
	// check): no checkpoint can reset the WAL meanwhile, so it grows by
	// everything committed. Past this size the long read is stopped (a
	// check starts over once the WAL is reset, a backup fails with
	// ErrSnapshotHeld). Default: 1 GiB or a quarter of the database file,
	// whichever is larger; <0 never stops them (the WAL then grows for as
	// long as they run). Needs the background checkpointer.
	SnapshotWALLimit int64
	// MaxBatch bounds how many queued writes group commit runs in one
	// transaction (default 512). 1 disables group commit.
	MaxBatch int
	// MaxQueue bounds the writer queue (default 8192); when it is full,
	// Write waits for room until its context ends.
	MaxQueue int
	// MaxRetries bounds the attempts of a transaction that fails with
	// SQLITE_BUSY (default 10), with exponential backoff and jitter between
	// them; the context bounds them too.
	MaxRetries int
	// AllowNetworkFS opens a WAL database on a network filesystem anyway.
	// Do not: WAL needs shared memory that network filesystems do not share
	// between machines. https://www.sqlite.org/wal.html
	AllowNetworkFS bool
	// AllowUnsafeVersion opens the database even when the linked SQLite has
	// the WAL-reset corruption bug (3.7.0 to 3.51.2 except 3.44.6+ and
	// 3.50.7+). https://sqlite.org/wal.html#walresetbug
	AllowUnsafeVersion bool
	// AcceptWALLoss opens a database whose -wal file has a damaged frame
	// followed by committed frames, letting SQLite's recovery drop those
	// commits (after a power loss with synchronous=normal this is the
	// documented loss). Without it, Open refuses with ErrCorrupt and leaves
	// the files untouched, so a backup can be restored instead.
	AcceptWALLoss bool
	// NoCloseCheckpoint makes Close skip its final TRUNCATE checkpoint: for
	// short-lived tools (stats, health) that open a database another
	// process is serving, where a checkpoint would be a side effect and
	// could wait for that process's readers.
	NoCloseCheckpoint bool
	// Replication is "none" (default: cortex owns checkpointing) or
	// "litestream": a Litestream v0.5 sidecar replicates the database and
	// owns WAL restarts and truncation; cortex runs only PASSIVE
	// checkpoints and its writer never waits on Litestream's reader, until
	// the fallback takes checkpointing back (see ReplicationHardLimit).
	// docs/replication.md is the contract.
	Replication string
	// ReplicationStallAfter is how long commits may wait with no change of
	// Litestream's position before replication counts as stalled (default
	// 30s): health degrades, saying since when and why. A WAL that holds
	// more than WALLimit since it last started over counts as stalled too.
	ReplicationStallAfter time.Duration
	// ReplicationHardLimit is the WAL size past which, while replication
	// is stalled, cortex takes checkpointing back (RESTART/TRUNCATE, as in
	// mode none) so the WAL stays bounded (default 2 × WALLimit); it gives
	// it back when Litestream's position moves again. Litestream then
	// takes a new snapshot.
	ReplicationHardLimit int64
	// ReplicationNeverTruncate keeps cortex from ever restarting or
	// truncating the WAL behind a stalled replica: the WAL grows without
	// bound, and health says so.
	ReplicationNeverTruncate bool
	// LitestreamMetaDir is Litestream's metadata folder for this database,
	// where cortex reads its position (default <dir>/.<file>-litestream,
	// Litestream's own default; set it when litestream.yml sets meta-path).
	LitestreamMetaDir string
	// LitestreamCheckpointPages is the min-checkpoint-page-count of
	// litestream.yml, the WAL length in frames past which Litestream
	// checkpoints right after a sync (default 32768,
	// DefaultLitestreamCheckpointPages, the value docs/replication.md's
	// litestream.yml sets; Litestream's own default is 1000). The writer
	// steps aside for that checkpoint after a sync that leaves this many
	// frames or more, so the two must match: set it lower than
	// Litestream's and the writer pauses (at most 100 ms) for checkpoints
	// that do not come; higher, and Litestream's checkpoints find the
	// write lock taken until the WAL reaches this length.
	LitestreamCheckpointPages int
	// OnConnect, when set, runs on each new connection this DB opens (the
	// writer, the checkpointer and every reader), after the pragmas and
	// before any other use: to run SQL on it (through driver.ExecerContext)
	// or to register functions (the connection is a
	// *github.com/mattn/go-sqlite3.SQLiteConn: RegisterFunc). An error
	// fails the connection, and Open with it. Readers are query_only.
	OnConnect func(driver.Conn) error
	// NoWALBuffer turns off walbuf, the VFS shim that gathers each
	// transaction's -wal writes into one write(2) (docs/design-walbuf.md).
	// The zero value uses it when the linked SQLite is a version it was
	// tested with (3.54.x); with another, connections use SQLite's default
	// VFS, the reason is logged, and Stats.WALBuffer says it.
	NoWALBuffer bool
	// vfs names the VFS under walbuf (or in its place with NoWALBuffer);
	// "" is SQLite's default. Tests set it to the power-loss harness.
	vfs string
	// Logger receives warnings (MEMORY journal, checkpoint starvation). nil
	// discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.JournalMode == "" {
		c.JournalMode = DefaultJournalMode
	}
	c.JournalMode = strings.ToLower(c.JournalMode)
	if c.Synchronous == "" {
		c.Synchronous = DefaultSynchronous
	}
	c.Synchronous = strings.ToLower(c.Synchronous)
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.MmapSize == 0 {
		c.MmapSize = DefaultMmapSize
	} else if c.MmapSize < 0 {
		c.MmapSize = 0
	}
	if c.JournalSizeLimit == 0 {
		c.JournalSizeLimit = DefaultJournalSizeLimit
	} else if c.JournalSizeLimit < 0 {
		c.JournalSizeLimit = -1
	}
	if c.CacheSizeKiB == 0 {
		c.CacheSizeKiB = DefaultCacheSizeKiB
	}
	if c.Readers == 0 {
		c.Readers = max(4, 4*runtime.NumCPU())
	}
	if c.PoolTimeout == 0 {
		c.PoolTimeout = DefaultPoolTimeout
	}
	if c.WALAutoCheckpoint == 0 {
		c.WALAutoCheckpoint = DefaultWALAutoCheckpoint
	} else if c.WALAutoCheckpoint < 0 {
		c.WALAutoCheckpoint = 0
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	c.Replication = strings.ToLower(c.Replication)
	if c.WALLimit == 0 {
		c.WALLimit = DefaultWALLimit
		if c.Replication == ReplicationLitestream {
			c.WALLimit = DefaultReplicationWALLimit
		}
	}
	if c.LitestreamCheckpointPages == 0 {
		c.LitestreamCheckpointPages = DefaultLitestreamCheckpointPages
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Replication == "" {
		c.Replication = ReplicationNone
	}
	if c.ReplicationStallAfter == 0 {
		c.ReplicationStallAfter = DefaultReplicationStallAfter
	}
	if c.ReplicationHardLimit == 0 {
		c.ReplicationHardLimit = 2 * c.WALLimit
	}
	return c
}

// Validate reports the first field whose value is not allowed.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch c.JournalMode {
	case "wal", "delete", "memory":
	default:
		return fmt.Errorf("config: JournalMode %q: want wal, delete or memory", c.JournalMode)
	}
	switch c.Synchronous {
	case "normal", "full":
	default:
		return fmt.Errorf("config: Synchronous %q: want normal or full", c.Synchronous)
	}
	if c.BusyTimeout < 0 {
		return fmt.Errorf("config: BusyTimeout %v: must not be negative", c.BusyTimeout)
	}
	if c.Readers < 1 {
		return fmt.Errorf("config: Readers %d: want at least 1", c.Readers)
	}
	if c.PoolTimeout < 0 {
		return fmt.Errorf("config: PoolTimeout %v: must not be negative", c.PoolTimeout)
	}
	if c.WALLimit < 0 {
		return fmt.Errorf("config: WALLimit %d: must not be negative", c.WALLimit)
	}
	switch c.Replication {
	case ReplicationNone, ReplicationLitestream:
	default:
		return fmt.Errorf("config: Replication %q: want none or litestream", c.Replication)
	}
	if c.Replication == ReplicationLitestream && c.JournalMode != "wal" {
		return fmt.Errorf("config: Replication litestream needs JournalMode wal, not %q", c.JournalMode)
	}
	if c.ReplicationStallAfter < 0 {
		return fmt.Errorf("config: ReplicationStallAfter %v: must not be negative", c.ReplicationStallAfter)
	}
	if c.ReplicationHardLimit < 0 {
		return fmt.Errorf("config: ReplicationHardLimit %d: must not be negative", c.ReplicationHardLimit)
	}
	if c.LitestreamCheckpointPages < 0 {
		return fmt.Errorf("config: LitestreamCheckpointPages %d: must not be negative", c.LitestreamCheckpointPages)
	}
	if c.MaxBatch < 1 {
		return fmt.Errorf("config: MaxBatch %d: want at least 1", c.MaxBatch)
	}
	if c.MaxQueue < 1 {
		return fmt.Errorf("config: MaxQueue %d: want at least 1", c.MaxQueue)
	}
	if c.MaxRetries < 1 {
		return fmt.Errorf("config: MaxRetries %d: want at least 1", c.MaxRetries)
	}
	return nil
}

// checkpointerOn reports whether the background checkpointer runs.
func (c Config) checkpointerOn() bool { return c.CheckpointInterval > 0 }

// pragmas returns the per-connection pragmas, in order, with the value each
// must read back as. Each is a durability or performance decision:
//   - journal_mode: WAL lets readers run beside the one writer
//     (https://www.sqlite.org/wal.html); it is persistent, set on the writer.
//   - synchronous: see Config.Synchronous.
//   - busy_timeout: wait for locks held by other processes instead of failing.
//   - foreign_keys: ON, so ON DELETE CASCADE and references are enforced
//     (off by default for compatibility: https://www.sqlite.org/foreignkeys.html).
//   - wal_autocheckpoint: 0 when the background checkpointer runs, so the
//     writer's commits never stall on a checkpoint.
func (c Config) pragmas() []pragma {
	sync := map[string]string{"normal": "1", "full": "2"}[c.Synchronous]
	autockpt := 0
	if !c.checkpointerOn() {
		autockpt = c.WALAutoCheckpoint
	}
	ps := []pragma{
		{"busy_timeout", fmt.Sprint(c.BusyTimeout.Milliseconds()), fmt.Sprint(c.BusyTimeout.Milliseconds())},
		{"synchronous", sync, sync},
		{"foreign_keys", "1", "1"},
		{"mmap_size", fmt.Sprint(c.MmapSize), fmt.Sprint(c.MmapSize)},
		{"journal_size_limit", fmt.Sprint(c.JournalSizeLimit), fmt.Sprint(c.JournalSizeLimit)},
		{"cache_size", fmt.Sprint(-c.CacheSizeKiB), fmt.Sprint(-c.CacheSizeKiB)},
		{"temp_store", "2", "2"}, // MEMORY: temp b-trees never touch the disk.
		{"wal_autocheckpoint", fmt.Sprint(autockpt), fmt.Sprint(autockpt)},
	}
	return ps
}

type pragma struct {
	name, value, want string
}
