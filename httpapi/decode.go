package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cortex-db/cortex/state"
)

// statusError is an error with its own answer, for failures found by the
// HTTP layer that are not domain errors (a wrong content type, a body over
// the limit).
type statusError struct {
	status int
	slug   string
	title  string
	detail string
}

func (e *statusError) Error() string { return e.detail }

// errUnsupportedMedia is a 415 naming what to send instead.
func errUnsupportedMedia(got string) error {
	return &statusError{http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		fmt.Sprintf("Content-Type %q is not accepted; send application/json", got)}
}

// errBodyTooLarge is a 413 for a body over its limit.
func errBodyTooLarge(limit int64) error {
	return &statusError{http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large",
		fmt.Sprintf("the request body is over the limit of %d bytes", limit)}
}

// isJSONType reports whether a Content-Type is application/json or a
// +json type (parameters such as charset=utf-8 are allowed).
func isJSONType(ct string) bool {
	switch ct {
	case "application/json", "application/json; charset=utf-8":
		return true // what clients send, without ParseMediaType's map
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeJSON reads r's body, at most limit bytes, into dst: one JSON value,
// no unknown fields, nothing after it. An empty body leaves dst untouched
// when optional is true (and is a 400 otherwise); a body needs a JSON
// Content-Type (415 otherwise).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any, optional bool) error {
	body, err := readJSON(w, r, limit, optional)
	if err != nil || body == nil {
		return err
	}
	return decodeBody(body, dst)
}

// maxPresize bounds the buffer readJSON allocates before a body arrives.
const maxPresize = 256 << 10

// readJSON reads r's body, at most limit bytes, for decodeJSON: nil for an
// empty body when optional is true.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, optional bool) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge(limit)
	}
	// Sized from Content-Length when given: io.ReadAll would start at 512
	// bytes and grow, copying, to the size of a typical state. Only up to
	// maxPresize: a client that claims a large body and sends nothing must
	// not make the server hold that much.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), maxPresize)+bytes.MinRead))
	// A body of a known length (at most limit, checked above) is already
	// cut there by net/http; MaxBytesReader (an allocation) is for the
	// others. The length check after reading covers a handler called
	// without net/http.
	body := io.Reader(r.Body)
	if r.ContentLength <= 0 {
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errBodyTooLarge(limit)
		}
		return nil, badRequest("body", "reading the request body: %v", err)
	}
	if int64(buf.Len()) > limit {
		return nil, errBodyTooLarge(limit)
	}
	return checkJSONBody(r, buf.Bytes(), optional)
}

// checkJSONBody is readJSON's checks of the body read: its Content-Type,
// emptiness and UTF-8.
func checkJSONBody(r *http.Request, body []byte, optional bool) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if len(bytes.TrimSpace(body)) == 0 {
		// No body and no Content-Type is fine where the body is optional;
		// a Content-Type that is not JSON is refused with or without one.
		if ct != "" && !isJSONType(ct) {
			return nil, errUnsupportedMedia(ct)
		}
		if optional {
			return nil, nil
		}
		return nil, badRequest("body", "a JSON body is required")
	}
	if !isJSONType(ct) {
		return nil, errUnsupportedMedia(ct)
	}
	if err := checkUTF8(body); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeBody decodes one JSON value from body into dst, refusing trailing
// data and what checkStrict refuses: unknown fields (names are exact, so
// also a field name in another case), a name twice in one object, lone
// surrogates. Unknown fields are found by checkStrict against dst's shape,
// as a typed error (unknownFieldError), not by encoding/json, whose
// DisallowUnknownFields error has no type to tell it by.
func decodeBody(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("body", "unexpected data after the JSON value")
	}
	return checkStrict(body, shapeOf(reflect.TypeOf(dst)))
}

