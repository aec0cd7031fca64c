package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// cortex restore --verify-only checks a restored file, changing nothing: a
// good one passes with its schema version, a damaged one and a file that
// is not a cortex database are refused with what to do.
func TestRestoreVerifyOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	st, err := sqlitestore.Open(ctx, good, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSession(ctx, state.SessionInput{ID: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := st.AppendSnapshot(ctx, "s", state.AppendInput{State: []byte(fmt.Sprintf(`{"pad":%q,"i":%d}`, strings.Repeat("x", 2000), i))}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	before, _ := os.ReadFile(good)

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"restore", "--verify-only", good}, &out, &errOut); err != nil || !strings.Contains(out.String(), "integrity ok, schema version") {
		t.Fatalf("verify a good file: %v %s %s", err, out.String(), errOut.String())
	}
	if after, _ := os.ReadFile(good); !bytes.Equal(before, after) {
		t.Fatal("--verify-only changed the file")
	}

	// Damage a page in the middle of the file.
	bad := filepath.Join(dir, "bad.db")
	b := bytes.Clone(before)
	for i := len(b) / 2; i < len(b)/2+4096 && i < len(b); i++ {
		b[i] = 0xA5
	}
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"restore", "--verify-only", bad}, &out, &errOut)
	if err == nil || !strings.Contains(errorText(err), "Try:") {
		t.Fatalf("verify a damaged file: %v, want a refusal with advice", err)
	}

	// A SQLite file that is not a cortex database.
	empty := filepath.Join(dir, "empty.db")
	db, err := sqlitedb.Open(ctx, empty, sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = run(ctx, []string{"restore", "--verify-only", empty}, &out, &errOut)
	if err == nil || !strings.Contains(errorText(err), "schema version 0") {
		t.Fatalf("verify a non-cortex file: %v, want schema version 0 refusal", err)
	}
}
