package httpapi

import (
	"fmt"
	"net/http"
)

// MonitoringHandler serves only GET /metrics, /healthz and /readyz, for a
// listener of their own (cortex serve --metrics-addr): a monitoring
// network can then reach them without reaching the API, and a firewall can
// tell the two apart. Every other path is a 404 problem. The main handler
// keeps serving them too.
func (s *Server) MonitoringHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics", "/healthz", "/readyz":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
					fmt.Sprintf("%s is not allowed on %s; allowed: GET, HEAD", r.Method, r.URL.Path))
				return
			}
			s.ServeHTTP(w, r)
		default:
			problem(w, http.StatusNotFound, "no-route", "Not found",
				fmt.Sprintf("this listener serves only /metrics, /healthz and /readyz; %s is on the API's address", r.URL.Path))
		}
	})
}
