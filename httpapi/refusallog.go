package httpapi

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"
)

// DefaultRefusalSummaryInterval is Config.RefusalSummaryInterval's
// default.
const DefaultRefusalSummaryInterval = time.Minute

// refusalLog counts refused requests (4xx) between summaries: each is a
// DEBUG line, and at most once an interval an INFO line sums them up by
// status, so a misbehaving client cannot flood the log (one line a minute
// instead of one a request). A timer runs only while there is something
// to report.
type refusalLog struct {
	log      *slog.Logger
	interval time.Duration

	mu     sync.Mutex
	counts map[int]int64
	since  time.Time
	timer  *time.Timer
}

func newRefusalLog(log *slog.Logger, interval time.Duration) *refusalLog {
	if interval <= 0 {
		interval = DefaultRefusalSummaryInterval
	}
	return &refusalLog{log: log, interval: interval, counts: map[int]int64{}}
}

// add counts one refusal of status.
func (l *refusalLog) add(status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[status]++
	if l.timer == nil {
		l.since = time.Now()
		l.timer = time.AfterFunc(l.interval, l.flush)
	}
}

// flush logs the counts since the last summary and starts over.
func (l *refusalLog) flush() {
	l.mu.Lock()
	counts, since := l.counts, l.since
	l.counts, l.timer = map[int]int64{}, nil
	l.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	codes := make([]int, 0, len(counts))
	var total int64
	for c, n := range counts {
		codes = append(codes, c)
		total += n
	}
	sort.Ints(codes)
	attrs := []slog.Attr{slog.Int64("total", total), slog.Duration("window", time.Since(since).Round(time.Millisecond))}
	for _, c := range codes {
		attrs = append(attrs, slog.Int64(strconv.Itoa(c), counts[c]))
	}
	l.log.LogAttrs(context.Background(), slog.LevelInfo, "refused requests (4xx) by status; each is a DEBUG line", attrs...)
}
