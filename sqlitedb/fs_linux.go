package sqlitedb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Filesystem magic numbers (statfs f_type) of network and cluster
// filesystems, where SQLite's WAL mode is unsafe. From linux/magic.h and
// statfs(2).
var networkFSTypes = map[int64]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	-0xacb2be:  "cifs", // 0xff534d42 as a signed 32-bit value
	0xff534d42: "cifs",
	-0x1acb2be: "smb2", // 0xfe534d42
	0xfe534d42: "smb2",
	0x564c:     "ncp",
	0x5346414f: "afs",
	0x6b414653: "afs",
	0x01021997: "9p",
	0x00c36400: "ceph",
	0x0bd00bd0: "lustre",
	0x47504653: "gpfs",
	0x013111a8: "ibrix",
	0x65735546: "fuse (sshfs, glusterfs, s3fs, …)",
}

// statfsType is replaced by tests to simulate a network filesystem, which
// cannot be mounted in the test environment.
var statfsType = func(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

// networkFS reports whether dir is on a network filesystem, and its name.
func networkFS(dir string) (string, bool) {
	t, err := statfsType(dir)
	if err != nil {
		return "", false
	}
	name, ok := networkFSTypes[t]
	return name, ok
}

// writableDir checks that files can be created in dir (the -wal and -shm
// files), by creating and removing a probe file: access(2) is wrong for root
// and for read-only mounts.
func writableDir(dir string) error {
	f, err := os.CreateTemp(dir, ".cortex-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove probe %s: %w", filepath.Base(name), err)
	}
	return nil
}

func isReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }

// SQLite's lock bytes in the database file (os_unix.c): the SHARED range
// starts two bytes past PENDING_BYTE (1 GiB) and is 510 bytes long.
const (
	lockSharedFirst = 0x40000000 + 2
	lockSharedSize  = 510
)

// inUse reports whether another process has the database at path open. In
// WAL mode every connection holds a SHARED lock on the database file for as
// long as it is open (that is how the last one to close knows it may
// checkpoint and delete the WAL), so a non-blocking attempt at the
// EXCLUSIVE lock, released at once, tells. A database in a rollback journal
// mode holds no lock between transactions and reads as not in use. A
// missing file is not in use. Call it from a process that does not have
// the database open: closing its descriptor drops every POSIX lock the
// calling process holds on the file, SQLite's included.
func inUse(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: lockSharedFirst, Len: lockSharedSize}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return true, nil
		}
		return false, err
	}
	lk.Type = unix.F_UNLCK
	return false, unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
}

// renameNoReplace renames src to dst atomically unless dst exists
// (fs.ErrExist then): renameat2 with RENAME_NOREPLACE, or, on a filesystem
// without it, a hard link and an unlink, which is as safe (the link fails
// on an existing name) and leaves both names for a moment.
func renameNoReplace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	if err := os.Link(src, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

// dropCache asks the kernel to drop n bytes of f at off from the page
// cache (they are on disk): a backup's copy, which nothing reads soon.
func dropCache(f *os.File, off, n int64) {
	if n > 0 {
		_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
	}
}

// openDirect opens path for writes past the page cache (O_DIRECT): each
// write's buffer, offset and length must be aligned to the device's
// block. It fails on filesystems without it (tmpfs).
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
}
