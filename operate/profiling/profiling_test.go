package profiling

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const token = "t0ken"

// get serves one request through h, as a server would.
func get(t *testing.T, h http.Handler, method, path, tok string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestMountOnPrivateMux(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux, &Options{Token: token})
	code, body := get(t, mux, "GET", "/debug/pprof/", token)
	if code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
		t.Fatalf("index: %d %.200q", code, body)
	}
	for _, c := range []struct {
		method, path string
		want         string // in the body
	}{
		{"GET", "/debug/pprof/cmdline", "profiling.test"},
		{"GET", "/debug/pprof/goroutine?debug=2", "goroutine "},
		{"GET", "/debug/pprof/heap?debug=1", "heap profile"},
		{"GET", "/debug/pprof/allocs", ""},
		{"GET", "/debug/pprof/profile?seconds=1", ""},
		{"GET", "/debug/pprof/trace?seconds=0.2", ""},
		{"GET", "/debug/pprof/symbol", "num_symbols"},
		{"POST", "/debug/pprof/symbol", "num_symbols"},
	} {
		code, body := get(t, mux, c.method, c.path, token)
		if code != 200 || body == "" || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %.100q, want 200 with %q", c.method, c.path, code, body, c.want)
		}
		if code, _ := get(t, mux, c.method, c.path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d, want 401", c.method, c.path, code)
		}
		if code, _ := get(t, mux, c.method, c.path, "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d, want 401", c.method, c.path, code)
		}
	}
	if code, _ := get(t, mux, "GET", "/debug/pprof/nosuch", token); code != http.StatusNotFound {
		t.Errorf("unknown profile: %d, want 404", code)
	}
}

// TestDefaultServeMuxNotServed: Go registers net/http/pprof on
// http.DefaultServeMux (the package doc says so, and how it is kept off
// the network); a private mux never falls back to it.
func TestDefaultServeMuxNotServed(t *testing.T) {
	req := httptest.NewRequest("GET", "/debug/pprof/", nil)
	if _, pattern := http.DefaultServeMux.Handler(req); pattern != "GET /debug/pprof/" {
		t.Errorf("http.DefaultServeMux has %q for /debug/pprof/: net/http/pprof changed, and the package doc must say what it does now", pattern)
	}
	http.DefaultServeMux.HandleFunc("GET /only-on-default", func(w http.ResponseWriter, r *http.Request) {})

	mux := http.NewServeMux()
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/only-on-default"} {
		if code, _ := get(t, mux, "GET", path, ""); code != http.StatusNotFound {
			t.Errorf("%s on a mux without Mount: %d, want 404", path, code)
		}
	}
	Mount(mux, nil) // no token: open
	if code, _ := get(t, mux, "GET", "/debug/pprof/", ""); code != 200 {
		t.Errorf("index without a token configured: %d, want 200", code)
	}
	if code, _ := get(t, mux, "GET", "/only-on-default", ""); code != http.StatusNotFound {
		t.Errorf("/only-on-default: %d, want 404", code)
	}
}

// TestMountUnderBase: under the dashboard's path, with its cookie.
func TestMountUnderBase(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux, &Options{Token: token, Cookie: "livedash_token", Base: "/dashboard"})
	req := httptest.NewRequest("GET", "/dashboard/debug/pprof/heap?debug=1", nil)
	req.AddCookie(&http.Cookie{Name: "livedash_token", Value: token})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "heap profile") {
		t.Errorf("heap under /dashboard with the cookie: %d %.100q", w.Code, w.Body.String())
	}
	if code, body := get(t, mux, "GET", "/dashboard/debug/pprof/", token); code != 200 || !strings.Contains(body, `href="goroutine?debug=2"`) {
		t.Errorf("index under /dashboard: %d %.300q", code, body)
	}
	if code, _ := get(t, mux, "GET", "/dashboard/debug/pprof/goroutine", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token or the cookie: %d, want 401", code)
	}
	if code, _ := get(t, mux, "GET", "/debug/pprof/", token); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ with only Base mounted: %d, want 404", code)
	}
	for _, base := range []string{"dashboard", "/dashboard/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Base %q did not panic", base)
				}
			}()
			Mount(http.NewServeMux(), &Options{Base: base})
		}()
	}
}
