package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// authorize checks the bearer token a route needs and answers 401/403 when
// it is missing or wrong. It reports whether the request may proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	if !isAPI(path) {
		return true // /healthz, /readyz, /metrics
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// Which one would count is a guess, and a proxy may have added
		// one: refuse rather than pick, whichever comes first.
		problem(w, http.StatusBadRequest, "ambiguous-authorization", "Bad request",
			"the request has more than one Authorization header; send exactly one: Authorization: Bearer <token>")
		return false
	}
	api, admin := s.cfg.APIToken, s.cfg.AdminToken
	// The tokens' hashes, made once by New (tokenHashes).
	var accepted []*[sha256.Size]byte
	switch {
	case isAdmin(path) && admin != "":
		accepted = []*[sha256.Size]byte{&s.adminHash}
	case isAdmin(path) && api != "":
		accepted = []*[sha256.Size]byte{&s.apiHash}
	case !isAdmin(path) && api != "":
		accepted = []*[sha256.Size]byte{&s.apiHash}
		if admin != "" {
			accepted = append(accepted, &s.adminHash)
		}
	default:
		// No token configured for this route: only a loopback Host, so
		// that a web page cannot reach the server through a DNS name
		// rebound to 127.0.0.1.
		if name := hostName(r.Host); r.Host == "" || loopbackName(name) || s.allowedHost(name) {
			return true
		}
		problem(w, http.StatusForbidden, "host-not-allowed", "Forbidden",
			fmt.Sprintf("Host %q is not a loopback name: a server without tokens answers only requests for localhost, 127.0.0.1, [::1] and the names in --allow-host, so that web pages cannot reach it through DNS rebinding; give it --api-token, or list the name in --allow-host", r.Host))
		return false
	}
	got, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cortex"`)
		problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"this route needs an Authorization: Bearer <token> header")
		return false
	}
	g := sha256.Sum256([]byte(got))
	for _, h := range accepted {
		if hashEqual(&g, h) {
			return true
		}
	}
	if isAdmin(path) && admin != "" && api != "" && hashEqual(&g, &s.apiHash) {
		problem(w, http.StatusForbidden, "forbidden", "Forbidden",
			"the API token does not grant /v1/admin; use the admin token")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="cortex", error="invalid_token"`)
	problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", "the bearer token is not valid for this route")
	return false
}

// isAPI reports whether path is under /v1, the routes tokens guard.
func isAPI(path string) bool { return strings.HasPrefix(path, "/v1/") || path == "/v1" }

// hostName is a Host header's name: without its port and an IPv6
// address's brackets.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// allowedHost reports whether a host name is one of Config.AllowedHosts,
// or they hold "*".
func (s *Server) allowedHost(name string) bool {
	for _, a := range s.cfg.AllowedHosts {
		if a == "*" || strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// loopbackName reports whether a host name names this machine's loopback
// interface: localhost or a loopback IP. (An empty Host, of HTTP/1.0,
// passes too: browsers always send one.)
func loopbackName(name string) bool {
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

// Tokens are compared by their SHA-256 hashes in constant time: hashing
// first makes the comparison's time independent of the tokens' lengths
// too. The configured tokens are hashed once, by New (tokenHashes), the
// request's once per request.

// tokenHashes hashes the configured tokens for authorize.
func (s *Server) tokenHashes() {
	s.apiHash = sha256.Sum256([]byte(s.cfg.APIToken))
	s.adminHash = sha256.Sum256([]byte(s.cfg.AdminToken))
}

// hashEqual compares two token hashes in constant time.
func hashEqual(a, b *[sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
