package livedash

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/metricsink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// trafficSource is a Source whose counters grow with time, like a
// registry under steady traffic: 10 requests a second, one a 500.
type trafficSource struct {
	calls atomic.Int64
	once  sync.Once
	start time.Time
}

func (s *trafficSource) Snapshot() []Family {
	s.calls.Add(1)
	s.once.Do(func() { s.start = time.Now() })
	n := time.Since(s.start).Seconds() * 1000 // milli-units, so that counts stay whole
	n = math.Round(n) / 1000
	inf := math.Inf(1)
	kv := func(kvs ...string) []metricsink.Tag {
		var ts []metricsink.Tag
		for i := 0; i < len(kvs); i += 2 {
			ts = append(ts, metricsink.Tag{Key: kvs[i], Value: kvs[i+1]})
		}
		return ts
	}
	c := uint64(n * 1000)
	return []Family{
		{Name: famHTTPCount, Type: "counter", Help: "HTTP requests.", Series: []Series{
			{Labels: kv("route", "POST /api", "method", "POST", "status", "201"), Value: 9 * n},
			{Labels: kv("route", "POST /api", "method", "POST", "status", "500"), Value: n},
		}},
		{Name: famHTTPDuration, Type: "histogram", Help: "HTTP request duration.", Unit: "seconds", Series: []Series{
			{Labels: kv("route", "POST /api", "method", "POST", "status", "201"), Count: 9 * c, Sum: n,
				Buckets: []Bucket{{UpperBound: 0.1, Count: 8 * c}, {UpperBound: 0.5, Count: 9 * c}, {UpperBound: inf, Count: 9 * c}}},
		}},
		{Name: famDBCount, Type: "counter", Series: []Series{{Labels: kv("source", "comments", "operation", "insert"), Value: 3 * n},
			{Labels: kv("source", "", "operation", "begin")}}},
		{Name: famDBDuration, Type: "histogram", Series: []Series{{Labels: kv("source", "comments", "operation", "insert"), Count: 3 * c,
			Buckets: []Bucket{{UpperBound: 0.01, Count: 3 * c}, {UpperBound: inf, Count: 3 * c}}}}},
		{Name: famPoolInUse, Type: "gauge", Series: []Series{{Labels: kv("db", "main"), Value: 2}}},
		{Name: famPoolMax, Type: "gauge", Series: []Series{{Labels: kv("db", "main"), Value: 4}}},
		{Name: famWSConnections, Type: "gauge", Series: []Series{{Labels: kv("channel", "video"), Value: 5}}},
		{Name: famWSMessages, Type: "counter", Series: []Series{{Labels: kv("channel", "video", "event", "comment.created", "direction", "out"), Value: 7 * n}}},
		{Name: "go_goroutines", Type: "gauge", Help: "Goroutines.", Series: []Series{{Value: 12}}},
	}
}

