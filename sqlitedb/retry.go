package sqlitedb

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff bounds between retries of a busy transaction.
const (
	backoffBase = 2 * time.Millisecond
	backoffMax  = 250 * time.Millisecond
)

// backoff returns the wait before retry number attempt (0-based):
// exponential, capped, with full jitter so that contending processes spread
// out instead of colliding again.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt, 16)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// sleepBackoff waits before a retry of a group. It gives up early when the
// DB closes or no request in the group still wants an answer.
func sleepBackoff(ctx context.Context, attempt int, reqs []*writeReq) bool {
	t := time.NewTimer(backoff(attempt))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	for _, r := range reqs {
		if r.ctx.Err() == nil {
			return true
		}
	}
	return false
}

// sleepCtx waits d or until ctx ends; false if ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
