package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// HTTPStats are the HTTP layer's figures, added to the answer of GET
// /v1/admin/stats as its "http" field (the operations console charts
// them). Counters count since the server started.
type HTTPStats struct {
	// Appends are the snapshots appended through this server: single
	// appends and batch items answered 201 (idempotent replays included).
	Appends int64 `json:"appends"`
	// Reads are the GET requests of /v1 outside /v1/admin answered 2xx or
	// 304 (event streams and long polls not counted).
	Reads int64 `json:"reads"`
	// InflightBytes are the bytes of the in-flight budget charged now by
	// other requests (this one's own charge left out); InflightLimitBytes
	// the budget (--max-inflight-bytes; 0: none).
	InflightBytes      int64 `json:"inflight_bytes"`
	InflightLimitBytes int64 `json:"inflight_limit_bytes"`
	// Watchers are the open event streams and long polls; MaxWatchers
	// their bound (--max-watchers).
	Watchers    int64 `json:"watchers"`
	MaxWatchers int   `json:"max_watchers"`
}

// httpStats reads the HTTP layer's figures for the stats request answered
// through w.
func (s *Server) httpStats(w http.ResponseWriter) HTTPStats {
	h := HTTPStats{
		Appends:     s.appended.Load(),
		Reads:       s.reads.Load(),
		Watchers:    s.watchers.Load(),
		MaxWatchers: s.cfg.MaxWatchers,
	}
	if s.inflight != nil {
		s.inflight.mu.Lock()
		h.InflightBytes = s.inflight.used
		s.inflight.mu.Unlock()
		h.InflightLimitBytes = s.inflight.size
		// What ServeHTTP charged this request.
		var own int64
		if sw, ok := w.(*statusWriter); ok {
			own = sw.charged
		}
		h.InflightBytes = max(0, h.InflightBytes-own)
	}
	return h
}

// countRead counts a read for HTTPStats.Reads.
func (s *Server) countRead(r *http.Request, pattern string, status int) {
	if r.Method != http.MethodGet || !isAPI(r.URL.Path) || isAdmin(r.URL.Path) || isWatch(r, pattern) {
		return
	}
	if (status >= 200 && status < 300) || status == http.StatusNotModified {
		s.reads.Add(1)
	}
}

// withHTTPStats adds the "http" field to an engine's stats answer when it
// is a JSON object without one; any other answer is sent as it is.
func withHTTPStats(st any, h HTTPStats) any {
	b, err := marshal(st)
	if err != nil {
		return st
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return st
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return st
	}
	if _, taken := probe["http"]; taken {
		return st
	}
	hb, err := marshal(h)
	if err != nil {
		return st
	}
	hb = bytes.TrimSpace(hb)
	out := make([]byte, 0, len(b)+len(hb)+10)
	out = append(out, b[:len(b)-1]...)
	if len(probe) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"http":`...)
	out = append(out, hb...)
	out = append(out, '}')
	return json.RawMessage(out)
}
