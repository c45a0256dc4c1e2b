package livedash

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// DefaultPath is where the dashboard expects to be mounted.
const DefaultPath = "/dashboard"

// DefaultMaxViewers is the default bound on pages open at once.
const DefaultMaxViewers = 16

// DefaultMaxQueries is the default bound on log queries answered at once.
const DefaultMaxQueries = 4

// StreamLifetime is how long the dashboard serves one live connection
// before it ends it; the page's EventSource opens the next one by itself
// and carries on where it was (Last-Event-ID). A viewer that stopped
// reading therefore holds its place among Options.MaxViewers for at most
// this long and two seconds (the deadlines of its last writes), whatever
// the kernel's socket buffers could still absorb.
const StreamLifetime = 20 * time.Second

// writeTimeout bounds the writing of one live update, Flush included: a
// viewer that cannot take an update in this time has stopped reading.
const writeTimeout = 10 * time.Second

// CookieName is the cookie that keeps the token after a ?token= visit.
const CookieName = "livedash_token"

// Options configure a Dashboard. A nil or zero Options consists entirely
// of default values; New copies what it needs and never writes to it.
type Options struct {
	// Source gives the metrics: the Prometheus registry's snapshot.
	// Default: none, and the HTTP, Database, WebSockets and Metrics pages
	// stay empty.
	Source Source
	// Logs is the ring of recent records for the Logs page and the slow
	// queries; it must also be one of the logger's handlers. Default:
	// none, and the Logs page stays empty.
	Logs *Ring
	// Spans is the ring of recent spans for the Traces page, fed by a
	// span processor (see Spans). Default: none, and there is no Traces
	// page.
	Spans *Spans
	// TracesOff, when Spans is nil and it is not empty, is what a Traces
	// page says instead of traces: why there are none and how to turn
	// them on. Default: "", and without Spans there is no Traces page.
	TracesOff string
	// Profiles reports whether the Go runtime's profiles are served under
	// Path+"/debug/pprof/" behind the same token (operate/profiling.Mount
	// with Base: Path and Cookie: CookieName): while it does, the Runtime
	// page links a 10 s CPU profile, a heap profile and a goroutine dump.
	// It is asked each time the Runtime page is served. Default: nil, no
	// links.
	Profiles func() bool
	// Level, when not nil, serves Path+"/api/level" behind the token, as
	// operate.Level does: GET answers the logger's level as JSON
	// ({"level":"info"}, with "revert_to" and "revert_at" while a
	// temporary level is in force), PUT changes it
	// ({"level":"debug","for":"10m"}). The Logs page then shows the level
	// and a control that changes it. A handler that checks a token of its
	// own must accept the dashboard's cookie (operate.LevelOptions.Cookie:
	// CookieName). Default: none.
	Level http.Handler
	// Path is the URL path the dashboard is mounted at, without a
	// trailing slash: pages are Path+"/", Path+"/http", and so on.
	// Mount the handler at Path+"/" and at Path. Default: DefaultPath.
	Path string
	// Token, when not empty, is required on every request: as
	// "Authorization: Bearer <token>", or once as ?token=<token>, after
	// which a cookie (HttpOnly, SameSite=Strict) carries it. It is
	// compared in constant time and never logged. Default: none.
	Token string
	// Service, Environment and Version are shown on the Home page.
	// Defaults: the executable's name, empty, the module's build version.
	Service, Environment, Version string
	// MaxViewers bounds the pages open at once (one live connection
	// each); more are refused with 503 and Retry-After, and counted in
	// Stats. Default: DefaultMaxViewers (16). Negative is an error.
	MaxViewers int
	// MaxQueries bounds the log queries (the Logs page's search of the
	// Ring) answered at once; more are refused with 503 and Retry-After,
	// and counted in Stats. Default: DefaultMaxQueries (4). Negative is
	// an error.
	MaxQueries int

	// streamLife replaces StreamLifetime, and maxSeries
	// MaxHistorySeries, in tests, when not zero.
	streamLife time.Duration
	maxSeries  int
}

