package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A client that claims a large body and sends a few bytes must not make the
// server allocate what it claimed.
func TestReadJSON_PresizeBounded(t *testing.T) {
	req := httptest.NewRequest("POST", "/v1/snapshots:batch", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 30 << 20 // claimed, not sent
	body, err := readJSON(httptest.NewRecorder(), req, 32<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "{}" {
		t.Fatalf("body %q", body)
	}
	if c := cap(body); c > maxPresize+4096 {
		t.Fatalf("buffer of %d bytes for a 2-byte body that claimed 30 MiB", c)
	}
	// An honest typical body is still read into one buffer of its size.
	state := `{"state":"` + strings.Repeat("x", 100<<10) + `"}`
	req = httptest.NewRequest("POST", "/v1/sessions/a/snapshots", strings.NewReader(state))
	req.Header.Set("Content-Type", "application/json")
	body, err = readJSON(httptest.NewRecorder(), req, 32<<20, false)
	if err != nil || len(body) != len(state) {
		t.Fatalf("read %d bytes, %v", len(body), err)
	}
	if c := cap(body); c > len(state)+4096 {
		t.Fatalf("buffer of %d bytes for a body of %d: it grew instead of being sized", c, len(state))
	}
}