// jsonError turns a decoding error into a 400 naming the field when it can.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("body", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest(field, "want a JSON %s, got %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "the JSON body ends too early")
	}
	return badRequest("body", "invalid JSON: %v", err)
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		problem(w, http.StatusInternalServerError, "internal", "Internal server error", "encoding the answer failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// States are stored as sent: no browser may take one for HTML.
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// marshal encodes v as one line of JSON without HTML escaping: states
// and plans come back with their "<", ">" and "&" as they were stored, not
// as \u003c. (Escaping is for JSON embedded in HTML; these answers are
// application/json.)
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pathID returns the {id} path value, validated.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := state.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// queryInt parses an optional integer query parameter in [min, max].
func queryInt(r *http.Request, name string, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, badRequest(name, "want an integer from %d to %d, got %q", min, max, v)
	}
	return n, nil
}

// queryLimit parses the page size: 0 means state.DefaultLimit.
func queryLimit(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit", 1, state.MaxLimit)
	return int(n), err
}

// queryTime parses an optional RFC 3339 time query parameter.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(name, "want an RFC 3339 time such as 2025-01-02T15:04:05Z, got %q", v)
	}
	return t, nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(name, "want true or false, got %q", v)
	}
	return b, nil
}

// etag is the entity tag of a snapshot version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// entityTag is one parsed entity-tag (RFC 9110 section 8.8.3).
type entityTag struct {
	weak   bool
	opaque string // between the quotes
}

// parseETagList parses a conditional header's value: "*" (star true), or a
// comma-separated list of entity tags, each [W/]"<etagc>*". Anything else
// (an unquoted tag, a stray character) is an error naming the header.
func parseETagList(name, h string) (tags []entityTag, star bool, err error) {
	bad := func() error {
		return badRequest(name, `want "*" or entity tags in double quotes, such as "3" (RFC 9110), got %q`, h)
	}
	s := strings.TrimSpace(h)
	if s == "*" {
		return nil, true, nil
	}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == ',' { // empty list elements are allowed (RFC 9110 5.6.1)
			s = s[1:]
			continue
		}
		var t entityTag
		if strings.HasPrefix(s, "W/") {
			t.weak, s = true, s[2:]
		}
		if len(s) < 2 || s[0] != '"' {
			return nil, false, bad()
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false, bad()
		}
		t.opaque = s[1 : 1+end]
		for i := 0; i < len(t.opaque); i++ {
			// etagc = %x21 / %x23-7E / obs-text
			if c := t.opaque[i]; c < 0x21 || c == 0x7f {
				return nil, false, bad()
			}
		}
		tags = append(tags, t)
		s = strings.TrimLeft(s[2+end:], " \t")
		if s != "" && s[0] != ',' {
			return nil, false, bad()
		}
	}
	if len(tags) == 0 {
		return nil, false, bad()
	}
	return tags, false, nil
}

// errWeakIfMatch is the 412 of an If-Match that holds only weak tags:
// If-Match compares strongly (RFC 9110 13.1.1), so they never match.
var errWeakIfMatch = &statusError{http.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
	`If-Match holds only weak entity tags (W/"…"), which never match: If-Match uses the strong comparison (RFC 9110 13.1.1); send the ETag as it was given, such as "3"`}

// parseIfMatch reads an If-Match header into an expected version: nil when
// absent or "*" (any current version). Weak tags never match (a list of
// only weak tags is a 412); the strong tags left must name one version.
func parseIfMatch(h string) (*int64, error) {
	if strings.TrimSpace(h) == "" {
		return nil, nil
	}
	tags, star, err := parseETagList("If-Match", h)
	if err != nil || star {
		return nil, err
	}
	var want *int64
	for _, t := range tags {
		if t.weak {
			continue
		}
		n, err := strconv.ParseInt(t.opaque, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != t.opaque {
			return nil, badRequest("If-Match", `want one version as an entity tag, such as "3" ("0": no snapshot yet), got %q`, h)
		}
		if want != nil && *want != n {
			return nil, badRequest("If-Match", `names several versions (%q); an append expects one: send the latest ETag you read`, h)
		}
		want = &n
	}
	if want == nil {
		return nil, errWeakIfMatch
	}
	return want, nil
}

// noneMatch reports whether an If-None-Match header matches the entity tag
// tag of a current representation: "*" matches any, a list matches when
// one of its tags does by the weak comparison (RFC 9110 13.1.2). An
// absent header matches nothing; a garbled one is an error.
func noneMatch(h, tag string) (bool, error) {
	if strings.TrimSpace(h) == "" {
		return false, nil
	}
	tags, star, err := parseETagList("If-None-Match", h)
	if err != nil || star {
		return star, err
	}
	for _, t := range tags {
		if `"`+t.opaque+`"` == tag {
			return true, nil
		}
	}
	return false, nil
}

// MaxIdempotencyKeyLen bounds an Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

// validateIdempotencyKey checks a key: 1–255 visible ASCII characters.
func validateIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return badRequest("Idempotency-Key", "longer than %d characters", MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return badRequest("Idempotency-Key", "character %d is not visible ASCII", i)
		}
	}
	return nil
}