// Dashboard is the live dashboard: an http.Handler serving the pages, their
// assets and their live updates. From New until Close it reads the Source
// and the runtime once a second, whoever watches, and keeps 15 minutes of
// every page's chart series and of every series of the Source, so that
// each chart shows them as soon as it opens. Memory is bounded whatever
// the requests and the Source: the history takes at most HistoryBytes
// (MaxHistorySeries series); the sampler keeps six readings of the
// Source; an open page's first update carries at most 24 lines a chart,
// and each update at most 500 records (128 KiB of their text); a log
// query copies the Ring out 64 KiB at a time, a trace query at most 2000
// spans of Spans, and each writes its answer as it goes;
// Options.MaxViewers and Options.MaxQueries bound how many of each run at
// once, and the others are refused at once, never queued. The Ring and the
// Spans have their own bounds.
type Dashboard struct {
	src     Source
	ring    *Ring
	spans   *Spans
	path    string
	token   [sha256.Size]byte
	secured bool
	info    info
	nonce   string // tells this Dashboard's stream ids from another's

	tracesOff string       // Options.TracesOff
	profiles  func() bool  // Options.Profiles
	level     http.Handler // Options.Level

	hist       *histStore
	latest     atomic.Pointer[sampled] // the sampler's latest reading
	viewers    gate
	queries    gate
	streams    atomic.Uint64
	dropped    drop.Counter
	streamLife time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // closed, and wg.Add against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
}

// Stats are a Dashboard's counts, for its own health.
type Stats struct {
	// Viewers is the live connections open now, at most
	// Options.MaxViewers; Queries the log queries being answered now, at
	// most Options.MaxQueries.
	Viewers, Queries int
	// Streams counts the live connections served since New, those that
	// browsers reopened after StreamLifetime included.
	Streams uint64
	// HistorySeries is the series the history keeps now, at most
	// MaxHistorySeries; HistoryUntracked the series the last sample could
	// not keep, past that bound (a page that shows one gives it a place).
	HistorySeries, HistoryUntracked int
	// Dropped counts the requests refused or cut short, by reason:
	// queue_full for a live connection, a log query or a trace query past
	// its bound (answered 503 with Retry-After), closed for a live
	// connection asked for after Close, and timeout for a live connection
	// ended because an update could not be written within 10 s. Under
	// overflow it counts the series dropped from the history past
	// MaxHistorySeries: each the least recently viewed, to give its place
	// to one a page shows.
	Dropped drop.Counts
}

var _ http.Handler = (*Dashboard)(nil)

// New returns a Dashboard and starts its sampler; Close stops it. It returns an error for a negative Options.MaxViewers or
// MaxQueries. Mount it on a mux at Options.Path:
//
//	dash, err := livedash.New(&livedash.Options{Source: registry, Logs: ring})
//	mux.Handle("/dashboard/", dash)
//	mux.Handle("/dashboard", dash)
func New(opts *Options) (*Dashboard, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxViewers < 0 {
		return nil, fmt.Errorf("livedash: Options.MaxViewers is %d: want 0 (the default, %d) or more", o.MaxViewers, DefaultMaxViewers)
	}
	if o.MaxQueries < 0 {
		return nil, fmt.Errorf("livedash: Options.MaxQueries is %d: want 0 (the default, %d) or more", o.MaxQueries, DefaultMaxQueries)
	}
	o.Path = strings.TrimRight(o.Path, "/")
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if !strings.HasPrefix(o.Path, "/") {
		o.Path = "/" + o.Path
	}
	orDefault := func(n, def int) int32 {
		if n == 0 {
			n = def
		}
		return int32(min(n, math.MaxInt32))
	}
	d := &Dashboard{src: o.Source, ring: o.Logs, spans: o.Spans, path: o.Path,
		hist:       newHistStore(cmp.Or(o.maxSeries, MaxHistorySeries)),
		viewers:    gate{max: orDefault(o.MaxViewers, DefaultMaxViewers)},
		queries:    gate{max: orDefault(o.MaxQueries, DefaultMaxQueries)},
		streamLife: cmp.Or(o.streamLife, StreamLifetime)}
	d.tracesOff, d.profiles, d.level = o.TracesOff, o.Profiles, o.Level
	if o.Token != "" {
		d.token, d.secured = sha256.Sum256([]byte(o.Token)), true
	}
	d.info = newInfo(o)
	d.nonce = strconv.FormatInt(d.info.started.UnixNano(), 36)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1)
	go d.sample()
	return d, nil
}

