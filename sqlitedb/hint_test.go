package sqlitedb_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// TestHint_Chain: a hint is found anywhere in the chain, by sqlitedb.Hint
// and by state.Hint (which does not know the type), and is not part of
// the message.
func TestHint_Chain(t *testing.T) {
	err := fmt.Errorf("serve: %w", &sqlitedb.HintError{Op: "open x.db", Err: sqlitedb.ErrReadOnly, Hint: "make it writable"})
	if sqlitedb.Hint(err) != "make it writable" || state.Hint(err) != "make it writable" {
		t.Fatalf("hint of %v: %q, %q", err, sqlitedb.Hint(err), state.Hint(err))
	}
	if !errors.Is(err, sqlitedb.ErrReadOnly) || strings.Contains(err.Error(), "writable") {
		t.Fatalf("%v: want ErrReadOnly in the chain and the hint outside the message", err)
	}
	if sqlitedb.Hint(errors.New("plain")) != "" {
		t.Fatal("a plain error has a hint")
	}
}
