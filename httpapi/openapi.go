package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDoc is the OpenAPI 3.1 document of every route (openapi.json, kept
// honest by openapi_test.go: the routes, methods, parameters and statuses
// of this server and the document's are the same).
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document of the HTTP API, the JSON that
// GET /v1/openapi.json serves. The caller may modify the copy.
func OpenAPI() []byte { return bytes.Clone(openAPIDoc) }

// openAPI serves GET /v1/openapi.json.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDoc)
}

// patternMux registers routes on the server's mux and keeps their
// patterns, in order, for the tests that compare them with the OpenAPI
// document.
type patternMux struct{ s *Server }

func (m patternMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

func (m patternMux) Handle(pattern string, h http.Handler) {
	m.s.patterns = append(m.s.patterns, pattern)
	m.s.mux.Handle(pattern, h)
	m.s.router.Handle(pattern, m.s.newRoute(pattern, h)) // route.go
}
