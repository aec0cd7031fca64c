package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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

// HTTPTarget drives a cortex server over its HTTP API with keep-alive
// connections. It is safe for concurrent use.
type HTTPTarget struct {
	base   string
	token  string
	client *http.Client
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
	c := o.Client
	if c == nil {
		c = &http.Client{
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
	return &HTTPTarget{base: strings.TrimSuffix(u.String(), "/"), token: o.Token, client: c}, nil
}

// HTTPConfiguration runs the workload against the server at baseURL. The
// sessions the run creates are deleted at its end.
func HTTPConfiguration(name, baseURL string, o HTTPOptions) Configuration {
	return Configuration{Name: name, Open: func(ctx context.Context) (Target, error) {
		return NewHTTPTarget(baseURL, o)
	}}
}

// do sends one request and reads the whole answer (so the connection is
// reused); an answer other than want is an error naming the status and
// the problem's title.
func (t *HTTPTarget) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var p struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &p) == nil && p.Title != "" {
			return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %d %s: %s", method, strings.SplitN(path, "?", 2)[0], resp.StatusCode, p.Title, p.Detail)}
		}
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s", method, strings.SplitN(path, "?", 2)[0], resp.Status)}
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Setup creates the sessions (PUT, from 16 connections), then appends
// depth snapshots each through POST /v1/snapshots:batch.
func (t *HTTPTarget) Setup(ctx context.Context, ids []string, st []byte, depth int) error {
	err := parallel(ctx, len(ids), 16, func(i int) error {
		err := t.do(ctx, http.MethodPut, "/v1/sessions/"+url.PathEscape(ids[i]), []byte("{}"), http.StatusCreated, nil)
		if hasStatus(err, http.StatusOK) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create sessions: %w", err)
	}
	for _, chunk := range batches(ids, len(st), depth) {
		var b bytes.Buffer
		b.WriteString(`{"items":[`)
		for i, id := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			q, _ := json.Marshal(id)
			fmt.Fprintf(&b, `{"session_id":%s,"state":%s}`, q, st)
		}
		b.WriteString("]}")
		if err := t.do(ctx, http.MethodPost, "/v1/snapshots:batch", b.Bytes(), http.StatusCreated, nil); err != nil {
			return fmt.Errorf("append initial snapshots: %w", err)
		}
	}
	return nil
}

// Append posts st as a new snapshot of session id.
func (t *HTTPTarget) Append(ctx context.Context, id string, st []byte) error {
	body := make([]byte, 0, len(st)+12)
	body = append(append(append(body, `{"state":`...), st...), '}')
	return t.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/snapshots", body, http.StatusCreated, nil)
}

// Latest gets session id's latest snapshot.
func (t *HTTPTarget) Latest(ctx context.Context, id string) error {
	return t.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/snapshots/latest", nil, http.StatusOK, nil)
}

// History gets the newest page of session id's history.
func (t *HTTPTarget) History(ctx context.Context, id string, limit int) error {
	return t.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/snapshots?limit="+strconv.Itoa(limit), nil, http.StatusOK, nil)
}

// Teardown deletes the sessions from the server.
func (t *HTTPTarget) Teardown(ctx context.Context, ids []string) error {
	err := parallel(ctx, len(ids), 16, func(i int) error {
		err := t.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(ids[i]), nil, http.StatusNoContent, nil)
		if hasStatus(err, http.StatusNotFound) {
			return nil
		}
		return err
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
	if err := t.do(ctx, http.MethodGet, "/v1/admin/stats", nil, http.StatusOK, &st); err != nil || st.WALBytes == nil {
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
	t.client.CloseIdleConnections()
	return nil
}

// statusError is an answer with a status other than the one wanted.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// hasStatus reports whether err is an answer with status code.
func hasStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}
