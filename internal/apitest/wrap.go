package apitest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
)

// Middleware returns h wrapped so that every request it serves, and its
// answer, is checked against the document; a mismatch fails t (t.Errorf,
// from the handler's goroutine: the server must be closed before the test
// ends, as httptest.Server's Close in a t.Cleanup does).
func Middleware(t testing.TB, h http.Handler) http.Handler {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Keep the body as the server reads it: reading ahead would change
		// what the server sees (a body that arrives slowly).
		var reqBody bytes.Buffer
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &teeBody{rc: r.Body, buf: &reqBody}
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		x := Exchange{Request: r, RequestBody: reqBody.Bytes(), Status: rec.status, Header: rec.header, Body: rec.body.Bytes(), Truncated: rec.truncated}
		if x.Header == nil {
			x.Header = w.Header().Clone()
		}
		if err := Check(x); err != nil {
			t.Errorf("OpenAPI contract: %v", err)
		}
	})
}

// teeBody keeps (up to maxBody of) what is read of a request's body.
type teeBody struct {
	rc  io.ReadCloser
	buf *bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.buf.Len()+n <= maxBody {
		b.buf.Write(p[:n])
	}
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// recorder passes an answer through and keeps its status, headers and
// (up to maxBody) body. Unwrap lets http.ResponseController reach the
// connection (flushes, write deadlines of event streams).
type recorder struct {
	http.ResponseWriter
	status    int
	header    http.Header
	body      bytes.Buffer
	truncated bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.body.Len()+len(b) <= maxBody {
		r.body.Write(b)
	} else {
		r.truncated = true
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Transport returns a RoundTripper that sends requests through base (nil:
// http.DefaultTransport) and checks each exchange against the document
// once its answer's body has been read to its end or closed; report gets
// every mismatch (t.Errorf, or a Load's error list).
func Transport(base http.RoundTripper, report func(error)) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, report: report}
}

type transport struct {
	base   http.RoundTripper
	report func(error)
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, err := load(); err != nil {
		return nil, err
	}
	var reqBody []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(b))
		r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		r2.ContentLength = int64(len(b))
		r = r2
	}
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return res, err
	}
	res.Body = &checkedBody{rc: res.Body, done: func(body []byte, complete bool) {
		x := Exchange{Request: r, RequestBody: reqBody, Status: res.StatusCode, Header: res.Header, Body: body, Truncated: !complete}
		if err := Check(x); err != nil {
			t.report(err)
		}
	}}
	return res, nil
}

// checkedBody keeps what is read of an answer's body and calls done once,
// at its end or when it is closed before (complete false).
type checkedBody struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	over bool
	once sync.Once
	done func(body []byte, complete bool)
}

func (b *checkedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.buf.Len()+n <= maxBody {
		b.buf.Write(p[:n])
	} else {
		b.over = true
	}
	if err == io.EOF {
		b.once.Do(func() { b.done(b.buf.Bytes(), !b.over) })
	}
	return n, err
}

func (b *checkedBody) Close() error {
	b.once.Do(func() { b.done(b.buf.Bytes(), false) })
	return b.rc.Close()
}
