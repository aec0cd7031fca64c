package faulttest

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func mount(dir string, flags uintptr, opts string) error {
	return syscall.Mount("tmpfs", dir, "tmpfs", flags, opts)
}

// unmount unmounts dir, retrying while a process that was just killed
// still holds files there.
func unmount(t *testing.T, dir string) {
	for i := 0; ; i++ {
		err := syscall.Unmount(dir, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) {
			return
		}
		if i == 100 {
			t.Errorf("unmount %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
