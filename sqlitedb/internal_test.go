package sqlitedb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
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
	if !strings.Contains(err.Error(), "nfs") || !strings.Contains(Hint(err), "AllowNetworkFS") {
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

func TestAssign(t *testing.T) {
	type myString string
	type myInt int16
	var (
		s   string
		b   []byte
		i   int64
		n   int
		f   float64
		ok  bool
		a   any
		ms  myString
		mi  myInt
		ns  sql.NullString
		ni  sql.NullInt64
		raw json.RawMessage
	)
	src := []byte("abc")
	for _, tc := range []struct {
		dest any
		src  any
		want any
	}{
		{&s, "x", "x"}, {&s, []byte("y"), "y"}, {&s, int64(7), "7"},
		{&b, src, []byte("abc")}, {&b, nil, []byte(nil)},
		{&i, int64(42), int64(42)}, {&i, "43", int64(43)},
		{&n, int64(5), 5}, {&f, int64(2), 2.0}, {&f, 1.5, 1.5},
		{&ok, int64(1), true}, {&a, src, []byte("abc")},
		{&ms, "named", myString("named")}, {&mi, int64(9), myInt(9)},
		{&ns, nil, sql.NullString{}}, {&ns, "v", sql.NullString{String: "v", Valid: true}},
		{&ni, int64(3), sql.NullInt64{Int64: 3, Valid: true}},
		{&raw, []byte(`{"a":1}`), json.RawMessage(`{"a":1}`)},
	} {
		if err := assign(tc.dest, tc.src); err != nil {
			t.Errorf("assign(%T, %v): %v", tc.dest, tc.src, err)
			continue
		}
		got := reflect.ValueOf(tc.dest).Elem().Interface()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("assign(%T, %v) = %#v, want %#v", tc.dest, tc.src, got, tc.want)
		}
	}
	// Bytes are copied: the driver may reuse its buffer.
	assign(&b, src)
	src[0] = 'z'
	if string(b) != "abc" {
		t.Error("assign kept the driver's buffer")
	}
	for _, tc := range []struct{ dest, src any }{
		{&s, nil}, {&i, nil}, {&i, "x"}, {&ok, "maybe"}, {s, "not a pointer"},
	} {
		if err := assign(tc.dest, tc.src); err == nil {
			t.Errorf("assign(%T, %v): no error", tc.dest, tc.src)
		}
	}
}

// A query text run again while its cached statement still has open rows
// gets a statement of its own.
func TestTx_NestedSameQuery(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	err = db.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES(1),(2),(3)"); err != nil {
			return err
		}
		const q = "SELECT x FROM t WHERE x >= ? ORDER BY x"
		rows, err := tx.Query(ctx, q, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		sum := 0
		for rows.Next() {
			var x, inner int
			if err := rows.Scan(&x); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, q, x).Scan(&inner); err != nil {
				return err
			}
			sum += x + inner
		}
		if sum != 12 {
			t.Errorf("sum = %d, want 12", sum)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRowless: only single statements that return no rows may run as a
// cached prepared statement; a false "no" only costs the cache, a false
// "yes" would leave a statement active or skip the rest of a script.
func TestRowless(t *testing.T) {
	for q, want := range map[string]bool{
		"INSERT INTO t VALUES(1)":                  true,
		"  update t set x = 1  ":                   true,
		"DELETE FROM t;":                           true,
		"BEGIN IMMEDIATE":                          true,
		"commit":                                   true,
		"SAVEPOINT s":                              true,
		"INSERT INTO t VALUES(1) RETURNING x":      false,
		"update t set x = 1 returning *":           false,
		"SELECT 1":                                 false,
		"PRAGMA max_page_count = 10":               false,
		"CREATE TABLE t(x)":                        false,
		"UPDATE t SET x = 1; DELETE FROM t":        false,
		"WITH a AS (SELECT 1) DELETE FROM t":       false,
		"INSERT INTO t VALUES('a;b')":              false, // a false "no": fine
		"INSERT INTO t VALUES('returning values')": false, // likewise
	} {
		if got := rowless(q); got != want {
			t.Errorf("rowless(%q) = %v, want %v", q, got, want)
		}
	}
}

// TestCheckpointStarvation_ExtraPassesNotCounted: the checkpointer's extra
// passes before the writer's tail (converge) are recorded, but an
// incomplete one does not count towards starvation, so a round counts
// once, as before they existed; a complete one still ends starvation.
func TestCheckpointStarvation_ExtraPassesNotCounted(t *testing.T) {
	var db DB
	incomplete := CheckpointResult{Mode: Passive, WALFrames: 100, CheckpointedFrames: 40}
	complete := CheckpointResult{Mode: Passive, WALFrames: 100, CheckpointedFrames: 100}
	db.recordCheckpoint(incomplete)
	db.recordCheckpointCounted(incomplete, false)
	db.recordCheckpointCounted(incomplete, false)
	if got := db.ckstats.starvedNow(); got != 1 {
		t.Fatalf("starved = %d after one round of three incomplete passes, want 1", got)
	}
	if db.ckstats.count != 3 || db.ckstats.busy != 3 {
		t.Fatalf("count %d, busy %d: want every pass recorded (3, 3)", db.ckstats.count, db.ckstats.busy)
	}
	db.recordCheckpointCounted(complete, false)
	if got := db.ckstats.starvedNow(); got != 0 {
		t.Fatalf("starved = %d after a complete pass, want 0", got)
	}
}
