package livedash

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// fillRing logs n records of about 800 bytes of text each through r, each
// with its own request id req-<i>.
func fillRing(r *Ring, n int) {
	l := slog.New(r).With("service", "svc", "environment", "test")
	pad := strings.Repeat("x", 600)
	for i := range n {
		l.Info("http request", "method", "GET", "route", "/api/videos/{id}", "status", 200,
			"request_id", fmt.Sprintf("req-%d", i), "pad", pad)
	}
}

// heapPeak samples HeapInuse every few milliseconds until stop is called,
// which returns the highest value seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(quit); <-done; return peak.Load() }
}

// 80 clients ask at once for the largest log query against a full Ring.
// A few are answered and the others refused at once with 503 and
// Retry-After, counted in Stats; what the crowd costs is what the answered
// ones cost, and each of those costs a fraction of a copy of the Ring.
// (Before the bounds, all 80 were answered, each allocating 8.5 MB: 684 MB
// for the crowd.)
func TestLogQueriesUnderACrowd(t *testing.T) {
	ring := NewRing(keepAll(nil))
	fillRing(ring, 2*DefaultRingRecords) // full: 5000 records, about 4 MiB
	d, srv := newTestDashboard(t, &Options{Logs: ring})
	// Clients with small receive buffers: an answered query is still being
	// written while the rest of the crowd arrives.
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(128 << 10)
			}
			return c, err
		},
		MaxIdleConnsPerHost: 100,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	// One query alone: every record asked for, in order, newest last.
	resp, err := client.Get(srv.URL + DefaultPath + "/api/logs?limit=2000")
	if err != nil {
		t.Fatal(err)
	}
	var one struct {
		Records   []logJSON
		Truncated bool
	}
	if err := json.NewDecoder(resp.Body).Decode(&one); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(one.Records); n != 2000 || one.Truncated || one.Records[n-1].RID != "req-9999" || one.Records[0].RID != "req-8000" {
		t.Fatalf("alone: %d records (truncated %v), want req-8000 to req-9999", n, one.Truncated)
	}

	const crowd = 80
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stopPeak := heapPeak()
	var (
		answered, refused atomic.Int32
		all, got          sync.WaitGroup
		start             = make(chan struct{})
	)
	got.Add(crowd)
	for range crowd {
		all.Add(1)
		go func() {
			defer all.Done()
			<-start
			resp, err := client.Get(srv.URL + DefaultPath + "/api/logs?limit=2000")
			got.Done()
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				answered.Add(1)
				got.Wait() // read once the whole crowd has its status
				if n, _ := io.Copy(io.Discard, resp.Body); n < 1<<20 {
					t.Errorf("an answer of %d bytes, want the 2000 records", n)
				}
			case http.StatusServiceUnavailable:
				refused.Add(1)
				if resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			default:
				t.Errorf("status %d, want 200 or 503", resp.StatusCode)
			}
		}()
	}
	began := time.Now()
	close(start)
	all.Wait()
	took := time.Since(began)
	peak := stopPeak()
	runtime.ReadMemStats(&after)
	grew := int64(peak) - int64(before.HeapInuse)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d answered, %d refused in %v; heap in use %d MB, at most %d MB during; %d MB allocated",
		answered.Load(), refused.Load(), took.Round(time.Millisecond), before.HeapInuse>>20, peak>>20, alloc>>20)

	if answered.Load() == 0 || refused.Load() == 0 || answered.Load()+refused.Load() != crowd {
		t.Errorf("%d answered and %d refused, want both, %d in all", answered.Load(), refused.Load(), crowd)
	}
	if n := d.Stats().Dropped.Get(drop.QueueFull); n != uint64(refused.Load()) {
		t.Errorf("Stats.Dropped[queue_full] = %d, want the %d refused", n, refused.Load())
	}
	if q := d.Stats().Queries; q != 0 {
		t.Errorf("Stats.Queries = %d after the crowd, want 0", q)
	}
	// Generous bounds: the clients' side is in this process too.
	if grew > 64<<20 {
		t.Errorf("the heap grew by %d MB during the crowd, want at most 64 MB", grew>>20)
	}
	if per := alloc / uint64(answered.Load()); per > 3<<20 {
		t.Errorf("%d MB allocated per answered query, want at most 3 MB (the Ring holds 4 MiB)", per>>20)
	}
}

