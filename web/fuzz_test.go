package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzAPI sends the distributor's HTTP API any method, path, token and
// body. Without the right token every /api and /metrics request is
// refused with 401 (or redirected to its cleaned path) before the backend
// is called; with it, the answer is never a 5xx (the fake backend does
// not fail) and nothing panics.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), "/api/receivers", "Bearer s3cret", []byte(`{"receivers":[{"address":"0x0003","image_index":1}]}`))
	f.Add(uint8(0), "/api/start", "Bearer s3cret", []byte(`{"image_index":0,"ttl":5,"policy":"verify","mode":"push","group":"0xC000"}`))
	f.Add(uint8(0), "/api/images", "Bearer s3cret", []byte("MDFU\x00garbage"))
	f.Add(uint8(2), "/api/images/0", "Bearer s3cret", []byte(nil))
	f.Add(uint8(1), "/api/status", "Bearer wrong", []byte(nil))
	f.Add(uint8(0), "/api/cancel", "", []byte("{}"))
	f.Fuzz(func(t *testing.T, m uint8, path, auth string, body []byte) {
		if strings.HasPrefix(path, "/api/events") || !strings.HasPrefix(path, "/") {
			return // a stream that stays open; not a path
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		fake := newFake()
		s, err := New(Config{Backend: fake, Token: "s3cret", PollInterval: time.Hour, MaxImageSize: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		method := []string{"POST", "GET", "DELETE", "PUT"}[m%4]
		req := httptest.NewRequest(method, "http://127.0.0.1:8080/", strings.NewReader(string(body)))
		req.URL.Path, req.URL.RawQuery = path, ""
		if strings.ContainsAny(auth, "\r\n\x00") {
			auth = ""
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		clean := req.URL.Path
		guarded := strings.HasPrefix(clean, "/api/") || clean == "/metrics"
		switch {
		case guarded && auth != "Bearer s3cret" && w.Code != http.StatusUnauthorized && (w.Code < 300 || w.Code > 399):
			// (a redirect to the cleaned path, "/api/." → "/api/", is the
			// router's and carries nothing)
			t.Fatalf("%s %q with Authorization %q: %d, want 401", method, path, auth, w.Code)
		case guarded && auth != "Bearer s3cret" && len(fake.calls) != 0:
			t.Fatalf("%s %q without the token reached the backend: %v", method, path, fake.calls)
		case w.Code >= 500:
			t.Fatalf("%s %q: %d %s", method, path, w.Code, w.Body)
		}
	})
}
