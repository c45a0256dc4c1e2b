package operate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/realtimeserver/observability/internal/authtoken"
)

// DefaultCheckTimeout is how long a health check may run, by default,
// before it counts as failed.
const DefaultCheckTimeout = 2 * time.Second

// ShutdownCheck is the name of the readiness check that fails from the
// moment Health.Drain is called.
const ShutdownCheck = "shutdown"

// HealthOptions configure a Health. A nil or zero HealthOptions consists
// entirely of default values; NewHealth copies what it needs and never
// writes to it.
type HealthOptions struct {
	// Timeout bounds each run of a check: its context is cancelled then,
	// and a check that has not returned by then counts as failed.
	// Default: DefaultCheckTimeout (2 s). Negative is an error.
	Timeout time.Duration
	// Token, when not empty, is required (as "Authorization: Bearer
	// <token>") to see why a check failed: without it a failed check
	// reads "reason withheld", as in Kubernetes. The status code and the
	// names of the checks are open to all, for the probes. Default: none,
	// and the reasons are shown to all.
	Token string
}

// Check is the signature of a health check: it returns nil when healthy.
// ctx is cancelled when the check's time is up; a check should return
// then, though one that does not is only counted as failed and left to
// finish (see Health).
type Check func(ctx context.Context) error

// Health serves the liveness and readiness endpoints of a program with the
// Kubernetes conventions: 200 and "ok" when every check passes, 503 and
// the list of checks otherwise; ?verbose lists every check, as "[+]name
// ok" or "[-]name failed: reason", then "livez check passed" (or
// "readyz check failed"); ?exclude=name (repeatable) leaves a check out;
// /readyz/<name> runs that check alone (404 for a name not registered).
//
// Readiness has the built-in check ShutdownCheck, which fails from the
// moment Drain is called: from the first SIGTERM, with NotifyContext, the
// load balancer stops sending new requests while those accepted finish.
// Liveness has no built-in check and is not affected by Drain, so /livez
// answers 200 until the program exits unless a liveness check of the
// program's own fails.
//
// Each probe runs the checks it asks for at once, each in a goroutine of
// its own, with no lock held, and waits for each at most the check's
// timeout. A check that is still running from an earlier probe is not
// started again: the probe waits for that run, until the run's own time is
// up. So there is at most one goroutine per check, whatever the probes;
// one that never returns holds its goroutine and fails every probe until
// it does. A check that panics fails with the panic's value.
//
// Health is safe for concurrent use.
type Health struct {
	timeout time.Duration
	token   authtoken.Token

	draining atomic.Bool
	mu       sync.Mutex
	live     []*check // copied on write: probes read it without the lock
	ready    []*check
}

type check struct {
	name    string
	f       Check
	timeout time.Duration
	mu      sync.Mutex
	run     *checkRun // in flight, or nil
}

// checkRun is one run of a check.
type checkRun struct {
	timeout  time.Duration
	deadline time.Time
	done     chan struct{}
	err      error // set before done is closed
}

// NewHealth returns a Health with no checks but ShutdownCheck.
func NewHealth(opts *HealthOptions) (*Health, error) {
	var o HealthOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("operate: HealthOptions.Timeout %v is negative; accepted: 0 (default %v) or more", o.Timeout, DefaultCheckTimeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultCheckTimeout
	}
	return &Health{timeout: o.Timeout, token: authtoken.New(o.Token)}, nil
}

// AddReadiness registers a readiness check: /readyz answers 503 while it
// fails. The name must be letters, digits, '-', '_' or '.', unique among
// the readiness checks and not ShutdownCheck; anything else is an error
// and registers nothing. check must not be nil.
func (h *Health) AddReadiness(name string, check Check) error {
	return h.add(&h.ready, "readiness", name, check)
}

// AddLiveness registers a liveness check: /livez answers 503 while it
// fails, and Kubernetes restarts a container whose liveness probe fails.
// Use it only for what a restart cures (a deadlock, a wedged loop), never
// for a dependency such as a database. The rules on name are those of
// AddReadiness.
func (h *Health) AddLiveness(name string, check Check) error {
	return h.add(&h.live, "liveness", name, check)
}

func (h *Health) add(list *[]*check, kind, name string, f Check) error {
	if f == nil {
		return fmt.Errorf("operate: %s check %q: nil function", kind, name)
	}
	if !validCheckName(name) {
		return fmt.Errorf("operate: %s check %q: a name is one or more letters, digits, '-', '_' or '.'", kind, name)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if name == ShutdownCheck && list == &h.ready || slices.ContainsFunc(*list, func(c *check) bool { return c.name == name }) {
		return fmt.Errorf("operate: %s check %q is registered already", kind, name)
	}
	*list = append(slices.Clip(*list), &check{name: name, f: f, timeout: h.timeout})
	return nil
}

func validCheckName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Drain makes readiness fail from now on (ShutdownCheck); liveness is
// unchanged. Call it when the program starts to shut down, before it
// stops accepting connections, so that new requests go elsewhere while
// those accepted finish. Calling it again does nothing.
func (h *Health) Drain() { h.draining.Store(true) }

// Draining reports whether Drain has been called.
func (h *Health) Draining() bool { return h.draining.Load() }

// NotifyContext is signal.NotifyContext that also calls Drain when the
// first of signals arrives, before the returned context is done. With no
// signals it listens for SIGTERM (what Kubernetes sends) and os.Interrupt.
// As with signal.NotifyContext, the signals stay caught until stop is
// called; call stop once ctx is done so that a second signal ends the
// program at once. stop releases everything NotifyContext started and may
// be called more than once.
func (h *Health) NotifyContext(parent context.Context, signals ...os.Signal) (ctx context.Context, stop context.CancelFunc) {
	if len(signals) == 0 {
		signals = []os.Signal{syscall.SIGTERM, os.Interrupt}
	}
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, signals...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ch:
			h.Drain()
			cancel()
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			cancel()
			<-done
		})
	}
}

