package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/cortex-db/cortex/client"
)

// HTTPOptions configure an HTTPTarget.
type HTTPOptions struct {
	// Token, when set, is sent as a bearer token on every request.
	Token string
	// MaxConns sizes the keep-alive pool: at least the largest concurrency
	// of the run (default 1,024).
	MaxConns int
	// Client replaces the tuned client (tests use the httptest server's).
	Client *http.Client
}

// HTTPTarget drives a cortex server over its HTTP API, through the Go
// client (package client) on keep-alive connections. It is safe for
// concurrent use.
//
// The client is set up for measuring: no retries (a 503 is an error the
// report counts, not a wait) and no automatic Idempotency-Key (the server
// would store one per append, which is not the workload measured).
type HTTPTarget struct {
	c  *client.Client
	hc *http.Client
	// noStats is set once GET /v1/admin/stats has failed: the WAL figures
	// are then left out.
	noStats atomic.Bool
}

var (
	_ Target  = (*HTTPTarget)(nil)
	_ Sampler = (*HTTPTarget)(nil)
)

// NewHTTPTarget returns a target for the server at baseURL
// (http://127.0.0.1:8080). Its transport keeps MaxConns idle connections
// per host, so every worker reuses its connection.
func NewHTTPTarget(baseURL string, o HTTPOptions) (*HTTPTarget, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http://host:port", baseURL)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 1024
	}
	hc := o.Client
	if hc == nil {
		hc = &http.Client{
			Timeout: time.Minute,
			Transport: &http.Transport{
				Proxy:               nil, // a benchmark talks to the server, never through a proxy
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        o.MaxConns,
				MaxIdleConnsPerHost: o.MaxConns,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
				ForceAttemptHTTP2:   false,
			},
		}
	}
	c, err := client.New(baseURL, client.WithHTTPClient(hc), client.WithToken(o.Token),
		client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithIdempotencyKeys(false),
		client.WithUserAgent("cortex-bench"))
	if err != nil {
		return nil, err
	}
	return &HTTPTarget{c: c, hc: hc}, nil
}

// HTTPConfiguration runs the workload against the server at baseURL. The
// sessions the run creates are deleted at its end.
func HTTPConfiguration(name, baseURL string, o HTTPOptions) Configuration {
	return Configuration{Name: name, Open: func(ctx context.Context) (Target, error) {
		return NewHTTPTarget(baseURL, o)
	}}
}

// Setup creates the sessions (PUT, from 16 connections), then appends
// depth snapshots each through POST /v1/snapshots:batch.
func (t *HTTPTarget) Setup(ctx context.Context, ids []string, st []byte, depth int) error {
	err := parallel(ctx, len(ids), 16, func(i int) error {
		_, _, err := t.c.PutSession(ctx, ids[i], client.SessionInput{})
		return err
	})
	if err != nil {
		return fmt.Errorf("create sessions: %w", err)
	}
	for _, chunk := range batches(ids, len(st), depth) {
		items := make([]client.BatchItem, len(chunk))
		for i, id := range chunk {
			items[i] = client.BatchItem{SessionID: id, AppendInput: client.AppendInput{State: json.RawMessage(st)}}
		}
		if _, err := t.c.AppendBatch(ctx, items); err != nil {
			return fmt.Errorf("append initial snapshots: %w", err)
		}
	}
	return nil
}

// Append posts st as a new snapshot of session id.
func (t *HTTPTarget) Append(ctx context.Context, id string, st []byte) error {
	_, err := t.c.Append(ctx, id, client.AppendInput{State: json.RawMessage(st)})
	return err
}

// Latest gets session id's latest snapshot.
func (t *HTTPTarget) Latest(ctx context.Context, id string) error {
	_, err := t.c.Latest(ctx, id)
	return err
}

// History gets the newest page of session id's history.
func (t *HTTPTarget) History(ctx context.Context, id string, limit int) error {
	_, err := t.c.HistoryPage(ctx, id, client.HistoryOptions{Limit: limit})
	return err
}

// Teardown deletes the sessions from the server.
func (t *HTTPTarget) Teardown(ctx context.Context, ids []string) error {
	err := parallel(ctx, len(ids), 16, func(i int) error {
		if err := t.c.DeleteSession(ctx, ids[i]); err != nil && !client.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete the benchmark's sessions: %w", err)
	}
	return nil
}

// Sample reads GET /v1/admin/stats (a SQLite server's figures). After
// one failure (no admin token, a PostgreSQL server) it answers
// ErrUnsupported without asking again.
func (t *HTTPTarget) Sample(ctx context.Context) (Sample, error) {
	if t.noStats.Load() {
		return Sample{}, ErrUnsupported
	}
	var st struct {
		WALBytes   *int64 `json:"wal_bytes"`
		Checkpoint struct {
			Count      int64 `json:"count"`
			Incomplete int64 `json:"incomplete"`
		} `json:"checkpoint"`
		Writer struct {
			Commits int64 `json:"commits"`
			Writes  int64 `json:"writes"`
		} `json:"writer"`
	}
	b, err := t.c.AdminStats(ctx)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.WALBytes == nil {
		t.noStats.Store(true)
		return Sample{}, errors.Join(ErrUnsupported, err)
	}
	return Sample{
		WALBytes: *st.WALBytes, HasCheckpoints: true,
		Checkpoints: st.Checkpoint.Count, CheckpointsIncomplete: st.Checkpoint.Incomplete,
		Commits: st.Writer.Commits, Writes: st.Writer.Writes,
	}, nil
}

// Close closes idle connections.
func (t *HTTPTarget) Close() error {
	t.hc.CloseIdleConnections()
	return nil
}
