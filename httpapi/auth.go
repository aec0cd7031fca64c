package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorize checks the bearer token a route needs and answers 401/403 when
// it is missing or wrong. It reports whether the request may proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	if !strings.HasPrefix(path, "/v1/") && path != "/v1" {
		return true // /healthz, /readyz, /metrics
	}
	api, admin := s.cfg.APIToken, s.cfg.AdminToken
	var accepted []string
	switch {
	case isAdmin(path) && admin != "":
		accepted = []string{admin}
	case isAdmin(path) && api != "":
		accepted = []string{api}
	case !isAdmin(path) && api != "":
		accepted = []string{api, admin}
	default:
		return true // no token configured for this route
	}
	got, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cortex"`)
		problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"this route needs an Authorization: Bearer <token> header")
		return false
	}
	for _, t := range accepted {
		if t != "" && tokenEqual(got, t) {
			return true
		}
	}
	if isAdmin(path) && admin != "" && api != "" && tokenEqual(got, api) {
		problem(w, http.StatusForbidden, "forbidden", "Forbidden",
			"the API token does not grant /v1/admin; use the admin token")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="cortex", error="invalid_token"`)
	problem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", "the bearer token is not valid for this route")
	return false
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

// tokenEqual compares two tokens in constant time. Hashing first makes the
// comparison's time independent of the tokens' lengths too.
func tokenEqual(got, want string) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
