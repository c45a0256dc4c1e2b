package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// sender is the state of the one goroutine that posts batches. Only that
// goroutine touches it.
type sender struct {
	zw   *gzip.Writer
	body *bytes.Buffer // the gzipped batch; reused while no request reads it
	rb   *reqBody      // the request body over body
	cur  []byte        // what rb reads, for getBody
	// getBody is the requests' GetBody, with which net/http rewinds a body
	// inside Do. It returns a copy, never a reader of the reused buffer.
	getBody func() (io.ReadCloser, error)
	timer   *time.Timer // bounds awaitBody
	pause   *time.Timer // times awaitTurn

	// The sender-wide pause after requests the intake did not accept:
	// failures counts them since the last accepted one, lastFail is when
	// the last was answered, backoffUntil ends its backoff and afterUntil
	// the Retry-After it carried (zero if none). seenGen is the flushGen
	// for which a failing batch was last tried at once.
	failures     int
	lastFail     time.Time
	backoffUntil time.Time
	afterUntil   time.Time
	seenGen      uint64
	lastMsg      string

	// An outage in progress: since when, and the counters at its start.
	down        bool
	downSince   time.Time
	downSent    uint64
	downDropped drop.Counts
}

// reqBody is a request body reading the sender's buffer. net/http may go
// on reading a request body after Do returns, until it closes the body;
// Close tells the sender the buffer is free again.
type reqBody struct {
	bytes.Reader
	done   atomic.Bool
	closed chan struct{} // cap 1: receives a token at the first Close
}

func newReqBody() *reqBody { return &reqBody{closed: make(chan struct{}, 1)} }

// Close signals the sender, once per use; it never blocks.
func (b *reqBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.closed <- struct{}{}
	}
	return nil
}

// run is the sender goroutine: it sends chunks as they fill, partial ones
// every FlushInterval and on Flush, until Close cancels c.ctx.
func (c *core) run() {
	defer close(c.done)
	s := &sender{body: new(bytes.Buffer), rb: newReqBody(), timer: time.NewTimer(time.Hour), pause: time.NewTimer(time.Hour)}
	s.timer.Stop()
	s.pause.Stop()
	s.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(bytes.Clone(s.cur))), nil }
	s.zw, _ = gzip.NewWriterLevel(s.body, gzip.BestSpeed)
	tick := time.NewTicker(c.cfg.flushInterval)
	defer tick.Stop()
	for {
		if c.ctx.Err() != nil {
			return
		}
		if ch := c.take(); ch != nil {
			c.sendRange(s, ch, 0, len(ch.ends))
			c.recycle(ch)
			continue
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		case <-tick.C:
			c.mu.Lock()
			c.flushTarget = max(c.flushTarget, c.accepted)
			c.mu.Unlock()
		}
	}
}

// compress writes the JSON array of entries buf (comma-separated) into
// s.body, gzipped.
func (s *sender) compress(buf []byte) []byte {
	s.body.Reset()
	s.zw.Reset(s.body)
	s.zw.Write([]byte{'['})
	s.zw.Write(buf)
	s.zw.Write([]byte{']'})
	s.zw.Close()
	return s.body.Bytes()
}

// outcome is what the intake's answer means for a batch.
type outcome int

const (
	outDone outcome = iota
	outRetry
	outSplit
	outRejected
	outAuth
)

// classify maps an HTTP status to an outcome.
func classify(status int) outcome {
	switch {
	case status == 0: // a network error
		return outRetry
	case status >= 200 && status < 300:
		return outDone
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return outRetry
	case status == http.StatusRequestEntityTooLarge:
		return outSplit
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return outAuth
	default:
		return outRejected
	}
}

