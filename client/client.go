package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	segjson "github.com/segmentio/encoding/json"
)

// Retry defaults (RetryPolicy's zero fields).
const (
	// DefaultMaxAttempts is how many times a request is sent at most.
	DefaultMaxAttempts = 4
	// DefaultMinBackoff is the first wait before a retry without
	// Retry-After; it doubles on each retry, with jitter.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff bounds every wait, Retry-After included.
	DefaultMaxBackoff = 5 * time.Second
)

// RetryPolicy says how a Client retries. Zero fields mean the defaults
// beside them.
type RetryPolicy struct {
	// MaxAttempts is how many times a request is sent at most, the first
	// included (default DefaultMaxAttempts; 1: never retry).
	MaxAttempts int
	// MinBackoff is the first wait without a Retry-After (default
	// DefaultMinBackoff); MaxBackoff bounds every wait (default
	// DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
}

// Client calls a cortex server. Build it with New; it is safe for
// concurrent use.
type Client struct {
	base      string
	token     string
	auth, ua  []string // header values made once
	hc        *http.Client
	retry     RetryPolicy
	autoKeys  bool
	userAgent string
}

// An Option configures a Client.
type Option func(*Client)

// WithToken sends token as "Authorization: Bearer <token>" on every
// request (cortex serve --api-token, or --admin-token for /v1/admin).
// An empty token sends none.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses hc for every request instead of a client of the
// package's own (net/http's default transport, no overall timeout: bound
// calls with their context). Event streams last as long as the watch: an
// hc with a Timeout ends them, and Watch then reconnects.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetry sets the retry policy (see RetryPolicy; MaxAttempts 1 turns
// retries off).
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithIdempotencyKeys turns the automatic Idempotency-Key of appends and
// batch items on (the default) or off. Without keys an append whose answer
// was lost to a network failure is not retried (it may have been applied).
func WithIdempotencyKeys(on bool) Option { return func(c *Client) { c.autoKeys = on } }

// WithUserAgent sets the User-Agent header (default "cortex-go-client").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (http://127.0.0.1:8080;
// a path prefix, for a server behind a proxy, is kept). It fails on a URL
// that is not http(s)://host[:port][/prefix].
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("cortex client: base URL %q: want http://host:port", baseURL)
	}
	c := &Client{base: strings.TrimSuffix(u.String(), "/"), hc: &http.Client{}, autoKeys: true, userAgent: "cortex-go-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.token != "" {
		c.auth = []string{"Bearer " + c.token}
	}
	c.ua = []string{c.userAgent}
	if c.retry.MaxAttempts <= 0 {
		c.retry.MaxAttempts = DefaultMaxAttempts
	}
	if c.retry.MinBackoff <= 0 {
		c.retry.MinBackoff = DefaultMinBackoff
	}
	if c.retry.MaxBackoff <= 0 {
		c.retry.MaxBackoff = DefaultMaxBackoff
	}
	return c, nil
}

// call is one API request.
type call struct {
	method, path string // path: escaped, with its query
	body         []byte // JSON; nil: none
	// ifMatch and idemKey are the If-Match and Idempotency-Key headers
	// ("": none).
	ifMatch, idemKey string
	// idempotent: safe to send again after a network failure.
	idempotent bool
	// ok are the statuses that are answers (others are errors).
	ok []int
}

// response is an answer of one of call's ok statuses.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends c, retrying as the policy says, and returns the answer of an
// ok status; any other answer is an *Error.
func (c *Client) do(ctx context.Context, cl call) (response, error) {
	for attempt := 1; ; attempt++ {
		res, err := c.once(ctx, cl)
		wait, retry := c.retryable(cl, res, err, attempt)
		if !retry {
			return res, err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return response{}, errors.Join(serr, err)
		}
	}
}

