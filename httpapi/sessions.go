package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cortex-db/cortex/state"
)

// createSessionRequest is the body of POST /v1/sessions (optional).
type createSessionRequest struct {
	// ID is a client-chosen id; empty generates one.
	ID         string          `json:"id"`
	Metadata   json.RawMessage `json:"metadata"`
	TTLSeconds json.RawMessage `json:"ttl_seconds"`
}

// putSessionRequest is the body of PUT /v1/sessions/{id} (optional).
type putSessionRequest struct {
	Metadata   json.RawMessage `json:"metadata"`
	TTLSeconds json.RawMessage `json:"ttl_seconds"`
}

// ttlOf reads ttl_seconds: absent or null (nil: the default, or keep), 0
// (never expires), or an integer from 1 to state.MaxTTLSeconds (100
// years). Anything else — negative, fractional, a string, past the range —
// is a 400 naming the range.
func ttlOf(raw json.RawMessage) (*time.Duration, error) {
	v := string(raw)
	if v == "" || v == "null" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 || sec > state.MaxTTLSeconds || (len(v) > 1 && (v[0] == '0' || v[0] == '+')) {
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return nil, badRequest("ttl_seconds", "want 0 or null (never expires) or an integer from 1 to %d seconds (100 years), got %s", state.MaxTTLSeconds, v)
	}
	d := time.Duration(sec) * time.Second
	return &d, nil
}

// sessionBodyLimit bounds the body of a session create or update: its
// metadata and some room.
func (s *Server) sessionBodyLimit() int64 {
	return max(maxSmallBody, int64(s.cfg.MaxMetadataBytes)+BodyOverhead)
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var req createSessionRequest
	if err := decodeJSON(w, r, s.sessionBodyLimit(), &req, true); err != nil {
		s.fail(w, r, err, false)
		return
	}
	if req.ID != "" {
		if err := state.ValidateID(req.ID); err != nil {
			s.fail(w, r, err, false)
			return
		}
	}
	ttl, err := ttlOf(req.TTLSeconds)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if ttl == nil && s.cfg.DefaultTTL > 0 {
		ttl = &s.cfg.DefaultTTL
	}
	sess, err := s.cfg.Store.CreateSession(r.Context(), state.SessionInput{ID: req.ID, Metadata: req.Metadata, TTL: ttl})
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, sess)
}

func (s *Server) putSession(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	var req putSessionRequest
	if err := decodeJSON(w, r, s.sessionBodyLimit(), &req, true); err != nil {
		s.fail(w, r, err, false)
		return
	}
	ttl, err := ttlOf(req.TTLSeconds)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	sess, created, err := s.cfg.Store.PutSession(r.Context(), id, state.SessionInput{ID: id, Metadata: req.Metadata, TTL: ttl})
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if created && ttl == nil && s.cfg.DefaultTTL > 0 {
		// A new session gets the default TTL; an existing one keeps its own.
		sess, _, err = s.cfg.Store.PutSession(r.Context(), id, state.SessionInput{ID: id, TTL: &s.cfg.DefaultTTL})
		if err != nil {
			s.fail(w, r, err, false)
			return
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/sessions/"+sess.ID)
	}
	writeJSON(w, status, sess)
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	sess, err := s.cfg.Store.GetSession(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) touchSession(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if err := drainEmpty(w, r); err != nil {
		s.fail(w, r, err, false)
		return
	}
	sess, err := s.cfg.Store.TouchSession(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	err = s.cfg.Store.DeleteSession(r.Context(), id)
	if s.freedRoom(err) {
		err = s.cfg.Store.DeleteSession(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	since, err := queryTime(r, "active_since")
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	filter, err := metadataFilter(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	page, err := s.cfg.Store.ListSessions(r.Context(), state.ListOptions{
		ActiveSince: since, Limit: limit, Cursor: r.URL.Query().Get("cursor"), Metadata: filter,
	})
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if page.Sessions == nil {
		page.Sessions = []state.Session{}
	}
	writeJSON(w, http.StatusOK, page)
}

// forkRequest is the body of POST /v1/sessions/{id}/fork.
type forkRequest struct {
	NewID     string `json:"new_id"`
	AtVersion int64  `json:"at_version"`
}

func (s *Server) forkSession(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	var req forkRequest
	if err := decodeJSON(w, r, maxSmallBody, &req, true); err != nil {
		s.fail(w, r, err, false)
		return
	}
	if req.NewID != "" {
		if err := state.ValidateID(req.NewID); err != nil {
			s.fail(w, r, state.Invalid("new_id", "%v", err), false)
			return
		}
	}
	if req.AtVersion < 0 {
		s.fail(w, r, badRequest("at_version", "want a version ≥ 1, or 0 for the latest"), false)
		return
	}
	sess, err := s.cfg.Store.ForkSession(r.Context(), id, state.ForkInput{NewID: req.NewID, AtVersion: req.AtVersion})
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, sess)
}

// drainEmpty refuses a body on a route that takes none.
func drainEmpty(w http.ResponseWriter, r *http.Request) error {
	var v struct{}
	return decodeJSON(w, r, maxSmallBody, &v, true)
}