// sendRange delivers entries [lo, hi) of ch, retrying and splitting as the
// intake's answers require, and resolves every one of them exactly once.
// Every request waits for its turn (awaitTurn): after an answer that was
// not an acceptance, the whole sender pauses, whichever batch is next.
func (c *core) sendRange(s *sender, ch *chunk, lo, hi int) {
	start, end, entryBytes := ch.span(lo, hi)
	n := hi - lo
	var body []byte
	var began time.Time // the first attempt; zero before it
	for {
		switch c.awaitTurn(s, began) {
		case turnStop:
			c.resolve(n, entryBytes, drop.Closed, "")
			return
		case turnExhausted:
			c.resolve(n, entryBytes, drop.RetriesExhausted,
				s.lastMsg+" (giving up after "+time.Since(began).Round(time.Millisecond).String()+")")
			return
		}
		if began.IsZero() {
			began = time.Now()
			body = s.compress(ch.buf[start:end])
		} else {
			c.mu.Lock()
			c.retries++
			c.mu.Unlock()
		}
		status, retryAfter, msg := c.post(s, body)
		if status == 0 && c.ctx.Err() != nil { // Close gave up on this request
			c.resolve(n, entryBytes, drop.Closed, "")
			return
		}
		out := classify(status)
		if out == outDone {
			c.accepted2xx(s, n, entryBytes)
			return
		}
		c.failed(s, out, status, retryAfter, msg)
		switch out {
		case outSplit:
			if n == 1 {
				c.resolve(n, entryBytes, drop.TooLarge, msg)
				return
			}
			// The halves wait for their turn like any retry.
			mid := lo + n/2
			c.sendRange(s, ch, lo, mid)
			c.sendRange(s, ch, mid, hi)
			return
		case outAuth:
			c.resolve(n, entryBytes, drop.Rejected, msg)
			c.warnAuth(status)
			return
		case outRejected:
			c.resolve(n, entryBytes, drop.Rejected, msg)
			return
		}
		// outRetry: the batch is kept and tried again at its turn.
		c.mu.Lock()
		c.lastError = redact(msg+" (retrying)", c.cfg.apiKey)
		c.mu.Unlock()
	}
}

// turn is what awaitTurn decided.
type turn int

const (
	turnGo        turn = iota // post now
	turnStop                  // Close gave up: the batch is dropped as closed
	turnExhausted             // the batch cannot be retried within MaxRetryElapsed
)

// awaitTurn waits until the sender may post again (see nextAttempt), or
// reports that the batch whose first attempt was at began (zero if none
// yet) would be retried after MaxRetryElapsed. A Flush beginning, or
// ending, wakes it to compute its turn again.
func (c *core) awaitTurn(s *sender, began time.Time) turn {
	for {
		if c.ctx.Err() != nil {
			return turnStop
		}
		now := time.Now()
		at := c.nextAttempt(s, now)
		if !began.IsZero() && at.Sub(began) > c.cfg.maxRetryElapsed {
			return turnExhausted
		}
		d := at.Sub(now)
		if d <= 0 {
			return turnGo
		}
		s.pause.Reset(d)
		select {
		case <-s.pause.C:
		case <-c.wake:
			s.pause.Stop()
		case <-c.ctx.Done():
			s.pause.Stop()
			return turnStop
		}
	}
}

// nextAttempt returns when the sender may post its next request. After an
// accepted request, at once. After one that was not accepted, when both
// its backoff (retryBase doubling per failure in a row up to retryMax,
// with jitter) and its Retry-After (at most maxRetryAfter) have passed.
// While a Flush or Close waits: at once when it begins (though not within
// 100 ms of the last failure), then at most flushRetry after each failure,
// and a Retry-After ending later than flushReserve before the deadline
// ends then instead.
func (c *core) nextAttempt(s *sender, now time.Time) time.Time {
	if s.failures == 0 {
		return now
	}
	b, r := s.backoffUntil, s.afterUntil
	waiting, deadline, gen := c.flushState()
	if waiting {
		if gen != s.seenGen { // a Flush or Close began: try at once
			s.seenGen = gen
			if t := s.lastFail.Add(min(100*time.Millisecond, c.flushRetry)); t.Before(s.backoffUntil) {
				s.backoffUntil = t
			}
		}
		b = s.backoffUntil
		if limit := s.lastFail.Add(c.flushRetry); b.After(limit) {
			b = limit
		}
		if !deadline.IsZero() {
			if limit := deadline.Add(-c.flushReserve); r.After(limit) {
				r = limit
			}
		}
	}
	if r.After(b) {
		return r
	}
	return b
}

// failed records a request the intake did not accept: it sets the
// sender-wide pause, and writes the outage warning if delivery was
// working until now.
func (c *core) failed(s *sender, out outcome, status int, retryAfter time.Duration, msg string) {
	now := time.Now()
	s.failures++
	s.lastFail = now
	s.lastMsg = msg
	backoff := c.retryMax
	if s.failures < 31 {
		backoff = min(c.retryBase<<(s.failures-1), c.retryMax)
	}
	s.backoffUntil = now.Add(backoff/2 + rand.N(backoff/2+1))
	s.afterUntil = time.Time{}
	if retryAfter > 0 {
		s.afterUntil = now.Add(min(retryAfter, c.maxRetryAfter))
	}
	if s.down {
		return
	}
	c.mu.Lock()
	s.down, s.downSince, s.downSent, s.downDropped = true, now, c.sent, c.dropped
	queued := c.accepted - c.resolved
	c.mu.Unlock()
	answer := slog.Int("status", status)
	if status == 0 {
		answer = slog.String("error", msg)
	}
	what := "records are kept in the queue and retried"
	switch out {
	case outAuth, outRejected:
		what = "the intake rejects records; they are dropped and counted as rejected"
	case outSplit:
		what = "the intake finds batches too large; they are split and sent again"
	}
	c.diag.LogAttrs(context.Background(), slog.LevelWarn,
		"datadog: log delivery is failing: "+what,
		slog.String("intake", c.cfg.intakeHost), answer, slog.Int64("queued", queued))
}

