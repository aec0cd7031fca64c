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

// SessionInput is what a create or update sets. The zero value creates a
// session with no metadata and the server's default TTL, and updates
// nothing.
type SessionInput struct {
	// ID is the new session's id (CreateSession only): 1–128 characters of
	// [A-Za-z0-9._:-]; empty: the server makes one (a UUIDv7).
	ID string
	// Metadata is a JSON object: a map, a struct, or json.RawMessage; nil
	// gives "{}" on create and keeps the metadata on update.
	Metadata any
	// TTL is the idle time after which the session expires, in whole
	// seconds; nil: the server's default on create, kept on update; a
	// pointer to 0: never expires.
	TTL *time.Duration
}

func (in SessionInput) body(withID bool) ([]byte, error) {
	m := map[string]any{}
	if withID && in.ID != "" {
		m["id"] = in.ID
	}
	if in.Metadata != nil {
		m["metadata"] = in.Metadata
	}
	if in.TTL != nil {
		m["ttl_seconds"] = int64(*in.TTL / time.Second)
	}
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cortex client: encode the session: %w", err)
	}
	return b, nil
}

// CreateSession creates a session (POST /v1/sessions). With in.ID set, an
// id already taken is a 409 (IsConflict). It is not retried after a network
// failure unless in.ID is set (a retry could create a second session).
func (c *Client) CreateSession(ctx context.Context, in SessionInput) (Session, error) {
	b, err := in.body(true)
	if err != nil {
		return Session{}, err
	}
	if b == nil {
		b = []byte("{}")
	}
	var s Session
	res, err := c.do(ctx, call{method: http.MethodPost, path: "/v1/sessions", body: b, idempotent: in.ID != "", ok: []int{http.StatusCreated}})
	if err != nil {
		return s, err
	}
	if err := decode(res, &s, http.MethodPost, "/v1/sessions"); err != nil {
		return s, err
	}
	return s, nil
}

// PutSession creates the session id, or updates its metadata and TTL
// (those given in in; in.ID is ignored), and touches it (PUT
// /v1/sessions/{id}). created reports whether it is new.
func (c *Client) PutSession(ctx context.Context, id string, in SessionInput) (s Session, created bool, err error) {
	b, err := in.body(false)
	if err != nil {
		return s, false, err
	}
	p := "/v1/sessions/" + esc(id)
	res, err := c.do(ctx, call{method: http.MethodPut, path: p, body: b, idempotent: true, ok: []int{http.StatusOK, http.StatusCreated}})
	if err != nil {
		return s, false, err
	}
	if err := decode(res, &s, http.MethodPut, p); err != nil {
		return s, res.status == http.StatusCreated, err
	}
	return s, res.status == http.StatusCreated, nil
}

// GetSession reads a session; a missing, expired or deleted one is a 404
// (IsNotFound).
func (c *Client) GetSession(ctx context.Context, id string) (Session, error) {
	return c.sessionCall(ctx, http.MethodGet, "/v1/sessions/"+esc(id), http.StatusOK)
}

// TouchSession marks a session active, moving its expiry.
func (c *Client) TouchSession(ctx context.Context, id string) (Session, error) {
	return c.sessionCall(ctx, http.MethodPost, "/v1/sessions/"+esc(id)+"/touch", http.StatusOK)
}

func (c *Client) sessionCall(ctx context.Context, method, p string, ok int) (Session, error) {
	var s Session
	res, err := c.do(ctx, call{method: method, path: p, idempotent: true, ok: []int{ok}})
	if err != nil {
		return s, err
	}
	if err := decode(res, &s, method, p); err != nil {
		return s, err
	}
	return s, nil
}

// DeleteSession deletes a session with its snapshots. Deleting a session
// that is not there is a 404 (IsNotFound), also when a retry after a
// network failure finds it already deleted.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/sessions/" + esc(id), idempotent: true, ok: []int{http.StatusNoContent}})
	return err
}

