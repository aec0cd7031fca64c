package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
)

// EventKind names what a watch Event reports.
type EventKind string

// The kinds of watch events.
const (
	// EventSnapshot: a snapshot was appended; Event.Snapshot holds it,
	// without its state.
	EventSnapshot EventKind = "snapshot"
	// EventSession: the session's metadata or TTL is new to the watcher
	// (the first event of every watch is one, with the session as it is);
	// Event.Session holds it.
	EventSession EventKind = "session"
	// EventDeleted: the session is gone (deleted, or expired and
	// reclaimed); the watch ends after it.
	EventDeleted EventKind = "deleted"
)

// Event is one change of a watched session.
type Event struct {
	Kind      EventKind `json:"kind"`
	SessionID string    `json:"session_id"`
	// Snapshot is set on EventSnapshot, without State.
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Session is set on EventSession.
	Session *Session `json:"session,omitempty"`
}

// ErrWatchEnded is what Watcher.Next returns after the EventDeleted event,
// and after Close or the end of the context given to Watch.
var ErrWatchEnded = errors.New("watch ended")

// Change is what a store publishes to its Hub after a commit: one appended
// snapshot (Snapshot, without state, when the store has it at hand), a
// session whose metadata or TTL changed, or a deleted session. A Change
// without its payload makes the watchers read the session from the store:
// a store may always publish less, never wrongly.
type Change struct {
	Kind      EventKind
	SessionID string
	// Snapshot is the appended snapshot without state, or nil.
	Snapshot *Snapshot
}

// Source is what a Watcher reads to catch up: the store it watches.
type Source interface {
	GetSession(ctx context.Context, id string) (Session, error)
	History(ctx context.Context, sessionID string, opts HistoryOptions) (SnapshotPage, error)
}

// hubRing is the number of recent changes a session's topic keeps. A
// watcher that falls further behind catches up from the store's history,
// so a slow watcher costs no memory, only a read.
const hubRing = 64

// catchUpPage is the number of snapshots a watcher reads from the history
// at a time when it catches up.
const catchUpPage = 100

// Hub fans the changes a store publishes out to the watchers of each
// session. It holds, per watched session, a ring of its last 64 changes, and
// per watcher a cursor into it: a watcher never buffers events, so memory
// does not grow with a slow one; one that falls more than 64 changes
// behind, or sees a gap in the versions (a change it was not told of: a
// notification lost on a reconnect, another process's write), reads what it
// missed from the store's history. Publishing to a session nobody watches
// costs one map lookup under a read lock. The zero value is ready to use;
// it is safe for concurrent use.
type Hub struct {
	mu     sync.RWMutex
	topics map[string]*topic
	count  atomic.Int64
}

type topic struct {
	mu       sync.Mutex
	seq      uint64 // changes published so far
	ring     [hubRing]Change
	watchers map[*Watcher]struct{}
}

// Watchers returns the number of open watchers.
func (h *Hub) Watchers() int64 { return h.count.Load() }

// Publish hands c to the watchers of c.SessionID. It never blocks on a
// watcher.
func (h *Hub) Publish(c Change) {
	h.mu.RLock()
	t := h.topics[c.SessionID]
	h.mu.RUnlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	t.ring[t.seq%hubRing] = c
	t.seq++
	for w := range t.watchers {
		w.wake()
	}
	t.mu.Unlock()
}

// Resync makes every watcher read its session from the store before it
// trusts the next change: call it when changes may have been lost (a
// notification connection that was down).
func (h *Hub) Resync() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, t := range h.topics {
		t.mu.Lock()
		for w := range t.watchers {
			w.stale.Store(true)
			w.wake()
		}
		t.mu.Unlock()
	}
}

