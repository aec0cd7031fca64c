package pgstore

import "testing"

// TestPoolSizes: the pools take what is configured, at most half of the
// server's room together, at least one connection each.
func TestPoolSizes(t *testing.T) {
	for _, tc := range []struct{ writes, reads, room, w, r int32 }{
		{4, 4, 297, 4, 4},
		{4, 8, 297, 4, 8},
		{64, 64, 97, 24, 24},
		{4, 4, 7, 1, 2},
		{4, 4, 1, 1, 1},
		{10, 30, 20, 2, 8},
	} {
		w, r := poolSizes(tc.writes, tc.reads, tc.room)
		if w != tc.w || r != tc.r {
			t.Errorf("poolSizes(%d, %d, %d) = %d, %d; want %d, %d", tc.writes, tc.reads, tc.room, w, r, tc.w, tc.r)
		}
	}
}
