//go:build !linux

package sqlitedb

import "errors"

// DefaultReserveBytes is the disk reserve's default size.
const DefaultReserveBytes = 64 << 20

var errNoReserve = errors.New("reserve: the disk reserve is implemented on Linux only; use --disk-reserve 0")

// Reserve is a ballast file beside a database; Linux only.
type Reserve struct{}

// ReserveSize is 0 outside Linux.
func ReserveSize(string, int64) (int64, error) { return 0, nil }

// OpenReserve does nothing outside Linux for size 0, and fails otherwise.
func OpenReserve(_ string, size int64) (*Reserve, error) {
	if size <= 0 {
		return nil, nil
	}
	return nil, errNoReserve
}

func (r *Reserve) Path() string           { return "" }
func (r *Reserve) Size() int64            { return 0 }
func (r *Reserve) Release() (bool, error) { return false, nil }
func (r *Reserve) Released() bool         { return false }
func (r *Reserve) Restore() (bool, error) { return true, nil }
