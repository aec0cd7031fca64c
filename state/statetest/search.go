package statetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

func ids(ss []state.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func (h *harness) runSearch(t *testing.T) {
	s, c := h.store(t)
	put := func(id, md string) {
		t.Helper()
		if _, _, err := s.PutSession(bg, id, state.SessionInput{Metadata: js(md)}); err != nil {
			t.Fatalf("PutSession(%s): %v", id, err)
		}
	}
	put("a1", `{"user":"ada","tenant":"t1","n":3,"ok":true}`)
	put("a2", `{"user":"ada","tenant":"t2","n":"3"}`)
	put("b1", `{"user":"bob","tenant":"t1","n":4,"ok":false,"nested":{"user":"ada"}}`)
	put("c1", `{}`)
	put("d1", `{"user":null,"tags":["x"]}`)
	mid := c.Peek()
	put("a3", `{"user":"ada","tenant":"t1"}`)
	search := func(filter string, opts state.ListOptions) []string {
		t.Helper()
		opts.Metadata = js(filter)
		p, err := s.ListSessions(bg, opts)
		if err != nil {
			t.Fatalf("search %s: %v", filter, err)
		}
		return ids(p.Sessions)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`{"user":"ada"}`, []string{"a3", "a2", "a1"}},
		{`{"user":"ada","tenant":"t1"}`, []string{"a3", "a1"}},
		{`{"tenant":"t1","user":"ada"}`, []string{"a3", "a1"}},
		{`{"n":3}`, []string{"a1"}},
		{`{"n":"3"}`, []string{"a2"}},
		{`{"ok":true}`, []string{"a1"}},
		{`{"ok":false}`, []string{"b1"}},
		{`{"user":null}`, []string{"d1"}},
		{`{"user":"carol"}`, []string{}},
		{`{"nope":"ada"}`, []string{}},
		{`{"user":"ada","tenant":"t3"}`, []string{}},
	} {
		if got := search(tc.filter, state.ListOptions{}); !slices.Equal(got, tc.want) {
			t.Errorf("search %s = %v, want %v", tc.filter, got, tc.want)
		}
	}
	if got := search(`{"user":"ada"}`, state.ListOptions{ActiveSince: mid}); !slices.Equal(got, []string{"a3"}) {
		t.Errorf("search with active_since = %v, want [a3]", got)
	}
	// Paging.
	var all []string
	cursor := ""
	for {
		p, err := s.ListSessions(bg, state.ListOptions{Metadata: js(`{"user":"ada"}`), Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(p.Sessions)...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if !slices.Equal(all, []string{"a3", "a2", "a1"}) {
		t.Errorf("paged search = %v", all)
	}
	// The index follows metadata changes, appends and deletes.
	put("a1", `{"user":"bob"}`)
	mustAppend(t, s, "a2", `1`)
	if err := s.DeleteSession(bg, "a3"); err != nil {
		t.Fatal(err)
	}
	ttl := time.Hour
	if _, _, err := s.PutSession(bg, "a2", state.SessionInput{TTL: &ttl}); err != nil {
		t.Fatal(err)
	}
	if got := search(`{"user":"ada"}`, state.ListOptions{}); !slices.Equal(got, []string{"a2"}) {
		t.Errorf("after changes: search = %v, want [a2]", got)
	}
	if got := search(`{"user":"bob"}`, state.ListOptions{}); !slices.Equal(got, []string{"a1", "b1"}) {
		t.Errorf("after changes: search bob = %v, want [a1 b1]", got)
	}
	if _, err := s.CreateSession(bg, state.SessionInput{ID: "e1", Metadata: js(`{"user":"eve"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := search(`{"user":"eve"}`, state.ListOptions{}); !slices.Equal(got, []string{"e1"}) {
		t.Errorf("created session: search = %v", got)
	}
	for _, bad := range []string{`{"tags":["x"]}`, `{"nested":{"user":"ada"}}`, `[1]`, `"x"`, `{"a":`} {
		_, err := s.ListSessions(bg, state.ListOptions{Metadata: js(bad)})
		wantErr(t, err, state.ErrInvalid, "search "+bad)
	}
}

func (h *harness) runKeys(t *testing.T) {
	s, _ := h.store(t)
	mustCreate(t, s, "a")
	mustCreate(t, s, "b")
	r, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"x":1}`), Metadata: js(`{"m":1}`), Key: "ckpt-1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || r.Key != "ckpt-1" || r.Replayed {
		t.Fatalf("keyed append: %+v", r)
	}
	mustAppend(t, s, "a", `2`)
	// The identical request again replays the original.
	again, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"x":1}`), Metadata: js(`{"m":1}`), Key: "ckpt-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != 1 || !again.Replayed || !again.CreatedAt.Equal(r.CreatedAt) || again.Key != "ckpt-1" {
		t.Fatalf("replayed keyed append: %+v, want version 1 replayed", again)
	}
	if v := mustGet(t, s, "a").Version; v != 2 {
		t.Fatalf("a replay appended: version %d", v)
	}
	// A different snapshot under a taken key.
	_, err = s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"x":2}`), Key: "ckpt-1"})
	wantErr(t, err, state.ErrExists, "different state under a taken key")
	_, err = s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`{"x":1}`), Metadata: js(`{"m":2}`), Key: "ckpt-1"})
	wantErr(t, err, state.ErrExists, "different metadata under a taken key")
	// Keys are per session.
	if r, err := s.AppendSnapshot(bg, "b", state.AppendInput{State: js(`{"x":9}`), Key: "ckpt-1"}); err != nil || r.Replayed {
		t.Fatalf("same key in another session: %+v, %v", r, err)
	}
	// By key, and the key on every read.
	sn, err := s.SnapshotByKey(bg, "a", "ckpt-1")
	if err != nil {
		t.Fatal(err)
	}
	if sn.Version != 1 || string(sn.State) != `{"x":1}` || sn.Key != "ckpt-1" {
		t.Fatalf("SnapshotByKey: %+v", sn)
	}
	if sn, err := s.GetSnapshot(bg, "a", 1); err != nil || sn.Key != "ckpt-1" {
		t.Fatalf("GetSnapshot shows key %q, %v", sn.Key, err)
	}
	if sn, err := s.GetSnapshot(bg, "a", 2); err != nil || sn.Key != "" {
		t.Fatalf("unkeyed snapshot shows key %q, %v", sn.Key, err)
	}
	p, err := s.History(bg, "a", state.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Snapshots) != 2 || p.Snapshots[1].Key != "ckpt-1" {
		t.Fatalf("history keys: %+v", p.Snapshots)
	}
	_, err = s.SnapshotByKey(bg, "a", "nope")
	wantErr(t, err, state.ErrNotFound, "SnapshotByKey of a missing key")
	_, err = s.SnapshotByKey(bg, "zz", "ckpt-1")
	wantErr(t, err, state.ErrNotFound, "SnapshotByKey of a missing session")
	for _, bad := range []string{"a b", "a/b", string(make([]byte, state.MaxIDLen+1))} {
		_, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`1`), Key: bad})
		wantErr(t, err, state.ErrInvalid, fmt.Sprintf("append with key %q", bad))
	}
	// In a batch, and a key clash rolls the batch back.
	res, err := s.AppendBatch(bg, []state.BatchItem{
		{SessionID: "a", AppendInput: state.AppendInput{State: js(`3`), Key: "k3"}},
		{SessionID: "a", AppendInput: state.AppendInput{State: js(`3`), Key: "k3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Version != 3 || res[1].Version != 3 || !res[1].Replayed {
		t.Fatalf("batch with a repeated key: %+v", res)
	}
	_, err = s.AppendBatch(bg, []state.BatchItem{
		{SessionID: "a", AppendInput: state.AppendInput{State: js(`4`)}},
		{SessionID: "a", AppendInput: state.AppendInput{State: js(`5`), Key: "k3"}},
	})
	wantErr(t, err, state.ErrExists, "batch with a taken key")
	if v := mustGet(t, s, "a").Version; v != 3 {
		t.Fatalf("a failed batch appended: version %d", v)
	}
	// A conditional append replays by key before it checks the version.
	if r, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(`3`), Key: "k3", ExpectedVersion: i64(2)}); err != nil || !r.Replayed {
		t.Fatalf("conditional replay: %+v, %v", r, err)
	}
	if errors.Is(err, state.ErrVersionConflict) {
		t.Fatal("unreachable")
	}
}

