// Package state defines cortex's domain: sessions, their versioned state
// snapshots, the Store interface every storage engine implements, and the
// domain errors callers test with errors.Is.
//
// It imports nothing else of cortex. Backends (sqlitestore, pgstore) implement
// Store and translate their drivers' error codes into the errors below at their
// boundary; the HTTP layer maps these errors to statuses in one table.
//
// # Behaviour
//
// The behavioural specification is the conformance suite in state/statetest:
// every backend runs statetest.Run unchanged.
//
//   - Session ids are 1–128 characters of [A-Za-z0-9._:-]; an empty id on
//     create asks the store to generate one (UUIDv7: sortable by creation time).
//   - Snapshot versions start at 1 per session and have no gaps, also under
//     concurrent appends.
//   - Sessions are real rows: an append never creates a session, so a late
//     append to a deleted session fails with ErrNotFound and resurrects nothing.
//   - Deleting a session deletes its snapshots.
package state
