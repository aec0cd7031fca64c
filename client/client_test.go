package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cortex-db/cortex/client"
	"github.com/cortex-db/cortex/internal/apitest"
	"github.com/cortex-db/cortex/internal/e2e"
	"github.com/cortex-db/cortex/internal/pgtest"
)

// The client's tests run against a real `cortex serve` (built by
// internal/e2e) on a SQLite file and on PostgreSQL, every request and
// answer checked against the OpenAPI document.

func TestMain(m *testing.M) {
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}

const token = "client-test-token-0123456789"

// engines runs f against a server on each engine.
func engines(t *testing.T, f func(t *testing.T, s *e2e.Server)) {
	t.Run("SQLite", func(t *testing.T) {
		f(t, e2e.StartServer(t, filepath.Join(t.TempDir(), "cortex.db"), "--api-token", token))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		f(t, e2e.StartServer(t, pgtest.NewDatabase(t), "--api-token", token))
	})
}

// checked is an HTTP client whose traffic is checked against the OpenAPI
// document.
func checked(t *testing.T) *http.Client {
	return &http.Client{Transport: apitest.Transport(nil, func(err error) { t.Errorf("OpenAPI contract: %v", err) })}
}

func newClient(t *testing.T, base string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, append([]client.Option{client.WithToken(token), client.WithHTTPClient(checked(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClient_Sessions(t *testing.T) {
	engines(t, func(t *testing.T, s *e2e.Server) {
		ctx := context.Background()
		c := newClient(t, s.Base)

		sess, created, err := c.PutSession(ctx, "agent-1", client.SessionInput{Metadata: map[string]any{"team": "a"}})
		if err != nil || !created || sess.ID != "agent-1" || string(sess.Metadata) != `{"team":"a"}` {
			t.Fatalf("PutSession: %+v %v %v", sess, created, err)
		}
		ttl := time.Hour
		sess, created, err = c.PutSession(ctx, "agent-1", client.SessionInput{TTL: &ttl})
		if err != nil || created || sess.TTLSeconds != 3600 || sess.ExpiresAt == nil || string(sess.Metadata) != `{"team":"a"}` {
			t.Fatalf("PutSession again: %+v %v %v", sess, created, err)
		}
		gen, err := c.CreateSession(ctx, client.SessionInput{Metadata: map[string]any{"team": "b"}})
		if err != nil || gen.ID == "" {
			t.Fatalf("CreateSession: %+v %v", gen, err)
		}
		_, err = c.CreateSession(ctx, client.SessionInput{ID: "agent-1"})
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Type != "urn:cortex:problem:exists" || ce.Slug() != "exists" || ce.Title == "" || ce.Detail == "" || !client.IsConflict(err) {
			t.Fatalf("CreateSession of a taken id: %#v", err)
		}
		if got, err := c.GetSession(ctx, "agent-1"); err != nil || got.ID != "agent-1" {
			t.Fatalf("GetSession: %+v %v", got, err)
		}
		if _, err := c.TouchSession(ctx, "agent-1"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, _, err := c.PutSession(ctx, fmt.Sprintf("many-%d", i), client.SessionInput{Metadata: map[string]any{"n": i, "team": "c"}}); err != nil {
				t.Fatal(err)
			}
		}
		// Every page, through the iterator; and a search.
		var all []string
		for s, err := range c.Sessions(ctx, client.ListOptions{Limit: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, s.ID)
		}
		if len(all) != 7 || !slices.Contains(all, gen.ID) {
			t.Fatalf("Sessions: %v", all)
		}
		var found []string
		for s, err := range c.Sessions(ctx, client.ListOptions{Limit: 1, Metadata: map[string]any{"team": "c", "n": 3}}) {
			if err != nil {
				t.Fatal(err)
			}
			found = append(found, s.ID)
		}
		if !slices.Equal(found, []string{"many-3"}) {
			t.Fatalf("search: %v", found)
		}
		if err := c.DeleteSession(ctx, "agent-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetSession(ctx, "agent-1"); !client.IsNotFound(err) {
			t.Fatalf("GetSession after delete: %v", err)
		}
		if err := c.DeleteSession(ctx, "agent-1"); !client.IsNotFound(err) {
			t.Fatalf("DeleteSession again: %v", err)
		}
		// Bad input: a 400 naming the field.
		_, _, err = c.PutSession(ctx, "bad id!", client.SessionInput{})
		if !errors.As(err, &ce) || !client.IsInvalid(err) || ce.Field != "id" {
			t.Fatalf("PutSession of a bad id: %#v", err)
		}
		// The token is needed.
		anon, _ := client.New(s.Base, client.WithHTTPClient(checked(t)))
		if _, err := anon.GetSession(ctx, gen.ID); client.StatusOf(err) != http.StatusUnauthorized {
			t.Fatalf("without a token: %v", err)
		}
		if doc, err := c.OpenAPI(ctx); err != nil || !json.Valid(doc) {
			t.Fatalf("OpenAPI: %v", err)
		}
	})
}

func TestClient_Snapshots(t *testing.T) {
	engines(t, func(t *testing.T, s *e2e.Server) {
		ctx := context.Background()
		c := newClient(t, s.Base)
		if _, err := c.Append(ctx, "nobody", client.AppendInput{State: 1}); !client.IsNotFound(err) {
			t.Fatalf("append to a missing session: %v", err)
		}
		if _, _, err := c.PutSession(ctx, "s", client.SessionInput{}); err != nil {
			t.Fatal(err)
		}
		r, err := c.Append(ctx, "s", client.AppendInput{State: map[string]any{"step": 1}, Metadata: map[string]string{"source": "input"}, ExpectedVersion: client.Version(0)})
		if err != nil || r.Version != 1 || r.Replayed {
			t.Fatalf("Append: %+v %v", r, err)
		}
		// A stale ExpectedVersion: 412 with the versions.
		_, err = c.Append(ctx, "s", client.AppendInput{State: 2, ExpectedVersion: client.Version(0)})
		var ce *client.Error
		if !errors.As(err, &ce) || !client.IsPreconditionFailed(err) || ce.ActualVersion == nil || *ce.ActualVersion != 1 {
			t.Fatalf("stale append: %#v", err)
		}
		// The same idempotency key twice: one append, answered twice.
		a, err := c.Append(ctx, "s", client.AppendInput{State: json.RawMessage(`{"step":2}`), IdempotencyKey: "k-2", Key: "ckpt-2"})
		b, err2 := c.Append(ctx, "s", client.AppendInput{State: json.RawMessage(`{"step":2}`), IdempotencyKey: "k-2", Key: "ckpt-2"})
		if err != nil || err2 != nil || a.Version != 2 || b.Version != 2 || !b.Replayed || a.Key != "ckpt-2" {
			t.Fatalf("idempotent appends: %+v %v / %+v %v", a, err, b, err2)
		}
		_, err = c.Append(ctx, "s", client.AppendInput{State: 3, IdempotencyKey: "k-2"})
		if client.StatusOf(err) != http.StatusUnprocessableEntity {
			t.Fatalf("reused key, other request: %v", err)
		}
		res, err := c.AppendBatch(ctx, []client.BatchItem{
			{SessionID: "s", AppendInput: client.AppendInput{State: 3, Metadata: map[string]string{"source": "tool"}}},
			{SessionID: "s", AppendInput: client.AppendInput{State: 4}},
			{SessionID: "s", AppendInput: client.AppendInput{State: 5, Metadata: map[string]string{"source": "tool"}}},
		})
		if err != nil || len(res) != 3 || res[2].Version != 5 {
			t.Fatalf("AppendBatch: %+v %v", res, err)
		}
		if l, err := c.Latest(ctx, "s"); err != nil || l.Version != 5 || string(l.State) != "5" || l.ETag() != `"5"` {
			t.Fatalf("Latest: %+v %v", l, err)
		}
		if v, err := c.Snapshot(ctx, "s", 1); err != nil || string(v.State) != `{"step":1}` || string(v.Metadata) != `{"source":"input"}` {
			t.Fatalf("Snapshot: %+v %v", v, err)
		}
		if k, err := c.SnapshotByKey(ctx, "s", "ckpt-2"); err != nil || k.Version != 2 {
			t.Fatalf("SnapshotByKey: %+v %v", k, err)
		}
		if _, err := c.Snapshot(ctx, "s", 9); !client.IsNotFound(err) {
			t.Fatalf("a missing version: %v", err)
		}
		var versions []int64
		for snap, err := range c.History(ctx, "s", client.HistoryOptions{Limit: 2, IncludeState: true}) {
			if err != nil {
				t.Fatal(err)
			}
			if snap.State == nil {
				t.Fatalf("version %d without state", snap.Version)
			}
			versions = append(versions, snap.Version)
		}
		if !slices.Equal(versions, []int64{5, 4, 3, 2, 1}) {
			t.Fatalf("History: %v", versions)
		}
		versions = nil
		for snap, err := range c.History(ctx, "s", client.HistoryOptions{Limit: 1, Metadata: map[string]any{"source": "tool"}}) {
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, snap.Version)
		}
		if !slices.Equal(versions, []int64{5, 3}) {
			t.Fatalf("History filter: %v", versions)
		}
		// Stopping early stops the paging.
		for range c.History(ctx, "s", client.HistoryOptions{Limit: 1}) {
			break
		}
		for _, err := range c.History(ctx, "gone", client.HistoryOptions{}) {
			if !client.IsNotFound(err) {
				t.Fatalf("History of a missing session: %v", err)
			}
		}
		if f, err := c.ForkSession(ctx, "s", client.ForkInput{NewID: "s-fork", AtVersion: 2}); err != nil || f.Version != 2 {
			t.Fatalf("ForkSession: %+v %v", f, err)
		}
		// Long poll: at once when newer exists, 304 (changed false) when not.
		if l, changed, err := c.WaitLatest(ctx, "s", 4, time.Minute); err != nil || !changed || l.Version != 5 {
			t.Fatalf("WaitLatest: %+v %v %v", l, changed, err)
		}
		if _, changed, err := c.WaitLatest(ctx, "s", 5, 10*time.Millisecond); err != nil || changed {
			t.Fatalf("WaitLatest with nothing new: %v %v", changed, err)
		}
		// Too large: 413.
		big := make([]byte, 2<<20)
		for i := range big {
			big[i] = 'x'
		}
		if _, err := c.Append(ctx, "s", client.AppendInput{State: string(big)}); !client.IsTooLarge(err) {
			t.Fatalf("a 2 MiB state: %v", err)
		}
	})
}

func TestClient_Watch(t *testing.T) {
	engines(t, func(t *testing.T, s *e2e.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := newClient(t, s.Base)
		if _, _, err := c.PutSession(ctx, "w", client.SessionInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Append(ctx, "w", client.AppendInput{State: 1}); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		var versions []int64
		for ev, err := range c.Watch(ctx, "w", client.WatchOptions{IncludeState: true}) {
			if err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, ev.Kind)
			switch ev.Kind {
			case client.EventSnapshot:
				versions = append(versions, ev.Snapshot.Version)
				if string(ev.Snapshot.State) != fmt.Sprint(ev.Snapshot.Version) {
					t.Fatalf("state %s of version %d", ev.Snapshot.State, ev.Snapshot.Version)
				}
				if ev.Snapshot.Version < 3 {
					if _, err := c.Append(ctx, "w", client.AppendInput{State: ev.Snapshot.Version + 1}); err != nil {
						t.Fatal(err)
					}
				} else if err := c.DeleteSession(ctx, "w"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !slices.Equal(versions, []int64{1, 2, 3}) || kinds[0] != client.EventSession || kinds[len(kinds)-1] != client.EventDeleted {
			t.Fatalf("events %v, versions %v", kinds, versions)
		}
		for _, err := range c.Watch(ctx, "nobody", client.WatchOptions{}) {
			if !client.IsNotFound(err) {
				t.Fatalf("watch of a missing session: %v", err)
			}
		}
	})
}
