package httpapi_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cortex-db/cortex/httpapi"
	"github.com/cortex-db/cortex/internal/apitest"
)

// TestOpenAPI_Served: GET /v1/openapi.json answers the embedded document,
// under the same token rules as every /v1 route.
func TestOpenAPI_Served(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.APIToken = "api-token-0123456789" })
	e.do("GET", "/v1/openapi.json", "").want(t, http.StatusUnauthorized)
	r := e.do("GET", "/v1/openapi.json", "", "Authorization: Bearer api-token-0123456789").want(t, http.StatusOK)
	if !bytes.Equal(r.body, httpapi.OpenAPI()) {
		t.Fatal("GET /v1/openapi.json is not the embedded document")
	}
	disk, err := os.ReadFile("openapi.json")
	if err != nil || !bytes.Equal(disk, r.body) {
		t.Fatalf("the served document is not httpapi/openapi.json (%v)", err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// route is what the server's source says of one route: its handler and
// the query parameters and request headers the handler (and what it calls)
// reads.
type route struct {
	pattern, method, path string
	handler               string
	query                 []string
	headers               []string
	metadataFilter        bool
}

// TestOpenAPI_Drift walks the server's routes, as registered on its mux,
// and fails on a route, method, path parameter, query parameter or request
// header the document lacks, and on documented ones the server lacks. The
// statuses are checked by apitest on every answer the tests get
// (TestOpenAPI_EveryRouteRefuses sends the refusals every route shares).
func TestOpenAPI_Drift(t *testing.T) {
	doc, err := apitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	s, err := httpapi.New(httpapi.Config{Store: e.store, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	src := parseRoutes(t)
	served := map[string]bool{}
	for _, pattern := range s.Patterns() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || !strings.HasPrefix(path, "/") {
			if strings.HasPrefix(pattern, "/v1") {
				t.Errorf("route %q has no method: every /v1 route names its method", pattern)
			}
			continue // a route of every method (a console's files): not the API
		}
		served[pattern] = true
		item := doc.Paths.Value(path)
		var op *openapi3.Operation
		if item != nil {
			op = item.GetOperation(method)
		}
		if op == nil {
			if strings.HasPrefix(path, "/v1/") || path == "/healthz" || path == "/readyz" || path == "/metrics" {
				t.Errorf("route %s is not in the OpenAPI document (httpapi/openapi.json)", pattern)
			}
			continue
		}
		params := map[string][]string{}
		for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
			for _, p := range ps {
				params[p.Value.In] = append(params[p.Value.In], p.Value.Name)
			}
		}
		// Path parameters.
		var want []string
		for _, m := range regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`).FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		if !sameSet(want, params["path"]) {
			t.Errorf("%s: path parameters %v, the document has %v", pattern, want, params["path"])
		}
		r, ok := src[pattern]
		t.Logf("%s: handler %s, query %v, headers %v, metadata filter %v", pattern, r.handler, r.query, r.headers, r.metadataFilter)
		if !ok {
			t.Errorf("%s: registered on the mux but not found in routes() in the source", pattern)
			continue
		}
		if r.handler == "" {
			continue // not a function of this package (promhttp's /metrics)
		}
		if !sameSet(r.query, params["query"]) {
			t.Errorf("%s: the handler (%s) reads query parameters %v, the document has %v", pattern, r.handler, r.query, params["query"])
		}
		if !sameSet(r.headers, params["header"]) {
			t.Errorf("%s: the handler (%s) reads request headers %v, the document has %v", pattern, r.handler, r.headers, params["header"])
		}
		_, filter := op.Extensions["x-cortex-metadata-filter"]
		if filter != r.metadataFilter {
			t.Errorf("%s: the handler takes metadata.<key> filters: %v; the document's x-cortex-metadata-filter: %v", pattern, r.metadataFilter, filter)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("the OpenAPI document has %s %s, which the server does not serve", method, path)
			}
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes found: Patterns does not see the mux", len(served))
	}
}

// TestOpenAPI_EveryRouteRefuses sends every /v1 route the refusals all of
// them share (a missing token, two Authorization headers, a cross-site
// browser read, a Host not allowed, and for the routes that take a body a
// wrong Content-Type and a body over the limit), so that apitest checks
// those statuses are documented for each route.
func TestOpenAPI_EveryRouteRefuses(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) {
		c.APIToken = "api-token-0123456789"
		c.MaxBatchBytes = 1 << 20
	})
	tokenless := newEnv(t, nil)
	s, err := httpapi.New(httpapi.Config{Store: e.store, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	const auth = "Authorization: Bearer api-token-0123456789"
	big := `{"state":"` + strings.Repeat("x", 1<<20) + `"}` // over every small body's limit
	for _, pattern := range s.Patterns() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || !strings.HasPrefix(path, "/v1/") {
			continue
		}
		p := strings.NewReplacer("{id}", "s", "{version}", "1", "{key}", "k").Replace(path)
		t.Run(method+" "+p, func(t *testing.T) {
			e.do(method, p, "").want(t, http.StatusUnauthorized)
			e.do(method, p, "", "Sec-Fetch-Site: cross-site", auth).want(t, http.StatusForbidden)
			tokenless.do(method, p, "", "Host: example.com").want(t, http.StatusForbidden)
			req, _ := http.NewRequest(method, e.srv.URL+p, nil)
			req.Header.Add("Authorization", "Bearer api-token-0123456789")
			req.Header.Add("Authorization", "Bearer api-token-0123456789")
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("two Authorization headers: %d, want 400", res.StatusCode)
			}
			if method == "POST" || method == "PUT" {
				e.do(method, p, "{}", "Content-Type: text/plain", auth).want(t, http.StatusUnsupportedMediaType)
				e.do(method, p, big, auth).want(t, http.StatusRequestEntityTooLarge)
			}
		})
	}
}

// parseRoutes reads routes() and the package's functions from the source
// and returns, per pattern, the query parameters and headers its handler
// reads: calls of queryInt, queryBool, queryTime, queryLimit,
// metadataFilter, and Get/Has on r.URL.Query() or r.Header, followed
// through every function of the package the handler calls.
func parseRoutes(t *testing.T) map[string]route {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(fset, n, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	type facts struct {
		query, headers []string
		filter         bool
		calls          []string
	}
	funcs := map[string]*facts{}
	var routesFn *ast.FuncDecl
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if fd.Name.Name == "routes" {
				routesFn = fd
			}
			fc := funcs[fd.Name.Name]
			if fc == nil {
				fc = &facts{}
				funcs[fd.Name.Name] = fc
			}
			queryVars := map[string]bool{} // q := r.URL.Query()
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
					if id, ok := as.Lhs[0].(*ast.Ident); ok && isQueryCall(as.Rhs[0]) {
						queryVars[id.Name] = true
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				name := calleeName(call)
				lit := func(i int) string {
					if i < len(call.Args) {
						if bl, ok := call.Args[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
							s, _ := strconv.Unquote(bl.Value)
							return s
						}
					}
					return ""
				}
				switch name {
				case "queryInt", "queryBool", "queryTime":
					fc.query = append(fc.query, lit(1))
				case "queryLimit":
					fc.query = append(fc.query, "limit")
				case "metadataFilter":
					fc.filter = true
				case "Get", "Has", "Values":
					sel := call.Fun.(*ast.SelectorExpr)
					switch {
					case isQueryCall(sel.X) || (isIdent(sel.X) && queryVars[sel.X.(*ast.Ident).Name]):
						fc.query = append(fc.query, lit(0))
					case isHeader(sel.X):
						fc.headers = append(fc.headers, lit(0))
					}
				}
				if name != "" {
					fc.calls = append(fc.calls, name)
				}
				return true
			})
		}
	}
	if routesFn == nil {
		t.Fatal("no routes() in the package")
	}
	out := map[string]route{}
	ast.Inspect(routesFn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		if name := calleeName(call); name != "HandleFunc" && name != "Handle" {
			return true
		}
		bl, ok := call.Args[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		pattern, _ := strconv.Unquote(bl.Value)
		r := route{pattern: pattern}
		r.method, r.path, _ = strings.Cut(pattern, " ")
		if sel, ok := call.Args[1].(*ast.SelectorExpr); ok && funcs[sel.Sel.Name] != nil {
			r.handler = sel.Sel.Name
			seen := map[string]bool{}
			var walk func(string)
			walk = func(fn string) {
				fc := funcs[fn]
				if fc == nil || seen[fn] {
					return
				}
				seen[fn] = true
				r.query = append(r.query, fc.query...)
				r.headers = append(r.headers, fc.headers...)
				r.metadataFilter = r.metadataFilter || fc.filter
				for _, c := range fc.calls {
					walk(c)
				}
			}
			walk(r.handler)
			// Content-Type and Authorization are not parameters in
			// OpenAPI (the request body's media type, the security
			// scheme).
			r.headers = slices.DeleteFunc(r.headers, func(h string) bool {
				return strings.EqualFold(h, "Content-Type") || strings.EqualFold(h, "Authorization")
			})
		}
		out[pattern] = r
		return true
	})
	return out
}

func calleeName(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func isIdent(e ast.Expr) bool { _, ok := e.(*ast.Ident); return ok }

// isQueryCall reports whether e is x.Query() (r.URL.Query()).
func isQueryCall(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Query"
}

// isHeader reports whether e is x.Header (r.Header).
func isHeader(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Header"
}

// sameSet compares two lists as sets, ignoring empty names and case.
func sameSet(a, b []string) bool {
	norm := func(l []string) []string {
		var out []string
		for _, s := range l {
			if s != "" {
				out = append(out, strings.ToLower(s))
			}
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// TestOpenAPI_UnknownQueryRefused sends every route of the document a
// query parameter it does not name, one it names given twice, and a query
// string that does not parse: each is a 400 naming the parameter (and
// nothing changes), except on the operations marked x-cortex-query-ignored
// (the probes and /metrics), which answer as without it. FuzzServer found
// GET /v1/admin/health?0 answered 200 when only the list routes refused.
func TestOpenAPI_UnknownQueryRefused(t *testing.T) {
	doc, err := apitest.Document()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.mustSession("s")
	e.mustAppend("s", `{"a":1}`)
	s, err := httpapi.New(httpapi.Config{Store: e.store, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range s.Patterns() {
		method, path, _ := strings.Cut(pattern, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			continue // the console's files: outside the document
		}
		op := item.GetOperation(method)
		ignored, _ := op.Extensions["x-cortex-query-ignored"].(bool)
		p := strings.NewReplacer("{id}", "s", "{version}", "1", "{key}", "k").Replace(path)
		t.Run(method+" "+p, func(t *testing.T) {
			if ignored {
				r := e.do(method, p+"?zz_unknown=1", "")
				if r.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d, want 200 (x-cortex-query-ignored): %s", pattern, r.StatusCode, r.body)
				}
				return
			}
			pr := e.do(method, p+"?zz_unknown=1", "").want(t, http.StatusBadRequest).problem(t)
			if pr.Field != "zz_unknown" || !strings.Contains(pr.Detail, "is not a parameter of this route") {
				t.Fatalf("unknown parameter: %+v", pr)
			}
			pr = e.do(method, p+"?a=%zz", "").want(t, http.StatusBadRequest).problem(t)
			if pr.Field != "query" || !strings.Contains(pr.Detail, "does not parse") {
				t.Fatalf("query that does not parse: %+v", pr)
			}
			for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, prm := range ps {
					if prm.Value.In != openapi3.ParameterInQuery {
						continue
					}
					n := prm.Value.Name
					pr = e.do(method, p+"?"+n+"=1&"+n+"=2", "").want(t, http.StatusBadRequest).problem(t)
					if pr.Field != n || !strings.Contains(pr.Detail, "given 2 times") {
						t.Fatalf("%s given twice: %+v", n, pr)
					}
				}
			}
		})
	}
	// Nothing changed: the session and its one snapshot are there.
	if v := e.latestVersion("s"); v != 1 {
		t.Fatalf("after the refusals the session is at version %d, want 1", v)
	}
}
