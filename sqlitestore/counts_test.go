package sqlitestore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// The O(1) session count equals the rows after every kind of write:
// create, put, append, batch, fork, delete, prune and expiry.
func TestCounts_FollowEveryWrite(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openStore(t, state.Options{Now: func() time.Time { return now }})
	check := func(step string) {
		t.Helper()
		c, ok, err := sqlitestore.ReadCounts(ctx, s.DB())
		if err != nil || !ok {
			t.Fatalf("%s: ReadCounts: %v, ok %v", step, err, ok)
		}
		var sessions int64
		err = s.DB().Read(ctx, func(tx *sqlitedb.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM sessions").Scan(&sessions)
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Sessions != sessions {
			t.Fatalf("%s: counts %+v, %d session rows", step, c, sessions)
		}
	}
	check("empty")
	ttl := time.Minute
	for i := range 5 {
		in := state.SessionInput{ID: fmt.Sprintf("s%d", i)}
		if i == 4 {
			in.TTL = &ttl
		}
		if _, err := s.CreateSession(ctx, in); err != nil {
			t.Fatal(err)
		}
		for v := range 4 {
			if _, err := s.AppendSnapshot(ctx, in.ID, state.AppendInput{State: []byte(fmt.Sprint(v))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := s.PutSession(ctx, "p", state.SessionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutSession(ctx, "p", state.SessionInput{}); err != nil { // an update
		t.Fatal(err)
	}
	check("create, put, append")
	if _, err := s.AppendBatch(ctx, []state.BatchItem{{SessionID: "p", AppendInput: state.AppendInput{State: []byte(`1`)}}, {SessionID: "s0", AppendInput: state.AppendInput{State: []byte(`1`)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendBatch(ctx, []state.BatchItem{{SessionID: "p", AppendInput: state.AppendInput{State: []byte(`1`)}}, {SessionID: "missing", AppendInput: state.AppendInput{State: []byte(`1`)}}}); err == nil {
		t.Fatal("batch with a missing session: no error")
	}
	check("batch, and a batch refused")
	if _, err := s.ForkSession(ctx, "s1", state.ForkInput{NewID: "f", AtVersion: 3}); err != nil {
		t.Fatal(err)
	}
	check("fork")
	if err := s.DeleteSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	check("delete")
	if _, err := s.Prune(ctx, state.PruneOptions{KeepLast: 2}); err != nil {
		t.Fatal(err)
	}
	check("prune")
	now = now.Add(time.Hour)
	if _, err := s.ExpireSessions(ctx, 0); err != nil {
		t.Fatal(err)
	}
	check("expire")
}
