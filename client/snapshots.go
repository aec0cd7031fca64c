package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AppendInput is one append. State is required.
type AppendInput struct {
	// State is any JSON value: a json.RawMessage is sent as it is (the
	// server checks it), anything else is encoded with encoding/json.
	State any
	// Metadata is a JSON object (a map, a struct or json.RawMessage), or
	// nil.
	Metadata any
	// Key names the snapshot (unique in its session): the identical
	// append again answers the first one, a different one under the key
	// is a 409.
	Key string
	// ExpectedVersion, when set, appends only if it is the session's
	// latest version (0: no snapshot yet); otherwise a 412 whose *Error
	// has ActualVersion (IsPreconditionFailed).
	ExpectedVersion *int64
	// IdempotencyKey makes a retry of this append answer the first result;
	// empty: the client makes one (unless WithIdempotencyKeys(false)).
	IdempotencyKey string
}

// Version returns a pointer to v, for AppendInput.ExpectedVersion.
func Version(v int64) *int64 { return &v }

// jsonValue encodes v: a json.RawMessage as it is.
func jsonValue(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(v)
}

// appendBody builds {"state":…,"metadata":…,"key":…} without reflection
// for a json.RawMessage state: appends are the hot path.
func appendBody(in AppendInput) ([]byte, error) {
	if in.State == nil {
		return nil, fmt.Errorf("cortex client: append: State is required (any JSON value; json.RawMessage(\"null\") for null)")
	}
	st, err := jsonValue(in.State)
	if err != nil {
		return nil, fmt.Errorf("cortex client: encode the state: %w", err)
	}
	var md []byte
	if in.Metadata != nil {
		if md, err = jsonValue(in.Metadata); err != nil {
			return nil, fmt.Errorf("cortex client: encode the metadata: %w", err)
		}
	}
	b := make([]byte, 0, len(st)+len(md)+len(in.Key)+40)
	b = append(b, `{"state":`...)
	b = append(b, st...)
	if md != nil {
		b = append(b, `,"metadata":`...)
		b = append(b, md...)
	}
	if in.Key != "" {
		b = append(b, `,"key":`...)
		b = strconv.AppendQuote(b, in.Key)
	}
	return append(b, '}'), nil
}

// Append appends a snapshot to an existing session (POST
// /v1/sessions/{id}/snapshots): a missing one is a 404, never created. The
// append carries an Idempotency-Key, so it is retried after a network
// failure: a retry of an append that was applied answers its first result
// (Replayed true).
func (c *Client) Append(ctx context.Context, id string, in AppendInput) (AppendResult, error) {
	var r AppendResult
	b, err := appendBody(in)
	if err != nil {
		return r, err
	}
	cl := call{method: http.MethodPost, path: "/v1/sessions/" + esc(id) + "/snapshots", body: b, idemKey: in.IdempotencyKey, ok: created}
	if in.ExpectedVersion != nil {
		cl.ifMatch = etag(*in.ExpectedVersion)
	}
	if cl.idemKey == "" && c.autoKeys {
		cl.idemKey = newKey()
	}
	cl.idempotent = cl.idemKey != ""
	p := cl.path
	res, err := c.do(ctx, cl)
	if err != nil {
		return r, err
	}
	if err := decode(res, &r, http.MethodPost, p); err != nil {
		return r, err
	}
	r.Replayed = res.header.Get("Idempotent-Replayed") == "true"
	return r, nil
}

// BatchItem is one append of AppendBatch.
type BatchItem struct {
	SessionID string
	AppendInput
}

// AppendBatch appends up to 1,000 snapshots to existing sessions, all or
// nothing (POST /v1/snapshots:batch); results are in the order of items.
// Each item carries an idempotency key (made by the client unless given),
// so that a retried batch answers the first results.
func (c *Client) AppendBatch(ctx context.Context, items []BatchItem) ([]AppendResult, error) {
	type wire struct {
		SessionID       string          `json:"session_id"`
		State           json.RawMessage `json:"state"`
		Metadata        json.RawMessage `json:"metadata,omitempty"`
		ExpectedVersion *int64          `json:"expected_version,omitempty"`
		IdempotencyKey  string          `json:"idempotency_key,omitempty"`
		Key             string          `json:"key,omitempty"`
	}
	req := struct {
		Items []wire `json:"items"`
	}{Items: make([]wire, len(items))}
	keyed := true
	for i, it := range items {
		if it.State == nil {
			return nil, fmt.Errorf("cortex client: batch item %d: State is required", i)
		}
		st, err := jsonValue(it.State)
		if err != nil {
			return nil, fmt.Errorf("cortex client: batch item %d: encode the state: %w", i, err)
		}
		w := wire{SessionID: it.SessionID, State: st, ExpectedVersion: it.ExpectedVersion, IdempotencyKey: it.IdempotencyKey, Key: it.Key}
		if it.Metadata != nil {
			if w.Metadata, err = jsonValue(it.Metadata); err != nil {
				return nil, fmt.Errorf("cortex client: batch item %d: encode the metadata: %w", i, err)
			}
		}
		if w.IdempotencyKey == "" && c.autoKeys {
			w.IdempotencyKey = newKey()
		}
		keyed = keyed && w.IdempotencyKey != ""
		req.Items[i] = w
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("cortex client: encode the batch: %w", err)
	}
	var out struct {
		Results []AppendResult `json:"results"`
	}
	res, err := c.do(ctx, call{method: http.MethodPost, path: "/v1/snapshots:batch", body: b, idempotent: keyed, ok: []int{http.StatusCreated}})
	if err != nil {
		return nil, err
	}
	if err := decode(res, &out, http.MethodPost, "/v1/snapshots:batch"); err != nil {
		return out.Results, err
	}
	return out.Results, nil
}

