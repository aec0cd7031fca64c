package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cortex-db/cortex/state"
)

// TestAppendAnswer: an append's answer written by writeAppended has the
// bytes and headers writeJSON and Header.Set gave it, for results of every
// shape: keys or none, replays, times in other zones, with and without
// nanoseconds, years at the edges, ids and keys that need escaping (those
// go through marshal).
func TestAppendAnswer(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -7*3600)}
	times := []time.Time{
		time.Date(2026, 12, 5, 14, 3, 4, 0, time.UTC),
		time.Date(2026, 12, 5, 14, 3, 4, 123456789, time.UTC),
		time.Date(2026, 12, 5, 14, 3, 4, 120000000, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	ids := []string{"s1", "a.b_c:d-e", "x\"y", "é", "tab\t", "<&>"}
	n := 0
	for _, tm := range times {
		for _, z := range zones {
			for _, id := range ids {
				for _, key := range []string{"", "k-1", "q\\", id} {
					for _, replayed := range []bool{false, true} {
						res := state.AppendResult{SessionID: id, Version: int64(n) * 7919, CreatedAt: tm.In(z),
							SizeBytes: int64(n), Key: key, Replayed: replayed}
						n++
						want := httptest.NewRecorder()
						oldAppendAnswer(want, id, res)
						got := httptest.NewRecorder()
						writeAppended(got, id, res)
						if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
							t.Fatalf("%+v:\n got %d %q\nwant %d %q", res, got.Code, got.Body, want.Code, want.Body)
						}
						if g, w := got.Header(), want.Header(); len(g) != len(w) {
							t.Fatalf("%+v: headers %v, want %v", res, g, w)
						} else {
							for k, v := range w {
								if len(g[k]) != 1 || g[k][0] != v[0] {
									t.Fatalf("%+v: header %s %q, want %q", res, k, g[k], v)
								}
							}
						}
					}
				}
			}
		}
	}
}

// oldAppendAnswer is how appendSnapshot answered before writeAppended.
func oldAppendAnswer(w http.ResponseWriter, id string, res state.AppendResult) {
	h := w.Header()
	h.Set("ETag", etag(res.Version))
	h.Set("Location", "/v1/sessions/"+id+"/snapshots/"+strconv.FormatInt(res.Version, 10))
	if res.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, res)
}
