package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/cortex-db/cortex/state"
)

func TestSearchSessions(t *testing.T) {
	e := newEnv(t, nil)
	e.do("PUT", "/v1/sessions/a1", `{"metadata":{"user":"ada","tenant":"t1","n":3,"ok":true}}`).want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/a2", `{"metadata":{"user":"ada","tenant":"t2","n":"3"}}`).want(t, http.StatusCreated)
	e.do("PUT", "/v1/sessions/b1", `{"metadata":{"user":"bob","tenant":"t1"}}`).want(t, http.StatusCreated)
	search := func(q string) []string {
		t.Helper()
		var p state.SessionPage
		e.do("GET", "/v1/sessions?"+q, "").want(t, http.StatusOK).decode(t, &p)
		var ids []string
		for _, s := range p.Sessions {
			ids = append(ids, s.ID)
		}
		return ids
	}
	for q, want := range map[string][]string{
		"metadata.user=ada":                                   {"a2", "a1"},
		"metadata.user=ada&metadata.tenant=t1":                {"a1"},
		"metadata.n=3":                                        {"a1"},
		"metadata.n=" + url.QueryEscape(`"3"`):                {"a2"},
		"metadata.ok=true":                                    {"a1"},
		"metadata.user=carol":                                 nil,
		"metadata.tenant=t1&limit=1":                          {"b1"},
		"metadata.user=ada&active_since=2000-01-01T00:00:00Z": {"a2", "a1"},
	} {
		if got := search(q); !slices.Equal(got, want) {
			t.Errorf("GET /v1/sessions?%s = %v, want %v", q, got, want)
		}
	}
	for _, q := range []string{"user=ada", "metadata=x", "metadata.=x", "metadata.user=ada&metadata.user=bob", "metadata.tags=" + url.QueryEscape(`["x"]`), "limit=1&limit=2"} {
		e.do("GET", "/v1/sessions?"+q, "").want(t, http.StatusBadRequest)
	}
}

func TestSnapshotKeys(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	var r state.AppendResult
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"x":1},"key":"ckpt-1"}`).want(t, http.StatusCreated).decode(t, &r)
	if r.Version != 1 || r.Key != "ckpt-1" {
		t.Fatalf("keyed append: %+v", r)
	}
	e.mustAppend("s", `2`)
	again := e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"x":1},"key":"ckpt-1"}`).want(t, http.StatusCreated)
	again.decode(t, &r)
	if r.Version != 1 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %+v %v", r, again.Header)
	}
	if p := e.do("POST", "/v1/sessions/s/snapshots", `{"state":{"x":2},"key":"ckpt-1"}`).want(t, http.StatusConflict).problem(t); p.Detail == "" {
		t.Fatal("409 without detail")
	}
	e.do("POST", "/v1/sessions/s/snapshots", `{"state":1,"key":"a b"}`).want(t, http.StatusBadRequest)
	var sn state.Snapshot
	res := e.do("GET", "/v1/sessions/s/snapshots/by-key/ckpt-1", "").want(t, http.StatusOK)
	res.decode(t, &sn)
	if sn.Version != 1 || sn.Key != "ckpt-1" || string(sn.State) != `{"x":1}` || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("by key: %+v", sn)
	}
	e.do("GET", "/v1/sessions/s/snapshots/by-key/nope", "").want(t, http.StatusNotFound)
	e.do("GET", "/v1/sessions/s/snapshots/1", "").want(t, http.StatusOK).decode(t, &sn)
	if sn.Key != "ckpt-1" {
		t.Fatalf("GET version 1: key %q", sn.Key)
	}
	var br struct{ Results []state.AppendResult }
	e.do("POST", "/v1/snapshots:batch", `{"items":[{"session_id":"s","state":3,"key":"k3"}]}`).want(t, http.StatusCreated).decode(t, &br)
	if len(br.Results) != 1 || br.Results[0].Key != "k3" {
		t.Fatalf("batch with key: %+v", br)
	}
}

func TestHistoryFilter(t *testing.T) {
	e := newEnv(t, nil)
	e.mustSession("s")
	for i, src := range []string{"input", "tool", "input"} {
		e.do("POST", "/v1/sessions/s/snapshots", `{"state":`+string(rune('1'+i))+`,"metadata":{"source":"`+src+`"}}`).want(t, http.StatusCreated)
	}
	var p state.SnapshotPage
	e.do("GET", "/v1/sessions/s/snapshots?metadata.source=input&limit=1", "").want(t, http.StatusOK).decode(t, &p)
	if len(p.Snapshots) != 1 || p.Snapshots[0].Version != 3 || p.NextCursor == "" {
		t.Fatalf("page 1: %+v", p)
	}
	cursor := p.NextCursor
	p = state.SnapshotPage{}
	e.do("GET", "/v1/sessions/s/snapshots?metadata.source=input&limit=1&cursor="+cursor, "").want(t, http.StatusOK).decode(t, &p)
	if len(p.Snapshots) != 1 || p.Snapshots[0].Version != 1 || p.NextCursor != "" {
		t.Fatalf("page 2: %+v", p)
	}
	p = state.SnapshotPage{}
	e.do("GET", "/v1/sessions/s/snapshots?metadata.source=tool&include_state=true", "").want(t, http.StatusOK).decode(t, &p)
	if len(p.Snapshots) != 1 || string(p.Snapshots[0].State) != "2" {
		t.Fatalf("tool: %+v", p)
	}
	e.do("GET", "/v1/sessions/s/snapshots?metadata.source=input&metadata.source=tool", "").want(t, http.StatusBadRequest)
}
