// Package faulttest proves what cortex promises when things go wrong, with
// real mechanisms against the real `cortex serve` binary: SIGKILL under load
// (also during a checkpoint and during a backup), a full filesystem (a
// size-limited tmpfs), damaged, truncated and foreign database files, a
// damaged WAL, start-up errors (read-only folder, missing folder, a file
// the user may not open), backup and restore drills, a malformed-request
// corpus, and a soak.
//
// It holds tests only. The fast ones run in scripts/test; the long ones
// need -soak (scripts/soak):
//
//	go test -race ./internal/faulttest/
//	go test ./internal/faulttest/ -run Soak -soak -soak.minutes 10 -timeout 0
package faulttest
