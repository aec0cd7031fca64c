package state

import (
	"context"
	"time"
)

// SetJanitorSleep replaces the janitor's wait between slices, for tests.
func SetJanitorSleep(c *JanitorConfig, f func(ctx context.Context, d time.Duration) error) {
	c.sleep = f
}

// SetJanitorClock replaces the clock that times the janitor's slice calls,
// for tests.
func SetJanitorClock(c *JanitorConfig, now func() time.Time) {
	c.now = now
}
