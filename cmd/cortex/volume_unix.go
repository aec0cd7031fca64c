//go:build linux || darwin || freebsd

package main

import "golang.org/x/sys/unix"

// volumeFree returns the bytes an unprivileged writer can still use on the
// volume holding dir.
func volumeFree(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
