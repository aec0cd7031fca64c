package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/cortex-db/cortex/state"
)

// appendRequest is the body of POST /v1/sessions/{id}/snapshots.
type appendRequest struct {
	State    json.RawMessage `json:"state"`
	Metadata json.RawMessage `json:"metadata"`
	// Key is the client's name for the snapshot (state.AppendInput.Key).
	Key string `json:"key"`
}

// decodeAppend reads an append request: the body into state and metadata,
// If-Match into ExpectedVersion, Idempotency-Key into IdempotencyKey.
// conditional reports whether If-Match was given.
func (s *Server) decodeAppend(w http.ResponseWriter, r *http.Request) (in state.AppendInput, conditional bool, err error) {
	expected, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return in, false, err
	}
	key := r.Header.Get("Idempotency-Key")
	if err := validateIdempotencyKey(key); err != nil {
		return in, false, err
	}
	body, err := readJSON(w, r, int64(s.cfg.MaxStateBytes)+int64(s.cfg.MaxMetadataBytes)+BodyOverhead, false)
	if err != nil {
		return in, false, err
	}
	var req appendRequest
	var ok bool
	if req.State, req.Metadata, ok = splitAppend(body); !ok {
		// splitAppend gave nil for both. Decoded into a request of its
		// own: &req would make every append allocate req.
		var dec appendRequest
		if err := decodeBody(body, &dec); err != nil {
			return in, false, stateWrapperHint(err)
		}
		req = dec
	} else if err := checkStrict(body, nil); err != nil {
		// The names are exact and once each (splitAppend checked); the
		// values may still repeat a name or hold a lone surrogate.
		return in, false, err
	}
	if req.State == nil {
		return in, false, badRequest("state", `is required: the body is {"state": <your JSON>, "metadata": {…}}`)
	}
	if req.Key != "" {
		if err := state.ValidateKey(req.Key); err != nil {
			return in, false, err
		}
	}
	return state.AppendInput{
		State:           req.State,
		Metadata:        req.Metadata,
		ExpectedVersion: expected,
		IdempotencyKey:  key,
		Key:             req.Key,
	}, expected != nil, nil
}

func (s *Server) appendSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	in, conditional, err := s.decodeAppend(w, r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	res, err := s.cfg.Store.AppendSnapshot(r.Context(), id, in)
	if err != nil {
		s.fail(w, r, err, conditional)
		return
	}
	s.appended.Add(1)
	writeAppended(w, id, res) // answer.go
}

func (s *Server) latestSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if wait := r.URL.Query().Get("wait"); wait != "" {
		s.longPoll(w, r, id, wait)
		return
	}
	snap, err := s.cfg.Store.LatestSnapshot(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.writeSnapshot(w, r, snap)
}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 {
		s.fail(w, r, badRequest("version", "want a version number ≥ 1 or \"latest\", got %q", r.PathValue("version")), false)
		return
	}
	snap, err := s.cfg.Store.GetSnapshot(r.Context(), id, v)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.writeSnapshot(w, r, snap)
}

// writeSnapshot sends a snapshot with its ETag, or 304 when If-None-Match
// names it (in a list, by the weak comparison) or is "*".
func (s *Server) writeSnapshot(w http.ResponseWriter, r *http.Request, snap state.Snapshot) {
	tag := etag(snap.Version)
	match, err := noneMatch(r.Header.Get("If-None-Match"), tag)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	w.Header().Set("ETag", tag)
	if match {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	limit, err := queryLimit(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	before, err := queryInt(r, "before", 1, math.MaxInt64)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	include, err := queryBool(r, "include_state")
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	filter, err := metadataFilter(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	page, err := s.cfg.Store.History(r.Context(), id, state.HistoryOptions{
		Limit: limit, Cursor: r.URL.Query().Get("cursor"), Before: before, IncludeState: include, Metadata: filter,
	})
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	if page.Snapshots == nil {
		page.Snapshots = []state.Snapshot{}
	}
	writeJSON(w, http.StatusOK, page)
}

// batchRequest is the body of POST /v1/snapshots:batch.
type batchRequest struct {
	Items []batchItem `json:"items"`
}

// batchItem is one append of a batch.
type batchItem struct {
	SessionID       string          `json:"session_id"`
	State           json.RawMessage `json:"state"`
	Metadata        json.RawMessage `json:"metadata"`
	ExpectedVersion *int64          `json:"expected_version"`
	IdempotencyKey  string          `json:"idempotency_key"`
	Key             string          `json:"key"`
}

// batchResponse is the answer of POST /v1/snapshots:batch.
type batchResponse struct {
	Results []state.AppendResult `json:"results"`
}

func (s *Server) appendBatch(w http.ResponseWriter, r *http.Request) {
	var req batchRequest
	if err := decodeJSON(w, r, s.cfg.MaxBatchBytes, &req, false); err != nil {
		s.fail(w, r, err, false)
		return
	}
	items, err := batchItems(req.Items)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	res, err := s.cfg.Store.AppendBatch(r.Context(), items)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.appended.Add(int64(len(res)))
	writeJSON(w, http.StatusCreated, batchResponse{Results: res})
}

// batchItems validates a batch's items before the store sees them.
func batchItems(in []batchItem) ([]state.BatchItem, error) {
	if len(in) == 0 {
		return nil, badRequest("items", "want 1 to %d appends", state.MaxBatch)
	}
	if len(in) > state.MaxBatch {
		return nil, badRequest("items", "%d appends: want at most %d", len(in), state.MaxBatch)
	}
	out := make([]state.BatchItem, len(in))
	for i, it := range in {
		if err := state.ValidateID(it.SessionID); err != nil {
			return nil, badRequest("items["+strconv.Itoa(i)+"].session_id", "%v", err)
		}
		if it.State == nil {
			return nil, badRequest("items["+strconv.Itoa(i)+"].state", "is required (any JSON value)")
		}
		if err := validateIdempotencyKey(it.IdempotencyKey); err != nil {
			return nil, badRequest("items["+strconv.Itoa(i)+"].idempotency_key", "%v", err)
		}
		if it.ExpectedVersion != nil && *it.ExpectedVersion < 0 {
			return nil, badRequest("items["+strconv.Itoa(i)+"].expected_version", "must not be negative")
		}
		if it.Key != "" {
			if err := state.ValidateKey(it.Key); err != nil {
				return nil, badRequest("items["+strconv.Itoa(i)+"].key", "%v", err)
			}
		}
		out[i] = state.BatchItem{SessionID: it.SessionID, AppendInput: state.AppendInput{
			State: it.State, Metadata: it.Metadata, ExpectedVersion: it.ExpectedVersion, IdempotencyKey: it.IdempotencyKey,
			Key: it.Key,
		}}
	}
	return out, nil
}

// snapshotByKey serves GET /v1/sessions/{id}/snapshots/by-key/{key}.
func (s *Server) snapshotByKey(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	key := r.PathValue("key")
	if err := state.ValidateKey(key); err != nil {
		s.fail(w, r, err, false)
		return
	}
	snap, err := s.cfg.Store.SnapshotByKey(r.Context(), id, key)
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.writeSnapshot(w, r, snap)
}

// stateWrapperHint says, for an unknown field in an append's body, that
// the state goes inside "state": {"step":1} is the usual mistake for
// {"state":{"step":1}}.
func stateWrapperHint(err error) error {
	var uf *unknownFieldError
	if errors.As(err, &uf) {
		return badRequest(uf.inv.Field, `%s: the body is {"state": <your JSON>, "metadata": {…}}; wrap your state in "state"`, uf.inv.Reason)
	}
	return err
}
