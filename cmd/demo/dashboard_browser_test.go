package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/livedash"
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
	{"", []string{"rps", "errors", "p95", "cpu", "memory", "goroutines"}, map[string]int{"info": 8, "ring": 1}},
	{"http", []string{"rate", "p95", "latency"}, map[string]int{"requests": 2}},
	{"db", []string{"rate", "p95", "pool"}, map[string]int{"queries": 2, "pool": 1}},
	{"ws", []string{"connections", "messages"}, map[string]int{"channels": 1, "messages": 2}},
	{"metrics", []string{"series"}, map[string]int{"families": 10, "series": 1}},
	{"logs", nil, map[string]int{"logs": 5}},
	{"runtime", []string{"heap", "goroutines", "sched", "cpu", "alloc", "objects"}, map[string]int{"runtime": 5}},
}

// pageState is what the test reads from a page.
type pageState struct {
	Charts  map[string]int     `json:"charts"`  // id -> points drawn
	Paths   map[string]string  `json:"paths"`   // id -> its lines' d attributes
	History map[string]float64 `json:"history"` // id -> seconds from its first point drawn to its last
	Empty   []string           `json:"empty"`   // charts that say "no data yet"
	Tables  map[string]int     `json:"tables"`  // id -> rows of data
	Status  string             `json:"status"`
	Title   string             `json:"title"`
}

