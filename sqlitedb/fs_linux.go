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
