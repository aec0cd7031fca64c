package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/state"
)

// PGConfig says what PGOps measures on PostgreSQL.
type PGConfig struct {
	// URL is the PostgreSQL database (its tables are created).
	URL string
	// Big is the snapshots of the session forked and deleted (0: 100k).
	Big int
	// Sessions and PerSession size the retention set (0: 1000 and 200):
	// each retention pass removes Prune (0: 30) snapshots of each.
	Sessions, PerSession, Prune int
	// SkipBig skips the fork and delete (only the retention passes run).
	SkipBig bool
	// Writers append to sessions of their own while each operation runs
	// (0: 4); Baseline is how long they run alone first (0: 5 s).
	Writers  int
	Baseline time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// PGOps measures, on PostgreSQL, concurrent appends during the
// operations of issue 21 that touch a whole session or many: forking and
// deleting (then reclaiming) a Big-snapshot session, and a retention
// pass, each as pgstore does it now (in paced slices) and, in the same
// run, as it did before (the fork one INSERT … SELECT in one transaction;
// the reclaim and the retention pass in chunks of 1000 and 500 rows back
// to back, their old SQL). The first row is the baseline: appends alone.
func PGOps(ctx context.Context, cfg PGConfig) ([]Row, error) {
	if cfg.Big == 0 {
		cfg.Big = 100_000
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 1000
	}
	if cfg.PerSession == 0 {
		cfg.PerSession = 200
	}
	if cfg.Prune == 0 {
		cfg.Prune = 30
	}
	if cfg.Writers == 0 {
		cfg.Writers = 4
	}
	if cfg.Baseline == 0 {
		cfg.Baseline = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "pgscale: "+format+"\n", args...) }
	store, err := pgstore.Open(ctx, cfg.URL, pgstore.Config{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	conn, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	tag := time.Now().UnixNano()
	st := makeState(rand.New(rand.NewPCG(5, 5)), stateBytes)
	fill := func(ids []string, n int, base time.Time, step time.Duration) error {
		return fillPG(ctx, conn, st, ids, n, base, step)
	}
	t0 := time.Now()
	big := fmt.Sprintf("pgbig-%d", tag)
	if !cfg.SkipBig {
		if err := fill([]string{big}, cfg.Big, time.Now(), time.Microsecond); err != nil {
			return nil, fmt.Errorf("build the big session: %w", err)
		}
		logf("built a %d-snapshot session in %.1f s", cfg.Big, time.Since(t0).Seconds())
	}
	t0 = time.Now()
	var set []string
	for i := range cfg.Sessions {
		set = append(set, fmt.Sprintf("pgret-%d-%05d", tag, i))
	}
	// The set's snapshots are an hour apart, long ago: retention by age
	// (MaxAge) takes the oldest cfg.Prune of each per pass, and never the
	// load's new ones.
	setBase := time.Now().Add(-time.Duration(cfg.PerSession+24) * time.Hour).Truncate(time.Hour)
	if err := fill(set, cfg.PerSession, setBase, time.Hour); err != nil {
		return nil, fmt.Errorf("build the retention set: %w", err)
	}
	logf("built %d sessions of %d snapshots in %.1f s", cfg.Sessions, cfg.PerSession, time.Since(t0).Seconds())
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return nil, fmt.Errorf("vacuum: %w", err)
	}

	l, err := newLoad(ctx, store, cfg.Writers, time.Second)
	if err != nil {
		return nil, err
	}
	base := l.run(ctx, nil, cfg.Baseline, nil)
	row := func(n int, op string, r, base loadResult, note string) Row {
		return Row{Snapshots: n, Op: op, Appends: true, Writers: cfg.Writers, Seconds: r.seconds, AppendsPerSec: r.rate, BaselinePerSec: base.rate,
			ZeroWindows: r.zero, Windows: r.windows, P99MS: r.p99, MaxMS: r.max, Note: joinNote(note, fmt.Sprintf("slowest append began at %.1f s", r.maxAt))}
	}
	rows := []Row{row(0, "pg: appends alone (baseline)", base, base, "")}
	logf("%s", rows[0])
	// Each operation is paired with a baseline of its own, measured just
	// before it: on a shared machine the load of other work changes
	// within minutes.
	measure := func(n int, op string, fn func() (string, error)) error {
		var (
			note  string
			opErr error
		)
		b := l.run(ctx, nil, cfg.Baseline, nil)
		res := l.run(ctx, nil, 0, func() { note, opErr = fn() })
		if opErr != nil {
			return fmt.Errorf("%s: %w", op, opErr)
		}
		note = joinNote(note, fmt.Sprintf("its baseline, just before: %.0f/s, p99 %.1f ms, max %.0f ms", b.rate, b.p99, b.max))
		rows = append(rows, row(n, op, res, b, note))
		logf("%s", rows[len(rows)-1])
		return nil
	}
	// janitor runs passes until left, a count in SQL, is 0 (a pass stops
	// each of its phases after a minute; the load's sessions, which
	// retention prunes too, never run out).
	janitor := func(cfg state.JanitorConfig, left string, args ...any) (state.JanitorStats, error) {
		j := state.NewJanitor(store, cfg)
		for {
			if _, err := j.Pass(ctx); err != nil {
				return j.Stats(), err
			}
			var n int64
			if err := conn.QueryRow(ctx, left, args...).Scan(&n); err != nil {
				return j.Stats(), err
			}
			if n == 0 {
				return j.Stats(), nil
			}
		}
	}

	bigOps := func() error {
		// Fork: before (one transaction), then sliced. Meanwhile one more
		// goroutine appends to the source itself: its slowest append.
		forkOld, forkNew := big+"-f1", big+"-f2"
		onSource := func(fork func() error) (string, error) {
			stop := make(chan struct{})
			done := make(chan time.Duration)
			go func() {
				var worst time.Duration
				for {
					select {
					case <-stop:
						done <- worst
						return
					default:
					}
					t := time.Now()
					if _, err := store.AppendSnapshot(ctx, big, state.AppendInput{State: l.state}); err != nil {
						break
					}
					worst = max(worst, time.Since(t))
				}
				<-stop
				done <- worst
			}()
			t := time.Now()
			err := fork()
			took := time.Since(t)
			close(stop)
			worst := <-done
			return fmt.Sprintf("fork answered in %.0f ms; slowest append to the source meanwhile %.0f ms", ms(took), ms(worst)), err
		}
		if err := measure(cfg.Big, fmt.Sprintf("pg: fork a %d-snapshot session (one transaction, before)", cfg.Big), func() (string, error) {
			return onSource(func() error { return oldFork(ctx, conn, big, forkOld) })
		}); err != nil {
			return err
		}
		if err := measure(cfg.Big, fmt.Sprintf("pg: fork a %d-snapshot session (sliced)", cfg.Big), func() (string, error) {
			return onSource(func() error {
				_, err := store.ForkSession(ctx, big, state.ForkInput{NewID: forkNew})
				return err
			})
		}); err != nil {
			return err
		}

		// Delete and reclaim: the two forks, old reclaim then the janitor.
		if err := measure(cfg.Big, fmt.Sprintf("pg: delete a %d-snapshot session, reclaim back to back (before)", cfg.Big), func() (string, error) {
			t := time.Now()
			if err := store.DeleteSession(ctx, forkOld); err != nil {
				return "", err
			}
			del := time.Since(t)
			n, err := oldReclaim(ctx, conn, time.Now())
			return fmt.Sprintf("delete answered in %.1f ms; reclaim of %d session(s) in chunks of 1000 rows: %.0f ms", ms(del), n, ms(time.Since(t)-del)), err
		}); err != nil {
			return err
		}
		if err := measure(cfg.Big, fmt.Sprintf("pg: delete a %d-snapshot session, janitor reclaims in paced slices", cfg.Big), func() (string, error) {
			t := time.Now()
			if err := store.DeleteSession(ctx, forkNew); err != nil {
				return "", err
			}
			del := time.Since(t)
			s, err := janitor(state.JanitorConfig{}, `SELECT count(*) FROM sessions WHERE id = $1`, forkNew)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("delete answered in %.1f ms; janitor (share %.0f%%) reclaimed %d snapshots in %d slices in %.1f s (longest %.1f ms, slice time %.2f s, slept %.1f s)",
				ms(del), 100*state.DefaultWriterShare, s.SnapshotsReclaimed, s.Slices, ms(time.Since(t)-del)/1e3, s.MaxSliceSeconds*1e3, s.WriterSeconds, s.SleepSeconds), nil
		}); err != nil {
			return err
		}

		return nil
	}
	if !cfg.SkipBig {
		if err := bigOps(); err != nil {
			return rows, err
		}
	}

	// Retention by age: each pass removes the oldest cfg.Prune snapshots
	// of each session of the set (an hour apart, so the minutes a pass
	// takes do not move its cutoff past another one); the load's
	// snapshots are new and stay.
	total := cfg.Sessions * cfg.Prune
	olderThan := func(k int) time.Duration {
		return time.Since(setBase.Add(time.Duration(k)*time.Hour + 30*time.Minute))
	}
	if err := measure(total, fmt.Sprintf("pg: retention pass pruning %d snapshots, 500 per transaction back to back (before)", total), func() (string, error) {
		t := time.Now()
		n, err := oldPrune(ctx, conn, time.Now().Add(-olderThan(cfg.Prune)))
		return fmt.Sprintf("pruned %d in %.1f s", n, time.Since(t).Seconds()), err
	}); err != nil {
		return rows, err
	}
	if err := measure(total, fmt.Sprintf("pg: retention pass pruning %d snapshots, janitor in paced slices", total), func() (string, error) {
		t := time.Now()
		s, err := janitor(state.JanitorConfig{MaxAge: olderThan(2 * cfg.Prune)}, `SELECT count(*) FROM sessions WHERE id LIKE $1 AND snapshot_count > $2`,
			fmt.Sprintf("pgret-%d-%%", tag), cfg.PerSession-2*cfg.Prune)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("janitor (share %.0f%%) pruned %d in %d slices in %.1f s (longest %.1f ms, slice time %.2f s, slept %.1f s)",
			100*state.DefaultWriterShare, s.SnapshotsPruned, s.Slices, time.Since(t).Seconds(), s.MaxSliceSeconds*1e3, s.WriterSeconds, s.SleepSeconds), nil
	}); err != nil {
		return rows, err
	}
	return rows, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// oldFork is pgstore's ForkSession before issue 21: one transaction that
// holds the source FOR SHARE and copies its whole history in one INSERT …
// SELECT.
func oldFork(ctx context.Context, conn *pgx.Conn, src, id string) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var v int64
		if err := tx.QueryRow(ctx, `SELECT version FROM sessions WHERE id = $1 FOR SHARE`, src).Scan(&v); err != nil {
			return err
		}
		now := time.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, created_at, last_active, version) VALUES ($1, $2, $2, $3)`, id, now, v); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO state_snapshots (session_id, version, created_at, state, metadata, size_bytes)
			SELECT $1, version, created_at, state, metadata, size_bytes FROM state_snapshots WHERE session_id = $2 AND version <= $3`, id, src, v)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET snapshot_count = $2 WHERE id = $1`, id, tag.RowsAffected())
		return err
	})
}

// oldReclaim is pgstore's ExpireSessions before issue 21: a transaction
// per 1000 rows of one session, back to back.
func oldReclaim(ctx context.Context, conn *pgx.Conn, now time.Time) (int, error) {
	n := 0
	for {
		var id string
		gone := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			id = ""
			err := tx.QueryRow(ctx, `SELECT id FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= $1 AND fork_token IS NULL
				ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED`, now).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `DELETE FROM state_snapshots WHERE session_id = $1 AND version IN (
				SELECT version FROM state_snapshots WHERE session_id = $1 ORDER BY version LIMIT 1000)`, id)
			if err != nil || tag.RowsAffected() == 1000 {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM snapshot_idempotency_keys WHERE session_id = $1`, id); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
			gone = err == nil
			return err
		})
		if err != nil || id == "" {
			return n, err
		}
		if gone {
			n++
		}
	}
}