func newTestDashboard(t *testing.T, o *Options) (*Dashboard, *httptest.Server) {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(DefaultPath+"/", d)
	mux.Handle(DefaultPath, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		srv.Close()
	})
	return d, srv
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestPagesAndAssets(t *testing.T) {
	_, srv := newTestDashboard(t, &Options{Source: &trafficSource{}, Logs: NewRing(nil), Service: "svc"})
	weight := 0
	for _, p := range []string{"/", "/http", "/db", "/ws", "/metrics", "/logs", "/runtime"} {
		resp, err := http.Get(srv.URL + DefaultPath + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s = %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy = %q", p, csp)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("GET %s refers to another site:\n%s", p, b)
		}
		weight = max(weight, len(b))
	}
	for _, a := range []string{"app.js", "app.css"} {
		resp, err := http.Get(srv.URL + DefaultPath + "/assets/" + a)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("GET %s = %d, %d bytes", a, resp.StatusCode, len(b))
		}
		// The SVG namespace is a name, not a resource.
		if rest := strings.ReplaceAll(string(b), "'http://www.w3.org/2000/svg'", ""); strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
			t.Errorf("%s refers to another site", a)
		}
		weight += len(b)
	}
	// The heaviest page with everything it loads, uncompressed.
	if weight > 250<<10 {
		t.Errorf("page weight = %d bytes, over 250 KB", weight)
	}
	t.Logf("page weight: %d bytes", weight)

	for _, tc := range []struct {
		path string
		code int
	}{
		{DefaultPath, http.StatusFound},
		{DefaultPath + "/nope", http.StatusNotFound},
		{DefaultPath + "/assets/nope.js", http.StatusNotFound},
		{DefaultPath + "/api/stream?page=nope", http.StatusBadRequest},
		{DefaultPath + "/api/logs?limit=x", http.StatusBadRequest},
		{DefaultPath + "/api/logs?level=loud", http.StatusBadRequest},
	} {
		resp, err := noRedirect().Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	resp, err := http.Post(srv.URL+DefaultPath+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}

func TestToken(t *testing.T) {
	const token = "s3cret-token"
	_, srv := newTestDashboard(t, &Options{Token: token})
	page := srv.URL + DefaultPath + "/http"
	get := func(url string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name string
		url  string
		hdr  map[string]string
		code int
	}{
		{"none", page, nil, 401},
		{"wrong bearer", page, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"bearer prefix only", page, map[string]string{"Authorization": "Bearer " + token[:4]}, 401},
		{"bearer", page, map[string]string{"Authorization": "Bearer " + token}, 200},
		{"bearer any case", page, map[string]string{"Authorization": "bearer " + token}, 200},
		{"wrong query", page + "?token=nope", nil, 401},
		{"wrong cookie", page, map[string]string{"Cookie": CookieName + "=nope"}, 401},
		{"cookie", page, map[string]string{"Cookie": CookieName + "=" + token}, 200},
		{"assets too", srv.URL + DefaultPath + "/assets/app.js", nil, 401},
		{"stream too", srv.URL + DefaultPath + "/api/stream?page=home", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(tt.url, tt.hdr)
			if resp.StatusCode != tt.code {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
		})
	}
	// ?token= sets the cookie and sends the browser to the same page
	// without the token in its address.
	resp := get(page+"?token="+url.QueryEscape(token)+"&family=x", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("?token= status = %d, want 303", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if strings.Contains(loc, token) || !strings.HasSuffix(loc, DefaultPath+"/http?family=x") {
		t.Errorf("redirect to %q, want the page without the token", loc)
	}
	cs := resp.Cookies()
	if len(cs) != 1 || cs[0].Name != CookieName || cs[0].Value != token || !cs[0].HttpOnly ||
		cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != DefaultPath+"/" {
		t.Errorf("cookie = %+v, want %s, HttpOnly, SameSite=Strict, Path %s/", cs, CookieName, DefaultPath)
	}
}

// update is a live update as a test reads it.
type update struct {
	T    int64
	Hist *histJSON
	// Charts is the last value of each line in Hist (NaN for none).
	Charts map[string]map[string]jsonFloat
	Tables map[string][]row
	Meta   map[string]string
	Logs   []logJSON
	Traces *traceSummary
}

// histJSON is a histChunk as a test reads it.
type histJSON struct {
	T      []int64
	Charts map[string]map[string][]*float64
}

// points returns how many values line name of chart has in h.
func (h *histJSON) points(chart, name string) int {
	n := 0
	if h != nil {
		for _, v := range h.Charts[chart][name] {
			if v != nil {
				n++
			}
		}
	}
	return n
}

// event reads the next update: the data of the next server-sent event
// without a name.
func event(t *testing.T, r *bufio.Reader) *update {
	t.Helper()
	named := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		switch {
		case line == "\n":
			named = false
		case strings.HasPrefix(line, "event: "):
			named = true
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && !named {
			var tk update
			// jsonFloat has no UnmarshalJSON: tables' numbers are float64.
			if err := json.Unmarshal([]byte(data), &tk); err != nil {
				t.Fatalf("event %q: %v", data, err)
			}
			tk.Charts = map[string]map[string]jsonFloat{}
			if tk.Hist != nil {
				if len(tk.Hist.T) == 0 {
					t.Errorf("an update with a history of no point: %s", data)
				}
				for id, c := range tk.Hist.Charts {
					tk.Charts[id] = map[string]jsonFloat{}
					for k, vs := range c {
						if len(vs) != len(tk.Hist.T) {
							t.Errorf("chart %s line %s has %d values for %d times", id, k, len(vs), len(tk.Hist.T))
						}
						last := math.NaN()
						for _, v := range vs {
							if v != nil {
								last = *v
							}
						}
						tk.Charts[id][k] = jsonFloat(last)
					}
				}
			}
			return &tk
		}
	}
}

// waitTicks waits until d has sampled n times.
func waitTicks(t *testing.T, d *Dashboard, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for d.hist.now() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard sampled %d times in 20 s, want %d", d.hist.now(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openStream(t *testing.T, srv *httptest.Server, query string) (*bufio.Reader, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+DefaultPath+"/api/stream?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %s = %d %s", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
}

func TestStreams(t *testing.T) {
	src := &trafficSource{}
	ring := NewRing(nil)
	l := slog.New(ring)
	d, srv := newTestDashboard(t, &Options{Source: src, Logs: ring})
	l.Warn(SlowQueryMessage, "source", "comments", "operation", "select", "duration", 174584668*time.Nanosecond,
		"sql", "SELECT * FROM comments WHERE id = ?", "request_id", "req-1")
	l.Info("comment created", "request_id", "req-0")
	waitTicks(t, d, 3) // rates over two seconds

	t.Run("http", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=http")
		defer stop()
		tk := event(t, r)
		rate := float64(tk.Charts["rate"]["POST /api"])
		if math.Abs(rate-10) > 3 {
			t.Errorf("rate = %v, want about 10 req/s (%v)", rate, tk.Charts)
		}
		if e := float64(tk.Charts["errors"]["POST /api"]); math.Abs(e-0.1) > 0.001 {
			t.Errorf("5xx ratio = %v, want 0.1", e)
		}
		// 8 of 9 under 0.1 s: p95 is in (0.1, 0.5].
		if p := float64(tk.Charts["p95"]["POST /api"]); !(p > 0.1 && p <= 0.5) {
			t.Errorf("p95 = %v, want in (0.1, 0.5]", p)
		}
		if n := tk.Hist.points("rate", "POST /api"); n < 2 {
			t.Errorf("the first update has %d points of history, want the 2 or more sampled before it", n)
		}
		if rows := tk.Tables["requests"]; len(rows) != 2 || rows[0]["status"] != "201" {
			t.Errorf("requests table = %v", rows)
		}
		// The next update carries the points since, not the history again.
		tk = event(t, r)
		if tk.Hist != nil && len(tk.Hist.T) > 2 {
			t.Errorf("the second update carries %d points, want those of the last second", len(tk.Hist.T))
		}
	})
	t.Run("db", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=db")
		defer stop()
		tk := event(t, r)
		slow := tk.Tables["slow"]
		if len(slow) != 1 || slow[0]["sql"] != "SELECT * FROM comments WHERE id = ?" || slow[0]["request_id"] != "req-1" ||
			slow[0]["duration"] != "174.6 ms" {
			t.Errorf("slow queries = %v", slow)
		}
		if p := tk.Tables["pool"]; len(p) != 1 || p[0]["in_use"] != 2.0 || p[0]["max"] != 4.0 {
			t.Errorf("pool = %v", p)
		}
		if q := float64(tk.Charts["rate"]["comments insert"]); math.Abs(q-3) > 1 {
			t.Errorf("query rate = %v, want about 3", q)
		}
		// A begin that never ran is neither a row nor a line.
		for _, r := range tk.Tables["queries"] {
			if r["operation"] == "begin" {
				t.Errorf("a query that never ran is listed: %v", r)
			}
		}
		if _, ok := tk.Charts["rate"]["- begin"]; ok {
			t.Errorf("a query that never ran is charted: %v", tk.Charts["rate"])
		}
	})
	t.Run("ws", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=ws")
		defer stop()
		tk := event(t, r)
		if c := float64(tk.Charts["connections"]["video"]); c != 5 {
			t.Errorf("connections = %v, want 5", c)
		}
		if m := tk.Tables["messages"]; len(m) != 1 || m[0]["event"] != "comment.created" {
			t.Errorf("messages = %v", m)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=metrics&family="+famHTTPDuration)
		defer stop()
		tk := event(t, r)
		if f := tk.Tables["families"]; len(f) != 9 {
			t.Errorf("families = %d, want 9", len(f))
		}
		if tk.Meta["family"] != famHTTPDuration || tk.Meta["series"] == "" {
			t.Errorf("meta = %v", tk.Meta)
		}
		// The series was sampled from the start: its history is there.
		if p := float64(tk.Charts["series"]["p95"]); !(p > 0.1 && p <= 0.5) {
			t.Errorf("charted p95 = %v (%v)", p, tk.Charts)
		}
		if n := tk.Hist.points("series", "p95"); n < 2 {
			t.Errorf("the picked series has %d points of history, want 2 or more", n)
		}
		tk = event(t, r)
		if _, again := tk.Tables["families"]; again {
			t.Error("the family list is sent again though it did not change")
		}
	})
	t.Run("metrics counter", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=metrics&family="+famHTTPCount)
		defer stop()
		tk := event(t, r)
		rows := tk.Tables["series"]
		if len(rows) != 2 {
			t.Fatalf("series = %v, want 2", rows)
		}
		for _, r := range rows {
			if _, ok := r["rate"].(float64); !ok {
				t.Errorf("a counter's row has no rate: %v", r)
			}
			for _, col := range []string{"count", "sum", "p50", "p95", "p99"} {
				if _, ok := r[col]; ok {
					t.Errorf("a counter's row has %s: %v", col, r)
				}
			}
		}
		if rate := float64(tk.Charts["series"]["rate"]); math.Abs(rate-9) > 3 {
			t.Errorf("the counter's charted rate = %v, want about 9/s (%v)", rate, tk.Charts)
		}
	})
	t.Run("logs", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=logs")
		defer stop()
		tk := event(t, r)
		// The info record came while no page was open: not kept.
		if len(tk.Logs) != 1 || tk.Logs[0].Msg != SlowQueryMessage {
			t.Fatalf("logs = %+v, want the slow query alone", tk.Logs)
		}
		if k := tk.Meta["keeps"]; !strings.Contains(k, "while a dashboard page is open") {
			t.Errorf("meta keeps = %q", k)
		}
		l.Info("comment created", "request_id", "req-2") // a page is open: kept
		tk = event(t, r)
		if len(tk.Logs) != 1 || tk.Logs[0].Msg != "comment created" || tk.Logs[0].RID != "req-2" {
			t.Errorf("second update = %+v, want the one new record", tk.Logs)
		}
		resp, err := http.Get(srv.URL + DefaultPath + "/api/logs?request_id=req-2")
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Records []logJSON }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if len(got.Records) != 1 || got.Records[0].Msg != "comment created" {
			t.Errorf("by request id = %+v", got.Records)
		}
	})
	t.Run("runtime", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=runtime")
		defer stop()
		tk := event(t, r)
		if g := float64(tk.Charts["goroutines"]["goroutines"]); g < 1 {
			t.Errorf("goroutines = %v", g)
		}
		if h := float64(tk.Charts["heap"]["heap objects"]); h < 1 {
			t.Errorf("heap = %v", h)
		}
		if c := float64(tk.Charts["cpu"]["process"]); math.IsNaN(c) || c < 0 {
			t.Errorf("cpu = %v", c)
		}
		if n := tk.Hist.points("goroutines", "goroutines"); n < 3 {
			t.Errorf("goroutines have %d points of history, want 3 or more", n)
		}
		if len(tk.Tables["runtime"]) < 5 {
			t.Errorf("runtime table = %v", tk.Tables["runtime"])
		}
	})
	t.Run("home", func(t *testing.T) {
		r, stop := openStream(t, srv, "page=home")
		defer stop()
		tk := event(t, r)
		for _, c := range []string{"rps", "errors", "p95", "cpu", "memory", "goroutines"} {
			if len(tk.Hist.Charts[c]) != 1 {
				t.Errorf("home chart %s = %v, want one line", c, tk.Hist.Charts[c])
			}
		}
		if n := tk.Hist.points("goroutines", "goroutines"); n < 3 {
			t.Errorf("home's first update has %d points of history, want 3 or more", n)
		}
		info := map[string]any{}
		for _, r := range tk.Tables["info"] {
			info[r["name"].(string)] = r["value"]
		}
		if len(info) < 8 {
			t.Errorf("info = %v", tk.Tables["info"])
		}
		if up, _ := info["uptime"].(string); !regexp.MustCompile(`^(\d+ min )?\d+ s$`).MatchString(up) {
			t.Errorf("uptime = %q, want it as \"7 min 57 s\"", up)
		}
	})
}

