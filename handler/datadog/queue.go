package datadog

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// chunk is one request's worth of entries: buf holds them separated by
// commas (the body without its brackets), ends[i] is the offset just past
// entry i. Producers append to the open chunk; once sealed it is the
// sender's.
type chunk struct {
	buf    []byte
	ends   []int
	sealed bool
	first  int64 // sequence number of the first entry
}

// size returns the uncompressed body size of entries [lo, hi) and their
// encoded bytes (without separators).
func (ch *chunk) span(lo, hi int) (start, end, entryBytes int) {
	if lo > 0 {
		start = ch.ends[lo-1] + 1
	}
	end = ch.ends[hi-1]
	return start, end, end - start - (hi - lo - 1)
}

// core is the state shared by a Handler and its clones: the queue, the
// counters and the sender.
type core struct {
	cfg    *config
	static []byte // ,"service":…,"hostname":…,"ddsource":…,"ddtags":…
	header http.Header

	retryBase, retryMax time.Duration

	mu          sync.Mutex
	chunks      []*chunk // FIFO from head; the open chunk, if any, is last
	head        int
	open        *chunk
	free        []*chunk // sent chunks kept for reuse
	freeBytes   int      // their capacity, at most cfg.queueBytes
	chunkCap    int      // capacity for a new chunk: the largest a sealed one needed
	accepted    int64    // records ever queued; also the next sequence number
	resolved    int64    // queued records since sent or dropped, in order
	queuedBytes int
	flushTarget int64         // the sender sends partial chunks holding records before this
	progress    chan struct{} // closed when resolved advances; nil when nobody waits
	closed      bool
	stopped     bool // the sender has exited
	enqueued    uint64
	sent        uint64
	retries     uint64
	dropped     Dropped
	abandoned   int64 // queued records dropped because Close gave up
	lastError   string
	authWarned  bool

	wake    chan struct{} // cap 1: work for the sender
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the sender exits
	closeMu sync.Mutex    // serialises Close
}

