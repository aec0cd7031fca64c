package state

import (
	"context"
	"time"
)

// SetJanitorSleep replaces the janitor's wait between slices, for tests.
func SetJanitorSleep(c *JanitorConfig, f func(ctx context.Context, d time.Duration) error) {
	c.sleep = f
}
