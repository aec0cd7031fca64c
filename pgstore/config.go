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
	// rest), and never less than one connection each.
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
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Options = c.Options.WithDefaults()
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}
