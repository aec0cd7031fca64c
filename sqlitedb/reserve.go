//go:build linux

package sqlitedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultReserveBytes is the disk reserve's default size, before the 5%
// cap (ReserveSize).
const DefaultReserveBytes = 64 << 20

// Reserve is a ballast file kept beside a database (<db>.reserve), whose
// blocks are allocated (not a sparse file), so that a full disk still has
// room an operator can get back at once: when a write fails with
// ErrDiskFull, Release deletes the file, and deleting sessions and a
// truncating checkpoint (which need some room of their own to run) then
// succeed and free more. Restore makes the file again once the volume has
// room for it twice over. Reserve touches only its own file, never the
// database's. It is safe for concurrent use.
type Reserve struct {
	path string
	size int64

	mu       sync.Mutex
	released bool
}

// ReserveSize is the size of a reserve on the volume holding dir: want,
// but at most 5% of the volume (0 when want is 0).
func ReserveSize(dir string, want int64) (int64, error) {
	if want <= 0 {
		return 0, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reserve: statfs %s: %w", dir, err)
	}
	total := int64(st.Blocks) * int64(st.Bsize)
	return min(want, total/20), nil
}

// OpenReserve keeps a reserve of size bytes beside the database at dbPath:
// it makes the file when it is missing or short (when the disk has room:
// a full disk starts with the reserve released). size 0 removes a reserve
// left by an earlier run and returns nil.
func OpenReserve(dbPath string, size int64) (*Reserve, error) {
	r := &Reserve{path: dbPath + ".reserve", size: size}
	if size <= 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reserve: remove %s: %w", r.path, err)
		}
		return nil, nil
	}
	if st, err := os.Stat(r.path); err == nil && st.Size() == size {
		return r, nil
	}
	if err := r.create(); err != nil {
		if !errors.Is(err, unix.ENOSPC) {
			return nil, err
		}
		r.released = true
	}
	return r, nil
}

// Path is the reserve file's path.
func (r *Reserve) Path() string { return r.path }

// Size is the reserve's size in bytes.
func (r *Reserve) Size() int64 { return r.size }

// create allocates the file's blocks (fallocate; written zeros where the
// filesystem has no fallocate), through a temporary name so that a
// half-made file is never taken for the reserve.
func (r *Reserve) create() error {
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("reserve: create %s: %w", tmp, err)
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, r.size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = writeZeros(f, r.size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("reserve: make %s (%d bytes): %w", r.path, r.size, err)
	}
	return nil
}

func writeZeros(f *os.File, n int64) error {
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Release deletes the reserve, giving its room back to the filesystem;
// it reports whether it did (false when it was already released).
func (r *Reserve) Release() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return false, nil
	}
	if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reserve: release %s: %w", r.path, err)
	}
	r.released = true
	return true, nil
}

// Released reports whether the reserve is in use (released and not yet
// made again).
func (r *Reserve) Released() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.released
}

// Restore makes the reserve again when it is released and the volume has
// at least twice its size free; it reports whether the reserve is in
// place.
func (r *Reserve) Restore() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.released {
		return true, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dirOf(r.path), &st); err != nil {
		return false, fmt.Errorf("reserve: statfs: %w", err)
	}
	if int64(st.Bavail)*int64(st.Bsize) < 2*r.size {
		return false, nil
	}
	if err := r.create(); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return false, nil
		}
		return false, err
	}
	r.released = false
	return true, nil
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return "."
}