func newCore(cfg *config) *core {
	k := &core{
		cfg:       cfg,
		retryBase: 250 * time.Millisecond,
		retryMax:  30 * time.Second,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	var s []byte
	if cfg.service != "" {
		s = append(s, `,"service":`...)
		s = appendString(s, cfg.service)
	}
	if cfg.hostname != "" {
		s = append(s, `,"hostname":`...)
		s = appendString(s, cfg.hostname)
	}
	s = append(s, `,"ddsource":`...)
	s = appendString(s, cfg.source)
	if cfg.ddtags != "" {
		s = append(s, `,"ddtags":`...)
		s = appendString(s, cfg.ddtags)
	}
	k.static = s
	k.header = http.Header{
		"Dd-Api-Key":       {cfg.apiKey},
		"Content-Type":     {"application/json"},
		"Content-Encoding": {"gzip"},
		"User-Agent":       {"observability-datadog/1"},
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	return k
}

func (c *core) start() { go c.run() }

// signal wakes the sender without blocking.
func (c *core) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// push queues one encoded entry, or counts it as dropped. An empty entry is
// one that did not fit in MaxRecordBytes even truncated.
func (c *core) push(e []byte) {
	n := len(e)
	c.mu.Lock()
	c.enqueued++
	switch {
	case c.closed:
		c.dropped.Closed++
		c.mu.Unlock()
		return
	case n == 0:
		c.dropped.TooLarge++
		c.mu.Unlock()
		return
	case c.accepted-c.resolved >= int64(c.cfg.queueRecords) || c.queuedBytes+n > c.cfg.queueBytes:
		c.dropped.QueueFull++
		c.mu.Unlock()
		return
	}
	wake := false
	ch := c.open
	if ch != nil && len(ch.buf)+1+n+2 > c.cfg.maxBatchBytes {
		ch.sealed, ch, c.open, wake = true, nil, nil, true
		c.chunkCap = c.cfg.maxBatchBytes
	}
	if ch == nil {
		ch = c.newChunk()
		ch.first = c.accepted
		c.open = ch
	} else {
		ch.buf = append(ch.buf, ',')
	}
	ch.buf = append(ch.buf, e...)
	ch.ends = append(ch.ends, len(ch.buf))
	c.accepted++
	c.queuedBytes += n
	if len(ch.ends) >= c.cfg.maxBatchRecords {
		ch.sealed, c.open, wake = true, nil, true
		c.chunkCap = max(c.chunkCap, len(ch.buf)+len(ch.buf)/8)
	}
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// newChunk returns an empty chunk appended to the FIFO. c.mu is held.
func (c *core) newChunk() *chunk {
	var ch *chunk
	if n := len(c.free); n > 0 {
		ch = c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		c.freeBytes -= cap(ch.buf)
	} else {
		ch = &chunk{
			buf:  make([]byte, 0, max(c.chunkCap, min(c.cfg.maxBatchBytes, 16<<10))),
			ends: make([]int, 0, c.cfg.maxBatchRecords),
		}
	}
	if c.head > 0 && c.head >= len(c.chunks)/2 {
		n := copy(c.chunks, c.chunks[c.head:])
		clear(c.chunks[n:])
		c.chunks = c.chunks[:n]
		c.head = 0
	}
	c.chunks = append(c.chunks, ch)
	return ch
}

// take removes and returns the chunk the sender should send now: the oldest
// sealed one, or the open one when a flush or the flush interval asks for
// the records it holds. It returns nil when there is nothing to send yet.
func (c *core) take() *chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.chunks) {
		return nil
	}
	ch := c.chunks[c.head]
	if !ch.sealed {
		if ch.first >= c.flushTarget {
			return nil
		}
		ch.sealed, c.open = true, nil
	}
	c.chunks[c.head] = nil
	c.head++
	if c.head == len(c.chunks) {
		c.chunks, c.head = c.chunks[:0], 0
	}
	return ch
}

// recycle keeps a sent chunk for reuse while the chunks kept hold no more
// than QueueBytes, the memory the queue may take anyway. Under a steady
// load the queue then allocates nothing.
func (c *core) recycle(ch *chunk) {
	ch.buf, ch.ends, ch.sealed = ch.buf[:0], ch.ends[:0], false
	c.mu.Lock()
	if c.freeBytes+cap(ch.buf) <= c.cfg.queueBytes {
		c.free = append(c.free, ch)
		c.freeBytes += cap(ch.buf)
	}
	c.mu.Unlock()
}

// dropReason says why queued records left the queue undelivered.
type dropReason int

const (
	delivered dropReason = iota
	dropRejected
	dropTooLarge
	dropRetriesExhausted
	dropClosed
)

// resolve records the fate of n queued records holding entryBytes bytes.
// errText, when not empty, becomes LastError.
func (c *core) resolve(n, entryBytes int, why dropReason, errText string) {
	c.mu.Lock()
	c.resolved += int64(n)
	c.queuedBytes -= entryBytes
	switch why {
	case delivered:
		c.sent += uint64(n)
	case dropRejected:
		c.dropped.Rejected += uint64(n)
	case dropTooLarge:
		c.dropped.TooLarge += uint64(n)
	case dropRetriesExhausted:
		c.dropped.RetriesExhausted += uint64(n)
	case dropClosed:
		c.dropped.Closed += uint64(n)
		c.abandoned += int64(n)
	}
	if errText != "" {
		c.lastError = redact(errText, c.cfg.apiKey)
	}
	if c.progress != nil {
		close(c.progress)
		c.progress = nil
	}
	c.mu.Unlock()
}

// flush waits until every record queued before the call is resolved.
func (c *core) flush(ctx context.Context, op string) error {
	c.mu.Lock()
	target := c.accepted
	if target > c.flushTarget {
		c.flushTarget = target
	}
	c.mu.Unlock()
	c.signal()
	for {
		c.mu.Lock()
		if c.resolved >= target || c.stopped {
			c.mu.Unlock()
			return nil
		}
		if c.progress == nil {
			c.progress = make(chan struct{})
		}
		p := c.progress
		c.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			c.mu.Lock()
			left := target - c.resolved
			c.mu.Unlock()
			if left <= 0 {
				return nil
			}
			return fmt.Errorf("datadog: %s: %d records undelivered: %w", op, left, ctx.Err())
		}
	}
}

// close implements Handler.Close.
func (c *core) close(ctx context.Context) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()

	ferr := c.flush(ctx, "close")
	c.cancel() // aborts a request or a backoff in progress
	<-c.done

	c.mu.Lock()
	c.stopped = true
	if left := c.accepted - c.resolved; left > 0 {
		c.dropped.Closed += uint64(left)
		c.abandoned += left
		c.resolved = c.accepted
	}
	c.queuedBytes = 0
	clear(c.chunks)
	c.chunks, c.head, c.open, c.free, c.freeBytes = nil, 0, nil, nil, 0
	abandoned := c.abandoned
	if c.progress != nil {
		close(c.progress)
		c.progress = nil
	}
	c.mu.Unlock()

	if t := c.cfg.ownTransport; t != nil {
		t.CloseIdleConnections()
	}
	if abandoned > 0 {
		err := ctx.Err()
		if err == nil {
			err = ferr
		}
		if err == nil {
			err = context.Canceled
		}
		return fmt.Errorf("datadog: close: %d records undelivered: %w", abandoned, err)
	}
	return nil
}

// stats implements Handler.Stats.
func (c *core) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Enqueued:    c.enqueued,
		Sent:        c.sent,
		Dropped:     c.dropped,
		Retries:     c.retries,
		QueueLength: int(c.accepted - c.resolved),
		QueueBytes:  c.queuedBytes,
		LastError:   c.lastError,
	}
}