// The default lease keeps the promise: a viewer that stops reading loses
// its place by StreamLifetime and a second or two (the last write's and
// the end's deadlines), and a page refused meanwhile tries again 5 s
// later (Retry-After, and app.js): within 30 s, a new viewer is live.
func TestDefaultLeaseKeepsThePromise(t *testing.T) {
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	const graces, pageRetry = 2 * time.Second, 5 * time.Second
	if d.streamLife != StreamLifetime || StreamLifetime+graces+pageRetry > 30*time.Second {
		t.Errorf("lease %v + %v + a page's retry %v, want at most 30 s", d.streamLife, graces, pageRetry)
	}
	if writeTimeout > StreamLifetime {
		t.Errorf("write deadline %v, want it within the lease", writeTimeout)
	}
}

// rawViewer opens a live page over a plain TCP connection with a small
// receive buffer, sends the request and never reads.
func rawViewer(t *testing.T, srv *httptest.Server, page string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := fmt.Fprintf(c, "GET %s/api/stream?page=%s HTTP/1.1\r\nHost: dashboard\r\n\r\n", DefaultPath, page); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond every 20 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With every place held by clients that never read, a new viewer is live
// within 30 s: the stalled ones lose their places when their lease ends
// (2 s here; StreamLifetime by default), and their connections close. Before
// the lease, they held them until the kernel's buffers filled: minutes.
func TestStalledViewersLoseTheirPlaces(t *testing.T) {
	d, srv := newTestDashboard(t, &Options{Source: &trafficSource{}, streamLife: 2 * time.Second})
	var stalled []net.Conn
	for range DefaultMaxViewers {
		c := rawViewer(t, srv, "metrics")
		defer c.Close()
		stalled = append(stalled, c)
	}
	waitFor(t, 10*time.Second, "16 stalled viewers", func() bool { return d.Stats().Viewers == DefaultMaxViewers })

	held := time.Now()
	resp, err := http.Get(srv.URL + DefaultPath + "/api/stream?page=home")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a 17th viewer = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Try again as the page does, more often.
	var live *bufio.Reader
	for live == nil {
		if time.Since(held) > 30*time.Second {
			t.Fatalf("no place for a new viewer within 30 s (%+v)", d.Stats())
		}
		time.Sleep(200 * time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+DefaultPath+"/api/stream?page=home", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			live = bufio.NewReader(resp.Body)
			defer resp.Body.Close()
		} else {
			resp.Body.Close()
		}
	}
	if tk := event(t, live); tk.Hist == nil {
		t.Errorf("the new viewer's first update has no history")
	}
	t.Logf("a new viewer was live %v after 16 stalled ones held every place", time.Since(held).Round(time.Millisecond))

	// The stalled connections are closed: what was sent, then the end.
	for _, c := range stalled {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("a stalled viewer's connection: %v, want it closed by the dashboard", err)
		}
	}
	if st := d.Stats(); st.Dropped.Get(drop.QueueFull) < 1 || st.Streams < DefaultMaxViewers+1 {
		t.Errorf("Stats = %+v, want the refused viewer counted and 17 streams", st)
	}
}

// streamFrom opens a live page with a Last-Event-ID (none when id is
// empty).
func streamFrom(t *testing.T, srv *httptest.Server, query, id string) (*bufio.Reader, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+DefaultPath+"/api/stream?"+query, nil)
	if id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream %s = %d", query, resp.StatusCode)
	}
	return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
}

// untilRenew reads a stream to its end and returns the id of its last
// update, and whether a renew event came before the end.
func untilRenew(t *testing.T, r *bufio.Reader) (lastID string, renewed bool) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return lastID, renewed
		}
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			lastID = strings.TrimSpace(id)
		}
		renewed = renewed || line == "event: renew\n"
	}
}

