package deliver

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/internal/secret"
)

// maxErrorText bounds an error text kept in Stats.LastError or returned.
const maxErrorText = 1024

// link is the state every delivery shares, behind a Queue or a Link:
// the counters, the sender-wide pause after failures, the outage state
// and the diagnostics. Its fields are guarded by mu, which a Queue also
// uses for its queue.
type link struct {
	o     Options
	diag  slog.Handler // ErrorHandler, or a handler over ErrorOutput
	scrub *secret.Scrubber
	// queued returns the items queued, with mu held; nil without a queue.
	queued func() int64

	mu         sync.Mutex
	enqueued   uint64
	sent       uint64
	retries    uint64
	dropped    drop.Counts
	lastOK     time.Time
	lastError  string
	authWarned bool

	// The pause after attempts the receiver did not accept: failures in
	// a row, when the last was answered, when its backoff and its
	// Retry-After (zero if none) end, and its description. seenGen is
	// the flush generation for which a failing batch was last tried at
	// once.
	failures     int
	lastFail     time.Time
	backoffUntil time.Time
	afterUntil   time.Time
	lastMsg      string
	seenGen      uint64

	// An outage in progress: since when, and the counts at its start.
	down        bool
	downSince   time.Time
	downSent    uint64
	downDropped uint64
}

func (l *link) init(opts *Options) {
	var o Options
	if opts != nil {
		o = *opts
	}
	l.o = o.withDefaults()
	switch {
	case l.o.ErrorHandler != nil:
		l.diag = l.o.ErrorHandler
	case l.o.ErrorJSON:
		l.diag = slog.NewJSONHandler(l.o.ErrorOutput, nil)
	default:
		l.diag = slog.NewTextHandler(l.o.ErrorOutput, nil)
	}
	l.scrub = secret.New(l.o.Secrets, nil)
}

// Scrub returns text with the secrets of Options.Secrets scrubbed.
func (l *link) Scrub(text string) string { return l.scrub.Scrub(text) }

// describe returns the scrubbed description of a failed attempt:
// "NAME: TARGETKEY answered STATUS: ERROR" or "NAME: ERROR".
func (l *link) describe(r Result) string {
	var s string
	switch {
	case r.Status != 0 && r.Err != nil:
		s = fmt.Sprintf("%s: %s answered %s: %v", l.o.Name, l.o.TargetKey, reasonText(r, false), r.Err)
	case r.Status != 0:
		s = fmt.Sprintf("%s: %s answered %s", l.o.Name, l.o.TargetKey, reasonText(r, false))
	default:
		s = fmt.Sprintf("%s: %v", l.o.Name, r.Err)
	}
	return budget.Truncate(l.scrub.Scrub(s), maxErrorText)
}

// nextAttempt returns when the next attempt may be made. After an
// accepted one, at once. After one that was not accepted, when both its
// backoff and its Retry-After have passed. While a Flush waits (waiting,
// with the latest deadline of those waiting, zero for none, and the
// generation gen of the latest): at once when a new one begins (though not
// within 100 ms of the last failure), then at most FlushRetry after each
// failure, and a Retry-After ending later than FlushReserve before the
// deadline ends then instead. l.mu is held.
func (l *link) nextAttempt(now time.Time, waiting bool, deadline time.Time, gen uint64) time.Time {
	if l.failures == 0 {
		return now
	}
	b, r := l.backoffUntil, l.afterUntil
	if waiting {
		if gen != l.seenGen { // a Flush began: try at once
			l.seenGen = gen
			if t := l.lastFail.Add(min(100*time.Millisecond, l.o.FlushRetry)); t.Before(l.backoffUntil) {
				l.backoffUntil = t
			}
		}
		b = l.backoffUntil
		if limit := l.lastFail.Add(l.o.FlushRetry); b.After(limit) {
			b = limit
		}
		if !deadline.IsZero() {
			if limit := deadline.Add(-l.o.FlushReserve); r.After(limit) {
				r = limit
			}
		}
	}
	if r.After(b) {
		return r
	}
	return b
}

// attemptDeadline returns the deadline of an attempt starting at now:
// Timeout later, or, before a deadline, at most a third of the time left,
// so that an attempt that hangs leaves room for retries; but at least
// FlushReserve, or all that is left when that is less: the last attempt,
// made FlushReserve before the deadline, has that time to itself.
func (l *link) attemptDeadline(now, deadline time.Time) time.Time {
	end := now.Add(l.o.Timeout)
	if !deadline.IsZero() {
		left := deadline.Sub(now)
		if d := now.Add(max(left/3, min(left, l.o.FlushReserve))); d.Before(end) {
			end = d
		}
	}
	return end
}