// ForkInput says what ForkSession copies.
type ForkInput struct {
	// NewID is the new session's id; empty: the server makes one.
	NewID string
	// AtVersion is the last version copied; 0: the latest.
	AtVersion int64
}

// ForkSession makes a new session whose history is a copy of id's up to
// in.AtVersion. It is not retried after a network failure unless NewID is
// set.
func (c *Client) ForkSession(ctx context.Context, id string, in ForkInput) (Session, error) {
	m := map[string]any{}
	if in.NewID != "" {
		m["new_id"] = in.NewID
	}
	if in.AtVersion != 0 {
		m["at_version"] = in.AtVersion
	}
	b, _ := json.Marshal(m)
	p := "/v1/sessions/" + esc(id) + "/fork"
	var s Session
	res, err := c.do(ctx, call{method: http.MethodPost, path: p, body: b, idempotent: in.NewID != "", ok: []int{http.StatusCreated}})
	if err != nil {
		return s, err
	}
	if err := decode(res, &s, http.MethodPost, p); err != nil {
		return s, err
	}
	return s, nil
}

// ListOptions select sessions. The zero value lists them all, newest-active
// first, 50 a page.
type ListOptions struct {
	// ActiveSince keeps the sessions active at or after it (zero: all).
	ActiveSince time.Time
	// Limit is the page size (0: the server's default, 50; at most 1000).
	Limit int
	// Cursor is where ListSessions starts: a page's NextCursor.
	Cursor string
	// Metadata keeps the sessions whose top-level metadata has each of
	// these values (search): strings, numbers, booleans or nil.
	Metadata map[string]any
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if !o.ActiveSince.IsZero() {
		q.Set("active_since", o.ActiveSince.UTC().Format(time.RFC3339Nano))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	metadataQuery(q, o.Metadata)
	return q
}

// metadataQuery adds metadata.<key>=<value> filters: a string that would
// read as a JSON literal is sent quoted, so it matches as a string.
func metadataQuery(q url.Values, md map[string]any) {
	for k, v := range md {
		var s string
		switch v := v.(type) {
		case string:
			if json.Valid([]byte(v)) {
				b, _ := json.Marshal(v)
				s = string(b)
			} else {
				s = v
			}
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		q.Set("metadata."+k, s)
	}
}

func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// ListSessions reads one page of sessions (GET /v1/sessions).
func (c *Client) ListSessions(ctx context.Context, o ListOptions) (SessionPage, error) {
	return getJSON[SessionPage](ctx, c, withQuery("/v1/sessions", o.query()))
}

// getJSON reads the JSON answer of a GET of p (a page, a snapshot).
func getJSON[P any](ctx context.Context, c *Client, p string) (P, error) {
	var page P
	res, err := c.do(ctx, call{method: http.MethodGet, path: p, idempotent: true, ok: []int{http.StatusOK}})
	if err != nil {
		return page, err
	}
	if err := decode(res, &page, http.MethodGet, p); err != nil {
		return page, err
	}
	return page, nil
}

// Sessions iterates over every session o selects, page after page. An
// error ends the sequence, yielded once with a zero Session.
func (c *Client) Sessions(ctx context.Context, o ListOptions) iter.Seq2[Session, error] {
	return pages(func(cursor string) ([]Session, string, error) {
		o.Cursor = cursor
		page, err := c.ListSessions(ctx, o)
		return page.Sessions, page.NextCursor, err
	}, o.Cursor)
}

// pages iterates over the items of a cursor-paged listing, starting at
// cursor: next reads the page at a cursor and gives its items and the
// next cursor ("" after the last page). An error ends the sequence,
// yielded once with a zero item.
func pages[T any](next func(cursor string) ([]T, string, error), cursor string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			items, nextCursor, err := next(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if nextCursor == "" {
				return
			}
			cursor = nextCursor
		}
	}
}
