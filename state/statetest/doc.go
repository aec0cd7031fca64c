// Package statetest is the conformance suite of state.Store: the single
// behavioural specification that every backend (sqlitestore, pgstore, …)
// runs unchanged.
//
// # Usage
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T, opts state.Options) state.Store {
//			s, err := mystore.Open(ctx, …, opts)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// newStore must return a fresh, empty store honouring opts (MaxStateBytes and
// the Now clock, which the suite controls to drive TTLs and retention); it is
// called once per subtest, with that subtest's t. The suite closes nothing
// except in its Close subtest, so newStore should close the store at cleanup
// (Close is idempotent).
//
// # What the suite requires beyond the interface's doc comments
//
//   - Times are UTC, and a value the store returns (from a create, an
//     append, a touch) equals what it reads back later. The suite's clock
//     moves in whole microseconds, so backends with microsecond timestamps
//     (PostgreSQL) can store it exactly.
//   - JSON (metadata, states) is compared by value, not byte for byte:
//     a backend may normalise whitespace and key order (PostgreSQL jsonb).
//   - An invalid id is ErrInvalid on every method that takes one, before any
//     lookup.
//   - An append with an idempotency key that matches an earlier append of the
//     same session answers that append (Replayed true), even when its
//     ExpectedVersion is stale by now: the key is checked first.
//   - A version that has no snapshot (0, too high, pruned) is ErrNotFound.
//   - A fork copies the source's metadata and TTL and the snapshots up to
//     the version (same numbers, states, metadata and created_at); its
//     Version is that version, its later appends continue from there.
//   - An empty batch is ErrInvalid, as is one of more than state.MaxBatch
//     items.
//   - A session past its expiry stays readable until ExpireSessions removes
//     it; the suite does not test reads in between.
//   - After Close, calls fail with state.ErrUnavailable.
package statetest
