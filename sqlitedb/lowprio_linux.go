package sqlitedb

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Linux ioprio_set(2) constants: the best-effort class at its lowest level.
const (
	ioprioWhoProcess = 1
	ioprioClassBE    = 2
	ioprioClassShift = 13
	ioprioLowestBE   = ioprioClassBE<<ioprioClassShift | 7
)

// lowPriority runs fn on an OS thread of its own at the lowest CPU priority
// (nice 19) and the lowest best-effort I/O priority, and waits for it. On
// Linux both are per thread, and SQLite runs a statement on the thread of
// the goroutine that calls it: a backup's or an integrity check's pages
// are then read (and the copy written) only when the writer's thread and
// the request handlers have what they need of the CPUs and the disk. The
// thread is locked to fn's goroutine and never unlocked, so it exits with
// it and its priority never serves other goroutines. A failure to lower
// the priority is ignored (fn runs at the normal one). A panic in fn is
// re-raised in the caller.
func lowPriority(fn func()) {
	var p any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { p = recover() }()
		runtime.LockOSThread()
		tid := unix.Gettid()
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
		_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioLowestBE)
		fn()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}
