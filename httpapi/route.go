package httpapi

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// route is one registered route as ServeHTTP sees it: the router calls its
// ServeHTTP when the request matches, so the request is matched once and
// the route's metrics are found without a lookup by name.
type route struct {
	s *Server
	// pattern is the mux pattern ("" for no route); name is the route
	// label of the metrics and the log ("unmatched" for no route).
	pattern, name string
	h             http.Handler
	// query is what the route's operation takes in its query string (nil
	// for a route outside the OpenAPI document).
	query *queryRule
	// series are the route's metrics by status (index status-minStatus),
	// made on first use; statuses outside go through httpMetrics.observe.
	series [maxStatus - minStatus]atomic.Pointer[routeSeries]
}

// The statuses a route keeps its own series for.
const (
	minStatus = 100
	maxStatus = 600
)

func (s *Server) newRoute(pattern string, h http.Handler) *route {
	name := pattern
	if name == "" {
		name = "unmatched"
	}
	return &route{s: s, pattern: pattern, name: name, h: h, query: s.queries[pattern]}
}

// ServeHTTP serves a request the router matched to rt: w is ServeHTTP's
// *statusWriter, which records rt. The checks of guard come first.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw, ok := w.(*statusWriter)
	if !ok {
		// Only Server.ServeHTTP calls the router; a writer of another
		// kind would mean a route reached some other way.
		sw = &statusWriter{ResponseWriter: w}
	}
	sw.route = rt
	if !rt.s.guard(sw, r, rt.pattern) {
		return
	}
	if err := rt.query.check(r); err != nil {
		rt.s.fail(sw, r, err, false)
		return
	}
	rt.h.ServeHTTP(sw, r)
}

// observe counts a request answered status after d.
func (rt *route) observe(status int, d time.Duration) {
	if status < minStatus || status >= maxStatus {
		rt.s.metrics.observe(rt.name, status, d)
		return
	}
	p := &rt.series[status-minStatus]
	rs := p.Load()
	if rs == nil {
		code := strconv.Itoa(status)
		p.CompareAndSwap(nil, &routeSeries{
			requests: rt.s.metrics.requests.WithLabelValues(rt.name, code),
			duration: rt.s.metrics.duration.WithLabelValues(rt.name, code),
		})
		rs = p.Load()
	}
	rs.requests.Inc()
	rs.duration.Observe(d.Seconds())
}