// failed records an attempt the receiver did not accept: it sets the
// pause, keeps msg as LastError, and writes the outage line if delivery
// was working until now. No lock is held when it is called.
func (l *link) failed(out outcome, r Result, msg string, timedOut bool) {
	now := time.Now()
	l.mu.Lock()
	l.failures++
	l.lastFail = now
	l.lastMsg = msg
	l.lastError = msg
	if out == outRetry {
		l.lastError = msg + " (retrying)"
	}
	backoff := l.o.RetryMax
	if l.failures < 31 {
		backoff = min(l.o.RetryBase<<(l.failures-1), l.o.RetryMax)
	}
	l.backoffUntil = now.Add(backoff/2 + rand.N(backoff/2+1))
	l.afterUntil = time.Time{}
	if r.RetryAfter > 0 {
		l.afterUntil = now.Add(min(r.RetryAfter, l.o.MaxRetryAfter))
	}
	if l.down {
		l.mu.Unlock()
		return
	}
	l.down, l.downSince, l.downSent, l.downDropped = true, now, l.sent, l.dropped.Total()
	queued := int64(-1)
	if l.queued != nil {
		queued = l.queued()
	}
	l.mu.Unlock()

	noun := l.o.Noun
	what := noun + " are kept in the queue and retried"
	if l.queued == nil {
		what = noun + " are retried while the export's deadline allows"
	}
	switch out {
	case outAuth, outRejected:
		what = "the " + l.o.TargetKey + " rejects " + noun + "; they are dropped and counted as rejected"
	case outSplit:
		what = "the " + l.o.TargetKey + " finds batches too large; they are split and sent again"
	}
	attrs := make([]slog.Attr, 0, 5)
	if l.o.Target != "" {
		attrs = append(attrs, slog.String(l.o.TargetKey, l.o.Target))
	}
	attrs = append(attrs, slog.String("reason", reasonText(r, timedOut)))
	if r.Status != 0 {
		attrs = append(attrs, slog.Int("status", r.Status))
	} else {
		attrs = append(attrs, slog.String("error", msg))
	}
	if queued >= 0 {
		attrs = append(attrs, slog.Int64("queued", queued))
	}
	l.say(slog.LevelWarn, l.o.Name+": "+l.o.Activity+" is failing: "+what, attrs)
	if out == outAuth {
		l.warnAuth(r.Status)
	}
}

