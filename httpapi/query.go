package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// queryRule is what an operation of the OpenAPI document (openapi.json)
// says of its query string: the parameters it names, the prefix of a
// family of parameters (x-cortex-metadata-filter: "metadata."), or that it
// ignores the query string (x-cortex-query-ignored: the probes and
// /metrics, whose callers are scrapers and orchestrators, not clients of
// the API). The server refuses with 400 any other parameter and a named
// one given twice, on every operation, so that a misspelt parameter (limt,
// after_verison) never silently does nothing.
type queryRule struct {
	names   []string
	prefix  string
	ignored bool
}

// queryRules reads the rule of every operation of the document, keyed by
// its mux pattern ("GET /v1/sessions"); the drift test (openapi_test.go)
// keeps the patterns and the parameters the handlers read the same as the
// document's.
var queryRules = sync.OnceValues(func() (map[string]*queryRule, error) {
	return parseQueryRules(openAPIDoc)
})

func parseQueryRules(doc []byte) (map[string]*queryRule, error) {
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("httpapi: the OpenAPI document: %w", err)
	}
	resolve := func(ps []param) ([]param, error) {
		out := make([]param, 0, len(ps))
		for _, p := range ps {
			if p.Ref != "" {
				name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
				c, found := d.Components.Parameters[name]
				if !ok || !found {
					return nil, fmt.Errorf("httpapi: the OpenAPI document: parameter %s not found", p.Ref)
				}
				p = c
			}
			out = append(out, p)
		}
		return out, nil
	}
	rules := map[string]*queryRule{}
	for path, item := range d.Paths {
		var shared []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return nil, fmt.Errorf("httpapi: the OpenAPI document: %s parameters: %w", path, err)
			}
		}
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				continue // parameters, summary, servers, x-…: not an operation
			}
			var op struct {
				Parameters []param `json:"parameters"`
				Filter     string  `json:"x-cortex-metadata-filter"`
				Ignored    bool    `json:"x-cortex-query-ignored"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("httpapi: the OpenAPI document: %s %s: %w", method, path, err)
			}
			ps, err := resolve(append(slices.Clone(shared), op.Parameters...))
			if err != nil {
				return nil, err
			}
			rule := &queryRule{prefix: op.Filter, ignored: op.Ignored}
			for _, p := range ps {
				if p.In == "query" {
					rule.names = append(rule.names, p.Name)
				}
			}
			rules[strings.ToUpper(method)+" "+path] = rule
		}
	}
	return rules, nil
}

// check refuses a query string the rule does not allow: one that does not
// parse, a parameter the operation does not name, a named one given more
// than once. A nil rule (a route outside the document: the console's
// files) allows any.
func (q *queryRule) check(r *http.Request) error {
	if q == nil || q.ignored || r.URL.RawQuery == "" {
		return nil
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("query", "the query string does not parse (%v): write it as name=value pairs joined by &, with %% escapes only as %%XX", err)
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names) // the same error for the same query
	for _, name := range names {
		if q.prefix != "" && strings.HasPrefix(name, q.prefix) {
			continue // the handler reads the family (metadataFilter)
		}
		if !slices.Contains(q.names, name) {
			return badRequest(name, "is not a parameter of this route; %s", q.takes())
		}
		if n := len(vals[name]); n > 1 {
			return badRequest(name, "given %d times; give it once", n)
		}
	}
	return nil
}

// takes says what parameters the route takes, for an error.
func (q *queryRule) takes() string {
	family := ""
	if q.prefix != "" {
		family = q.prefix + "<key>=<value>"
	}
	switch {
	case len(q.names) == 0 && family == "":
		return "it takes no query parameters"
	case len(q.names) == 0:
		return "it takes " + family
	case family == "":
		return "it takes " + strings.Join(q.names, ", ")
	}
	return "it takes " + strings.Join(q.names, ", ") + " and " + family
}