// accepted2xx records n records (entryBytes bytes) the intake accepted,
// ends the sender-wide pause, and writes the recovery line if an outage
// was in progress. The delivery time and the recovery line come before
// the records are resolved, so that a Flush or Close that returns once
// they are finds both.
func (c *core) accepted2xx(s *sender, n, entryBytes int) {
	now := time.Now()
	s.failures, s.backoffUntil, s.afterUntil = 0, time.Time{}, time.Time{}
	c.mu.Lock()
	c.lastOK = now
	// The counts as they are once these n records are resolved.
	sent, dropped, queued := c.sent+uint64(n), c.dropped, c.accepted-c.resolved-int64(n)
	c.mu.Unlock()
	if s.down {
		s.down = false
		c.diag.LogAttrs(context.Background(), slog.LevelInfo,
			"datadog: log delivery recovered",
			slog.String("intake", c.cfg.intakeHost),
			slog.Duration("down_for", now.Sub(s.downSince).Round(time.Millisecond)),
			slog.Uint64("delivered", sent-s.downSent),
			slog.Uint64("dropped", dropped.Total()-s.downDropped.Total()),
			slog.Int64("queued", queued))
	}
	c.resolve(n, entryBytes, 0, "")
}

// post sends one gzipped batch, body, which is s.body's content. It
// returns the HTTP status (0 for a network error), the delay the intake
// asked for in Retry-After, if any, and a description of anything but
// success, free of the API key. When it returns, no request reads s.body
// any more (see awaitBody).
func (c *core) post(s *sender, body []byte) (status int, retryAfter time.Duration, msg string) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.timeout)
	defer cancel()
	rb := s.rb
	rb.Reset(body)
	rb.done.Store(false)
	s.cur = body
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url, rb)
	if err != nil {
		return 0, 0, redact("datadog: building the request: "+err.Error(), c.cfg.apiKey)
	}
	req.ContentLength = int64(len(body))
	req.GetBody = s.getBody
	// A header of its own: http.Client adds to it (the cookies of a Jar).
	req.Header = c.header.Clone()
	resp, err := c.cfg.client.Do(req)
	s.cur = nil
	c.awaitBody(s)
	if err != nil {
		return 0, 0, redact("datadog: posting to the intake: "+err.Error(), c.cfg.apiKey)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, 0, ""
	}
	var snippet [256]byte
	k, _ := io.ReadFull(resp.Body, snippet[:])
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	text := strings.TrimSpace(strings.ToValidUTF8(string(snippet[:k]), "\uFFFD"))
	msg = "datadog: intake answered " + resp.Status
	if text != "" {
		msg += ": " + text
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), redact(msg, c.cfg.apiKey)
}

// awaitBody waits until the transport has closed the request body s.rb,
// after which the sender may write s.body again. net/http may still be
// sending the body when Do returns (when the intake answers before reading
// all of it). When the transport keeps the body longer than c.bodyWait, or
// the sender is stopping, the buffer and the reader are left to the
// transport and the sender takes new ones.
func (c *core) awaitBody(s *sender) {
	select {
	case <-s.rb.closed:
		return
	default:
	}
	s.timer.Reset(c.bodyWait)
	select {
	case <-s.rb.closed:
		s.timer.Stop()
		return
	case <-s.timer.C:
	case <-c.ctx.Done():
		s.timer.Stop()
	}
	s.rb, s.body = newReqBody(), new(bytes.Buffer)
}

// parseRetryAfter reads a Retry-After header: a number of seconds or an
// HTTP date. It returns 0 when the header is absent, invalid or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// warnAuth writes, once per Handler, why every batch is being rejected.
// It goes to ErrorOutput rather than slog, which may lead back here.
func (c *core) warnAuth(status int) {
	c.mu.Lock()
	warned := c.authWarned
	c.authWarned = true
	c.mu.Unlock()
	if warned {
		return
	}
	c.diag.LogAttrs(context.Background(), slog.LevelError,
		"datadog: the logs intake refused the API key: it is wrong or lacks permission for this site; check DATADOG_API_KEY and DATADOG_SITE. Records are dropped and counted as rejected",
		slog.String("intake", c.cfg.intakeHost), slog.Int("status", status))
}
