package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Event kinds of a watch.
const (
	// EventSession carries the session: first on each connection, then on
	// every change of its metadata or TTL.
	EventSession = "session"
	// EventSnapshot carries a snapshot (without its state unless
	// WatchOptions.IncludeState), one per append, in version order.
	EventSnapshot = "snapshot"
	// EventDeleted says the session was deleted or expired; the watch
	// ends after it.
	EventDeleted = "deleted"
)

// Event is one change of a watched session.
type Event struct {
	// Kind is EventSession, EventSnapshot or EventDeleted.
	Kind      string
	SessionID string
	// Session is set on EventSession, Snapshot on EventSnapshot.
	Session  *Session
	Snapshot *Snapshot
}

// WatchOptions say where a watch starts and what it carries.
type WatchOptions struct {
	// AfterVersion: the snapshots after this version still kept come
	// first, then live ones (0: from the first).
	AfterVersion int64
	// IncludeState adds each snapshot's state to its event.
	IncludeState bool
}

// maxLine bounds one line of an event stream: a snapshot event with its
// state (the server's --max-state-bytes is 1 MiB by default; metadata and
// the fields beside it add less than 1 MiB).
const maxLine = 64 << 20

// Watch follows a session's changes (GET /v1/sessions/{id}/events, Server-
// Sent Events). When the stream breaks (a network failure, the server
// shutting down) it reconnects from the last snapshot version it yielded,
// after a backoff, so that no snapshot event is lost or repeated; a
// session event comes again on each connection. The sequence ends after
// EventDeleted, when ctx ends (yielding its error), or with an error:
// a 404 (no such session), or the retry policy's MaxAttempts failed
// connections in a row.
func (c *Client) Watch(ctx context.Context, id string, o WatchOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		after := o.AfterVersion
		failures := 0
		for {
			connected, done, err := c.watchOnce(ctx, id, o.IncludeState, &after, yield)
			if done {
				return
			}
			if ctx.Err() != nil {
				yield(Event{}, ctx.Err())
				return
			}
			if connected {
				failures = 0
			}
			failures++
			var e *Error
			if errors.As(err, &e) && e.Status != http.StatusServiceUnavailable && e.Status != http.StatusTooManyRequests {
				yield(Event{}, err)
				return
			}
			if failures >= c.retry.MaxAttempts {
				yield(Event{}, fmt.Errorf("cortex client: watch %s: %d connections in a row failed: %w", id, failures, err))
				return
			}
			wait := c.backoff(failures)
			if e != nil && e.RetryAfter > 0 {
				wait = min(e.RetryAfter, c.retry.MaxBackoff)
			}
			if serr := sleep(ctx, wait); serr != nil {
				yield(Event{}, serr)
				return
			}
		}
	}
}

// watchOnce reads one connection's events. connected reports whether the
// server answered the stream; done that the sequence is over (the
// consumer stopped, or the session was deleted); err why the connection
// ended otherwise (nil for a clean end of the stream, such as a shutdown).
func (c *Client) watchOnce(ctx context.Context, id string, include bool, after *int64, yield func(Event, error) bool) (connected, done bool, err error) {
	q := url.Values{}
	if include {
		q.Set("include_state", "true")
	}
	p := withQuery("/v1/sessions/"+esc(id)+"/events", q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+p, nil)
	if err != nil {
		yield(Event{}, fmt.Errorf("cortex client: watch %s: %w", id, err))
		return false, true, err
	}
	c.setHeaders(req, call{})
	req.Header["Accept"] = sseType
	req.Header.Set("Last-Event-ID", strconv.FormatInt(*after, 10))
	res, err := c.hc.Do(req)
	if err != nil {
		return false, false, fmt.Errorf("cortex client: watch %s: %w", id, networkError{err})
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return false, false, newError(http.MethodGet, pathOnly(p), res, b)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(line[len("event:"):])
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimPrefix(line[len("data:"):], " ")
			}
			continue
		}
		if event == "" {
			continue // retry:, a heartbeat, an id alone
		}
		ev := Event{Kind: event}
		var derr error
		switch event {
		case EventSession:
			ev.Session = new(Session)
			derr = json.Unmarshal([]byte(data), ev.Session)
			ev.SessionID = ev.Session.ID
		case EventSnapshot:
			ev.Snapshot = new(Snapshot)
			derr = json.Unmarshal([]byte(data), ev.Snapshot)
			ev.SessionID = ev.Snapshot.SessionID
		case EventDeleted:
			var d struct {
				SessionID string `json:"session_id"`
			}
			derr = json.Unmarshal([]byte(data), &d)
			ev.SessionID = d.SessionID
		case "end":
			// The server is shutting down or failed to read: reconnect.
			return true, false, errors.New("the server ended the stream: " + data)
		default:
			event, data = "", ""
			continue // a kind this client does not know
		}
		event, data = "", ""
		if derr != nil {
			yield(Event{}, fmt.Errorf("cortex client: watch %s: decode a %s event: %w", id, ev.Kind, derr))
			return true, true, derr
		}
		if ev.Snapshot != nil {
			*after = ev.Snapshot.Version
		}
		if !yield(ev, nil) || ev.Kind == EventDeleted {
			return true, true, nil
		}
	}
	err = sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return true, false, fmt.Errorf("cortex client: watch %s: %w", id, networkError{err})
}
