package pgstore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cortex-db/cortex/state"
)

// Config configures a Store. The zero value means the documented defaults.
type Config struct {
	// Options are the settings shared by every backend: MaxStateBytes and the
	// clock. Every timestamp the store writes comes from Options.Now.
	state.Options

	// MaxConns is the number of connections for writes (the write pool);
	// 0 keeps the URL's pool_max_conns, else half the number of CPUs
	// (at least 2): a writer limit, so that appends from any number of
	// goroutines leave the CPU room for reads. Either way it is capped by
	// the server's room (see ReadConns).
	MaxConns int32
	// ReadConns is the size of a second pool that serves only reads
	// (GetSession, ListSessions, LatestSnapshot, GetSnapshot, History), so
	// that appends holding every write connection cannot starve them; 0
	// means the larger of 4 and the number of CPUs. Both are capped so that together
	// they take at most half of the server's room, max_connections less
	// superuser_reserved_connections (other clients and servers need the
	// rest), and never less than one connection each. A third pool of one
	// connection, opened by the first slice, runs the janitor's reclaim
	// and retention slices (retention.go), so that they never hold one
	// of the write pool's connections.
	ReadConns int32
	// MinConns is the number of idle connections kept open; 0 keeps the URL's
	// pool_min_conns or none.
	MinConns int32
	// Logger receives Open's warnings (rows a migration repaired); nil
	// discards them.
	Logger *slog.Logger
	// ConnectTimeout bounds Open's first connection and migrations; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Slices bounds the work the store does in slices, each its own short
	// transaction: reclaiming deleted and expired sessions, pruning,
	// copying a fork. The zero value means the documented defaults.
	Slices SliceConfig
}

// SliceConfig bounds each slice of the store's long work (reclaim,
// retention, fork copies), so that no transaction of it holds locks, a
// connection or the server's I/O for long, and other writes run between
// slices. The zero value means DefaultSliceBudget, DefaultSliceRows,
// DefaultForkShare and DefaultForkLease.
type SliceConfig struct {
	// Budget is the time one slice's transaction may work before it
	// commits (0: DefaultSliceBudget). A slice stops at the first
	// statement that ends past it, having done at least one, so it takes
	// about Budget plus one statement of at most Rows rows.
	Budget time.Duration
	// Rows is the most rows one statement of a slice removes or copies
	// (0: DefaultSliceRows).
	Rows int
	// ForkShare is the share of time a fork's copy works: after a copy
	// slice that took w, the fork waits w·(1/ForkShare − 1) before the
	// next (0: DefaultForkShare; 1: no wait). The janitor's share of
	// reclaim and retention is state.JanitorConfig.WriterShare.
	ForkShare float64
	// ForkLease is how long the hidden row of a fork being copied stays
	// its own after the fork's last slice (0: DefaultForkLease): a fork
	// whose process died is reclaimed by the janitor once it has run out.
	// Each slice renews it, so only a fork stalled longer than this
	// between two slices loses its row (it then fails; nothing partial
	// becomes visible).
	ForkLease time.Duration
}

// Defaults of SliceConfig.
const (
	DefaultSliceBudget = 10 * time.Millisecond
	DefaultSliceRows   = 64
	DefaultForkShare   = 0.5
	DefaultForkLease   = 5 * time.Minute
)

func (c SliceConfig) withDefaults() SliceConfig {
	if c.Budget == 0 {
		c.Budget = DefaultSliceBudget
	}
	if c.Rows == 0 {
		c.Rows = DefaultSliceRows
	}
	if c.ForkShare == 0 {
		c.ForkShare = DefaultForkShare
	}
	if c.ForkLease == 0 {
		c.ForkLease = DefaultForkLease
	}
	return c
}

// DefaultConnectTimeout is Config.ConnectTimeout's default.
const DefaultConnectTimeout = 15 * time.Second

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxConns < 0:
		return fmt.Errorf("pgstore: config MaxConns %d is negative", c.MaxConns)
	case c.MinConns < 0:
		return fmt.Errorf("pgstore: config MinConns %d is negative", c.MinConns)
	case c.ReadConns < 0:
		return fmt.Errorf("pgstore: config ReadConns %d is negative", c.ReadConns)
	case c.MaxConns > 0 && c.MinConns > c.MaxConns:
		return fmt.Errorf("pgstore: config MinConns %d is more than MaxConns %d", c.MinConns, c.MaxConns)
	case c.ConnectTimeout < 0:
		return fmt.Errorf("pgstore: config ConnectTimeout %s is negative", c.ConnectTimeout)
	case c.MaxStateBytes < 0:
		return fmt.Errorf("pgstore: config MaxStateBytes %d is negative", c.MaxStateBytes)
	case c.Slices.Budget < 0:
		return fmt.Errorf("pgstore: config Slices.Budget %s is negative", c.Slices.Budget)
	case c.Slices.Rows < 0:
		return fmt.Errorf("pgstore: config Slices.Rows %d is negative", c.Slices.Rows)
	case c.Slices.ForkShare < 0 || c.Slices.ForkShare > 1:
		return fmt.Errorf("pgstore: config Slices.ForkShare %g is out of range: give a share in (0, 1], or 0 for %g", c.Slices.ForkShare, DefaultForkShare)
	case c.Slices.ForkLease < 0:
		return fmt.Errorf("pgstore: config Slices.ForkLease %s is negative", c.Slices.ForkLease)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Options = c.Options.WithDefaults()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	c.Slices = c.Slices.withDefaults()
	return c
}
