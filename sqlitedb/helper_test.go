package sqlitedb_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cortex-db/cortex/sqlitedb"
)

// Child processes for the tests that need a second process: the test binary
// re-executed with CORTEX_TEST_HELPER set.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CORTEX_TEST_HELPER"); mode != "" {
		if err := runHelper(mode, os.Args[len(os.Args)-2:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperCommand(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), "CORTEX_TEST_HELPER="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

func runHelper(mode string, args []string) error {
	switch mode {
	case "hold-lock":
		// Take the write lock from another process, hold it, then commit a row.
		hold, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		d, err := sql.Open("sqlite3", "file:"+args[0]+"?_busy_timeout=5000")
		if err != nil {
			return err
		}
		defer d.Close()
		c, err := d.Conn(context.Background())
		if err != nil {
			return err
		}
		if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		if _, err := c.ExecContext(context.Background(), "INSERT INTO t VALUES(0)"); err != nil {
			return err
		}
		fmt.Println("locked")
		time.Sleep(hold)
		_, err = c.ExecContext(context.Background(), "COMMIT")
		return err
	case "shm-dms":
		// Report whether some process holds SQLite's dead-man-switch lock
		// on the -shm file (byte 128: os_unix.c's UNIX_SHM_DMS). A process
		// that finds it free believes it is the database's only user and
		// truncates the -shm.
		f, err := os.OpenFile(args[0]+"-shm", os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 128, Len: 1}
		if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
			return err
		}
		if lk.Type == unix.F_UNLCK {
			fmt.Println("free")
		} else {
			fmt.Println("held")
		}
		return nil
	case "hold-open":
		// Keep the database open (as a server would) until killed.
		db, err := sqlitedb.Open(context.Background(), args[0], sqlitedb.Config{})
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Println("open")
		select {}
	case "crash-writer":
		// Write numbered rows from many goroutines through Write, printing
		// each id once its Write returned nil, until killed.
		db, err := sqlitedb.Open(context.Background(), args[0], sqlitedb.Config{WALAutoCheckpoint: 100})
		if err != nil {
			return err
		}
		ctx := context.Background()
		if err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
			_, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS acks(id INTEGER PRIMARY KEY, v BLOB)")
			return err
		}); err != nil {
			return err
		}
		// Ids start past every earlier round's: goroutine g writes
		// start + g<<32 + i.
		var start int64
		if err := db.Read(ctx, func(tx *sqlitedb.Tx) error {
			return tx.QueryRow(ctx, "SELECT coalesce(max(id), 0) + 1 FROM acks").Scan(&start)
		}); err != nil {
			return err
		}
		out := bufio.NewWriter(os.Stdout)
		acks := make(chan int64, 1024)
		for g := range 16 {
			go func() {
				for i := int64(0); ; i++ {
					id := start + int64(g)<<32 + i
					err := db.Write(ctx, func(tx *sqlitedb.Tx) error {
						_, err := tx.Exec(ctx, "INSERT INTO acks(id, v) VALUES(?, randomblob(300))", id)
						return err
					})
					if err != nil {
						fmt.Fprintln(os.Stderr, "write:", err)
						os.Exit(1)
					}
					acks <- id
				}
			}()
		}
		for id := range acks {
			fmt.Fprintln(out, id)
			if len(acks) == 0 {
				out.Flush()
			}
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}
