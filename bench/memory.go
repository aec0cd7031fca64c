package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MemorySampler is implemented by targets that run inside this process
// (the library), whose memory is this process's.
type MemorySampler interface {
	// RSS reads the process's anonymous resident memory in bytes.
	RSS() (int64, error)
}

// MemoryActivity is the benchmark process's anonymous resident memory (Go
// heap, SQLite page caches; not the database file's mmap'd pages) during
// a step of an in-process target, sampled every 100 ms: flat memory shows
// as LastTenthBytes close to FirstTenthBytes.
type MemoryActivity struct {
	// FirstTenthBytes and LastTenthBytes are the largest RSS seen in the
	// first and the last tenth of the step; MaxBytes the largest overall.
	FirstTenthBytes int64 `json:"rss_first_tenth_bytes"`
	LastTenthBytes  int64 `json:"rss_last_tenth_bytes"`
	MaxBytes        int64 `json:"rss_max_bytes"`
}

// note records one sample taken at fraction f (0 to 1) of the step.
func (m *MemoryActivity) note(rss int64, f float64) {
	m.MaxBytes = max(m.MaxBytes, rss)
	if f <= 0.1 {
		m.FirstTenthBytes = max(m.FirstTenthBytes, rss)
	}
	if f >= 0.9 {
		m.LastTenthBytes = max(m.LastTenthBytes, rss)
	}
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