func (h *harness) runHistoryFilter(t *testing.T) {
	s, _ := h.store(t)
	mustCreate(t, s, "a")
	for i := 1; i <= 9; i++ {
		src := "input"
		if i%3 == 0 {
			src = "tool"
		}
		md := fmt.Sprintf(`{"source":%q,"i":%d,"even":%v}`, src, i, i%2 == 0)
		if _, err := s.AppendSnapshot(bg, "a", state.AppendInput{State: js(fmt.Sprint(i)), Metadata: js(md)}); err != nil {
			t.Fatal(err)
		}
	}
	versions := func(filter string, opts state.HistoryOptions) ([]int64, string) {
		t.Helper()
		opts.Metadata = js(filter)
		p, err := s.History(bg, "a", opts)
		if err != nil {
			t.Fatalf("history %s: %v", filter, err)
		}
		var vs []int64
		for _, sn := range p.Snapshots {
			vs = append(vs, sn.Version)
		}
		return vs, p.NextCursor
	}
	if got, _ := versions(`{"source":"tool"}`, state.HistoryOptions{}); !slices.Equal(got, []int64{9, 6, 3}) {
		t.Errorf("source=tool: %v", got)
	}
	if got, _ := versions(`{"source":"input","even":true}`, state.HistoryOptions{IncludeState: true}); !slices.Equal(got, []int64{8, 4, 2}) {
		t.Errorf("source=input, even: %v", got)
	}
	if got, _ := versions(`{"i":5}`, state.HistoryOptions{}); !slices.Equal(got, []int64{5}) {
		t.Errorf("i=5: %v", got)
	}
	if got, _ := versions(`{"i":"5"}`, state.HistoryOptions{}); len(got) != 0 {
		t.Errorf(`i="5": %v`, got)
	}
	// Paged.
	var all []int64
	cursor := ""
	for {
		vs, next := versions(`{"source":"input"}`, state.HistoryOptions{Limit: 2, Cursor: cursor})
		all = append(all, vs...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(all, []int64{8, 7, 5, 4, 2, 1}) {
		t.Errorf("paged source=input: %v", all)
	}
	if got, _ := versions(`{"source":"input"}`, state.HistoryOptions{Before: 5}); !slices.Equal(got, []int64{4, 2, 1}) {
		t.Errorf("before 5: %v", got)
	}
	_, err := s.History(bg, "a", state.HistoryOptions{Metadata: js(`{"x":[1]}`)})
	wantErr(t, err, state.ErrInvalid, "history filter with an array")
}
