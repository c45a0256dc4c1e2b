package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/realtimeserver/observability/internal/testenv"
)

// updateScreenshots regenerates the README's screenshots of the live
// dashboard:
//
//	go test ./cmd/demo -run TestDashboardInChromium -update-screenshots
var updateScreenshots = flag.Bool("update-screenshots", false, "write the dashboard screenshots to docs/screenshots (slower: lets the charts fill)")

// screenshotDir is where -update-screenshots writes, from this package.
const screenshotDir = "../../docs/screenshots"

var dashboardRE = regexp.MustCompile(`Dashboard +(http://\S+)`)

// chromium finds the browser, or skips (fails in CI) saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "chromium", "apt-get install chromium; .ci/run installs it")
	return ""
}

// pageCheck is what one page must show once it has data.
type pageCheck struct {
	path   string
	charts []string       // data-chart ids that must have points
	tables map[string]int // data-table id -> minimum rows of data
}

var dashboardPages = []pageCheck{
	{"", []string{"rps", "errors", "p95", "memory", "goroutines"}, map[string]int{"info": 8, "ring": 1}},
	{"http", []string{"rate", "p95", "latency"}, map[string]int{"requests": 2}},
	{"db", []string{"rate", "p95", "pool"}, map[string]int{"queries": 2, "pool": 1}},
	{"ws", []string{"connections", "messages"}, map[string]int{"channels": 1, "messages": 2}},
	{"metrics", []string{"series"}, map[string]int{"families": 10, "series": 1}},
	{"logs", nil, map[string]int{"logs": 5}},
	{"runtime", []string{"heap", "goroutines", "sched", "cpu", "alloc"}, map[string]int{"runtime": 5}},
}

// pageState is what the test reads from a page.
type pageState struct {
	Charts map[string]int    `json:"charts"` // id -> points drawn
	Paths  map[string]string `json:"paths"`  // id -> its lines' d attributes
	Tables map[string]int    `json:"tables"` // id -> rows of data
	Status string            `json:"status"`
	Title  string            `json:"title"`
}

const readState = `(() => {
	const s = {charts: {}, paths: {}, tables: {}, status: document.getElementById('status').textContent, title: document.title};
	for (const c of document.querySelectorAll('[data-chart]')) {
		const paths = [...c.querySelectorAll('path.line')].map(p => p.getAttribute('d')).filter(d => d && d.length > 1);
		s.charts[c.dataset.chart] = paths.length ? Number(c.dataset.points || 0) : 0;
		s.paths[c.dataset.chart] = paths.join('|');
	}
	for (const t of document.querySelectorAll('[data-table]')) {
		s.tables[t.dataset.table] = [...t.querySelectorAll('tbody tr')].filter(r => !r.querySelector('td.muted[colspan]')).length;
	}
	return s;
})()`

func (c pageCheck) ready(s pageState) string {
	for _, id := range c.charts {
		if s.Charts[id] < 2 {
			return fmt.Sprintf("chart %s has %d points", id, s.Charts[id])
		}
	}
	for id, n := range c.tables {
		if s.Tables[id] < n {
			return fmt.Sprintf("table %s has %d rows, want %d", id, s.Tables[id], n)
		}
	}
	return ""
}