const readState = `(() => {
	const s = {charts: {}, paths: {}, history: {}, empty: [], tables: {}, status: document.getElementById('status').textContent, title: document.title};
	for (const c of document.querySelectorAll('[data-chart]')) {
		const paths = [...c.querySelectorAll('path.line')].map(p => p.getAttribute('d')).filter(d => d && d.length > 1);
		s.charts[c.dataset.chart] = paths.length ? Number(c.dataset.points || 0) : 0;
		s.paths[c.dataset.chart] = paths.join('|');
		s.history[c.dataset.chart] = c.dataset.first ? (Number(c.dataset.last) - Number(c.dataset.first)) / 1000 : 0;
		if ([...c.querySelectorAll('text.empty')].some(t => t.textContent === 'no data yet')) s.empty.push(c.dataset.chart);
	}
	for (const t of document.querySelectorAll('[data-table]')) {
		s.tables[t.dataset.table] = [...t.querySelectorAll('tbody tr, .wf-row')].filter(r => !r.querySelector('td.muted[colspan]')).length;
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

// browser is a headless Chromium whose every console error, failed load
// and uncaught exception fails the test at its end.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromium(t)
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
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", exe, err)
	}
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
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-consoleDone
		mu.Lock()
		defer mu.Unlock()
		for _, e := range jsErrors {
			t.Errorf("JavaScript: %s", e)
		}
	})
	return &browser{t: t, ctx: ctx}
}

func (b *browser) run(a ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := do(b.ctx, a...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) state() pageState { return eval[pageState](b, readState) }

// eval evaluates js in the page and returns its value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// await evaluates js, a promise, in the page and returns what it
// resolves to.
func await[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// until polls cond every 250 ms until it returns "", or fails the test
// with its last answer after limit.
func (b *browser) until(limit time.Duration, what string, cond func() string) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %v: %s", what, limit, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (b *browser) waitReady(c pageCheck) pageState {
	b.t.Helper()
	var s pageState
	b.until(20*time.Second, "page /"+c.path+" showing its data", func() string { s = b.state(); return c.ready(s) })
	return s
}

// checkHistory fails for each chart of c that draws less than want
// seconds of history, or any chart that says "no data yet".
func checkHistory(t *testing.T, c pageCheck, s pageState, want float64) {
	t.Helper()
	for _, id := range c.charts {
		if s.History[id] < want {
			t.Errorf("chart %s shows %.0f s of history as it opens, want at least %.0f s", id, s.History[id], want)
		}
	}
	if len(s.Empty) > 0 {
		t.Errorf("charts %v say \"no data yet\"", s.Empty)
	}
}

func TestDashboardInChromium(t *testing.T) {
	const token = "browser-test-token"
	d := startDemo(t, map[string]string{"DASHBOARD_TOKEN": token, "LOG_LEVEL": "info"},
		"-simulate", "20")
	started := time.Now() // the dashboard samples from before this
	dash := waitFor(t, "the dashboard URL", d.stdout, dashboardRE)
	if strings.Contains(d.stdout.String(), token) {
		t.Errorf("the token was printed:\n%s", d.stdout)
	}
	b := newBrowser(t)

	// The token once, in the address: the dashboard keeps it in a cookie
	// and sends the browser on without it.
	b.run(chromedp.Navigate(dash + "?token=" + token))
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, token) || !strings.HasSuffix(loc, "/dashboard/") {
		t.Errorf("after ?token= the browser is at %q, want the dashboard without the token", loc)
	}

	if *updateScreenshots {
		// Let the history and the demo's traffic build up.
		time.Sleep(60 * time.Second)
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
			b := &browser{t: t, ctx: b.ctx}
			b.run(chromedp.Navigate(dash + c.path))
			before := b.waitReady(c)
			if !strings.Contains(before.Status, "live") {
				t.Errorf("status = %q, want live", before.Status)
			}
			// Each chart opens with the history since the dashboard
			// started (a few seconds less: rates need two samples).
			checkHistory(t, c, before, time.Since(started).Seconds()-10)
			// The charts move: new points arrive and are drawn.
			if len(c.charts) > 0 {
				b.until(10*time.Second, "chart "+c.charts[0]+" moving", func() string {
					after := b.state()
					if after.Paths[c.charts[0]] != before.Paths[c.charts[0]] && after.Charts[c.charts[0]] > before.Charts[c.charts[0]] {
						return ""
					}
					return fmt.Sprintf("%d points then %d", before.Charts[c.charts[0]], after.Charts[c.charts[0]])
				})
			}
			if *updateScreenshots {
				time.Sleep(2 * time.Second)
				shot := chromedp.CaptureScreenshot()
				if c.path == "http" || c.path == "db" {
					// The whole page: the table of routes (or queries)
					// with each one's p50, p95 and p99 is below the charts.
					shot = chromedp.FullScreenshot(100) // 100: PNG
				}
				png, err := chromedp.Run(b.ctx, shot)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(screenshotDir, "dashboard-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			switch c.path {
			case "":
				checkHomePage(t, b)
			case "db":
				checkDatabasePage(t, b)
			case "ws":
				checkWebSocketsPage(t, b)
			case "metrics":
				checkMetricsPage(t, b)
			case "logs":
				checkLogFilter(t, b)
				checkLevelControl(t, b)
			case "runtime":
				checkRuntimePage(t, b)
				checkProfileLinks(t, b)
			}
		})
	}

	// Away and back, after a minute of traffic: every chart opens with it.
	if wait := time.Minute + 2*time.Second - time.Since(started); wait > 0 {
		time.Sleep(wait)
	}
	for _, c := range dashboardPages {
		if len(c.charts) == 0 {
			continue
		}
		t.Run("again/"+c.path, func(t *testing.T) {
			b := &browser{t: t, ctx: b.ctx}
			b.run(chromedp.Navigate(dash + c.path))
			var s pageState
			b.until(5*time.Second, "the first update", func() string {
				if s = b.state(); s.Charts[c.charts[0]] == 0 {
					return "no point drawn"
				}
				return ""
			})
			checkHistory(t, c, s, 50)
			if c.path == "runtime" {
				checkRuntimeLines(t, b)
			}
		})
	}

	// With spans fed to the dashboard, the Traces page shows the demo's.
	t.Run("traces", func(t *testing.T) {
		b := &browser{t: t, ctx: b.ctx}
		b.run(chromedp.Navigate(dash))
		if !eval[bool](b, `!!document.querySelector('nav a[href$="/traces"]')`) {
			t.Fatal("no Traces page in the dashboard's navigation")
		}
		b.run(chromedp.Navigate(dash + "traces"))
		if off := eval[string](b, `document.body.dataset.tracesOff || ''`); off != "" {
			t.Fatalf("the Traces page says traces are off: %s", off)
		}
		// A comment posted: the server span, the store, its INSERT and
		// the broadcast, in one waterfall.
		checkTracesPage(t, b, dash, "POST /api/videos/", []string{"store comment", "INSERT comments", "broadcast"})
		if *updateScreenshots {
			png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(screenshotDir, "dashboard-traces.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// checkHomePage: the process facts above the fold, the uptime as a
// person reads it, and no empty cell in the charts' grid.
func checkHomePage(t *testing.T, b *browser) {
	t.Helper()
	got := eval[map[string]any](b, `(() => {
		const info = document.querySelector('[data-table=info]').getBoundingClientRect();
		const grid = document.querySelector('.grid');
		const cols = getComputedStyle(grid).gridTemplateColumns.split(' ').length;
		const up = [...document.querySelectorAll('[data-table=info] tr')].find(r => r.firstChild.textContent === 'uptime');
		return {bottom: info.bottom, fold: innerHeight, cells: grid.children.length, cols, uptime: up ? up.lastChild.textContent : ''};
	})()`)
	if got["bottom"].(float64) > got["fold"].(float64) {
		t.Errorf("the process facts end at %v px, below the fold at %v px", got["bottom"], got["fold"])
	}
	if cells, cols := int(got["cells"].(float64)), int(got["cols"].(float64)); cols < 1 || cells%cols != 0 {
		t.Errorf("%d charts in %d columns leave a cell empty", cells, cols)
	}
	if up := got["uptime"].(string); !regexp.MustCompile(`^(\d+ h )?(\d+ min )?\d+ s$`).MatchString(up) {
		t.Errorf("uptime = %q, want it as 7 min 57 s", up)
	}
}

// checkDatabasePage: no query that never ran, durations as a person
// reads them.
func checkDatabasePage(t *testing.T, b *browser) {
	t.Helper()
	rows := eval[[][]string](b, `[...document.querySelectorAll('[data-table=queries] tbody tr')].map(r => [...r.children].map(td => td.textContent))`)
	for _, r := range rows {
		if len(r) > 3 && slices.Contains([]string{"begin", "commit", "rollback"}, r[1]) && r[3] == "0" {
			t.Errorf("a %s row that never ran: %v", r[1], r)
		}
	}
	durs := eval[[]string](b, `[...document.querySelectorAll('[data-table=slow] tbody tr')].filter(r => r.children.length > 3).map(r => r.children[3].textContent)`)
	for _, d := range durs {
		if !regexp.MustCompile(`^\d+(\.\d)? (µs|ms)$|^\d+(\.\d\d?)? s$|min`).MatchString(d) {
			t.Errorf("a slow query's duration reads %q, want it as 174.6 ms", d)
		}
	}
	t.Logf("%d query rows, %d slow queries", len(rows), len(durs))
}

// checkWebSocketsPage: the event labels the kit makes are explained.
func checkWebSocketsPage(t *testing.T, b *browser) {
	t.Helper()
	note := eval[string](b, `(document.getElementById('event-labels') || {}).textContent || ''`)
	if !strings.Contains(note, "unknown") || !strings.Contains(note, "not JSON") {
		t.Errorf("the WebSockets page does not explain the event label unknown: %q", note)
	}
}

// checkMetricsPage: the family list in the page's own scroll, a
// counter's series with their rate and no histogram columns; then it
// searches the families and charts another one, with its history.
func checkMetricsPage(t *testing.T, b *browser) {
	t.Helper()
	box := eval[map[string]float64](b, `(() => { const s = document.querySelector('[data-table=families] .scroll'); return {scroll: s.scrollHeight, client: s.clientHeight}; })()`)
	if box["scroll"] > box["client"]+1 {
		t.Errorf("the family table scrolls inside a box: %v px of %v shown", box["client"], box["scroll"])
	}
	b.until(10*time.Second, "a counter's rate", func() string {
		cols := eval[[]string](b, `[...document.querySelectorAll('[data-table=series] th')].map(th => th.dataset.col)`)
		rates := eval[[]string](b, `[...document.querySelectorAll('[data-table=series] tbody tr')].map(r => r.lastChild.textContent)`)
		if !slices.Equal(cols, []string{"labels", "value", "rate"}) {
			return fmt.Sprintf("counter columns %v, want labels, value, rate", cols)
		}
		if !slices.ContainsFunc(rates, func(r string) bool { return strings.HasSuffix(r, "/s") }) {
			return fmt.Sprintf("rates %v", rates)
		}
		return ""
	})
	b.run(chromedp.SendKeys(chromedp.CSS("#search"), "db_query"))
	names := eval[[]string](b, `[...document.querySelectorAll('[data-table=families] tbody tr td:first-child')].map(td => td.textContent)`)
	if len(names) == 0 {
		t.Fatal("searching db_query shows no family")
	}
	for _, n := range names {
		if !strings.Contains(n, "db_query") {
			t.Errorf("search db_query shows %q", n)
		}
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-table=families] tbody tr`)))
	b.until(10*time.Second, "clicking "+names[0]+" charts it", func() string {
		s := b.state()
		title := eval[string](b, `document.querySelector('[data-chart=series] h2').textContent`)
		if s.Charts["series"] >= 2 && s.Tables["series"] >= 1 && strings.HasPrefix(title, names[0]+"{") {
			// Sampled since the dashboard began, not since the click.
			if s.History["series"] < 10 {
				return fmt.Sprintf("%s charted with %.0f s of history", title, s.History["series"])
			}
			return ""
		}
		return fmt.Sprintf("title %q, %+v", title, s)
	})
}