// Watch starts a watcher of session id that reports the snapshots after
// version after (0: all of them still kept), reading what it missed from
// src. ErrNotFound when there is no such session, ErrInvalid for a bad id
// or a negative after. The watcher ends when ctx does, or on Close.
func (h *Hub) Watch(ctx context.Context, src Source, id string, after int64) (*Watcher, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if after < 0 {
		return nil, Invalid("after_version", "must not be negative")
	}
	w := &Watcher{hub: h, src: src, id: id, version: after, ready: make(chan struct{}, 1), done: make(chan struct{})}
	// Subscribe first, then read: a change committed after the read is
	// published after the subscription, so none falls between the two.
	h.subscribe(w)
	sess, err := src.GetSession(ctx, id)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("watch session %s: %w", id, err)
	}
	w.first = &sess
	stop := context.AfterFunc(ctx, w.Close)
	w.stopMu.Lock()
	w.stop = stop
	w.stopMu.Unlock()
	return w, nil
}

func (h *Hub) subscribe(w *Watcher) {
	h.mu.Lock()
	if h.topics == nil {
		h.topics = make(map[string]*topic)
	}
	t := h.topics[w.id]
	if t == nil {
		t = &topic{watchers: make(map[*Watcher]struct{})}
		h.topics[w.id] = t
	}
	t.mu.Lock()
	t.watchers[w] = struct{}{}
	w.topic, w.seen = t, t.seq
	t.mu.Unlock()
	h.mu.Unlock()
	h.count.Add(1)
}

func (h *Hub) unsubscribe(w *Watcher) {
	h.mu.Lock()
	t := w.topic
	t.mu.Lock()
	delete(t.watchers, w)
	empty := len(t.watchers) == 0
	t.mu.Unlock()
	if empty && h.topics[w.id] == t {
		delete(h.topics, w.id)
	}
	h.mu.Unlock()
	h.count.Add(-1)
}

// Watcher reports the changes of one session, in order: see Next. Its
// memory is a few hundred bytes, whatever the rate of changes. Next is for
// one goroutine at a time; Close may be called from any.
type Watcher struct {
	hub   *Hub
	src   Source
	id    string
	topic *topic
	ready chan struct{} // a change or a resync is waiting
	stale atomic.Bool   // read the store before trusting the ring
	done  chan struct{} // closed by Close
	once  sync.Once

	stopMu sync.Mutex
	stop   func() bool // unregisters Close from the context

	// Next's own, touched by one goroutine at a time.
	first   *Session // the session read by Watch, for the first catch-up
	seen    uint64   // topic changes consumed
	version int64    // last snapshot version reported
	sess    *Session // last session reported
	pending []Event  // read from the store, not yet returned
	ended   bool     // EventDeleted returned
	started bool
}

func (w *Watcher) wake() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// SessionID returns the watched session's id.
func (w *Watcher) SessionID() string { return w.id }

// Version returns the last snapshot version Next reported (or the after
// version given to Watch).
func (w *Watcher) Version() int64 { return w.version }

// Close ends the watcher; Next then returns ErrWatchEnded. It is
// idempotent.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.stopMu.Lock()
		stop := w.stop
		w.stopMu.Unlock()
		if stop != nil {
			stop()
		}
		close(w.done)
		w.hub.unsubscribe(w)
	})
}

