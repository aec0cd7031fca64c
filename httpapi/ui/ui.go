// Package ui is the operations console of cortex serve: static files
// (HTML, CSS, JavaScript and the vendored libraries listed in
// static/vendor/VENDORED.md) embedded in the binary and served at /ui/.
// No build step: the files are served as they are in static/.
//
// The console holds no secret and no data of its own: it calls the same
// /v1 API as any client, with the token the operator types (kept in the
// tab's sessionStorage, sent as an Authorization header). Every answer
// here carries a strict Content-Security-Policy (scripts, styles and
// connections from this origin only, no inline script, no framing).
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every console answer: everything
// from this origin only, no inline script or style element, no plugins,
// no <base>, forms only to this origin, and no framing by any page.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Files are the console's files, rooted at static/.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded folder is there by construction
	}
	return sub
}

// Handler serves the console under prefix (such as "/ui/"), with the
// security headers and an ETag (a hash of the file) on each file.
func Handler(prefix string) http.Handler {
	files := Files()
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		name := strings.TrimPrefix(r.URL.Path, prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		if tag, ok := etags[name]; ok {
			h.Set("ETag", tag)
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		r2.URL.RawPath = ""
		if strings.HasSuffix(name, "index.html") {
			// FileServer redirects /index.html to ./; serve the file.
			serveIndex(w, r2, files, name)
			return
		}
		fileServer.ServeHTTP(w, r2)
	})
}

// serveIndex serves an index.html itself (http.FileServer would redirect
// a request naming it).
func serveIndex(w http.ResponseWriter, r *http.Request, files fs.FS, name string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, name, time.Time{}, strings.NewReader(string(b)))
}
