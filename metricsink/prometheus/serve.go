package prometheus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Serve listens on the TCP address addr (":9568") and serves the
// exposition at /metrics and / until ctx ends; see ServeListener.
func (p *Registry) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("prometheus: listen on %q: %w", addr, err)
	}
	return p.ServeListener(ctx, ln)
}

// ServeListener serves the exposition at /metrics and / on ln until ctx
// ends, then shuts the server down gracefully (waiting up to 5 seconds for
// scrapes in flight) and returns nil. It closes ln. Any other failure of
// the server is returned. Use it with a listener of your own, for example
// net.Listen("tcp", "127.0.0.1:0") to learn the port before serving.
func (p *Registry) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", p)
	mux.Handle("/{$}", p)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("prometheus: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("prometheus: shut down the server on %s: %w", ln.Addr(), err)
	}
	return nil
}

// PushOptions configures Push. A nil or zero PushOptions consists entirely
// of default values.
type PushOptions struct {
	// Interval is the time between two pushes. Default: 10 seconds.
	Interval time.Duration

	// Timeout bounds each push. Default: Interval, at most 10 seconds.
	Timeout time.Duration

	// Headers are added to every push request, each as "Name: value"
	// (an Authorization header, for instance). Default: none.
	Headers []string

	// DisableCompression sends the body uncompressed. Default: false
	// (gzip).
	DisableCompression bool
}

// Push sends the whole exposition to pushURL every interval until ctx
// ends, then makes one last push (bounded by the timeout) so that the final
// values are delivered, and returns nil. pushURL is an import endpoint that
// reads the Prometheus text format, such as VictoriaMetrics'
// http://host:8428/api/v1/import/prometheus; each push is one POST of the
// whole exposition, gzipped unless PushOptions.DisableCompression is set,
// and fails unless the endpoint answers 2xx. Close ends it (with its last
// push) and Flush pushes at once. An invalid pushURL or option is
// returned at once as an error. A failed push is counted in
// metricsink_push_errors_total{url}, url being scheme://host/path only
// (no user, password, query or fragment, which may hold tokens), logged
// when pushes start failing and when they recover, and retried at the next
// interval. Run it in a goroutine of your own:
//
//	go p.Push(ctx, "http://127.0.0.1:8428/api/v1/import/prometheus", nil)
func (p *Registry) Push(ctx context.Context, pushURL string, opts *PushOptions) error {
	var o PushOptions
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(pushURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("prometheus: Push URL %q is not accepted: want an absolute http or https URL", pushURL)
	}
	switch {
	case o.Interval < 0:
		return fmt.Errorf("prometheus: PushOptions.Interval %v is negative; accepted: 0 (default 10s) or more", o.Interval)
	case o.Interval == 0:
		o.Interval = 10 * time.Second
	}
	switch {
	case o.Timeout < 0:
		return fmt.Errorf("prometheus: PushOptions.Timeout %v is negative; accepted: 0 (default: the interval, at most 10s) or more", o.Timeout)
	case o.Timeout == 0:
		o.Timeout = min(o.Interval, 10*time.Second)
	}
	for _, h := range o.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("prometheus: PushOptions.Headers entry %q is not accepted: want \"Name: value\"", h)
		}
	}
	headers := make(http.Header)
	for _, h := range o.Headers {
		name, value, _ := strings.Cut(h, ":")
		headers.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	redacted := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
	hide := hidePushURL(u, pushURL, redacted)
	p.mu.Lock()
	labels := []Tag{{Key: "url", Value: strings.Clone(p.guard.Value(redacted))}}
	errs := p.pushFam.byCanon[string(renderLabels(nil, labels))]
	if errs == nil {
		errs = p.newSeriesLocked(p.pushFam, labels, nil)
	}
	p.mu.Unlock()

	failing := false
	push := func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		err := p.pushOnce(pctx, pushURL, headers, !o.DisableCompression)
		l := p.logger
		if l == nil {
			l = slog.Default()
		}
		switch {
		case err != nil:
			errs.ints.Add(1)
			err = errors.New(hide(err.Error()))
			if !failing {
				l.Warn("prometheus: push failed; retrying every interval", slog.String("url", redacted), slog.String("error", err.Error()))
			}
			failing = true
			return fmt.Errorf("prometheus: push to %s: %w", redacted, err)
		case failing:
			l.Info("prometheus: push recovered", slog.String("url", redacted))
			failing = false
		}
		return nil
	}
	pu, ok := p.pushes.add()
	if !ok {
		return fmt.Errorf("prometheus: Push after Close")
	}
	defer p.pushes.remove(pu)
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			push(context.WithoutCancel(ctx))
			return nil
		case r := <-pu.stop:
			r.err <- push(r.ctx)
			return nil
		case r := <-pu.now:
			r.err <- push(r.ctx)
		case <-t.C:
			push(ctx)
		}
	}
}

