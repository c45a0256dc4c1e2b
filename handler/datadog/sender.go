package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
	s := &sender{body: new(bytes.Buffer), rb: newReqBody(), timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
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
func (c *core) sendRange(s *sender, ch *chunk, lo, hi int) {
	start, end, entryBytes := ch.span(lo, hi)
	n := hi - lo
	body := s.compress(ch.buf[start:end])
	began := time.Now()
	backoff := c.retryBase
	for {
		if c.ctx.Err() != nil {
			c.resolve(n, entryBytes, dropClosed, "")
			return
		}
		status, retryAfter, msg := c.post(s, body)
		if status == 0 && c.ctx.Err() != nil { // Close gave up on this request
			c.resolve(n, entryBytes, dropClosed, "")
			return
		}
		switch classify(status) {
		case outDone:
			c.resolve(n, entryBytes, delivered, "")
			return
		case outSplit:
			if n == 1 {
				c.resolve(n, entryBytes, dropTooLarge, msg)
				return
			}
			mid := lo + n/2
			c.sendRange(s, ch, lo, mid)
			c.sendRange(s, ch, mid, hi)
			return
		case outAuth:
			c.resolve(n, entryBytes, dropRejected, msg)
			c.warnAuth(status)
			return
		case outRejected:
			c.resolve(n, entryBytes, dropRejected, msg)
			return
		}
		// outRetry
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, c.retryMax)
		if retryAfter > 0 {
			wait = retryAfter
		}
		if time.Since(began)+wait > c.cfg.maxRetryElapsed {
			c.resolve(n, entryBytes, dropRetriesExhausted, msg+" (giving up after "+time.Since(began).Round(time.Millisecond).String()+")")
			return
		}
		c.mu.Lock()
		c.retries++
		c.lastError = redact(msg+" (retrying)", c.cfg.apiKey)
		c.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.resolve(n, entryBytes, dropClosed, "")
			return
		}
	}
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
	fmt.Fprintf(c.cfg.errorOutput,
		"datadog: the logs intake answered %d %s: the API key is wrong or lacks permission for this site; check DATADOG_API_KEY and DATADOG_SITE. Records are dropped and counted as rejected.\n",
		status, http.StatusText(status))
}
