package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// Assets holds the dashboard: static/index.html, static/app.js and
// static/style.css. It refers to nothing outside the distributor.
//
//go:embed static
var Assets embed.FS

// contentSecurityPolicy allows the dashboard's own script, style and API,
// and nothing else.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var staticFS = func() fs.FS {
	sub, err := fs.Sub(Assets, "static")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}()

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, staticFS, "index.html")
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("Cache-Control", "no-cache")
	http.StripPrefix("/static/", http.FileServerFS(staticFS)).ServeHTTP(w, r)
}