// checkRuntimePage: the runtime's table and lines, as checkRuntimeLines.
func checkRuntimePage(t *testing.T, b *browser) {
	t.Helper()
	b.until(10*time.Second, "a GC pause drawn", func() string {
		if b.state().Charts["pauses"] < 2 {
			return "no pause yet"
		}
		return ""
	})
	checkRuntimeLines(t, b)
}

// checkRuntimeLines: the GC pause and CPU lines are unbroken once they
// begin, and each chart's axis ends just above the highest value its
// legend gives.
func checkRuntimeLines(t *testing.T, b *browser) {
	t.Helper()
	s := b.state()
	for _, id := range []string{"pauses", "cpu"} {
		for _, d := range strings.Split(s.Paths[id], "|") {
			if n := strings.Count(d, "M"); n != 1 {
				t.Errorf("a line of chart %s is broken in %d pieces", id, n)
			}
		}
	}
	axes := eval[map[string]map[string]float64](b, `(() => {
		const out = {};
		for (const c of document.querySelectorAll('[data-chart]')) {
			const peaks = [...c.querySelectorAll('.legend [data-peak]')].map(e => Number(e.dataset.peak)).filter(Number.isFinite);
			out[c.dataset.chart] = {ymax: Number(c.dataset.ymax), peak: Math.max(...peaks)};
		}
		return out;
	})()`)
	for id, a := range axes {
		if a["peak"] > 0 && (a["ymax"] < a["peak"] || a["ymax"] > 2*a["peak"]) {
			t.Errorf("chart %s: axis up to %v, legend's highest value %v", id, a["ymax"], a["peak"])
		}
	}
}

