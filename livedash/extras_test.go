package livedash

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Options.TracesOff gives a Traces page that says why there are no
// traces; Options.Profiles adds the Runtime page's links while it says
// the profiles are served; Options.Level serves the level behind the
// token, PUT included, and adds the Logs page's control.
func TestPageExtras(t *testing.T) {
	const token = "extras-token"
	var served atomic.Bool
	var puts atomic.Int32
	level := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		io.WriteString(w, `{"level":"info"}`)
	})
	_, srv := newTestDashboard(t, &Options{Token: token, TracesOff: `Import "x/otlp" <now>.`, Profiles: served.Load, Level: level})
	do := func(method, path string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+DefaultPath+path, strings.NewReader(`{"level":"debug"}`))
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if _, home := do("GET", "/", true); !strings.Contains(home, `href="/dashboard/traces"`) {
		t.Error("no Traces tab with TracesOff")
	}
	if code, page := do("GET", "/traces", true); code != 200 || !strings.Contains(page, `data-traces-off="Import &#34;x/otlp&#34; &lt;now&gt;."`) {
		t.Errorf("GET /traces = %d:\n%s", code, page)
	}
	if code, _ := do("GET", "/api/stream?page=traces", false); code != 401 {
		t.Errorf("the Traces page's stream without the token: %d", code)
	}

	if _, page := do("GET", "/runtime", true); strings.Contains(page, "data-profiles") {
		t.Error("profile links while Profiles says they are not served")
	}
	served.Store(true)
	if _, page := do("GET", "/runtime", true); !strings.Contains(page, `data-profiles="1"`) {
		t.Error("no profile links while Profiles says they are served")
	}
	if _, page := do("GET", "/http", true); strings.Contains(page, "data-profiles") {
		t.Error("profile links outside the Runtime page")
	}

	if code, _ := do("PUT", "/api/level", false); code != 401 || puts.Load() != 0 {
		t.Errorf("PUT /api/level without the token: %d, %d reached the handler", code, puts.Load())
	}
	if code, body := do("PUT", "/api/level", true); code != 200 || body != `{"level":"info"}` || puts.Load() != 1 {
		t.Errorf("PUT /api/level = %d %q, %d reached the handler", code, body, puts.Load())
	}
	if code, _ := do("PUT", "/api/logs", true); code != 405 {
		t.Errorf("PUT elsewhere = %d, want 405", code)
	}
	if _, page := do("GET", "/logs", true); !strings.Contains(page, `data-level="1"`) {
		t.Error("no level control on the Logs page")
	}

	// Without them: none of it.
	_, plain := newTestDashboard(t, nil)
	for _, path := range []string{"/traces", "/api/level"} {
		resp, err := http.Get(plain.URL + DefaultPath + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s without its option = %d, want 404", path, resp.StatusCode)
		}
	}
}