// Next returns the session's next event, waiting for it until ctx ends
// (then ctx's error; nothing is lost, call again). The first event is an
// EventSession with the session as it is; then come the snapshots after the
// version given to Watch, one EventSnapshot per version still kept, in
// version order, each as soon as it is committed; an EventSession whenever
// the metadata or TTL changes; and at the end EventDeleted, after which
// Next returns ErrWatchEnded. Errors reading the store are returned as
// they are; the watcher stays usable.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	for {
		if len(w.pending) > 0 {
			ev := w.pending[0]
			w.pending = w.pending[1:]
			w.note(ev)
			return ev, nil
		}
		if w.ended {
			return Event{}, ErrWatchEnded
		}
		select {
		case <-w.done:
			return Event{}, ErrWatchEnded
		default:
		}
		if !w.started || w.stale.Load() {
			// Clear stale first: a resync that comes during the read
			// sets it again.
			w.stale.Store(false)
			if w.first == nil {
				// The read comes after this point: changes from here on
				// are either in it or in the ring.
				w.seen = w.topicSeq()
			}
			caught, err := w.catchUp(ctx)
			if err != nil {
				w.stale.Store(true)
				return Event{}, err
			}
			w.started = true
			if !caught {
				w.stale.Store(true)
			}
			continue
		}
		if w.fromRing() {
			continue
		}
		select {
		case <-w.ready:
		case <-w.done:
			return Event{}, ErrWatchEnded
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// All returns an iterator over Next's events, ending at ErrWatchEnded
// (not yielded) or at the first other error (yielded).
func (w *Watcher) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := w.Next(ctx)
			if errors.Is(err, ErrWatchEnded) {
				return
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// note records a returned event in the watcher's position.
func (w *Watcher) note(ev Event) {
	switch ev.Kind {
	case EventSnapshot:
		w.version = ev.Snapshot.Version
	case EventSession:
		w.sess = ev.Session
	case EventDeleted:
		w.ended = true
		w.pending = nil
	}
}

func (w *Watcher) topicSeq() uint64 {
	w.topic.mu.Lock()
	defer w.topic.mu.Unlock()
	return w.topic.seq
}

// fromRing turns the changes published since the last look into pending
// events, and reports whether there were any. A gap (a change the ring no
// longer holds, a version not next, a change without payload) marks the
// watcher stale instead.
func (w *Watcher) fromRing() bool {
	t := w.topic
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seq == w.seen {
		return false
	}
	if t.seq-w.seen > hubRing {
		w.seen = t.seq
		w.stale.Store(true)
		return true
	}
	next := w.version
	if n := len(w.pending); n > 0 && w.pending[n-1].Kind == EventSnapshot {
		next = w.pending[n-1].Snapshot.Version
	}
	for ; w.seen < t.seq; w.seen++ {
		c := t.ring[w.seen%hubRing]
		switch {
		case c.Kind == EventDeleted:
			w.pending = append(w.pending, Event{Kind: EventDeleted, SessionID: w.id})
			w.seen = t.seq
			return true
		case c.Kind == EventSnapshot && c.Snapshot != nil && c.Snapshot.Version <= next:
			// Already reported (read from the history before the change
			// came).
		case c.Kind == EventSnapshot && c.Snapshot != nil && c.Snapshot.Version == next+1:
			sn := *c.Snapshot
			w.pending = append(w.pending, Event{Kind: EventSnapshot, SessionID: w.id, Snapshot: &sn})
			next = sn.Version
		default:
			w.seen = t.seq
			w.stale.Store(true)
			return true
		}
	}
	return true
}

// catchUp reads the session and up to catchUpPage snapshots after the last
// one reported into pending; caught reports that it read up to the latest.
func (w *Watcher) catchUp(ctx context.Context) (caught bool, err error) {
	var sess Session
	if w.first != nil {
		sess, w.first = *w.first, nil
	} else if sess, err = w.src.GetSession(ctx, w.id); errors.Is(err, ErrNotFound) {
		w.pending = append(w.pending, Event{Kind: EventDeleted, SessionID: w.id})
		return true, nil
	} else if err != nil {
		return false, err
	}
	if w.sess == nil || w.sess.TTL != sess.TTL || !bytes.Equal(w.sess.Metadata, sess.Metadata) {
		s := sess
		w.pending = append(w.pending, Event{Kind: EventSession, SessionID: w.id, Session: &s})
	}
	after := w.version
	if after >= sess.Version {
		return true, nil
	}
	upTo := min(after+catchUpPage, sess.Version)
	page, err := w.src.History(ctx, w.id, HistoryOptions{Before: upTo + 1, Limit: catchUpPage})
	if errors.Is(err, ErrNotFound) {
		w.pending = append(w.pending[:0], Event{Kind: EventDeleted, SessionID: w.id})
		return true, nil
	}
	if err != nil {
		w.pending = w.pending[:0]
		return false, err
	}
	for i := len(page.Snapshots) - 1; i >= 0; i-- {
		sn := page.Snapshots[i]
		if sn.Version > after {
			w.pending = append(w.pending, Event{Kind: EventSnapshot, SessionID: w.id, Snapshot: &sn})
		}
	}
	if len(w.pending) == 0 || w.pending[len(w.pending)-1].Kind != EventSnapshot {
		// Every version up to upTo was pruned: move past them.
		w.version = upTo
	}
	return upTo >= sess.Version, nil
}
