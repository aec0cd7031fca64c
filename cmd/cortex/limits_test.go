package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_RefusesOutOfRangeLimits: --session-ttl outside 0 or 1s to 100
// years, and --max-metadata-bytes outside 1B to 1GiB, refuse to start
// (exit 2) naming the flag and the range, before creating the database.
func TestServe_RefusesOutOfRangeLimits(t *testing.T) {
	withEnv(t, nil)
	for _, tc := range []struct {
		args   []string
		range_ string
	}{
		{[]string{"--session-ttl", "2200000h"}, "3153600000"},
		{[]string{"--session-ttl", "876601h"}, "3153600000"},
		{[]string{"--session-ttl", "500ms"}, "3153600000"},
		{[]string{"--session-ttl", "-1s"}, ""},
		{[]string{"--max-metadata-bytes", "0"}, "1GiB"},
		{[]string{"--max-metadata-bytes", "2GiB"}, "1GiB"},
	} {
		db := filepath.Join(t.TempDir(), "c.db")
		var out, errOut bytes.Buffer
		// Cancelled: a build that took the flag would start and stop
		// at once, not serve forever.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := run(ctx, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...), &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errorText(err), tc.args[0]) || !strings.Contains(errorText(err), tc.range_) {
			t.Errorf("serve %q: %v, want a usage error naming the flag and the range", tc.args, err)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("serve %q: a refused serve created the database", tc.args)
		}
	}
}

// TestServe_LimitsFromEnv: the environment twins are checked the same way.
func TestServe_LimitsFromEnv(t *testing.T) {
	for _, env := range []map[string]string{
		{"CORTEX_MAX_METADATA_BYTES": "0"},
		{"CORTEX_SESSION_TTL": "2200000h"},
	} {
		withEnv(t, env)
		db := filepath.Join(t.TempDir(), "c.db")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("serve with %v: %v, want a usage error", env, err)
		}
	}
}
