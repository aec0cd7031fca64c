package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/internal/e2e"
)

// TestBreakdownGroups: scripts/http-breakdown.py (scripts/bench-http
// -breakdown) puts each perf sample in its group by the frames of its
// stack: C frames perf cannot walk past ([unknown]) with the writer, the
// kernel under net/http with the kernel, the vDSO's clock under net/http
// with net/http (not with C), Go's assembly (memeqbody) with its caller,
// the writer's hand-off to its callers apart from its own work, and
// net/http's watch of the connection (a goroutine per request) apart
// from the scheduler it wakes.
func TestBreakdownGroups(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		e2e.Need(t, "the breakdown script", []string{"python3"})
	}
	script := filepath.Join("..", "..", "..", "scripts", "http-breakdown.py")
	out, err := exec.Command("python3", script, "a=testdata/perf-script.txt:90:10").CombinedOutput()
	if err != nil {
		t.Fatalf("http-breakdown.py: %v\n%s", err, out)
	}
	want := map[string]string{
		"kernel: TCP, syscalls, faults":                      "10.0",
		"net/http: parse, headers, write":                    "10.0",
		"scheduler, netpoll, timers, wake-ups":               "10.0",
		"wake-ups: the writer answering callers":             "10.0",
		"JSON decode + validation":                           "10.0",
		"writer + SQLite (its own goroutine)":                "20.0",
		"GC":                                                 "10.0",
		"perf samples":                                       "9",
		"net/http's connection watch while the handler runs": "10.0",
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) >= 3 {
			got[strings.TrimSpace(f[1])] = strings.TrimSpace(f[2])
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q\n%s", k, got[k], v, out)
		}
	}
}