func TestDashboardInChromium(t *testing.T) {
	exe := chromium(t)
	const token = "browser-test-token"
	d := startDemo(t, map[string]string{"DASHBOARD_TOKEN": token, "LOG_LEVEL": "info"},
		"-simulate", "20")
	dash := waitFor(t, "the dashboard URL", d.stdout, dashboardRE)
	if strings.Contains(d.stdout.String(), token) {
		t.Errorf("the token was printed:\n%s", d.stdout)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}

	// Every console error, failed load and uncaught exception of any page.
	var mu sync.Mutex
	var jsErrors []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				jsErrors = append(jsErrors, fmt.Sprintf("%s at %s:%d: %s", m.Type, m.URL, m.Line, m.Text))
				mu.Unlock()
			}
		}
	}()
	defer func() {
		cancel()
		<-consoleDone
		mu.Lock()
		defer mu.Unlock()
		for _, e := range jsErrors {
			t.Errorf("JavaScript: %s", e)
		}
	}()

	run := func(a ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := do(ctx, a...); err != nil {
			t.Fatal(err)
		}
	}
	state := func() pageState {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readState))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitReady := func(c pageCheck) pageState {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := state()
			why := c.ready(s)
			if why == "" {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("page /%s never showed its data: %s (%+v)", c.path, why, s)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// The token once, in the address: the dashboard keeps it in a cookie
	// and sends the browser on without it.
	run(chromedp.Navigate(dash + "?token=" + token))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, token) || !strings.HasSuffix(loc, "/dashboard/") {
		t.Errorf("after ?token= the browser is at %q, want the dashboard without the token", loc)
	}

	if *updateScreenshots {
		// Let the home page's history and the demo's traffic build up.
		time.Sleep(30 * time.Second)
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range dashboardPages {
		name := c.path
		if name == "" {
			name = "home"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			defer func() { t.Logf("page /%s checked in %v", c.path, time.Since(start).Round(time.Millisecond)) }()
			run(chromedp.Navigate(dash + c.path))
			before := waitReady(c)
			if !strings.Contains(before.Status, "live") {
				t.Errorf("status = %q, want live", before.Status)
			}
			// The charts move: new points arrive and are drawn.
			if len(c.charts) > 0 {
				deadline := time.Now().Add(10 * time.Second)
				for {
					time.Sleep(500 * time.Millisecond)
					after := state()
					if after.Paths[c.charts[0]] != before.Paths[c.charts[0]] && after.Charts[c.charts[0]] > before.Charts[c.charts[0]] {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("chart %s did not change in 10 s: %d points then %d", c.charts[0], before.Charts[c.charts[0]], after.Charts[c.charts[0]])
					}
				}
			}
			if *updateScreenshots {
				time.Sleep(25 * time.Second) // charts with some history
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(screenshotDir, "dashboard-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			switch c.path {
			case "metrics":
				checkMetricsPage(t, ctx, state)
			case "logs":
				checkLogFilter(t, ctx, state)
			}
		})
	}
}

// checkMetricsPage searches the families and charts another one.
func checkMetricsPage(t *testing.T, ctx context.Context, state func() pageState) {
	t.Helper()
	if err := do(ctx, chromedp.SendKeys(chromedp.CSS("#search"), "db_query")); err != nil {
		t.Fatal(err)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('[data-table=families] tbody tr td:first-child')].map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("searching db_query shows no family")
	}
	for _, n := range names {
		if !strings.Contains(n, "db_query") {
			t.Errorf("search db_query shows %q", n)
		}
	}
	if err := do(ctx, chromedp.Click(chromedp.CSS(`[data-table=families] tbody tr`))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := state()
		if s.Charts["series"] >= 1 && s.Tables["series"] >= 1 {
			title, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-chart=series] h2').textContent`))
			if strings.HasPrefix(title, names[0]+"{") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicking %s did not chart it: %+v", names[0], s)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkLogFilter filters the tail by one request's id, then opens that
// request from its link.
func checkLogFilter(t *testing.T, ctx context.Context, state func() pageState) {
	t.Helper()
	rid, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll('[data-table=logs] tbody tr')].map(r => r.dataset.rid).find(Boolean) || ''`))
	if err != nil || rid == "" {
		t.Fatalf("no record with a request id on the Logs page (%v)", err)
	}
	// The page says which records the ring keeps, and when.
	keeps, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#keeps').textContent`))
	if err != nil || !strings.Contains(keeps, "while a dashboard page is open") {
		t.Errorf("the Logs page's note on what is kept: %q (%v)", keeps, err)
	}
	rowsFor := func() (all, matching int) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('[data-table=logs] tbody tr')].map(r => r.dataset.rid ?? '-')`))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if r == rid {
				matching++
			}
		}
		return len(got), matching
	}
	if err := do(ctx, chromedp.SendKeys(chromedp.CSS("#rid"), rid)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a live update or two arrive meanwhile
	all, matching := rowsFor()
	if matching == 0 || all != matching {
		t.Errorf("filtered by request_id %s: %d rows, %d of them that request's", rid, all, matching)
	}
	// Clear, then follow the request id's link: every record of that
	// request, and only those.
	if err := do(ctx, chromedp.Click(chromedp.CSS("button"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if all, matching := rowsFor(); all <= matching {
		t.Errorf("after clearing the filter: %d rows, %d of request %s", all, matching, rid)
	}
	// Read and click one link in one step: the tail moves every second.
	rid, err = chromedp.Run(ctx, chromedp.Evaluate[string](
		`(() => { const a = document.querySelector('[data-table=logs] a.rid'); if (!a) return ''; a.click(); return a.textContent; })()`))
	if err != nil || rid == "" {
		t.Fatalf("no request id link to click (%v)", err)
	}
	time.Sleep(1000 * time.Millisecond)
	all, matching = rowsFor()
	if matching == 0 || all != matching {
		t.Errorf("after clicking request %s: %d rows, %d of them that request's", rid, all, matching)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "request_id="+rid) {
		t.Errorf("after clicking a request id the address is %q, want it to name the request", loc)
	}
}

// do runs actions with a deadline, so that a selector that never matches
// fails the test instead of hanging it.
func do(ctx context.Context, a ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return chromedp.Do(ctx, a...)
}
