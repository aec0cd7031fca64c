// Package apitest checks HTTP traffic against cortex's OpenAPI document
// (httpapi.OpenAPI): every request a test makes and every answer it gets,
// problem documents and event streams included. The httpapi tests wrap
// their server in Middleware, the end-to-end tests their clients'
// transports in Transport.
//
// A check fails when an answer's status is not documented for its
// operation, when its headers or body do not match the document, and when
// the server accepts (answers below 400) a request that the document
// refuses: a request the document refuses may still be sent, to test the
// server's refusal, but it must be refused. Requests for paths the document
// lacks must be answered with a problem document.
//
// The document is loaded, validated and routed once per process.
package apitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/cortex-db/cortex/httpapi"
)

// maxBody is the most of a body a check reads; a larger one is checked for
// its status and headers only.
const maxBody = 64 << 20

// contract is the loaded document and its router.
type contract struct {
	doc *openapi3.T
	// mux finds the operation of a request with the server's own routing
	// rules (net/http.ServeMux patterns are the document's path templates).
	mux    *http.ServeMux
	routes map[string]*routers.Route // by mux pattern
	// problem and events are the schemas checked outside operations.
	problem *openapi3.Schema
	events  map[string]*openapi3.Schema
}

var (
	loadOnce sync.Once
	loaded   *contract
	loadErr  error
)

// Document returns the OpenAPI document, loaded and validated once.
func Document() (*openapi3.T, error) {
	c, err := load()
	if err != nil {
		return nil, err
	}
	return c.doc, nil
}

func load() (*contract, error) {
	loadOnce.Do(func() { loaded, loadErr = newContract(httpapi.OpenAPI()) })
	return loaded, loadErr
}

