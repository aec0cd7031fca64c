package statetest

import (
	"fmt"
	"testing"

	"github.com/cortex-db/cortex/state"
)

func item(id, st string) state.BatchItem {
	return state.BatchItem{SessionID: id, AppendInput: state.AppendInput{State: js(st)}}
}

func (h *harness) runBatch(t *testing.T) {
	t.Run("InOrder", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		mustCreate(t, s, "b")
		mustAppend(t, s, "b", `0`)
		items := []state.BatchItem{item("a", `1`), item("b", `2`), item("a", `3`), item("a", `4`), item("b", `5`)}
		items[4].Metadata = js(`{"last":true}`)
		res, err := s.AppendBatch(bg, items)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			id string
			v  int64
		}{{"a", 1}, {"b", 2}, {"a", 2}, {"a", 3}, {"b", 3}}
		if len(res) != len(want) {
			t.Fatalf("%d results, want %d", len(res), len(want))
		}
		for i, w := range want {
			if res[i].SessionID != w.id || res[i].Version != w.v || res[i].SizeBytes != int64(len(items[i].State)) {
				t.Fatalf("result %d = %+v, want %s v%d", i, res[i], w.id, w.v)
			}
			wantUTC(t, res[i].CreatedAt, "CreatedAt")
			sn, err := s.GetSnapshot(bg, w.id, w.v)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON(t, sn.State, string(items[i].State), fmt.Sprintf("state of item %d", i))
		}
		sn, _ := s.GetSnapshot(bg, "b", 3)
		wantJSON(t, sn.Metadata, `{"last":true}`, "metadata")
		if a := mustGet(t, s, "a"); a.Version != 3 || a.SnapshotCount != 3 {
			t.Fatalf("a = %+v", a)
		}
		if b := mustGet(t, s, "b"); b.Version != 3 || b.SnapshotCount != 3 {
			t.Fatalf("b = %+v", b)
		}
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		bad := map[string]state.BatchItem{
			"MissingSession":   item("ghost", `1`),
			"InvalidJSON":      item("b", `{`),
			"InvalidID":        item("a/b", `1`),
			"MetadataNotObj":   {SessionID: "b", AppendInput: state.AppendInput{State: js(`1`), Metadata: js(`[]`)}},
			"VersionConflict":  {SessionID: "b", AppendInput: state.AppendInput{State: js(`1`), ExpectedVersion: i64(7)}},
			"TooLarge":         item("b", fmt.Sprintf(`"%02000d"`, 0)),
			"ConflictInBatch":  {SessionID: "a", AppendInput: state.AppendInput{State: js(`1`), ExpectedVersion: i64(1)}},
			"EmptySessionID":   item("", `1`),
			"StateMissing":     {SessionID: "a"},
			"SecondOfSameTail": {SessionID: "b", AppendInput: state.AppendInput{State: js(`1`), ExpectedVersion: i64(0)}},
		}
		wantErrs := map[string]error{
			"MissingSession": state.ErrNotFound, "InvalidJSON": state.ErrInvalid, "InvalidID": state.ErrInvalid,
			"MetadataNotObj": state.ErrInvalid, "VersionConflict": state.ErrVersionConflict, "TooLarge": state.ErrTooLarge,
			"ConflictInBatch": state.ErrVersionConflict, "EmptySessionID": state.ErrInvalid, "StateMissing": state.ErrInvalid,
			"SecondOfSameTail": state.ErrVersionConflict,
		}
		for name, b := range bad {
			t.Run(name, func(t *testing.T) {
				c := NewClock()
				s := h.newStore(t, state.Options{Now: c.Now, MaxStateBytes: 1000})
				mustCreate(t, s, "a")
				mustCreate(t, s, "b")
				mustAppend(t, s, "b", `0`)
				items := []state.BatchItem{item("a", `1`), item("b", `2`), item("a", `3`), b, item("b", `4`)}
				res, err := s.AppendBatch(bg, items)
				wantErr(t, err, wantErrs[name], "batch with a bad item")
				if res != nil {
					t.Fatalf("failed batch returned results %+v", res)
				}
				if a := mustGet(t, s, "a"); a.Version != 0 || a.SnapshotCount != 0 {
					t.Fatalf("failed batch appended to a: %+v", a)
				}
				if b := mustGet(t, s, "b"); b.Version != 1 || b.SnapshotCount != 1 {
					t.Fatalf("failed batch appended to b: %+v", b)
				}
				wantVersions(t, historyVersions(t, s, "b"), 1)
				wantVersions(t, historyVersions(t, s, "a"))
			})
		}
	})

	t.Run("Limits", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		_, err := s.AppendBatch(bg, nil)
		wantErr(t, err, state.ErrInvalid, "empty batch")
		items := make([]state.BatchItem, state.MaxBatch+1)
		for i := range items {
			items[i] = item("a", `1`)
		}
		_, err = s.AppendBatch(bg, items)
		wantErr(t, err, state.ErrInvalid, "batch over MaxBatch")
		if a := mustGet(t, s, "a"); a.Version != 0 {
			t.Fatalf("refused batch appended: %+v", a)
		}
		res, err := s.AppendBatch(bg, items[:state.MaxBatch])
		if err != nil {
			t.Fatalf("batch of MaxBatch: %v", err)
		}
		if len(res) != state.MaxBatch || res[state.MaxBatch-1].Version != state.MaxBatch {
			t.Fatalf("batch of MaxBatch: %d results, last %+v", len(res), res[len(res)-1])
		}
	})

	t.Run("IdempotencyKey", func(t *testing.T) {
		s, _ := h.store(t)
		mustCreate(t, s, "a")
		first, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`1`), IdempotencyKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		items := []state.BatchItem{
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`1`), IdempotencyKey: "k"}},
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`2`), IdempotencyKey: "k2"}},
			{SessionID: "a", AppendInput: state.AppendInput{State: js(`2`), IdempotencyKey: "k2"}},
		}
		res, err := s.AppendBatch(bg, items)
		if err != nil {
			t.Fatal(err)
		}
		if !res[0].Replayed || res[0].Version != first.Version {
			t.Fatalf("replayed item: %+v", res[0])
		}
		if res[1].Replayed || res[1].Version != 2 || !res[2].Replayed || res[2].Version != 2 {
			t.Fatalf("key repeated inside the batch: %+v %+v", res[1], res[2])
		}
		if a := mustGet(t, s, "a"); a.Version != 2 {
			t.Fatalf("a = %+v", a)
		}
	})
}
