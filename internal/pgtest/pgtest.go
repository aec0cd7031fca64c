// Package pgtest gives tests a real PostgreSQL: the cluster that scripts/test
// starts (scripts/pg-cluster) and exports as CORTEX_TEST_POSTGRES_URL, and a
// fresh, uniquely named database per test.
//
// Without the variable the PostgreSQL tests skip with a loud reason, except
// when CI=true: there a missing PostgreSQL fails the test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the admin URL of the test
// cluster (a superuser connection to its "postgres" database).
const EnvURL = "CORTEX_TEST_POSTGRES_URL"

// URL returns the admin URL of the test cluster. When EnvURL is not set it
// skips the test, or fails it when CI=true.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u != "" {
		return u
	}
	msg := "PostgreSQL tests need " + EnvURL + " (a superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres); " +
		"run scripts/test, which starts a throwaway cluster and sets it"
	if os.Getenv("CI") == "true" {
		tb.Fatal("CI=true: " + msg)
	}
	tb.Skip("SKIPPED, NO POSTGRESQL: " + msg)
	return ""
}

// NewDatabase creates a fresh database with a unique name on the test cluster,
// returns its URL, and drops it (closing any connection left) at cleanup.
// It skips or fails like URL when there is no cluster.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := URL(tb)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("pgtest: random database name: %v", err)
	}
	name := "cortex_test_" + sanitize(tb.Name()) + "_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec(ctx, tb, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, tb, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})

	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func exec(ctx context.Context, tb testing.TB, admin, sql string) {
	tb.Helper()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("pgtest: connect to the test cluster (%s): %v", EnvURL, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// sanitize keeps a test name's lower-case letters, digits and underscores, at
// most 30 of them, so that the database name stays under PostgreSQL's 63 bytes.
func sanitize(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		if sb.Len() >= 30 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String()
}
