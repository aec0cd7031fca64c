package bench

import (
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// MemorySampler is implemented by targets that run inside this process
// (the library), whose memory is this process's.
type MemorySampler interface {
	// Memory reads the process's memory now.
	Memory() (MemorySample, error)
}

// MemorySample is one reading of the process's memory.
type MemorySample struct {
	// RSSAnonBytes is the anonymous resident memory (RssAnon): everything
	// below and the rest of the process, not the database file's mmap'd
	// pages, which are the OS's file cache and grow with the file.
	RSSAnonBytes int64 `json:"rss_anon_bytes"`
	// GoHeapBytes is the Go heap's live and unswept objects.
	GoHeapBytes int64 `json:"go_heap_bytes"`
	// SQLiteBytes is what SQLite has allocated: page caches (bounded by
	// the cache size of each connection), statements, schemas; 0 for a
	// store that is not SQLite.
	SQLiteBytes int64 `json:"sqlite_bytes"`
}

func (m *MemorySample) maxWith(o MemorySample) {
	m.RSSAnonBytes = max(m.RSSAnonBytes, o.RSSAnonBytes)
	m.GoHeapBytes = max(m.GoHeapBytes, o.GoHeapBytes)
	m.SQLiteBytes = max(m.SQLiteBytes, o.SQLiteBytes)
}

// MemoryActivity is the process's memory during a step of an in-process
// target, sampled every 100 ms: each figure's largest value in the first
// and the last tenth of the step, and overall. Flat memory shows as the
// last tenth close to the first; SQLite's part grows until its page
// caches are full, then stays.
type MemoryActivity struct {
	FirstTenth MemorySample `json:"first_tenth"`
	LastTenth  MemorySample `json:"last_tenth"`
	Max        MemorySample `json:"max"`
}

// note records one sample taken at fraction f (0 to 1) of the step.
func (m *MemoryActivity) note(s MemorySample, f float64) {
	m.Max.maxWith(s)
	if f <= 0.1 {
		m.FirstTenth.maxWith(s)
	}
	if f >= 0.9 {
		m.LastTenth.maxWith(s)
	}
}

// goHeap reads the Go heap's object bytes (runtime/metrics: no
// stop-the-world, unlike runtime.ReadMemStats).
func goHeap() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// processRSS reads this process's anonymous resident memory from /proc
// (Linux): the Go heap and SQLite's page caches. Pages of the database
// file mapped by mmap_size are left out: they are the OS's file cache,
// shared and reclaimable, and they grow with the file, not with a leak.
func processRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "RssAnon:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no RssAnon line in /proc/self/status")
}