// With nobody watching, the Source is read once a second, by the
// sampler, and an open page reads no more of it.
func TestSamplingWhenNobodyWatches(t *testing.T) {
	src := &trafficSource{}
	_, srv := newTestDashboard(t, &Options{Source: src})
	time.Sleep(2500 * time.Millisecond)
	if n := src.calls.Load(); n < 2 || n > 4 {
		t.Errorf("%d snapshots in 2.5 s with no viewer, want 3", n)
	}
	r, stop := openStream(t, srv, "page=http")
	r2, stop2 := openStream(t, srv, "page=metrics")
	began, before := time.Now(), src.calls.Load()
	for range 3 {
		event(t, r)
		event(t, r2)
	}
	stop()
	stop2()
	secs := time.Since(began).Seconds()
	if n := float64(src.calls.Load() - before); n > secs+2 {
		t.Errorf("%v snapshots in %.1f s while two pages were open, want one a second", n, secs)
	}
}

func TestViewersAreBoundedAndCloseEndsStreams(t *testing.T) {
	d, srv := newTestDashboard(t, &Options{MaxViewers: 2})
	var stops []func()
	var readers []*bufio.Reader
	for range 2 {
		r, stop := openStream(t, srv, "page=runtime")
		event(t, r)
		readers = append(readers, r)
		stops = append(stops, stop)
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	resp, err := http.Get(srv.URL + DefaultPath + "/api/stream?page=home")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third page = %d, want 503", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close with open pages: %v", err)
	}
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := io.Copy(io.Discard, r)
			if err != nil {
				t.Errorf("stream ended with %v, want a clean end", err)
			}
		}()
	}
	wg.Wait()
	if err := d.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A page stays live past the server's read and write timeouts (Setup's
// metrics listener has 30 s of each).
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	srv := httptest.NewUnstartedServer(d)
	srv.Config.ReadTimeout = 1500 * time.Millisecond
	srv.Config.WriteTimeout = 1500 * time.Millisecond
	srv.Start()
	defer srv.Close()
	r, stop := openStream(t, srv, "page=runtime")
	defer stop()
	for range 4 {
		event(t, r)
	}
}