// Livez returns the handler of the liveness endpoint (mount it at /livez
// and /livez/{check}).
func (h *Health) Livez() http.Handler { return probe{h: h, ready: false} }

// Readyz returns the handler of the readiness endpoint (mount it at
// /readyz and /readyz/{check}).
func (h *Health) Readyz() http.Handler { return probe{h: h, ready: true} }

// Mount registers GET /livez, /livez/{check}, /readyz and
// /readyz/{check} on mux. Like mux.Handle, it panics if one of these
// patterns is registered already.
func (h *Health) Mount(mux *http.ServeMux) {
	mux.Handle("GET /livez", h.Livez())
	mux.Handle("GET /livez/{check}", h.Livez())
	mux.Handle("GET /readyz", h.Readyz())
	mux.Handle("GET /readyz/{check}", h.Readyz())
}

type probe struct {
	h     *Health
	ready bool
}

// result is one check's outcome in a probe.
type result struct {
	name string
	err  error
}

func (p probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := p.h
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	kind := "livez"
	h.mu.Lock()
	checks := h.live
	if p.ready {
		kind, checks = "readyz", h.ready
	}
	h.mu.Unlock()
	q := r.URL.Query()
	verbose := q.Has("verbose")
	excluded := map[string]bool{}
	for _, list := range q["exclude"] {
		for name := range strings.SplitSeq(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				excluded[name] = false // true once it matched a check
			}
		}
	}
	only := r.PathValue("check")
	if only != "" {
		verbose = true
		if !(p.ready && only == ShutdownCheck) && !slices.ContainsFunc(checks, func(c *check) bool { return c.name == only }) {
			http.Error(w, fmt.Sprintf("%s: no check named %q", kind, only), http.StatusNotFound)
			return
		}
	}
	want := func(name string) bool {
		if only != "" {
			return name == only
		}
		if _, ok := excluded[name]; ok {
			excluded[name] = true
			return false
		}
		return true
	}

	var results []result
	if p.ready && want(ShutdownCheck) {
		var err error
		if h.Draining() {
			err = errors.New("the service is draining")
		}
		results = append(results, result{ShutdownCheck, err})
	}
	var runs []*checkRun
	var names []string
	for _, c := range checks {
		if want(c.name) {
			runs = append(runs, c.start())
			names = append(names, c.name)
		}
	}
	for i, run := range runs {
		results = append(results, result{names[i], run.wait()})
	}

	failed := slices.ContainsFunc(results, func(r result) bool { return r.err != nil })
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	if !failed && !verbose {
		io.WriteString(w, "ok")
		return
	}
	if only != "" && !failed {
		io.WriteString(w, "ok")
		return
	}
	reasons := h.token.Request(r, "")
	var b strings.Builder
	for _, res := range results {
		switch {
		case res.err == nil:
			fmt.Fprintf(&b, "[+]%s ok\n", res.name)
		case reasons:
			fmt.Fprintf(&b, "[-]%s failed: %s\n", res.name, oneLine(res.err.Error()))
		default:
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", res.name)
		}
	}
	var unmatched []string
	for name, matched := range excluded {
		if !matched {
			unmatched = append(unmatched, fmt.Sprintf("%q", name))
		}
	}
	if len(unmatched) > 0 && only == "" {
		slices.Sort(unmatched)
		fmt.Fprintf(&b, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(unmatched, ","))
	}
	if only == "" {
		if failed {
			fmt.Fprintf(&b, "%s check failed\n", kind)
		} else {
			fmt.Fprintf(&b, "%s check passed\n", kind)
		}
	}
	io.WriteString(w, b.String())
}

// oneLine keeps a reason on its line, so that it cannot forge a "[+]" line
// of another check.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// start returns the run of c in flight, starting one if there is none.
func (c *check) start() *checkRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != nil {
		return c.run
	}
	run := &checkRun{timeout: c.timeout, deadline: time.Now().Add(c.timeout), done: make(chan struct{})}
	c.run = run
	go func() {
		ctx, cancel := context.WithDeadline(context.Background(), run.deadline)
		defer cancel()
		run.err = call(ctx, c.f)
		close(run.done)
		c.mu.Lock()
		c.run = nil
		c.mu.Unlock()
	}()
	return run
}

// wait returns the run's result, or a timeout error once its deadline has
// passed.
func (run *checkRun) wait() error {
	t := time.NewTimer(time.Until(run.deadline))
	defer t.Stop()
	select {
	case <-run.done:
		return run.err
	case <-t.C:
		select {
		case <-run.done: // both ready: the result wins
			return run.err
		default:
		}
		return fmt.Errorf("timed out after %v, still running", run.timeout)
	}
}

// call runs f, turning a panic into an error.
func call(ctx context.Context, f Check) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return f(ctx)
}
