package statetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/cortex-db/cortex/state"
)

func (h *harness) runConcurrency(t *testing.T) {
	t.Run("AppendConcurrentGapless", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "c")
		const workers, each = 32, 10
		var wg sync.WaitGroup
		versions := make(chan int64, workers*each)
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					r, err := s.AppendSnapshot(bg, "c", state.AppendInput{State: js(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))})
					if err != nil {
						errs <- err
						continue
					}
					versions <- r.Version
				}
			}()
		}
		wg.Wait()
		close(versions)
		close(errs)
		for err := range errs {
			t.Errorf("concurrent append: %v", err)
		}
		var got []int64
		for v := range versions {
			got = append(got, v)
		}
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("versions answered are not 1…%d without gaps or duplicates: at %d got %d", workers*each, i, v)
			}
		}
		if len(got) != workers*each {
			t.Fatalf("%d appends answered, want %d", len(got), workers*each)
		}
		sess := mustGet(t, s, "c")
		if sess.Version != workers*each || sess.SnapshotCount != workers*each {
			t.Fatalf("session after concurrent appends: %+v", sess)
		}
		wantVersions(t, historyVersions(t, s, "c"), descending(workers*each, 1)...)
	})

	t.Run("AppendConcurrentExpectedVersion", func(t *testing.T) {
		// 32 writers each append once with optimistic concurrency: read the
		// latest version, append expecting it, retry on a conflict. Every
		// loser must see ErrVersionConflict, and the result is 1…32.
		s, _ := h.store(t)
		mustCreate(t, s, "o")
		const workers = 32
		var wg sync.WaitGroup
		var mu sync.Mutex
		conflicts, firstRoundWins := 0, 0
		var failures []error
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				expected := int64(0)
				for round := 0; ; round++ {
					_, err := s.AppendSnapshot(bg, "o", state.AppendInput{State: js(fmt.Sprintf(`{"w":%d}`, w)), ExpectedVersion: i64(expected)})
					if err == nil {
						mu.Lock()
						if round == 0 {
							firstRoundWins++
						}
						mu.Unlock()
						return
					}
					var ce *state.ConflictError
					if !errors.Is(err, state.ErrVersionConflict) || !errors.As(err, &ce) {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
					if ce.Expected != expected || ce.Actual <= expected {
						mu.Lock()
						failures = append(failures, fmt.Errorf("conflict %+v for expected %d", ce, expected))
						mu.Unlock()
						return
					}
					expected = ce.Actual
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range failures {
			t.Error(err)
		}
		if firstRoundWins != 1 {
			t.Errorf("%d writers won with expected version 0, want exactly 1", firstRoundWins)
		}
		if conflicts < workers-1 {
			t.Errorf("%d conflicts, want at least %d", conflicts, workers-1)
		}
		sess := mustGet(t, s, "o")
		if sess.Version != workers || sess.SnapshotCount != workers {
			t.Fatalf("session %+v, want version %d", sess, workers)
		}
		wantVersions(t, historyVersions(t, s, "o"), descending(workers, 1)...)
	})

	t.Run("AppendConcurrentManySessions", func(t *testing.T) {
		s, _ := h.store(t)
		const sessions, each = 8, 20
		for i := range sessions {
			mustCreate(t, s, fmt.Sprintf("m%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, sessions*each*2)
		for i := range sessions * 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("m%d", i%sessions)
				for range each / 2 {
					if _, err := s.AppendSnapshot(bg, id, state.AppendInput{State: js(`{}`)}); err != nil {
						errs <- err
					}
					if _, err := s.LatestSnapshot(bg, id); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range sessions {
			id := fmt.Sprintf("m%d", i)
			wantVersions(t, historyVersions(t, s, id), descending(each, 1)...)
		}
	})

	t.Run("AppendConcurrentIdempotencyKey", func(t *testing.T) {
		// The same keyed append sent by 16 goroutines at once appends once.
		s, _ := h.store(t)
		mustCreate(t, s, "k")
		var wg sync.WaitGroup
		results := make(chan state.AppendResult, 16)
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.AppendSnapshot(bg, "k", state.AppendInput{State: js(`"once"`), IdempotencyKey: "same"})
				if err != nil {
					errs <- err
					return
				}
				results <- r
			}()
		}
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		fresh := 0
		for r := range results {
			if r.Version != 1 {
				t.Errorf("result %+v, want version 1", r)
			}
			if !r.Replayed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%d appends not replayed, want 1", fresh)
		}
		if got := mustGet(t, s, "k"); got.Version != 1 || got.SnapshotCount != 1 {
			t.Fatalf("session %+v", got)
		}
	})

	t.Run("DeleteWhileAppending", func(t *testing.T) {
		// Appends racing a delete either land before it (and are deleted
		// with the session) or fail with ErrNotFound; nothing survives.
		s, _ := h.store(t)
		mustCreate(t, s, "d")
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					_, err := s.AppendSnapshot(bg, "d", state.AppendInput{State: js(`1`)})
					if err != nil && !errors.Is(err, state.ErrNotFound) {
						errs <- err
					}
				}
			}()
		}
		if err := s.DeleteSession(bg, "d"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		_, err := s.GetSession(bg, "d")
		wantErr(t, err, state.ErrNotFound, "session after delete")
		_, err = s.LatestSnapshot(bg, "d")
		wantErr(t, err, state.ErrNotFound, "latest after delete")
	})
}