// oldPrune is pgstore's Prune (OlderThan) before issue 21, called back to
// back as the janitor did: 500 rows per transaction, the sessions scanned
// from the first each time (with custom plans, see below).
func oldPrune(ctx context.Context, conn *pgx.Conn, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var removed int64
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// Custom plans, which the old code did not ask for: its
			// generic plan (after five runs) read whole sessions, seconds
			// per statement here; this keeps the comparison to its best.
			if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `
				WITH se AS (
					SELECT s.id, s.version FROM sessions s
					WHERE EXISTS (
						SELECT 1 FROM state_snapshots sn
						WHERE sn.session_id = s.id AND sn.version < s.version AND sn.created_at < $1)
					ORDER BY s.id LIMIT 500 FOR UPDATE SKIP LOCKED
				), cand AS (
					SELECT sn.session_id, sn.version FROM se JOIN state_snapshots sn ON sn.session_id = se.id
					WHERE sn.version < se.version AND sn.created_at < $1
					ORDER BY sn.session_id, sn.version LIMIT 500
				), gone AS (
					DELETE FROM state_snapshots sn USING cand
					WHERE sn.session_id = cand.session_id AND sn.version = cand.version
					RETURNING sn.session_id
				), counted AS (
					UPDATE sessions se SET snapshot_count = se.snapshot_count - g.n
					FROM (SELECT session_id, count(*) AS n FROM gone GROUP BY session_id) g
					WHERE se.id = g.session_id
				)
				SELECT count(*) FROM gone`, cutoff).Scan(&removed)
		})
		total += removed
		if err != nil || removed < 500 {
			return total, err
		}
	}
}

// fillPG writes sessions in bulk, in SQL (the appends' own path is not what
// is measured here): sessions ids of n snapshots of the state st each,
// versions 1..n created step apart from base, a transaction per session,
// quiet (no notifications: migration 0005).
func fillPG(ctx context.Context, conn *pgx.Conn, st []byte, ids []string, n int, base time.Time, step time.Duration) error {
	for _, id := range ids {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL cortex.quiet = 'on'`); err != nil {
				return err
			}
			now := time.Now()
			if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, created_at, last_active, version, snapshot_count) VALUES ($1, $2, $2, $3, $3)`, id, now, n); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO state_snapshots (session_id, version, created_at, state, size_bytes)
				SELECT $1, g, $2::timestamptz + g * $6::interval, $3::json, $4 FROM generate_series(1, $5::bigint) g`,
				id, base, string(st), len(st), n, step)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