func (c *Client) snapshot(ctx context.Context, p string) (Snapshot, error) {
	return getJSON[Snapshot](ctx, c, p)
}

// Latest reads a session's latest snapshot, with its state; a session
// without snapshots is a 404.
func (c *Client) Latest(ctx context.Context, id string) (Snapshot, error) {
	return c.snapshot(ctx, "/v1/sessions/"+esc(id)+"/snapshots/latest")
}

// Snapshot reads one version of a session's state.
func (c *Client) Snapshot(ctx context.Context, id string, version int64) (Snapshot, error) {
	return c.snapshot(ctx, "/v1/sessions/"+esc(id)+"/snapshots/"+strconv.FormatInt(version, 10))
}

// SnapshotByKey reads the snapshot appended with key.
func (c *Client) SnapshotByKey(ctx context.Context, id, key string) (Snapshot, error) {
	return c.snapshot(ctx, "/v1/sessions/"+esc(id)+"/snapshots/by-key/"+esc(key))
}

// WaitLatest is a long poll: it answers the latest snapshot as soon as its
// version is above after (at once if it already is), or changed false when
// wait (at most a minute) passes first. A deleted session is a 404.
func (c *Client) WaitLatest(ctx context.Context, id string, after int64, wait time.Duration) (s Snapshot, changed bool, err error) {
	q := url.Values{"wait": {wait.String()}, "after_version": {strconv.FormatInt(after, 10)}}
	p := withQuery("/v1/sessions/"+esc(id)+"/snapshots/latest", q)
	res, err := c.do(ctx, call{method: http.MethodGet, path: p, idempotent: true, ok: []int{http.StatusOK, http.StatusNotModified}})
	if err != nil || res.status == http.StatusNotModified {
		return s, false, err
	}
	if err := decode(res, &s, http.MethodGet, p); err != nil {
		return s, true, err
	}
	return s, true, nil
}

// HistoryOptions select snapshots of a history. The zero value reads them
// all, newest first, without their states, 50 a page.
type HistoryOptions struct {
	// Limit is the page size (0: 50; at most 1000). A page also ends at
	// 16 MiB of states and metadata.
	Limit int
	// Cursor is where HistoryPage starts: a page's NextCursor.
	Cursor string
	// Before keeps the versions below it (0: all).
	Before int64
	// IncludeState adds each snapshot's state.
	IncludeState bool
	// Metadata keeps the snapshots whose metadata has these top-level
	// values.
	Metadata map[string]any
}

func (o HistoryOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Before > 0 {
		q.Set("before", strconv.FormatInt(o.Before, 10))
	}
	if o.IncludeState {
		q.Set("include_state", "true")
	}
	metadataQuery(q, o.Metadata)
	return q
}

// HistoryPage reads one page of a session's history, newest first.
func (c *Client) HistoryPage(ctx context.Context, id string, o HistoryOptions) (SnapshotPage, error) {
	return getJSON[SnapshotPage](ctx, c, withQuery("/v1/sessions/"+esc(id)+"/snapshots", o.query()))
}

// History iterates over a session's history, newest first, page after
// page. An error ends the sequence, yielded once with a zero Snapshot.
func (c *Client) History(ctx context.Context, id string, o HistoryOptions) iter.Seq2[Snapshot, error] {
	return pages(func(cursor string) ([]Snapshot, string, error) {
		o.Cursor = cursor
		page, err := c.HistoryPage(ctx, id, o)
		return page.Snapshots, page.NextCursor, err
	}, o.Cursor)
}

// OpenAPI returns the server's OpenAPI document (GET /v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	res, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/openapi.json", idempotent: true, ok: []int{http.StatusOK}})
	return res.body, err
}

// AdminStats returns the database statistics (GET /v1/admin/stats; the
// fields of `cortex stats --json`, which differ between engines).
func (c *Client) AdminStats(ctx context.Context) (json.RawMessage, error) {
	res, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/admin/stats", idempotent: true, ok: []int{http.StatusOK}})
	return res.body, err
}

// created is the ok statuses of a create (shared, never modified).
var created = []int{http.StatusCreated}

func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }
