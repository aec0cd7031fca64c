package httpapi_test

import (
	"strings"
	"testing"
)

// An append whose body is the state itself, without the "state" wrapper,
// is told to wrap it: `unknown field "step"` alone does not say how.
func TestServer_AppendWithoutStateWrapper(t *testing.T) {
	e := newEnv(t, nil)
	e.do("PUT", "/v1/sessions/w", `{}`)
	r := e.do("POST", "/v1/sessions/w/snapshots", `{"step":1}`)
	if r.StatusCode != 400 || !strings.Contains(string(r.body), `wrap your state in \"state\"`) {
		t.Fatalf("append {\"step\":1}: %d %s, want 400 saying to wrap the state in \"state\"", r.StatusCode, r.body)
	}
}
