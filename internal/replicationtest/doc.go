// Package replicationtest holds the replication drills: cortex serve with
// --replication=litestream beside a real litestream binary (v0.5.18, built
// by scripts/test), replicating to a folder and to S3 (gofakes3 in the
// test process); SIGKILLs at random moments, restores with litestream
// restore (latest, -timestamp, -txid), and the stalled-replicator
// fallback. It has tests only. The binary is found through
// CORTEX_LITESTREAM (scripts/test sets it); with CI=true a missing binary
// fails the tests.
package replicationtest
