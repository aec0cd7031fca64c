package scale

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// PGDelete measures, on the PostgreSQL database at url, appends from
// writers goroutines to sessions of their own while a session of size
// snapshots is deleted: as pgstore does it (DeleteSession, one UPDATE,
// then ExpireSessions reclaiming in chunks), and, in the same run, with
// the single cascading DELETE it used before. The first row is the
// baseline: appends alone.
func PGDelete(ctx context.Context, url string, size, writers int, log io.Writer) ([]Row, error) {
	store, err := pgstore.Open(ctx, url, pgstore.Config{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	l, err := newLoad(ctx, store, writers, 2*time.Second)
	if err != nil {
		return nil, err
	}
	row := func(op string, r loadResult, base loadResult, note string) Row {
		return Row{Snapshots: size, Op: op, Appends: true, Writers: writers, Seconds: r.seconds, AppendsPerSec: r.rate, BaselinePerSec: base.rate,
			ZeroWindows: r.zero, Windows: r.windows, P99MS: r.p99, MaxMS: r.max, Note: joinNote(note, fmt.Sprintf("slowest append began at %.1f s", r.maxAt))}
	}
	base := l.run(ctx, nil, 5*time.Second, nil)
	rows := []Row{row("pg: appends alone (baseline)", base, base, "")}
	fmt.Fprintf(log, "scale: %s\n", rows[0])
	big := func() (string, error) {
		id := fmt.Sprintf("pgbig-%d", time.Now().UnixNano())
		if _, err := store.CreateSession(ctx, state.SessionInput{ID: id}); err != nil {
			return "", err
		}
		st := makeState(rand.New(rand.NewPCG(4, 4)), stateBytes)
		batch := make([]state.BatchItem, 0, state.MaxBatch)
		for i := range size {
			batch = append(batch, state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: st}})
			if len(batch) == cap(batch) || i == size-1 {
				if _, err := store.AppendBatch(ctx, batch); err != nil {
					return "", err
				}
				batch = batch[:0]
			}
		}
		return id, nil
	}
	for _, before := range []bool{false, true} {
		id, err := big()
		if err != nil {
			return rows, err
		}
		var note string
		var opErr error
		res := l.run(ctx, nil, 0, func() {
			t0 := time.Now()
			if before {
				_, opErr = conn.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
				note = fmt.Sprintf("one DELETE cascading to %d snapshots: %.0f ms", size, float64(time.Since(t0).Microseconds())/1e3)
				return
			}
			if opErr = store.DeleteSession(ctx, id); opErr != nil {
				return
			}
			del := time.Since(t0)
			var n int64
			for {
				k, err := store.ExpireSessions(ctx, 0)
				if err != nil {
					opErr = err
					return
				}
				n += k
				if k == 0 {
					break
				}
			}
			note = fmt.Sprintf("DeleteSession answered in %.1f ms; reclaim of %d session(s) by ExpireSessions back to back (unpaced slices): %.0f ms", float64(del.Microseconds())/1e3, n, float64((time.Since(t0)-del).Microseconds())/1e3)
		})
		if opErr != nil {
			return rows, opErr
		}
		name := fmt.Sprintf("pg: delete a %d-snapshot session (tombstone + unpaced sliced reclaim)", size)
		if before {
			name = fmt.Sprintf("pg: delete a %d-snapshot session (one DELETE, before)", size)
		}
		rows = append(rows, row(name, res, base, note))
		fmt.Fprintf(log, "scale: %s\n", rows[len(rows)-1])
	}
	return rows, nil
}
