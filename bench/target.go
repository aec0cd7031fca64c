package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cortex-db/cortex/pgstore"
	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// Target is what the workers of a step drive. Implementations are safe for
// concurrent use.
type Target interface {
	// Setup creates the sessions ids, each with depth snapshots of st.
	Setup(ctx context.Context, ids []string, st []byte, depth int) error
	// Append appends st to session id.
	Append(ctx context.Context, id string, st []byte) error
	// Latest reads session id's latest snapshot, with its state.
	Latest(ctx context.Context, id string) error
	// History reads the newest page of limit snapshots of session id,
	// without states.
	History(ctx context.Context, id string, limit int) error
	// Teardown removes what Setup created when it lives on beyond the run
	// (a server's or PostgreSQL's database); it may do nothing.
	Teardown(ctx context.Context, ids []string) error
	// Close releases the target.
	Close() error
}

// Sampler is implemented by targets that can report their WAL.
type Sampler interface {
	// Sample reads the WAL's current size and the checkpoint counters.
	Sample(ctx context.Context) (Sample, error)
}

// Sample is one reading of a Sampler.
type Sample struct {
	WALBytes int64
	// HasCheckpoints is false when the target cannot count checkpoints
	// (SQLite's own automatic checkpoints are invisible to callers).
	HasCheckpoints        bool
	Checkpoints           int64
	CheckpointsIncomplete int64
	// Commits and Writes are the writer's counters (group commit: Writes per
	// Commit is the mean group size); zero when unknown.
	Commits, Writes int64
}

// Configuration is one line of a comparison: a named way to run the
// workload.
type Configuration struct {
	// Name labels the configuration in reports ("sqlite-normal", "naive").
	Name string
	// Baseline marks a configuration the others are compared with.
	Baseline bool
	// Open opens a fresh target; nil for an External configuration.
	Open func(ctx context.Context) (Target, error)
	// External, when set, runs a whole step itself (the seed's Python
	// script) and returns its figures; it returns ErrUnsupported for a
	// workload it cannot run.
	External func(ctx context.Context, s StepSpec) (Step, error)
}

// StepSpec is what an External configuration is asked to run.
type StepSpec struct {
	Workload    Workload
	Concurrency int
	Duration    time.Duration
	Sessions    int
	StateBytes  int
}

// ErrUnsupported is returned by an External configuration for a workload it
// cannot run; the step is reported as skipped.
var ErrUnsupported = errors.New("workload not supported by this configuration")

// StoreTarget drives a state.Store in-process.
type StoreTarget struct {
	Store state.Store
	// Remote makes Teardown delete the sessions (a PostgreSQL database
	// outlives the run; a SQLite file made for the run does not).
	Remote bool
}

var (
	_ Target  = (*StoreTarget)(nil)
	_ Sampler = (*StoreTarget)(nil)
)

// Setup creates the sessions from 16 goroutines, then appends depth
// snapshots to each in batches.
func (t *StoreTarget) Setup(ctx context.Context, ids []string, st []byte, depth int) error {
	err := parallel(ctx, len(ids), 16, func(i int) error {
		_, _, err := t.Store.PutSession(ctx, ids[i], state.SessionInput{ID: ids[i]})
		return err
	})
	if err != nil {
		return fmt.Errorf("create sessions: %w", err)
	}
	for _, chunk := range batches(ids, len(st), depth) {
		items := make([]state.BatchItem, len(chunk))
		for i, id := range chunk {
			items[i] = state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: st}}
		}
		if _, err := t.Store.AppendBatch(ctx, items); err != nil {
			return fmt.Errorf("append initial snapshots: %w", err)
		}
	}
	return nil
}

// Append appends st to session id.
func (t *StoreTarget) Append(ctx context.Context, id string, st []byte) error {
	_, err := t.Store.AppendSnapshot(ctx, id, state.AppendInput{State: st})
	return err
}

// Latest reads session id's latest snapshot.
func (t *StoreTarget) Latest(ctx context.Context, id string) error {
	_, err := t.Store.LatestSnapshot(ctx, id)
	return err
}

// History reads the newest page of session id's history.
func (t *StoreTarget) History(ctx context.Context, id string, limit int) error {
	_, err := t.Store.History(ctx, id, state.HistoryOptions{Limit: limit})
	return err
}

// Teardown deletes the sessions when the target is Remote.
func (t *StoreTarget) Teardown(ctx context.Context, ids []string) error {
	if !t.Remote {
		return nil
	}
	return parallel(ctx, len(ids), 16, func(i int) error {
		if err := t.Store.DeleteSession(ctx, ids[i]); err != nil && !errors.Is(err, state.ErrNotFound) {
			return err
		}
		return nil
	})
}

// Memory reads this process's memory: the store runs in it.
func (t *StoreTarget) Memory() (MemorySample, error) {
	rss, err := processRSS()
	if err != nil {
		return MemorySample{}, err
	}
	m := MemorySample{RSSAnonBytes: rss, GoHeapBytes: goHeap()}
	if _, ok := t.Store.(*sqlitestore.Store); ok {
		m.SQLiteBytes = max(sqlitedb.SQLiteMemory(), 0)
	}
	return m, nil
}

// Sample reads the SQLite database's stats; other stores have no WAL to
// report (ErrUnsupported).
func (t *StoreTarget) Sample(ctx context.Context) (Sample, error) {
	s, ok := t.Store.(*sqlitestore.Store)
	if !ok {
		return Sample{}, ErrUnsupported
	}
	st, err := s.DB().Stats(ctx)
	if err != nil {
		return Sample{}, err
	}
	return Sample{
		WALBytes:              st.WALBytes,
		HasCheckpoints:        true,
		Checkpoints:           st.Checkpoint.Count,
		CheckpointsIncomplete: st.Checkpoint.Incomplete,
		Commits:               st.Writer.Commits,
		Writes:                st.Writer.Writes,
	}, nil
}

// Close closes the store.
func (t *StoreTarget) Close() error { return t.Store.Close() }

// SQLiteConfiguration runs cortex on a fresh SQLite file in dir
// (name.db, removed with its -wal and -shm first) opened with cfg.
func SQLiteConfiguration(name, dir string, cfg sqlitedb.Config) Configuration {
	return Configuration{Name: name, Open: func(ctx context.Context) (Target, error) {
		path := filepath.Join(dir, name+".db")
		if err := removeDB(path); err != nil {
			return nil, err
		}
		s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{DB: cfg})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return &StoreTarget{Store: s}, nil
	}}
}

// PostgresConfiguration runs cortex on the PostgreSQL database at url;
// the sessions the run creates are deleted at its end.
func PostgresConfiguration(name, url string) Configuration {
	return Configuration{Name: name, Open: func(ctx context.Context) (Target, error) {
		s, err := pgstore.Open(ctx, url, pgstore.Config{})
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return &StoreTarget{Store: s, Remote: true}, nil
	}}
}

// removeDB removes a database file and its -wal, -shm and -journal.
func removeDB(path string) error {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old benchmark database: %w", err)
		}
	}
	return nil
}

// batches splits depth rounds of appends to ids into chunks of at most
// state.MaxBatch items and about 8 MiB of states.
func batches(ids []string, stateBytes, depth int) [][]string {
	per := max(1, min(state.MaxBatch, (8<<20)/max(1, stateBytes)))
	var out [][]string
	for range depth {
		for i := 0; i < len(ids); i += per {
			out = append(out, ids[i:min(len(ids), i+per)])
		}
	}
	return out
}

// parallel runs fn(0…n-1) on g goroutines and returns the first error.
func parallel(ctx context.Context, n, g int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range min(g, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n || ctx.Err() != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
