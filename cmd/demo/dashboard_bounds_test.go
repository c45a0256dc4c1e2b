package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// TestDashboardBoundsFromOutside measures the demo binary from outside,
// as the first promise asks of the dashboard: a crowd of the heaviest log
// queries raises its memory by at most 64 MB, extra queries are refused
// with 503 rather than queued, and a page still opens meanwhile (its time
// is logged); a request without the token is refused; and with every
// viewer's place held by a client that never reads, a new viewer is live
// within 30 s.
func TestDashboardBoundsFromOutside(t *testing.T) {
	bin, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	const token = "bounds-test-token-0123456789"
	metrics := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	cmd, stdout, _, _ := startDemoBinary(t, bin, []string{"-simulate", "8", "-simulate-every", "5ms"},
		"PORT=0", "PROMETHEUS_HOST=127.0.0.1", "PROMETHEUS_PORT="+strings.TrimPrefix(metrics, "127.0.0.1:"),
		"DASHBOARD_TOKEN="+token, "LOG_FORMAT=json")
	waitFor(t, "the API URL", stdout, apiRE)
	dash := "http://" + metrics + "/dashboard"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}, Timeout: time.Minute}
	get := func(path string, withToken bool) (int, []byte, error) {
		req, _ := http.NewRequest("GET", dash+path, nil)
		if withToken {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	for _, p := range []string{"/", "/logs", "/api/logs?limit=10", "/api/stream?page=home"} {
		if code, _, err := get(p, false); err != nil || code != http.StatusUnauthorized {
			t.Errorf("GET /dashboard%s without the token: %d %v, want 401", p, code, err)
		}
	}

	// A page watching the logs, so that the ring keeps every level, until
	// it holds enough for the heaviest query.
	req, _ := http.NewRequest("GET", dash+"/api/stream?page=logs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	watch, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, watch.Body)
	var answer int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		code, body, err := get("/api/logs?limit=2000", true)
		var got struct{ Records []json.RawMessage }
		if err == nil && code == http.StatusOK && json.Unmarshal(body, &got) == nil && len(got.Records) == 2000 {
			answer = len(body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ring holds %d records after 60 s (status %d, %v), want 2000", len(got.Records), code, err)
		}
	}
	watch.Body.Close()

	// The Logs page's time alone, then during the crowd: logged, not
	// asserted. On a quiet machine the crowd leaves it at 6 to 30 ms at
	// the median (the bound is 50 ms; before the bound on queries
	// it was 116 to 256 ms); beside two busy loops it reaches 60 to 80 ms,
	// because four heavy queries then share what CPU is left, so a bound
	// on it would measure the machine. What keeps it low is asserted: the
	// crowd is refused past a few queries at once.
	var alone []time.Duration
	for range 20 {
		start := time.Now()
		if code, _, err := get("/logs", true); err != nil || code != http.StatusOK {
			t.Fatalf("GET /dashboard/logs: %d %v", code, err)
		}
		alone = append(alone, time.Since(start))
	}
	slices.Sort(alone)

	// The crowd: three waves of 80 queries for 2,000 records each, while
	// a person opens the Logs page again and again.
	pid := cmd.Process.Pid
	before, err := rssBytes(pid)
	if err != nil {
		t.Skipf("no /proc to read the demo's memory from: %v", err)
	}
	before <<= 10 // kB
	var peak atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v, err := rssBytes(pid); err == nil && v<<10 > peak.Load() {
				peak.Store(v << 10)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var pageTimes []time.Duration
	paged := make(chan struct{})
	go func() {
		defer close(paged)
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if code, _, err := get("/logs", true); err == nil && code == http.StatusOK {
				pageTimes = append(pageTimes, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var mu sync.Mutex
	codes := map[int]int{}
	for range 3 {
		var wg sync.WaitGroup
		for range 80 {
			wg.Go(func() {
				code, _, err := get("/api/logs?limit=2000", true)
				if err != nil {
					code = -1
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	close(stop)
	<-sampled
	<-paged
	if peak.Load() == 0 {
		t.Fatal("no reading of the demo's RSS during the crowd")
	}
	grew := peak.Load() - before
	slices.Sort(pageTimes)
	var p50 time.Duration
	if len(pageTimes) > 0 {
		p50 = pageTimes[len(pageTimes)/2]
	}
	t.Logf("3 waves of 80 queries of %d bytes: %v; RSS %d MB, at most %d MB during (+%d MB); the Logs page %d times, p50 %v (alone %v)",
		answer, codes, before>>20, peak.Load()>>20, grew>>20, len(pageTimes), p50, alone[len(alone)/2])
	if codes[http.StatusOK] == 0 || codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 240 {
		t.Errorf("statuses %v, want 240 answered with 200 or refused with 503, some of each", codes)
	}
	if grew > 64<<20 {
		t.Errorf("the demo's RSS grew by %d MB during the crowd, want at most 64 MB", grew>>20)
	}
	if len(pageTimes) < 3 {
		t.Errorf("the Logs page opened %d times during the crowd, want at least 3", len(pageTimes))
	}

	// Sixteen viewers that never read hold every place; a seventeenth is
	// refused, then live within 30 s.
	for range 16 {
		c, err := net.Dial("tcp", metrics)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
		fmt.Fprintf(c, "GET /dashboard/api/stream?page=metrics HTTP/1.1\r\nHost: dashboard\r\nAuthorization: Bearer %s\r\n\r\n", token)
	}
	time.Sleep(time.Second) // the sixteen are in
	held, first := time.Now(), 0
	for {
		req, _ := http.NewRequest("GET", dash+"/api/stream?page=home", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if first == 0 {
			first = resp.StatusCode
		}
		if resp.StatusCode == http.StatusOK {
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			resp.Body.Close()
			if err != nil {
				t.Fatalf("the new viewer's stream: %v", err)
			}
			t.Logf("a 17th viewer: %d at first, live %v later (%q)", first, time.Since(held).Round(time.Millisecond), strings.TrimSpace(line))
			break
		}
		resp.Body.Close()
		if time.Since(held) > 30*time.Second {
			t.Fatalf("no place for a new viewer within 30 s of 16 that never read (first answer %d)", first)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if first != http.StatusServiceUnavailable {
		t.Errorf("the 17th viewer's first answer was %d, want 503 while the sixteen held every place", first)
	}
}
