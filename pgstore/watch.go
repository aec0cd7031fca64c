package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cortex-db/cortex/state"
)

// watchChannel is the NOTIFY channel of migration 0003's triggers.
const watchChannel = "cortex_watch"

// notification is a cortex_watch payload (see migration 0003).
type notification struct {
	Kind      string          `json:"k"`
	ID        string          `json:"id"`
	Version   int64           `json:"v"`
	CreatedAt time.Time       `json:"t"`
	SizeBytes int64           `json:"n"`
	Key       *string         `json:"key"`
	Metadata  json.RawMessage `json:"m"`
}

// Watch reports the changes of a session (see state.Watcher), also those
// other servers on the same database make: the store LISTENs on a
// connection of its own, opened at the first Watch, and reopened (the
// watchers then reading what they missed from the history) when it is
// lost. ErrInvalid, ErrNotFound; ErrUnavailable when the listener cannot
// connect.
func (s *Store) Watch(ctx context.Context, sessionID string, afterVersion int64) (*state.Watcher, error) {
	if err := s.startListener(ctx); err != nil {
		return nil, fmt.Errorf("watch session %s: %w", sessionID, err)
	}
	return s.hub.Watch(ctx, s, sessionID, afterVersion)
}

// Watchers returns the number of open watchers.
func (s *Store) Watchers() int64 { return s.hub.Watchers() }

// startListener starts the listener once and waits until it listens.
func (s *Store) startListener(ctx context.Context) error {
	s.listenOnce.Do(func() {
		s.listening = make(chan struct{})
		s.bg.Go(s.listen)
	})
	select {
	case <-s.listening:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the notification listener: %w: %w", state.ErrUnavailable, ctx.Err())
	case <-s.bgCtx.Done():
		return fmt.Errorf("store closed: %w", state.ErrUnavailable)
	}
}

// listen holds the LISTEN connection until the store closes, reconnecting
// with backoff (at most 5 s) when it is lost.
func (s *Store) listen() {
	ctx := s.bgCtx
	backoff := 50 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+watchChannel)
		}
		if err == nil {
			backoff = 50 * time.Millisecond
			if first {
				close(s.listening)
				first = false
			} else {
				// Notifications sent while no connection listened are
				// lost: every watcher reads its session again.
				s.hub.Resync()
			}
			s.listenConns.Add(1)
			err = s.receive(ctx, conn)
		}
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(cctx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		s.listenErrs.Add(1)
		_ = err // the watchers catch up on reconnect; the count says it happened
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// receive hands notifications to the hub until the connection fails.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var p notification
		if err := json.Unmarshal([]byte(n.Payload), &p); err != nil || p.ID == "" {
			continue // not ours
		}
		c := state.Change{SessionID: p.ID}
		switch p.Kind {
		case "s":
			c.Kind = state.EventSnapshot
			if p.Metadata != nil {
				c.Snapshot = &state.Snapshot{SessionID: p.ID, Version: p.Version, CreatedAt: p.CreatedAt.UTC(),
					Metadata: p.Metadata, SizeBytes: p.SizeBytes}
				if p.Key != nil {
					c.Snapshot.Key = *p.Key
				}
			}
		case "u":
			c.Kind = state.EventSession
		case "d":
			c.Kind = state.EventDeleted
		default:
			continue
		}
		s.hub.Publish(c)
	}
}