// Flush returns nil at once: the dashboard holds nothing for delivery.
// It is there so that a Dashboard has the lifecycle of the kit's other
// parts.
func (d *Dashboard) Flush(context.Context) error { return nil }

// Close stops the sampler and ends every open page's live connection
// (browsers reconnect to whatever serves the path next); live connections
// asked for after it are refused with 503 and counted as closed. It waits
// for them until ctx ends, and returns ctx's error if it ended first.
// Calling it again waits the same way.
func (d *Dashboard) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join counts a live connection in for Close to wait for, and reports
// false after Close.
func (d *Dashboard) join() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	return true
}

// Stats returns the Dashboard's counts.
func (d *Dashboard) Stats() Stats {
	lines, untracked, evicted := d.hist.stats()
	st := Stats{Viewers: int(d.viewers.n.Load()), Queries: int(d.queries.n.Load()),
		Streams: d.streams.Load(), HistorySeries: lines, HistoryUntracked: untracked, Dropped: d.dropped.Snapshot()}
	st.Dropped[drop.Overflow] += evicted
	return st
}

// ServeHTTP serves the pages, the assets and the live updates under Path.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	rest, ok := strings.CutPrefix(r.URL.Path, d.path)
	if !ok || (rest != "" && rest[0] != '/') {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && (r.Method != http.MethodPut || rest != "/api/level" || d.level == nil) {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !d.authorized(w, r) {
		return
	}
	if rest == "" {
		http.Redirect(w, r, d.path+"/", http.StatusFound)
		return
	}
	if page, ok := d.pageAt(rest); ok {
		d.servePage(w, r, page)
		return
	}
	switch {
	case strings.HasPrefix(rest, "/assets/"):
		serveAsset(w, r, strings.TrimPrefix(rest, "/assets/"))
	case rest == "/api/stream":
		d.serveStream(w, r)
	case rest == "/api/logs":
		d.serveLogs(w, r)
	case rest == "/api/trace" && d.spans != nil:
		d.serveTrace(w, r)
	case rest == "/api/level" && d.level != nil:
		d.level.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authorized checks the token, from the Authorization header, the cookie
// or ?token=. A good ?token= sets the cookie and redirects to the same URL
// without it, so the token leaves the address bar and the history.
func (d *Dashboard) authorized(w http.ResponseWriter, r *http.Request) bool {
	if !d.secured {
		return true
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") && d.tokenOK(strings.TrimSpace(tok)) {
			return true
		}
	}
	if c, err := r.Cookie(CookieName); err == nil && d.tokenOK(c.Value) {
		return true
	}
	q := r.URL.Query()
	if q.Has("token") && d.tokenOK(q.Get("token")) {
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: q.Get("token"), Path: d.path + "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		if u.Path == d.path {
			u.Path = d.path + "/"
		}
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="dashboard"`)
	http.Error(w, "unauthorized: this dashboard needs its token, as Authorization: Bearer <token> or ?token=<token>", http.StatusUnauthorized)
	return false
}

// tokenOK compares hashes in constant time, so neither the content nor the
// length of the token leaks through timing.
func (d *Dashboard) tokenOK(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], d.token[:]) == 1
}

// sample reads the Source and the runtime once a second until Close,
// keeps what the charts show in the history, and publishes the reading
// for the pages' tables.
func (d *Dashboard) sample() {
	defer d.wg.Done()
	s := newSampler(d.src)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	record := func(now time.Time) {
		smp, batch := s.sample(now)
		d.hist.commit(now.UnixMilli(), batch)
		d.latest.Store(smp)
	}
	record(time.Now())
	for {
		select {
		case <-d.ctx.Done():
			return
		case now := <-tk.C:
			record(now)
		}
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
