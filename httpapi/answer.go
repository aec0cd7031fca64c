package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cortex-db/cortex/state"
)

// The hot path's answer: an append's 201, written without reflection or a
// per-request buffer. Its bytes are those of writeJSON (TestAppendAnswer
// compares them over many results).

// Header values shared by every answer: net/http only reads them, and a
// slice of length and capacity 1 is copied, not changed, by Header.Add.
var (
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
)

// answerBufs are the buffers appended answers are encoded into; w.Write
// copies them out before they go back.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeAppended answers a single append: ETag, Location and the result,
// as writeJSON(w, 201, res) with those headers set would.
func writeAppended(w http.ResponseWriter, id string, res state.AppendResult) {
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	body, ok := appendResultJSON((*bp)[:0], res)
	if !ok {
		setAppendedHeaders(w.Header(), id, res)
		writeJSON(w, http.StatusCreated, res)
		return
	}
	*bp = body[:0]
	h := w.Header()
	setAppendedHeaders(h, id, res)
	h["Content-Type"] = jsonContentType
	// States are stored as sent: no browser may take one for HTML.
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

// setAppendedHeaders sets an append's ETag, Location and
// Idempotent-Replayed: the two values are slices of one string, in one
// slice of two.
func setAppendedHeaders(h http.Header, id string, res state.AppendResult) {
	var b [160]byte
	v := strconv.AppendInt(append(b[:0], '"'), res.Version, 10)
	v = append(v, '"')
	tagEnd := len(v)
	v = append(v, "/v1/sessions/"...)
	v = append(v, id...)
	v = append(v, "/snapshots/"...)
	v = strconv.AppendInt(v, res.Version, 10)
	s := string(v)
	vals := []string{s[:tagEnd], s[tagEnd:]}
	h["Etag"] = vals[0:1:1]
	h["Location"] = vals[1:2:2]
	if res.Replayed {
		h["Idempotent-Replayed"] = []string{"true"}
	}
}

// appendResultJSON appends res as marshal encodes it (one line, a
// newline after it); ok is false for what it does not encode the same way
// (a string that needs escaping, a year outside 0–9999): the caller then
// uses marshal.
func appendResultJSON(b []byte, res state.AppendResult) ([]byte, bool) {
	if !plainJSONString(res.SessionID) || !plainJSONString(res.Key) {
		return b, false
	}
	if y := res.CreatedAt.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, `{"session_id":"`...)
	b = append(b, res.SessionID...)
	b = append(b, `","version":`...)
	b = strconv.AppendInt(b, res.Version, 10)
	b = append(b, `,"created_at":"`...)
	b = res.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","size_bytes":`...)
	b = strconv.AppendInt(b, res.SizeBytes, 10)
	if res.Key != "" {
		b = append(b, `,"key":"`...)
		b = append(b, res.Key...)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	return b, true
}

// plainJSONString reports whether s is its own JSON string body: printable
// ASCII without quote or backslash (ids and keys always are).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