// A stream ends when its lease does, with a renew event; the page's
// EventSource reconnects with the last id, and the next stream carries on
// where the last one ended: no record twice, no history again, rates from
// the first update.
func TestStreamsRenewAndResume(t *testing.T) {
	ring := NewRing(nil)
	l := slog.New(ring)
	const lease = 1500 * time.Millisecond
	d, srv := newTestDashboard(t, &Options{Source: &trafficSource{}, Logs: ring, streamLife: lease})

	t.Run("logs", func(t *testing.T) {
		r, stop := streamFrom(t, srv, "page=logs", "")
		defer stop()
		l.Info("before", "request_id", "r1")
		began := time.Now()
		id, renewed := untilRenew(t, r)
		if !renewed || id == "" {
			t.Fatalf("stream ended without a renew event (%v) or an id (%q)", renewed, id)
		}
		if took := time.Since(began); took > lease+3*time.Second {
			t.Errorf("stream lasted %v, want about %v", took, lease)
		}
		l.Info("after", "request_id", "r2")
		r, stop = streamFrom(t, srv, "page=logs", id)
		defer stop()
		if tk := event(t, r); len(tk.Logs) != 1 || tk.Logs[0].Msg != "after" {
			t.Errorf("resumed logs = %+v, want the one record since", tk.Logs)
		}
		// An id from another dashboard (or none) starts afresh.
		r, stop = streamFrom(t, srv, "page=logs", "other.999")
		defer stop()
		if tk := event(t, r); len(tk.Logs) != 2 {
			t.Errorf("logs from a foreign id = %+v, want both records", tk.Logs)
		}
	})
	for _, page := range []string{"home", "http", "runtime"} {
		t.Run(page, func(t *testing.T) {
			waitTicks(t, d, 3)
			r, stop := streamFrom(t, srv, "page="+page, "")
			defer stop()
			if tk := event(t, r); tk.Hist == nil || len(tk.Hist.T) < 3 {
				t.Fatalf("first update without the history: %+v", tk.Hist)
			}
			id, _ := untilRenew(t, r)
			time.Sleep(1100 * time.Millisecond) // a point or two sampled meanwhile
			r, stop = streamFrom(t, srv, "page="+page, id)
			defer stop()
			tk := event(t, r)
			if tk.Hist == nil || len(tk.Hist.T) > 3 {
				t.Errorf("the resumed page got %+v, want the one or two points since", tk.Hist)
			}
			if page == "http" {
				if rate := float64(tk.Charts["rate"]["POST /api"]); rate < 5 {
					t.Errorf("resumed page's first rate = %v, want about 10 req/s", rate)
				}
			}
		})
	}
	if st := d.Stats(); st.Streams < 9 || st.Viewers > 3 {
		t.Errorf("Stats = %+v, want 9 streams served", st)
	}
}

func TestNewRefusesNegativeBounds(t *testing.T) {
	for _, o := range []Options{{MaxViewers: -1}, {MaxQueries: -1}} {
		if d, err := New(&o); err == nil || d != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", o, d, err)
		}
	}
}

// Past MaxHistorySeries, a series the Metrics page shows takes the place
// of the one viewed least recently: its history starts then, and the
// series dropped is counted.
func TestHistoryBoundOnTheMetricsPage(t *testing.T) {
	d, srv := newTestDashboard(t, &Options{Source: &trafficSource{}, maxSeries: 40})
	waitTicks(t, d, 2)
	st := d.Stats()
	if st.HistorySeries != 40 || st.HistoryUntracked == 0 {
		t.Fatalf("Stats = %+v, want 40 series kept and some not", st)
	}
	// go_goroutines, last of the Source, found no place.
	group := metricsGroup("go_goroutines", "")
	if c, _ := d.hist.read(group, 0); c != nil && len(c.lines) > 0 {
		t.Fatalf("go_goroutines has a history past the bound: %+v", c)
	}
	r, stop := openStream(t, srv, "page=metrics&family=go_goroutines")
	defer stop()
	var tk *update
	waitFor(t, 10*time.Second, "go_goroutines charted", func() bool {
		tk = event(t, r)
		return tk.Hist.points("series", "value") > 0
	})
	if v := float64(tk.Charts["series"]["value"]); v != 12 {
		t.Errorf("go_goroutines charted %v, want 12", v)
	}
	if st := d.Stats(); st.HistorySeries != 40 || st.Dropped.Get(drop.Overflow) == 0 {
		t.Errorf("Stats = %+v, want 40 series and one dropped as overflow", st)
	}
}
