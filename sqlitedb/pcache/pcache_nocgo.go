//go:build !cgo

package pcache

// Install reports false: a build without cgo has no SQLite.
func Install() bool { return false }

// Installed reports false: a build without cgo has no SQLite.
func Installed() bool { return false }

// Counts reports zeros: a build without cgo has no SQLite.
func Counts() (passed, skipped int64) { return 0, 0 }
