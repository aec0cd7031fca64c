package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/sqlitestore"
	"github.com/cortex-db/cortex/state"
)

// FuzzDecodeAppend feeds arbitrary bodies and headers to the append
// decoder: it never panics, a failure is a 4xx problem, and a success has a
// state that is one valid JSON value and the header values it was given.
func FuzzDecodeAppend(f *testing.F) {
	f.Add(`{"state":{"a":1},"metadata":{"m":true}}`, "application/json", `"3"`, "key-1")
	f.Add(`{"state":null}`, "application/json; charset=utf-8", "", "")
	f.Add(`{"state":[1,2,3],"extra":1}`, "application/json", "", "")
	f.Add(`{"state":"x"} trailing`, "application/json", "*", "")
	f.Add(`{"state":`, "application/json", `W/"0"`, "k")
	f.Add(`{"metadata":{}}`, "text/plain", "banana", "bad key")
	f.Add(``, "", "-1", "")
	f.Add(`{"state":"\u0000\ud800"}`, "application/vnd.api+json", `"9223372036854775807"`, strings.Repeat("k", 300))
	s := &Server{cfg: Config{MaxStateBytes: 1 << 10}}
	f.Fuzz(func(t *testing.T, body, contentType, ifMatch, key string) {
		r := httptest.NewRequest("POST", "http://localhost/v1/sessions/s/snapshots", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("If-Match", ifMatch)
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		in, conditional, err := s.decodeAppend(w, r)
		if err != nil {
			if p := problemFor(err, false); p.Status < 400 || p.Status > 499 || p.Detail == "" {
				t.Fatalf("decode error %v maps to %+v, want a 4xx problem with detail", err, p)
			}
			return
		}
		if in.State == nil || !json.Valid(in.State) {
			t.Fatalf("decoded state %q is not one JSON value", in.State)
		}
		if in.Metadata != nil && !json.Valid(in.Metadata) {
			t.Fatalf("decoded metadata %q is not JSON", in.Metadata)
		}
		if conditional != (in.ExpectedVersion != nil) {
			t.Fatalf("conditional %v with expected version %v", conditional, in.ExpectedVersion)
		}
		if in.IdempotencyKey != strings.TrimSpace(key) && in.IdempotencyKey != key {
			t.Fatalf("idempotency key %q, sent %q", in.IdempotencyKey, key)
		}
	})
}

// FuzzSplitAppend: the append body's fast path agrees with decodeBody
// wherever it answers: the same state and metadata bytes, and a success
// only where decodeBody succeeds.
func FuzzSplitAppend(f *testing.F) {
	for _, b := range []string{
		`{"state":{"a":1},"metadata":{"m":true}}`, `{"state":null}`, `{}`, ` { "state" : [1, {"x":"]}"}] , "metadata":{} } `,
		`{"state":1,"state":"two"}`, `{"metadata":{"a":[]},"state":"\"}"}`, `{"State":1}`, `{"st\u0061te":1}`,
		`{"state":1,"extra":2}`, `[1]`, `"x"`, `{"state":1} x`, `{"state":-1.5e3}`, `{"state":true}`, "{\"state\":\t\"\u00e9\"\n}",
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		st, md, ok := splitAppend([]byte(body))
		if !ok {
			return
		}
		var req appendRequest
		if err := decodeBody([]byte(body), &req); err != nil {
			t.Fatalf("splitAppend took %q, decodeBody refused it: %v", body, err)
		}
		if !bytes.Equal(st, req.State) || (st == nil) != (req.State == nil) {
			t.Fatalf("%q: state %q, decodeBody %q", body, st, req.State)
		}
		if !bytes.Equal(md, req.Metadata) || (md == nil) != (req.Metadata == nil) {
			t.Fatalf("%q: metadata %q, decodeBody %q", body, md, req.Metadata)
		}
	})
}

// validID is the id alphabet; "." and ".." are refused besides.
var validID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// FuzzSessionID sends arbitrary ids through the whole stack, on a real
// database: a valid id reads as 404 (no such session), an invalid one as
// 400, never anything else; and ValidateID agrees with the documented
// alphabet.
func FuzzSessionID(f *testing.F) {
	for _, id := range []string{"a", "session-1", "x.y_z:0", "", "a b", "../etc", "é", strings.Repeat("a", 128), strings.Repeat("a", 129), "a/b", "%2F", "\x00", "latest"} {
		f.Add(id)
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), sqlitestore.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	srv, err := New(Config{Store: st})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string) {
		valid := state.ValidateID(id) == nil
		if want := validID.MatchString(id) && id != "." && id != ".."; valid != want {
			t.Fatalf("ValidateID(%q) valid=%v, the alphabet says %v", id, valid, want)
		}
		if id == "" || id == "." || id == ".." {
			return // not a path segment (and not valid): the router cleans or redirects these
		}
		// Every valid id round-trips through a URL path: the request is
		// parsed from the text of its URL, as a server receives it.
		r := httptest.NewRequest("GET", "http://localhost/v1/sessions/"+url.PathEscape(id), nil)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		want := http.StatusBadRequest
		if valid {
			want = http.StatusNotFound
		}
		if strings.Contains(id, "/") {
			// An escaped slash still splits the path for the router:
			// another route or none, never a server error.
			if w.Code >= 500 {
				t.Fatalf("GET session %q: %d %s", id, w.Code, w.Body)
			}
			return
		}
		if w.Code != want {
			t.Fatalf("GET session %q: %d %s, want %d", id, w.Code, w.Body, want)
		}
	})
}