// pushOnce POSTs the exposition to pushURL, gzipped when compress is set,
// and returns an error unless the endpoint answers with a 2xx status.
func (p *Registry) pushOnce(ctx context.Context, pushURL string, headers http.Header, compress bool) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	if compress {
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(buf)
		p.WritePrometheus(zw)
		_ = zw.Close()
		zw.Reset(io.Discard)
		gzipPool.Put(zw)
	} else {
		p.WritePrometheus(buf)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return err
	}
	maps.Copy(req.Header, headers)
	req.Header.Set("Content-Type", ContentType)
	if compress {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("unexpected status %d; response: %q", resp.StatusCode, body)
	}
	return nil
}

// pushers are the running Pushes of a registry, for Flush and Close.
type pushers struct {
	mu     sync.Mutex
	closed bool
	set    map[*pusher]struct{}
}

// pusher is one running Push: Flush and Close send it a request, with the
// context that bounds the push, and wait for its error.
type pusher struct {
	now, stop chan pushRequest
	done      chan struct{} // closed when the Push returns
}

type pushRequest struct {
	ctx context.Context
	err chan error
}

func (ps *pushers) add() (*pusher, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, false
	}
	if ps.set == nil {
		ps.set = make(map[*pusher]struct{})
	}
	pu := &pusher{now: make(chan pushRequest), stop: make(chan pushRequest), done: make(chan struct{})}
	ps.set[pu] = struct{}{}
	return pu, true
}

func (ps *pushers) remove(pu *pusher) {
	close(pu.done)
	ps.mu.Lock()
	delete(ps.set, pu)
	ps.mu.Unlock()
}

func (ps *pushers) list(close bool) []*pusher {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if close {
		if ps.closed {
			return nil
		}
		ps.closed = true
	}
	out := make([]*pusher, 0, len(ps.set))
	for pu := range ps.set {
		out = append(out, pu)
	}
	return out
}

// each asks every pusher (through its now or stop channel) for a push
// bounded by ctx and returns their errors, or ctx's when it ends first.
func (ps *pushers) each(ctx context.Context, close bool) error {
	var errs []error
	for _, pu := range ps.list(close) {
		ch := pu.now
		if close {
			ch = pu.stop
		}
		r := pushRequest{ctx: ctx, err: make(chan error, 1)}
		select {
		case ch <- r:
		case <-pu.done: // returned meanwhile, with its last push
			continue
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("prometheus: %w", context.Cause(ctx)))...)
		}
		select {
		case err := <-r.err:
			errs = append(errs, err)
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("prometheus: %w", context.Cause(ctx)))...)
		}
	}
	return errors.Join(errs...)
}

func (ps *pushers) flush(ctx context.Context) error { return ps.each(ctx, false) }
func (ps *pushers) close(ctx context.Context) error { return ps.each(ctx, true) }

// hidePushURL returns a function that replaces, in an error message, the
// forms of u that its client may quote (raw, redacted by net/url or by
// net/http) with safe, and removes what remains of its query and fragment.
func hidePushURL(u *url.URL, raw, safe string) func(string) string {
	forms := []string{raw, u.String(), u.Redacted()}
	if _, ok := u.User.Password(); ok {
		forms = append(forms, strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1))
	}
	var cut []string
	if u.RawQuery != "" {
		cut = append(cut, "?"+u.RawQuery)
	}
	if u.Fragment != "" {
		cut = append(cut, "#"+u.EscapedFragment(), "#"+u.Fragment)
	}
	return func(msg string) string {
		for _, f := range forms {
			msg = strings.ReplaceAll(msg, f, safe)
		}
		for _, c := range cut {
			msg = strings.ReplaceAll(msg, c, "")
		}
		return msg
	}
}
