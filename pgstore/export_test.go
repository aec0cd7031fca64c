package pgstore

import "context"

// SetForkHook sets the function a fork of s runs after each committed
// slice but its last (tests only).
func SetForkHook(s *Store, h func(ctx context.Context, id string, slice int) error) { s.forkHook = h }