// succeeded records n items accepted now, ends the pause, and writes the
// recovery line if an outage was in progress. A Queue resolves the items
// after it returns, so that a Flush that then returns finds the line
// written. No lock is held when it is called.
func (l *link) succeeded(n int) {
	now := time.Now()
	l.mu.Lock()
	l.failures, l.backoffUntil, l.afterUntil = 0, time.Time{}, time.Time{}
	l.lastOK = now
	wasDown := l.down
	l.down = false
	// The counts as they are once these n items are resolved.
	sent, dropped := l.sent+uint64(n), l.dropped.Total()
	queued := int64(-1)
	if l.queued != nil {
		queued = l.queued() - int64(n)
	}
	since, sent0, dropped0 := l.downSince, l.downSent, l.downDropped
	l.mu.Unlock()
	if !wasDown {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	if l.o.Target != "" {
		attrs = append(attrs, slog.String(l.o.TargetKey, l.o.Target))
	}
	attrs = append(attrs,
		slog.Duration("down_for", now.Sub(since).Round(time.Millisecond)),
		slog.Uint64("delivered", sent-sent0),
		slog.Uint64("dropped", dropped-dropped0))
	if queued >= 0 {
		attrs = append(attrs, slog.Int64("queued", queued))
	}
	l.say(slog.LevelInfo, l.o.Name+": "+l.o.Activity+" recovered", attrs)
}

// warnAuth writes, once, why every batch is being rejected.
func (l *link) warnAuth(status int) {
	if l.o.AuthHint == "" {
		return
	}
	l.mu.Lock()
	warned := l.authWarned
	l.authWarned = true
	l.mu.Unlock()
	if warned {
		return
	}
	attrs := []slog.Attr{slog.Int("status", status)}
	if l.o.Target != "" {
		attrs = append([]slog.Attr{slog.String(l.o.TargetKey, l.o.Target)}, attrs...)
	}
	l.say(slog.LevelError, l.o.Name+": "+l.o.AuthHint, attrs)
}

// say hands one diagnostic line to the diagnostics handler, whatever its
// level, and survives a panic in it. No lock is held when it is called.
func (l *link) say(level slog.Level, msg string, attrs []slog.Attr) {
	defer func() { _ = recover() }() // a diagnostic is never worth the process
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.diag.Handle(context.Background(), r)
}

// stats returns the counters; l.mu is held.
func (l *link) stats() Stats {
	return Stats{
		Enqueued:     l.enqueued,
		Sent:         l.sent,
		Dropped:      l.dropped,
		Retries:      l.retries,
		LastDelivery: l.lastOK,
		LastError:    l.lastError,
	}
}

// Link delivers synchronously, one export at a time, with the pause,
// backoff, outage lines, scrubbing and counters of a Queue, for a caller
// that has its own schedule (the OTLP metrics sink). Its methods are safe
// for concurrent use.
type Link struct {
	link
}

// NewLink returns a Link configured by opts (nil means defaults; the
// queue's options are ignored).
func NewLink(opts *Options) *Link {
	l := &Link{}
	l.init(opts)
	return l
}

// Do delivers n items with attempt, retrying as the answers require
// while ctx allows. Each attempt waits for the Link's turn (the backoff
// and the Retry-After of earlier failures, whichever export they came
// from) when it comes within FlushRetry, and is bounded by Timeout and by
// a third of the time left before ctx's deadline. When the turn would come
// later, or after ctx's deadline, Do gives up without another request,
// leaving the retry to the caller's next export: a caller holding a lock
// across Do holds it for one attempt and a short wait at most. It returns
// nil when the items were delivered, else an *Error with the drop reason,
// counted in Stats. A 413 is not split: the items are dropped as
// drop.TooLarge.
func (l *Link) Do(ctx context.Context, n int, attempt func(ctx context.Context) Result) error {
	l.mu.Lock()
	l.enqueued += uint64(n)
	l.mu.Unlock()
	deadline, _ := ctx.Deadline()
	var began time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		l.mu.Lock()
		at := l.nextAttempt(now, false, time.Time{}, 0)
		last := l.lastMsg
		l.mu.Unlock()
		switch {
		case !began.IsZero() && at.Sub(began) > l.o.MaxRetryElapsed:
			return l.give(n, drop.RetriesExhausted, last+" (giving up after "+time.Since(began).Round(time.Millisecond).String()+")", nil)
		case !deadline.IsZero() && at.After(deadline):
			return l.give(n, drop.RetriesExhausted, last+" (paused until "+at.Format(time.RFC3339)+", past the export's deadline)", context.DeadlineExceeded)
		case at.Sub(now) > l.o.FlushRetry:
			return l.give(n, drop.RetriesExhausted, last+" (paused until "+at.Format(time.RFC3339)+"; the next export tries again)", nil)
		}
		if d := at.Sub(now); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return l.give(n, drop.RetriesExhausted, fmt.Sprintf("%s: %d %s not delivered: %v", l.o.Name, n, l.o.Noun, ctx.Err()), ctx.Err())
			}
		}
		l.begin(&began)
		actx, cancel := context.WithDeadline(ctx, l.attemptDeadline(time.Now(), deadline))
		r := attempt(actx)
		timedOut := actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		out := classify(r)
		if out == outDone {
			l.succeeded(n)
			l.mu.Lock()
			l.sent += uint64(n)
			l.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil && r.Status == 0 {
			return l.give(n, drop.RetriesExhausted, fmt.Sprintf("%s: %d %s not delivered: %v", l.o.Name, n, l.o.Noun, ctx.Err()), ctx.Err())
		}
		msg := l.describe(r)
		l.failed(out, r, msg, timedOut)
		switch out {
		case outSplit:
			return l.give(n, drop.TooLarge, msg, nil)
		case outAuth, outRejected:
			return l.give(n, drop.Rejected, msg, nil)
		}
	}
}

// begin marks an attempt: the first of a batch sets began, a later one
// counts a retry.
func (l *link) begin(began *time.Time) {
	if began.IsZero() {
		*began = time.Now()
		return
	}
	l.mu.Lock()
	l.retries++
	l.mu.Unlock()
}

// give counts n items dropped for reason and returns the error saying so.
func (l *link) give(n int, reason drop.Reason, msg string, ctxErr error) error {
	msg = budget.Truncate(l.scrub.Scrub(msg), maxErrorText)
	l.mu.Lock()
	l.dropped[reason] += uint64(n)
	l.lastError = msg
	l.mu.Unlock()
	return &Error{Reason: reason, N: n, msg: msg, ctx: ctxErr}
}

// Stats returns a snapshot of the Link's counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats()
}