// retryable says whether and after how long to send cl again after the
// attempt-th try answered res or err.
func (c *Client) retryable(cl call, res response, err error, attempt int) (time.Duration, bool) {
	if err == nil || attempt >= c.retry.MaxAttempts {
		return 0, false
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Status != http.StatusServiceUnavailable && e.Status != http.StatusTooManyRequests {
			return 0, false
		}
		if e.RetryAfter > 0 {
			return min(e.RetryAfter, c.retry.MaxBackoff), true
		}
		return c.backoff(attempt), true
	}
	var ne networkError
	if errors.As(err, &ne) && cl.idempotent {
		return c.backoff(attempt), true
	}
	return 0, false
}

// backoff is the attempt-th wait: MinBackoff doubled per attempt, at most
// MaxBackoff, with full jitter above half of it.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.MinBackoff << min(attempt-1, 20)
	if d <= 0 || d > c.retry.MaxBackoff {
		d = c.retry.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("cortex client: no time left for a retry before the context's deadline: %w", context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// networkError is a failure to send a request or read its answer: the
// server may or may not have acted on it.
type networkError struct{ err error }

func (e networkError) Error() string { return e.err.Error() }
func (e networkError) Unwrap() error { return e.err }

// once sends cl once.
func (c *Client) once(ctx context.Context, cl call) (response, error) {
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, body)
	if err != nil {
		return response{}, fmt.Errorf("cortex client: %s %s: %w", cl.method, cl.path, err)
	}
	c.setHeaders(req, cl)
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return response{}, fmt.Errorf("cortex client: %s %s: %w", cl.method, cl.path, ctx.Err())
		}
		return response{}, fmt.Errorf("cortex client: %s %s: %w", cl.method, cl.path, networkError{err})
	}
	defer res.Body.Close()
	b, err := readBody(res)
	if err != nil {
		if ctx.Err() != nil {
			return response{}, fmt.Errorf("cortex client: %s %s: %w", cl.method, cl.path, ctx.Err())
		}
		return response{}, fmt.Errorf("cortex client: %s %s: read the answer: %w", cl.method, cl.path, networkError{err})
	}
	for _, s := range cl.ok {
		if res.StatusCode == s {
			return response{status: s, header: res.Header, body: b}, nil
		}
	}
	return response{status: res.StatusCode, header: res.Header}, newError(cl.method, pathOnly(cl.path), res, b)
}

// Header values shared by every request (net/http never modifies them).
var (
	jsonType = []string{"application/json"}
	sseType  = []string{"text/event-stream"}
)

// setHeaders sets a request's headers, straight into the map under their
// canonical names: this is the load generator's hot path too.
func (c *Client) setHeaders(req *http.Request, cl call) {
	h := req.Header
	if cl.body != nil {
		h["Content-Type"] = jsonType
	}
	if c.auth != nil {
		h["Authorization"] = c.auth
	}
	h["User-Agent"] = c.ua
	if cl.ifMatch != "" {
		h["If-Match"] = []string{cl.ifMatch}
	}
	if cl.idemKey != "" {
		h["Idempotency-Key"] = []string{cl.idemKey}
	}
}

// readBody reads an answer's body whole, into one buffer of its
// Content-Length when it has one.
func readBody(res *http.Response) ([]byte, error) {
	if n := res.ContentLength; n >= 0 && n <= 64<<20 {
		b := make([]byte, n)
		if _, err := io.ReadFull(res.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(res.Body)
}

// pathOnly is a path without its query.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// retryAfter reads a Retry-After of seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// newKey returns a fresh idempotency key: 128 random bits.
func newKey() string {
	var b [16]byte
	crand.Read(b[:]) // crypto/rand.Read never fails
	return "cx-" + hex.EncodeToString(b[:])
}

// decode unmarshals an answer's body into v. It parses with
// github.com/segmentio/encoding/json (the module's JSON validator already),
// several times faster than encoding/json, without copying: the body is
// this answer's own buffer, so strings and raw messages point into it.
func decode(res response, v any, method, path string) error {
	if _, err := segjson.Parse(res.body, v, segjson.ZeroCopy); err != nil {
		return fmt.Errorf("cortex client: %s %s: decode the answer: %w", method, pathOnly(path), err)
	}
	return nil
}

// esc escapes a path segment.
func esc(s string) string { return url.PathEscape(s) }
