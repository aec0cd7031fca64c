package sqlitedb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnsafeVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"3.6.23", false},
		{"3.7.0", true},
		{"3.44.5", true},
		{"3.44.6", false},
		{"3.45.0", true},
		{"3.50.6", true},
		{"3.50.7", false},
		{"3.51.2", true},
		{"3.51.3", false},
		{"3.54.1", false},
		{"4.0.0", false},
		{"garbage", false},
	} {
		if got, _ := unsafeVersion(tc.v); got != tc.want {
			t.Errorf("unsafeVersion(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// Network filesystems cannot be mounted here, so the statfs result is
// replaced: the classification and the refusal are what is tested.
func TestOpen_RefusesNetworkFilesystem(t *testing.T) {
	orig := statfsType
	t.Cleanup(func() { statfsType = orig })
	statfsType = func(string) (int64, error) { return 0x6969, nil } // NFS_SUPER_MAGIC

	path := filepath.Join(t.TempDir(), "nfs.db")
	_, err := Open(context.Background(), path, Config{})
	if !errors.Is(err, ErrNetworkFS) {
		t.Fatalf("err = %v, want ErrNetworkFS", err)
	}
	if !strings.Contains(err.Error(), "nfs") || !strings.Contains(err.Error(), "AllowNetworkFS") {
		t.Fatalf("error %q should name the filesystem and the override", err)
	}
	db, err := Open(context.Background(), path, Config{AllowNetworkFS: true})
	if err != nil {
		t.Fatalf("with AllowNetworkFS: %v", err)
	}
	db.Close()

	statfsType = func(string) (int64, error) { return 0xEF53, nil } // ext4
	db, err = Open(context.Background(), filepath.Join(t.TempDir(), "local.db"), Config{})
	if err != nil {
		t.Fatalf("local filesystem: %v", err)
	}
	db.Close()
}

func TestNetworkFSTypes(t *testing.T) {
	for magic, name := range map[int64]string{0x6969: "nfs", 0xff534d42: "cifs", 0xfe534d42: "smb2", 0x517b: "smb"} {
		orig := statfsType
		statfsType = func(string) (int64, error) { return magic, nil }
		got, remote := networkFS("/")
		statfsType = orig
		if !remote || got != name {
			t.Errorf("magic %#x: got %q, %v; want %q", magic, got, remote, name)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code int
		want error
	}{
		{codeBusy, ErrBusy},
		{CodeBusySnapshot, ErrBusy},
		{codeLocked, ErrBusy},
		{codeLocked | 1<<8, ErrBusy},
		{codeFull, ErrDiskFull},
		{codeCorrupt, ErrCorrupt},
		{codeNotADB, ErrCorrupt},
		{codeReadOnly, ErrReadOnly},
		{CodeConstraintPrimaryKey, ErrConstraint},
		{codeIOErr | 3<<8, ErrIO},
	} {
		err := &Error{Code: tc.code, err: errors.New("x")}
		if !errors.Is(err, tc.want) {
			t.Errorf("code %d: not %v", tc.code, tc.want)
		}
	}
}
