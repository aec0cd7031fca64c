package sqlitedb_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cortex-db/cortex/health"
	"github.com/cortex-db/cortex/internal/testutil"
	"github.com/cortex-db/cortex/sqlitedb"
)

// An integrity job runs in the background, one at a time; Health reports
// the running job and, after it, the last result with its age, and never
// runs a check itself.
func TestIntegrityJob_OneAtATime(t *testing.T) {
	db := testutil.MustOpenDB(t, sqlitedb.Config{})
	fillRows(t, db, 300)
	mustExec(t, db, "CREATE TABLE nr(k TEXT PRIMARY KEY, v) WITHOUT ROWID")
	mustExec(t, db, "INSERT INTO nr VALUES('a', 1), ('b', 2)")
	if h := db.Health(ctx, sqlitedb.HealthOptions{}); h.Integrity != nil || h.IntegrityJob != nil {
		t.Fatalf("health before any job: %+v", h)
	}
	// A verifier that sleeps a long time after each slice stays running
	// until cancelled, whatever the machine's speed.
	slow := sqlitedb.VerifyConfig{SliceTime: time.Nanosecond, Duty: 1e-9}
	job, err := db.StartIntegrity(sqlitedb.IntegrityVerify, slow)
	if err != nil || job.State != sqlitedb.JobRunning || job.ID == "" {
		t.Fatalf("start: %+v, %v", job, err)
	}
	if _, err := db.StartIntegrity(sqlitedb.IntegrityQuick, sqlitedb.VerifyConfig{}); !errors.Is(err, sqlitedb.ErrJobRunning) {
		t.Fatalf("second job while one runs: %v, want ErrJobRunning", err)
	}
	if h := db.Health(ctx, sqlitedb.HealthOptions{}); h.IntegrityJob == nil || h.IntegrityJob.ID != job.ID {
		t.Fatalf("health while the job runs: %+v, want the running job", h.IntegrityJob)
	}
	// Wait for the first slice (an event), so there is something to resume.
	for j, _ := db.IntegrityJobByID(job.ID); j.Progress.Slices == 0; j, _ = db.IntegrityJobByID(job.ID) {
		time.Sleep(time.Millisecond)
	}
	if !db.CancelIntegrity() {
		t.Fatal("cancel: no job was running")
	}
	got, ok := db.IntegrityJobByID(job.ID)
	if !ok || got.State != sqlitedb.JobCanceled || got.Progress.Slices < 1 {
		t.Fatalf("cancelled job: %+v", got)
	}

	// The next verify job resumes where the first stopped and finishes.
	job2, err := db.StartIntegrity(sqlitedb.IntegrityVerify, sqlitedb.VerifyConfig{Duty: 1})
	if err != nil {
		t.Fatal(err)
	}
	done, _ := db.WaitIntegrity(ctx)
	if done.ID != job2.ID || done.State != sqlitedb.JobDone || !done.Resumed || done.Result == nil || !done.Result.OK {
		t.Fatalf("resumed verify: %+v", done)
	}
	if done.Progress.TablesDone != done.Progress.TablesTotal || done.Progress.Rows < 300 {
		t.Fatalf("verify progress: %+v, want every table and row", done.Progress)
	}
	for _, mode := range []sqlitedb.IntegrityMode{sqlitedb.IntegrityQuick, sqlitedb.IntegrityFull} {
		if _, err := db.StartIntegrity(mode, sqlitedb.VerifyConfig{}); err != nil {
			t.Fatal(err)
		}
		j, _ := db.WaitIntegrity(ctx)
		if j.State != sqlitedb.JobDone || j.Result == nil || !j.Result.OK || j.Result.Mode != mode {
			t.Fatalf("%s job: %+v", mode, j)
		}
	}
	h := db.Health(ctx, sqlitedb.HealthOptions{})
	if h.Integrity == nil || h.Integrity.Mode != sqlitedb.IntegrityFull || h.IntegrityAgeSeconds == nil || h.IntegrityJob != nil {
		t.Fatalf("health after the jobs: %+v", h)
	}
	if _, err := db.StartIntegrity("bogus", sqlitedb.VerifyConfig{}); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// Close ends a running job instead of waiting for it.
func TestIntegrityJob_CloseStopsIt(t *testing.T) {
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlitedb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fillRows(t, db, 50)
	job, err := db.StartIntegrity(sqlitedb.IntegrityVerify, sqlitedb.VerifyConfig{SliceTime: time.Nanosecond, Duty: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.IntegrityJobByID(job.ID); got.State != sqlitedb.JobCanceled {
		t.Fatalf("job after Close: %+v", got)
	}
	if _, err := db.StartIntegrity(sqlitedb.IntegrityQuick, sqlitedb.VerifyConfig{}); !errors.Is(err, sqlitedb.ErrClosed) {
		t.Fatalf("start after Close: %v, want ErrClosed", err)
	}
}

// The verifier finds damaged table pages and reports them as problems.
func TestIntegrityJob_VerifyFindsDamage(t *testing.T) {
	db2 := openDamaged(t)
	defer db2.Close()
	if _, err := db2.StartIntegrity(sqlitedb.IntegrityVerify, sqlitedb.VerifyConfig{Duty: 1}); err != nil {
		t.Fatal(err)
	}
	j, _ := db2.WaitIntegrity(ctx)
	if j.State != sqlitedb.JobDone || j.Result == nil || j.Result.OK || len(j.Result.Problems) == 0 {
		t.Fatalf("verify of a damaged file: %+v", j)
	}
	if h := db2.Health(ctx, sqlitedb.HealthOptions{}); h.Status != health.Unhealthy {
		t.Fatalf("health after a failed verify: %s", h.Status)
	}
}