// splitAppend is decodeBody for the append body, {"state": …, "metadata":
// …}, without reflection: one pass of json.Valid, then a walk over the
// object's members taking each value's bytes as they are (what a
// json.RawMessage field gets). It answers only what it is sure of: ok is
// false for a body that is not valid JSON or not an object, a key other
// than exactly "state" or "metadata" (unknown, another case, escaped), and
// the caller then decodes with decodeBody, which gives the same result or
// the precise error (with ok false, st and md are nil). A repeated key is
// not ok either (decodeBody refuses it). It checks nothing inside the
// values: run checkStrict on an ok body.
//
// It exists for the hottest route: decodeBody costs a scan, reflection and
// a copy per value; this, a scan and a walk (measured in
// BenchmarkDecodeAppend).
func splitAppend(body []byte) (st, md json.RawMessage, ok bool) {
	if !state.ValidJSON(body) {
		return nil, nil, false
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, nil, false
	}
	i = skipSpace(body, i+1)
	if body[i] == '}' {
		return nil, nil, true
	}
	for {
		// A valid object: a key string, a colon, a value, then , or }.
		k := i + 1
		e := k
		for body[e] != '"' {
			if body[e] == '\\' {
				return nil, nil, false
			}
			e++
		}
		i = skipSpace(body, e+1) + 1 // past the colon
		v := skipSpace(body, i)
		end := skipValue(body, v)
		switch string(body[k:e]) {
		case "state":
			if st != nil {
				return nil, nil, false // a duplicate: decodeBody refuses it
			}
			st = body[v:end:end]
		case "metadata":
			if md != nil {
				return nil, nil, false
			}
			md = body[v:end:end]
		default:
			return nil, nil, false
		}
		i = skipSpace(body, end)
		if body[i] == '}' {
			return st, md, true
		}
		i = skipSpace(body, i+1) // past the comma
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], in a
// document already known to be valid.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 { // the end of a scalar: the enclosing object's }
				return i
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// metadataFilter reads the metadata.<key>=<value> query parameters into a
// metadata filter (state.ListOptions.Metadata): a value that is a JSON
// literal is read as one (metadata.n=3 is the number 3, metadata.ok=true
// the boolean, metadata.name="3" the string "3"), any other is a string.
// A key given twice is refused (400). Parameters the route does not take
// never reach it: the route refused them (query.go), so that a misspelt
// filter never returns everything.
func metadataFilter(r *http.Request) (json.RawMessage, error) {
	q := r.URL.Query()
	filter := map[string]json.RawMessage{}
	for name, vals := range q {
		key, ok := strings.CutPrefix(name, "metadata.")
		if !ok {
			continue
		}
		if key == "" {
			return nil, badRequest(name, "names no metadata key: use metadata.<key>=<value>")
		}
		if len(vals) > 1 {
			return nil, badRequest(name, "given %d times; a key matches one value", len(vals))
		}
		v := strings.TrimSpace(vals[0])
		if v != "" && state.ValidJSON([]byte(v)) {
			filter[key] = json.RawMessage(v)
		} else {
			b, _ := json.Marshal(vals[0])
			filter[key] = b
		}
	}
	if len(filter) == 0 {
		return nil, nil
	}
	if len(filter) > state.MaxFilterKeys {
		return nil, badRequest("metadata", "%d metadata keys: at most %d", len(filter), state.MaxFilterKeys)
	}
	b, err := json.Marshal(filter)
	if err != nil {
		return nil, badRequest("metadata", "%v", err)
	}
	return b, nil
}
