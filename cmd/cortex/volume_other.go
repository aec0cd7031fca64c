//go:build !(linux || darwin || freebsd)

package main

// volumeFree is not available on this system.
func volumeFree(dir string) (int64, bool) { return 0, false }
