package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCheck is the cost of checking one append and its answer.
func BenchmarkCheck(b *testing.B) {
	body := `{"state":{"step":1,"msg":"hello"},"metadata":{"k":"v"}}`
	for b.Loop() {
		r := httptest.NewRequest("POST", "/v1/sessions/s/snapshots", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		rb, _ := io.ReadAll(r.Body)
		err := Check(Exchange{Request: r, RequestBody: rb, Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "Etag": {`"1"`}},
			Body: []byte(`{"session_id":"s","version":1,"created_at":"2026-12-05T10:00:00Z","size_bytes":30}`)})
		if err != nil {
			b.Fatal(err)
		}
	}
}