func newContract(b []byte) (*contract, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	c := &contract{doc: doc, mux: http.NewServeMux(), routes: map[string]*routers.Route{}, events: map[string]*openapi3.Schema{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			c.mux.Handle(pattern, http.NotFoundHandler())
			c.routes[pattern] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	p := doc.Components.Schemas["Problem"]
	if p == nil || p.Value == nil {
		return nil, errors.New("the OpenAPI document has no Problem schema")
	}
	c.problem = p.Value
	for _, name := range []string{"Session", "Snapshot", "DeletedEvent", "EndEvent"} {
		s := doc.Components.Schemas[name]
		if s == nil || s.Value == nil {
			return nil, fmt.Errorf("the OpenAPI document has no %s schema", name)
		}
		c.events[strings.ToLower(strings.TrimSuffix(name, "Event"))] = s.Value
	}
	return c, nil
}

// route returns the documented operation of r and its path parameters; nil
// when the document has no such path and method.
func (c *contract) route(r *http.Request) (*routers.Route, map[string]string) {
	if p := r.URL.Path; p == "" || p[0] != '/' || (path.Clean(p) != p && path.Clean(p)+"/" != p) {
		return nil, nil // the server redirects it to its clean form
	}
	_, pattern := c.mux.Handler(r)
	rt := c.routes[pattern]
	if rt == nil {
		return nil, nil
	}
	params := map[string]string{}
	tmpl := strings.Split(strings.TrimPrefix(rt.Path, "/"), "/")
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && i < len(segs) {
			params[strings.Trim(t, "{}")] = segs[i]
		}
	}
	return rt, params
}

// Exchange is one request and its answer, with both bodies read.
type Exchange struct {
	Request     *http.Request
	RequestBody []byte
	Status      int
	Header      http.Header
	// Body is the answer's body; for an event stream, the part read.
	Body []byte
	// Truncated is true when Body is only the start of the answer.
	Truncated bool
}

// Check checks one exchange against the document and returns what does not
// match it (nil when all does).
func Check(x Exchange) error {
	if p := x.Request.URL.Path; p == "/ui" || strings.HasPrefix(p, "/ui/") {
		// The operations console's static files (httpapi/ui) are pages,
		// not API: outside the document, tested by their own tests.
		return nil
	}
	c, err := load()
	if err != nil {
		return err
	}
	return c.check(x)
}

func (c *contract) check(x Exchange) error {
	r := x.Request
	what := r.Method + " " + r.URL.RequestURI()
	rt, params := c.route(r)
	if rt != nil && x.Status == http.StatusNotFound && bytes.Contains(x.Body, []byte(`"urn:cortex:problem:no-route"`)) {
		// A listener that does not serve the API (serve's
		// --metrics-addr) answers it as a path it has no route for.
		rt = nil
	}
	if rt == nil {
		// No documented operation: the server's 404/405/redirect, with a
		// problem body.
		if x.Status < 300 {
			return fmt.Errorf("%s: answered %d, but the OpenAPI document has no such operation", what, x.Status)
		}
		if err := c.checkProblem(x); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
	}
	// The request: a copy, so that the caller's body stays as it was.
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	if len(bytes.TrimSpace(x.RequestBody)) == 0 {
		// The server reads a body of only white space as none (then a
		// Content-Type that is not JSON is still refused).
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr == nil {
		reqErr = c.unknownQuery(rt, r)
	}
	if reqErr != nil && x.Status < 400 {
		return fmt.Errorf("%s: the server answered %d to a request the OpenAPI document refuses: %v", what, x.Status, reqErr)
	}
	// The answer.
	if rt.Operation.Responses.Status(x.Status) == nil {
		return fmt.Errorf("%s: status %d is not in the OpenAPI document for %s %s (it has %v)", what, x.Status, rt.Method, rt.Path, statuses(rt.Operation))
	}
	mt, _, _ := mime.ParseMediaType(x.Header.Get("Content-Type"))
	ropts := *opts
	if x.Truncated || mt == "text/event-stream" {
		ropts.ExcludeResponseBody = true
	}
	in.Options = &ropts
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.Status, Header: x.Header, Options: &ropts}
	out.SetBodyBytes(x.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s: answer %d does not match the OpenAPI document: %v\nbody: %.400s", what, x.Status, err, x.Body)
	}
	if x.Status >= 400 {
		if err := c.checkProblem(x); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if mt == "text/event-stream" {
		if err := c.checkEvents(x.Body, x.Truncated); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// unknownQuery refuses a query parameter the operation does not name,
// except metadata.<key> on operations with x-cortex-metadata-filter, and
// any on operations with x-cortex-query-ignored.
func (c *contract) unknownQuery(rt *routers.Route, r *http.Request) error {
	if ignored, _ := rt.Operation.Extensions["x-cortex-query-ignored"].(bool); ignored {
		return nil
	}
	known := map[string]bool{}
	for _, ps := range []openapi3.Parameters{rt.PathItem.Parameters, rt.Operation.Parameters} {
		for _, p := range ps {
			if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
				known[p.Value.Name] = true
			}
		}
	}
	prefix, _ := rt.Operation.Extensions["x-cortex-metadata-filter"].(string)
	for name := range r.URL.Query() {
		if known[name] || (prefix != "" && strings.HasPrefix(name, prefix)) {
			continue
		}
		return fmt.Errorf("query parameter %q is not in the OpenAPI document", name)
	}
	return nil
}

// checkProblem checks that an error answer is a problem document whose
// status is the answer's.
func (c *contract) checkProblem(x Exchange) error {
	if x.Status == http.StatusNotModified || (x.Status >= 300 && x.Status < 400 && len(x.Body) == 0) {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(x.Header.Get("Content-Type"))
	if x.Status < 500 || mt != "application/json" { // a 503 of /readyz is a health report
		if mt != "application/problem+json" {
			return fmt.Errorf("answer %d has Content-Type %q, want application/problem+json", x.Status, x.Header.Get("Content-Type"))
		}
	}
	if mt != "application/problem+json" || x.Truncated {
		return nil
	}
	var v any
	if err := json.Unmarshal(x.Body, &v); err != nil {
		return fmt.Errorf("problem body %.200q: %v", x.Body, err)
	}
	if err := c.problem.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("problem body %.300s does not match the Problem schema: %v", x.Body, err)
	}
	if st, _ := v.(map[string]any)["status"].(float64); int(st) != x.Status {
		return fmt.Errorf("problem body says status %v, the answer is %d", st, x.Status)
	}
	return nil
}

// checkEvents checks an event stream: every event is one of the documented
// kinds, and its data matches that kind's schema. A truncated stream's
// last, incomplete event is left out.
func (c *contract) checkEvents(body []byte, truncated bool) error {
	if truncated {
		if i := bytes.LastIndex(body, []byte("\n\n")); i >= 0 {
			body = body[:i+2]
		} else {
			return nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, maxBody)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" || event != "" {
				if err := c.checkEvent(event, data); err != nil {
					return err
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"), strings.HasPrefix(line, "id:"):
			if v, ok := strings.CutPrefix(line, "id:"); ok {
				if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return fmt.Errorf("event id %q is not a version", v)
				}
			}
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		default:
			return fmt.Errorf("event stream line %q is not a field of the documented events", line)
		}
	}
	return sc.Err()
}

func (c *contract) checkEvent(event, data string) error {
	s := c.events[event]
	if s == nil {
		return fmt.Errorf("event %q is not one of the documented events (session, snapshot, deleted, end)", event)
	}
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		return fmt.Errorf("event %s: data %.200q is not JSON: %v", event, data, err)
	}
	if err := s.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("event %s: data %.300s does not match its schema: %v", event, data, err)
	}
	return nil
}

func statuses(op *openapi3.Operation) []string {
	var out []string
	for k := range op.Responses.Map() {
		out = append(out, k)
	}
	return out
}
