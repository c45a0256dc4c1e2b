package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// dashboardThroughput runs TestDashboardThroughput, a measurement rather
// than a check of behaviour:
//
//	go test ./cmd/demo -run TestDashboardThroughput -dashboard-throughput -v
var dashboardThroughput = flag.Bool("dashboard-throughput", false, "measure the demo's POST throughput with the dashboard on (nobody watching) against off")

// TestDashboardThroughput measures what the dashboard costs the demo while
// nobody watches: POST /api/videos/{id}/comments as fast as 8 clients can,
// for 5 s a round, alternating rounds with DASHBOARD=false and =true, each
// on a fresh demo and database, and compares the medians. It fails when
// the dashboard's median is below 0.98 of the other.
func TestDashboardThroughput(t *testing.T) {
	if !*dashboardThroughput {
		t.Skip("a measurement: run with -dashboard-throughput")
	}
	const rounds, clients, span = 5, 8, 5 * time.Second
	var off, on []float64
	for i := range 2 * rounds {
		dash := i%2 == 1
		rate := postThroughput(t, dash, clients, span)
		t.Logf("round %d dashboard=%v: %.0f POST/s", i/2+1, dash, rate)
		if dash {
			on = append(on, rate)
		} else {
			off = append(off, rate)
		}
	}
	slices.Sort(off)
	slices.Sort(on)
	mOff, mOn := off[rounds/2], on[rounds/2]
	t.Logf("median POST/s: dashboard off %.0f, on (nobody watching) %.0f: ratio %.3f", mOff, mOn, mOn/mOff)
	if mOn/mOff < 0.98 {
		t.Errorf("with the dashboard on, throughput is %.3f of the run without it, want at least 0.98", mOn/mOff)
	}
}

func postThroughput(t *testing.T, dashboard bool, clients int, span time.Duration) float64 {
	t.Helper()
	env := map[string]string{
		"PORT":            "0",
		"PROMETHEUS_PORT": strconv.Itoa(testenv.FreePort(t)),
		"DATABASE_URL":    "sqlite://" + filepath.Join(t.TempDir(), "demo.db"),
		"LOG_FORMAT":      "json",
		"DASHBOARD":       strconv.FormatBool(dashboard),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	out := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, lookup, out, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	base := waitFor(t, "the API URL", out, apiRE)
	if got := strings.Contains(out.String(), "Dashboard "); got != dashboard {
		t.Fatalf("dashboard line printed = %v, want %v:\n%s", got, dashboard, out)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	var n atomic.Int64
	stop := time.Now().Add(span)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := fmt.Sprintf("%s/api/videos/%d/comments", base, c%5+1)
			for time.Now().Before(stop) {
				resp, err := client.Post(url, "application/json", strings.NewReader(`{"user_id": 1, "body": "load"}`))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / span.Seconds()
}