// checkLogFilter filters the tail by one request's id, then opens that
// request from its link.
func checkLogFilter(t *testing.T, b *browser) {
	t.Helper()
	ctx := b.ctx
	rid := eval[string](b, `[...document.querySelectorAll('[data-table=logs] tbody tr')].map(r => r.dataset.rid).find(Boolean) || ''`)
	if rid == "" {
		t.Fatal("no record with a request id on the Logs page")
	}
	// The page says which records the ring keeps, and when.
	if keeps := eval[string](b, `document.querySelector('#keeps').textContent`); !strings.Contains(keeps, "while a dashboard page is open") {
		t.Errorf("the Logs page's note on what is kept: %q", keeps)
	}
	rowsFor := func() (all, matching int) {
		got := eval[[]string](b, `[...document.querySelectorAll('[data-table=logs] tbody tr')].map(r => r.dataset.rid ?? '-')`)
		for _, r := range got {
			if r == rid {
				matching++
			}
		}
		return len(got), matching
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#rid"), rid))
	time.Sleep(1500 * time.Millisecond) // a live update or two arrive meanwhile
	all, matching := rowsFor()
	if matching == 0 || all != matching {
		t.Errorf("filtered by request_id %s: %d rows, %d of them that request's", rid, all, matching)
	}
	// Clear, then follow the request id's link: every record of that
	// request, and only those.
	b.run(chromedp.Click(chromedp.CSS("#clear")))
	time.Sleep(500 * time.Millisecond)
	if all, matching := rowsFor(); all <= matching {
		t.Errorf("after clearing the filter: %d rows, %d of request %s", all, matching, rid)
	}
	// Read and click one link in one step: the tail moves every second.
	rid = eval[string](b, `(() => { const a = document.querySelector('[data-table=logs] a.rid:not([data-trace])'); if (!a) return ''; a.click(); return a.textContent; })()`)
	if rid == "" {
		t.Fatal("no request id link to click")
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

// checkLevelControl: the Logs page shows the logger's level, sets
// another for a while, as the level endpoint then says, and sets it back.
func checkLevelControl(t *testing.T, b *browser) {
	t.Helper()
	state := func() string {
		return eval[string](b, `(document.getElementById('log-level-state') || {}).textContent || ''`)
	}
	b.until(10*time.Second, "the level shown", func() string {
		if s := state(); !strings.Contains(s, "logging at INFO") {
			return fmt.Sprintf("the level control says %q", s)
		}
		return ""
	})
	set := func(level, dur string) {
		t.Helper()
		b.run(chromedp.SetValue(chromedp.CSS("#log-level"), level), chromedp.SetValue(chromedp.CSS("#log-level-for"), dur),
			chromedp.Click(chromedp.CSS("#log-level-set")))
	}
	set("debug", "1m")
	b.until(10*time.Second, "DEBUG for a minute", func() string {
		if s := state(); !regexp.MustCompile(`logging at DEBUG until \d\d:\d\d:\d\d, then INFO`).MatchString(s) {
			return fmt.Sprintf("the level control says %q", s)
		}
		return ""
	})
	// The level in force is the logger's: the endpoint says so too.
	got := await[string](b, `fetch(document.body.dataset.base + '/api/level', {headers: {Accept: 'application/json'}}).then(r => r.text())`)
	if !strings.Contains(got, `"level":"debug"`) || !strings.Contains(got, `"revert_to":"info"`) {
		t.Errorf("after setting DEBUG for 1 min, /api/level says %s", got)
	}
	set("info", "")
	b.until(10*time.Second, "INFO again", func() string {
		if s := state(); s != "logging at INFO and above, every backend" {
			return fmt.Sprintf("the level control says %q", s)
		}
		return ""
	})
}

// checkProfileLinks: the Runtime page links a 10 s CPU profile, a heap
// profile and a goroutine dump, which answer with the dashboard's cookie.
func checkProfileLinks(t *testing.T, b *browser) {
	t.Helper()
	links := eval[[]string](b, `[...document.querySelectorAll('#profiles a')].map(a => a.getAttribute('href'))`)
	for _, want := range []string{"/dashboard/debug/pprof/profile?seconds=10", "/dashboard/debug/pprof/heap", "/dashboard/debug/pprof/goroutine?debug=2"} {
		if !slices.Contains(links, want) {
			t.Errorf("the Runtime page's profile links %v lack %s", links, want)
		}
	}
	// Fetched as a click would, with the cookie: the heap profile and the
	// goroutine dump (the CPU profile takes its 10 s).
	got := await[[]string](b, `Promise.all(['/dashboard/debug/pprof/heap', '/dashboard/debug/pprof/goroutine?debug=2'].map(u => fetch(u).then(r => r.status + ' ' + r.headers.get('Content-Type'))))`)
	if len(got) != 2 || !strings.HasPrefix(got[0], "200 application/octet-stream") || !strings.HasPrefix(got[1], "200 text/plain") {
		t.Errorf("the heap profile and the goroutine dump answer %v", got)
	}
}

// checkTracesPage opens the latest trace whose root span starts with
// root from the Traces page's list: a waterfall of its spans, children
// under their parents, with the spans named in want among them, and its
// log records. Then it goes to those records on the Logs page, and back
// to the trace from a record's trace_id.
func checkTracesPage(t *testing.T, b *browser, dash, root string, want []string) string {
	t.Helper()
	// A trace of root with at least its wanted spans, by the table's Spans
	// column: the demo's simulated users also send requests refused before
	// any child span (a malformed POST is a 400 of one span).
	rows := fmt.Sprintf(`[...document.querySelectorAll('[data-table=traces] tbody tr')].filter(r => r.children[1].textContent.startsWith(%q) && Number(r.children[3].textContent) >= %d)`, root, 1+len(want))
	b.until(20*time.Second, "a trace of "+root+" listed", func() string {
		n := eval[int](b, rows+`.length`)
		if n == 0 || b.state().Tables["routes"] == 0 {
			return fmt.Sprintf("%d traces of it with %d spans or more, %d routes", n, 1+len(want), b.state().Tables["routes"])
		}
		return ""
	})
	id := eval[string](b, `(() => { const r = `+rows+`[0]; r.click(); return r.querySelector('a[data-trace]').dataset.trace; })()`)
	type span struct {
		Name  string
		Depth int
		Error bool
	}
	var spans []span
	b.until(10*time.Second, "trace "+id+" as a waterfall", func() string {
		spans = eval[[]span](b, `[...document.querySelectorAll('[data-trace-view] .wf-row')].map(r => ({name: r.dataset.name, depth: Number(r.dataset.depth), error: r.classList.contains('error')}))`)
		if len(spans) < 1+len(want) {
			return fmt.Sprintf("spans %+v", spans)
		}
		return ""
	})
	if spans[0].Depth != 0 || !strings.HasPrefix(spans[0].Name, root) {
		t.Errorf("the waterfall starts with %+v, want the root span %s…", spans[0], root)
	}
	for _, w := range want {
		if !slices.ContainsFunc(spans, func(s span) bool { return strings.Contains(s.Name, w) && s.Depth > 0 }) {
			t.Errorf("no span %s under the root: %+v", w, spans)
		}
	}
	// A span's attributes open under it.
	b.run(chromedp.Click(chromedp.CSS(`[data-trace-view] .wf-row:nth-of-type(1)`)))
	if n := eval[int](b, `document.querySelectorAll('[data-trace-view] .wf-detail:not([hidden]) tr').length`); n < 4 {
		t.Errorf("the root span's details show %d rows", n)
	}
	b.until(10*time.Second, "the trace's log records", func() string {
		if n := b.state().Tables["trace-logs"]; n == 0 {
			return "none"
		}
		return ""
	})
	// To its records on the Logs page, and back from one's trace_id.
	b.run(chromedp.Click(chromedp.CSS(`#trace-logs-link`)))
	b.until(10*time.Second, "the Logs page showing the trace's records", func() string {
		got := eval[[]string](b, `[...document.querySelectorAll('[data-table=logs] tbody tr')].map(r => r.dataset.trace ?? '-')`)
		if len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != id }) {
			return fmt.Sprintf("rows of traces %v, want %s alone", got, id)
		}
		return ""
	})
	b.run(chromedp.Click(chromedp.CSS(`[data-table=logs] a[data-trace]`)))
	b.until(10*time.Second, "back to the trace", func() string {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('[data-trace-view=%q] .wf-row').length`, id))
		if !strings.HasSuffix(loc, "/traces?trace="+id) || n != len(spans) {
			return fmt.Sprintf("at %s, %d spans", loc, n)
		}
		return ""
	})
	return id
}

// The Traces page on spans fed by hand: the waterfall, the errors marked,
// the attributes, the log records of a trace and the way from the Logs
// page and back; names and values from users shown as text.
func TestTracesInChromium(t *testing.T) {
	ring := livedash.NewRing(&livedash.RingOptions{IdleLevel: slog.LevelInfo})
	spans, err := livedash.NewSpans(&livedash.SpansOptions{KeepAllWhenIdle: true})
	if err != nil {
		t.Fatal(err)
	}
	dash, err := livedash.New(&livedash.Options{Logs: ring, Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dash.Close(context.Background()) })
	mux := http.NewServeMux()
	mux.Handle(livedash.DefaultPath+"/", dash)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	log := slog.New(ring)
	at := time.Now().Add(-time.Minute)
	var n byte
	id := func() (trace.TraceID, trace.SpanID) {
		n++
		return trace.TraceID{1, 2, n}, trace.SpanID{9, n}
	}
	const xss = `<img src=x id=xss onerror="document.title='pwned'">`
	for i := range 3 {
		tid, root := id()
		_, store := id()
		_, insert := id()
		_, bcast := id()
		t0 := at.Add(time.Duration(i) * time.Second)
		ms := func(d float64) time.Time { return t0.Add(time.Duration(d * float64(time.Millisecond))) }
		// Children end first, as they do.
		spans.Add(livedash.Span{TraceID: tid, SpanID: insert, ParentID: store, Name: "INSERT comments", Kind: trace.SpanKindClient,
			Start: ms(2), End: ms(6.5), Service: "demo",
			Attrs: []livedash.SpanAttr{{Key: "db.system.name", Value: "sqlite"}, {Key: "db.query.text", Value: "INSERT INTO comments " + xss}}})
		spans.Add(livedash.Span{TraceID: tid, SpanID: store, ParentID: root, Name: "store comment", Kind: trace.SpanKindInternal,
			Start: ms(1), End: ms(7), Service: "demo"})
		spans.Add(livedash.Span{TraceID: tid, SpanID: bcast, ParentID: root, Name: "broadcast " + xss, Kind: trace.SpanKindProducer,
			Start: ms(7.5), End: ms(9), Service: "demo",
			Events: []livedash.SpanEvent{{Time: ms(8), Name: "sent", Attrs: []livedash.SpanAttr{{Key: "subscribers", Value: "3"}}}}})
		spans.Add(livedash.Span{TraceID: tid, SpanID: root, Name: "POST /api/videos/{id}/comments", Kind: trace.SpanKindServer,
			Start: ms(0), End: ms(10 + float64(i)), Service: "demo",
			Attrs: []livedash.SpanAttr{{Key: "http.response.status_code", Value: "201"}}})
		log.Info("comment created", "trace_id", tid.String(), "span_id", store.String(), "request_id", fmt.Sprintf("req-%d", i))
		log.Info("http request "+xss, "trace_id", tid.String(), "span_id", root.String(), "request_id", fmt.Sprintf("req-%d", i))
	}
	tid, root := id()
	spans.Add(livedash.Span{TraceID: tid, SpanID: root, Name: "GET /api/videos/{id}/comments", Kind: trace.SpanKindServer,
		Start: at, End: at.Add(3 * time.Millisecond), Status: livedash.StatusError, StatusMessage: "database is locked", Service: "demo",
		Events: []livedash.SpanEvent{{Time: at.Add(2 * time.Millisecond), Name: "exception", Attrs: []livedash.SpanAttr{{Key: "exception.message", Value: "database is locked"}}}}})

	b := newBrowser(t)
	base := srv.URL + livedash.DefaultPath + "/"
	b.run(chromedp.Navigate(base + "traces"))
	checkTracesPage(t, b, base, "POST ", []string{"store comment", "INSERT comments", "broadcast"})
	// The INSERT is under the store, the broadcast beside it.
	depth := eval[map[string]int](b, `Object.fromEntries([...document.querySelectorAll('[data-trace-view] .wf-row')].map(r => [r.dataset.name.split(' ')[0], Number(r.dataset.depth)]))`)
	if depth["POST"] != 0 || depth["store"] != 1 || depth["INSERT"] != 2 || depth["broadcast"] != 1 {
		t.Errorf("depths = %v, want POST 0, store 1, INSERT 2, broadcast 1", depth)
	}
	// The error trace, marked.
	b.run(chromedp.Navigate(base + "traces?trace=" + tid.String()))
	b.until(10*time.Second, "the error trace", func() string {
		got := eval[map[string]any](b, `(() => { const r = document.querySelector('[data-trace-view] .wf-row'); return r ? {error: r.classList.contains('error'), badge: r.textContent.includes('error')} : {}; })()`)
		if got["error"] != true || got["badge"] != true {
			return fmt.Sprintf("%v", got)
		}
		return ""
	})
	b.run(chromedp.Click(chromedp.CSS(`[data-trace-view] .wf-row`)))
	if txt := eval[string](b, `document.querySelector('[data-trace-view] .wf-detail').textContent`); !strings.Contains(txt, "database is locked") || !strings.Contains(txt, "exception") {
		t.Errorf("the error span's details: %q", txt)
	}
	// Users' text is text.
	if eval[bool](b, `!!document.getElementById('xss')`) || eval[string](b, `document.title`) == "pwned" {
		t.Error("a span's name was rendered as HTML")
	}
}

// do runs actions with a deadline, so that a selector that never matches
// fails the test instead of hanging it.
func do(ctx context.Context, a ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return chromedp.Do(ctx, a...)
}
