package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/internal/deliver"
)

// sender is the state of the queue's sending goroutine, which alone
// touches it: it gzips batches into a reused buffer and posts them.
type sender struct {
	zw   *gzip.Writer
	body *bytes.Buffer // the gzipped batch; reused while no request reads it
	zip  []byte        // the gzipped batch being attempted
	rb   *reqBody      // the request body over zip
	cur  []byte        // what rb reads, for getBody
	// getBody is the requests' GetBody, with which net/http rewinds a body
	// inside Do. It returns a copy, never a reader of the reused buffer.
	getBody func() (io.ReadCloser, error)
	timer   *time.Timer // bounds awaitBody
}

func (s *sender) init() {
	s.body, s.rb = new(bytes.Buffer), newReqBody()
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	s.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(bytes.Clone(s.cur))), nil }
	s.zw, _ = gzip.NewWriterLevel(s.body, gzip.BestSpeed)
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

// send is the queue's deliver.SendFunc: it posts entries [lo, hi) of ch,
// gzipped once for all the attempts at that range.
func (c *core) send(ctx context.Context, ch *chunk, lo, hi, attempt int) deliver.Result {
	s := &c.snd
	if attempt == 0 {
		start, end := ch.span(lo, hi)
		s.zip = s.compress(ch.buf[start:end])
	}
	return c.post(ctx, s.zip)
}

// post sends one gzipped batch, body, within ctx. It returns the HTTP
// status (0 for a network error), the delay the intake asked for in
// Retry-After, if any, and, for an answer that is not a success, the start
// of its body. When it returns, no request reads s.body any more (see
// awaitBody); body itself is only read, never written, so a retry may post
// it again.
func (c *core) post(ctx context.Context, body []byte) deliver.Result {
	s := &c.snd
	rb := s.rb
	rb.Reset(body)
	rb.done.Store(false)
	s.cur = body
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.url, rb)
	if err != nil {
		return deliver.Result{Err: deliver.Permanent(fmt.Errorf("building the request: %w", err))}
	}
	req.ContentLength = int64(len(body))
	req.GetBody = s.getBody
	// A header of its own: http.Client adds to it (the cookies of a Jar).
	req.Header = c.header.Clone()
	resp, err := c.cfg.client.Do(req)
	s.cur = nil
	c.awaitBody(ctx)
	if err != nil {
		return deliver.Result{Err: fmt.Errorf("posting to the intake: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return deliver.Result{Status: resp.StatusCode}
	}
	var snippet [256]byte
	k, _ := io.ReadFull(resp.Body, snippet[:])
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := deliver.Result{Status: resp.StatusCode, RetryAfter: deliver.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if text := strings.TrimSpace(strings.ToValidUTF8(string(snippet[:k]), "\uFFFD")); text != "" {
		r.Err = errors.New(text)
	}
	return r
}

// awaitBody waits until the transport has closed the request body s.rb,
// after which the sender may write s.body again. net/http may still be
// sending the body when Do returns (when the intake answers before reading
// all of it). When the transport keeps the body longer than c.bodyWait, or
// the attempt has ended, the buffer and the reader are left to the
// transport and the sender takes new ones.
func (c *core) awaitBody(ctx context.Context) {
	s := &c.snd
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
	case <-ctx.Done():
		s.timer.Stop()
	}
	s.rb, s.body = newReqBody(), new(bytes.Buffer)
	s.zw.Reset(s.body)
}
