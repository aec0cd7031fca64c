package pgstore_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// Environment of the child processes of TestStore_AppendMultiProcess.
const (
	childURLEnv   = "PGSTORE_TEST_CHILD_URL"
	childCountEnv = "PGSTORE_TEST_CHILD_COUNT"
)

// TestStore_AppendMultiProcess runs appenders in separate processes (this
// test binary, re-executed), as several cortex servers on one database:
// versions stay gapless and every acknowledged append is there.
func TestStore_AppendMultiProcess(t *testing.T) {
	st, url := openStore(t, pgstore.Config{})
	if _, err := st.CreateSession(bg, state.SessionInput{ID: "shared"}); err != nil {
		t.Fatal(err)
	}
	const procs, each = 3, 40
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildAppender$", "-test.count=1")
		cmd.Env = append(os.Environ(), childURLEnv+"="+url, childCountEnv+"="+strconv.Itoa(each))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child %d: %v", i, err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	sess, err := st.GetSession(bg, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Version != procs*each || sess.SnapshotCount != procs*each {
		t.Fatalf("session = version %d, count %d; want %d of each", sess.Version, sess.SnapshotCount, procs*each)
	}
	for v := int64(1); v <= procs*each; v++ {
		if _, err := st.GetSnapshot(bg, "shared", v); err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
	}
}

// TestChildAppender is the child of TestStore_AppendMultiProcess; it does
// nothing in a normal run.
func TestChildAppender(t *testing.T) {
	url := os.Getenv(childURLEnv)
	if url == "" {
		t.Skip("child process of TestStore_AppendMultiProcess only")
	}
	n, _ := strconv.Atoi(os.Getenv(childCountEnv))
	st, err := pgstore.Open(bg, url, pgstore.Config{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for i := 0; i < n/4; i++ {
				if _, err := st.AppendSnapshot(bg, "shared", state.AppendInput{State: js(fmt.Sprintf(`{"pid":%d,"w":%d,"i":%d}`, os.Getpid(), w, i))}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
