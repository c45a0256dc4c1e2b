package datadog

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/budget"
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
	maxRetryAfter       time.Duration // MaxRetryAfter; tests shorten it
	flushRetry          time.Duration // the longest pause between attempts while a Flush waits
	flushReserve        time.Duration // a Retry-After ends at the latest this long before a flush deadline
	bodyWait            time.Duration // the longest the sender waits for the transport to release a body
	diag                *slog.Logger  // over ErrorOutput, never the user's handlers
	lim                 *budget.Limiter

	mu          sync.Mutex
	chunks      []*chunk // FIFO from head; the open chunk, if any, is last
	head        int
	open        *chunk
	free        []*chunk // sent chunks kept for reuse
	freeBytes   int      // their memory (see chunkMem), at most cfg.queueBytes/2
	memBytes    int      // memory of every chunk held: queued, being sent or free
	memLimit    int      // bound of memBytes: cfg.queueBytes*3/2
	chunkCap    int      // buffer capacity for a new chunk: what the last sealed one needed
	chunkEnds   int      // capacity of ends for a new chunk, likewise
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
	dropped     drop.Counts
	abandoned   int64 // queued records dropped because Close gave up
	lastError   string
	authWarned  bool
	lastOK      time.Time // the last accepted request

	// Flushes waiting, by id, with their deadlines (zero: none); flushGen
	// counts flushes begun, so that the sender sees a new one.
	flushWaits map[uint64]time.Time
	flushID    uint64
	flushGen   uint64

	wake    chan struct{} // cap 1: work for the sender
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the sender exits
	closeMu sync.Mutex    // serialises Close
}

func newCore(cfg *config) *core {
	k := &core{
		cfg:           cfg,
		retryBase:     250 * time.Millisecond,
		bodyWait:      time.Second,
		retryMax:      30 * time.Second,
		maxRetryAfter: MaxRetryAfter,
		flushRetry:    500 * time.Millisecond,
		flushReserve:  500 * time.Millisecond,
		flushWaits:    map[uint64]time.Time{},
		wake:          make(chan struct{}, 1),
		done:          make(chan struct{}),
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
	k.memLimit = cfg.queueBytes + cfg.queueBytes/2
	k.chunkCap = min(cfg.maxBatchBytes, 16<<10)
	k.chunkEnds = min(cfg.maxBatchRecords, 256)
	k.header = http.Header{
		"Dd-Api-Key":       {cfg.apiKey},
		"Content-Type":     {"application/json"},
		"Content-Encoding": {"gzip"},
		"User-Agent":       {"observability-datadog/1"},
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	var dh slog.Handler
	if cfg.errorJSON {
		dh = slog.NewJSONHandler(cfg.errorOutput, nil)
	} else {
		dh = slog.NewTextHandler(cfg.errorOutput, nil)
	}
	k.diag = slog.New(dh)
	// The kit's record budget; MaxRecordBytes then shortens the entry
	// (see encodeShortened), keeping the short attributes.
	k.lim = budget.New(budget.Budget{}, nil)
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
		c.dropped[drop.Closed]++
		c.mu.Unlock()
		return
	case n == 0:
		c.dropped[drop.TooLarge]++
		c.mu.Unlock()
		return
	case c.accepted-c.resolved >= int64(c.cfg.queueRecords) || c.queuedBytes+n > c.cfg.queueBytes:
		c.dropped[drop.QueueFull]++
		c.mu.Unlock()
		return
	}
	wake := false
	ch := c.open
	if ch != nil && len(ch.buf)+1+n+2 > c.cfg.maxBatchBytes {
		c.seal(ch)
		ch, c.open, wake = nil, nil, true
	}
	if ch == nil {
		ch = c.newChunk(n)
	} else if !c.grow(ch, n, c.growTarget(cap(ch.buf)), min(max(2*cap(ch.ends), 16), c.cfg.maxBatchRecords)) {
		ch = nil
	}
	if ch == nil { // no memory left for it within memLimit
		c.dropped[drop.QueueFull]++
		c.mu.Unlock()
		if wake {
			c.signal()
		}
		return
	}
	if len(ch.ends) > 0 {
		ch.buf = append(ch.buf, ',')
	}
	ch.buf = append(ch.buf, e...)
	ch.ends = append(ch.ends, len(ch.buf))
	c.accepted++
	c.queuedBytes += n
	if len(ch.ends) >= c.cfg.maxBatchRecords {
		c.seal(ch)
		c.open, wake = nil, true
	}
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// chunkMem is the memory a chunk's buffers take.
func chunkMem(ch *chunk) int { return cap(ch.buf) + 8*cap(ch.ends) }

// growTarget returns the capacity to grow a chunk buffer of capacity n to
// when it is full: double while small, then by a quarter (less than seal
// gives back), at most MaxBatchBytes.
func (c *core) growTarget(n int) int {
	if n < 64<<10 {
		n = max(2*n, 4<<10)
	} else {
		n += n / 4
	}
	return min(n, c.cfg.maxBatchBytes)
}

// seal closes the open chunk ch to producers, remembers its sizes for the
// next chunk, and gives back its spare capacity when that is large (after
// a burst of large records, a chunk of batch size holding small ones), so
// that what the queue holds stays close to what it counts. c.mu is held.
func (c *core) seal(ch *chunk) {
	ch.sealed = true
	c.chunkCap = min(len(ch.buf)+len(ch.buf)/8, c.cfg.maxBatchBytes)
	c.chunkEnds = min(len(ch.ends)+len(ch.ends)/8+1, c.cfg.maxBatchRecords)
	if cap(ch.buf)-len(ch.buf) > len(ch.buf)/4+4<<10 {
		// Keep an eighth spare, as chunkCap does, for reuse by a batch
		// a little larger.
		b := make([]byte, len(ch.buf), len(ch.buf)+len(ch.buf)/8)
		copy(b, ch.buf)
		c.memBytes += cap(b) - cap(ch.buf)
		ch.buf = b
	}
}

// makeRoom frees kept chunks until extra more bytes of chunk memory fit in
// memLimit, and reports whether they do. c.mu is held.
func (c *core) makeRoom(extra int) bool {
	for c.memBytes+extra > c.memLimit && len(c.free) > 0 {
		c.dropFree()
	}
	return c.memBytes+extra <= c.memLimit
}

// dropFree lets go of the last kept chunk. c.mu is held.
func (c *core) dropFree() {
	n := len(c.free) - 1
	m := chunkMem(c.free[n])
	c.free[n] = nil
	c.free = c.free[:n]
	c.freeBytes -= m
	c.memBytes -= m
}

// grow makes room in ch for one more entry of n bytes, growing buffers
// that are too small to wantBuf and wantEnds, or only to what the entry
// needs when memLimit does not allow that. It reports false when even that
// does not fit. c.mu is held.
func (c *core) grow(ch *chunk, n, wantBuf, wantEnds int) bool {
	needBuf := len(ch.buf) + n
	if len(ch.ends) > 0 {
		needBuf++ // the comma
	}
	needEnds := len(ch.ends) + 1
	if needBuf <= cap(ch.buf) && needEnds <= cap(ch.ends) {
		return true
	}
	bufCap, endsCap := cap(ch.buf), cap(ch.ends)
	if needBuf > bufCap {
		bufCap = max(needBuf, wantBuf)
	}
	if needEnds > endsCap {
		endsCap = max(needEnds, wantEnds)
	}
	extra := bufCap - cap(ch.buf) + 8*(endsCap-cap(ch.ends))
	if !c.makeRoom(extra) {
		bufCap, endsCap = max(needBuf, cap(ch.buf)), max(needEnds, cap(ch.ends))
		extra = bufCap - cap(ch.buf) + 8*(endsCap-cap(ch.ends))
		if !c.makeRoom(extra) {
			return false
		}
	}
	if bufCap != cap(ch.buf) {
		b := make([]byte, len(ch.buf), bufCap)
		copy(b, ch.buf)
		ch.buf = b
	}
	if endsCap != cap(ch.ends) {
		e := make([]int, len(ch.ends), endsCap)
		copy(e, ch.ends)
		ch.ends = e
	}
	c.memBytes += extra
	return true
}

// newChunk returns an empty chunk, with room for an entry of n bytes,
// appended to the FIFO as the open chunk, or nil when memLimit leaves no
// room for it. c.mu is held.
func (c *core) newChunk(n int) *chunk {
	var ch *chunk
	for len(c.free) > 0 {
		k := len(c.free) - 1
		f := c.free[k]
		if cap(f.buf) > 2*max(c.chunkCap, 16<<10) { // too large for the records now
			c.dropFree()
			continue
		}
		c.free[k] = nil
		c.free = c.free[:k]
		c.freeBytes -= chunkMem(f)
		ch = f
		break
	}
	if ch == nil {
		ch = &chunk{}
	}
	if !c.grow(ch, n, c.chunkCap, c.chunkEnds) {
		if cap(ch.buf) > 0 || cap(ch.ends) > 0 { // a kept chunk: let it go
			c.memBytes -= chunkMem(ch)
		}
		return nil
	}
	if c.head > 0 && c.head >= len(c.chunks)/2 {
		n := copy(c.chunks, c.chunks[c.head:])
		clear(c.chunks[n:])
		c.chunks = c.chunks[:n]
		c.head = 0
	}
	c.chunks = append(c.chunks, ch)
	ch.first = c.accepted
	c.open = ch
	return ch
}

// memoryBytes returns the memory the queue's chunks hold.
func (c *core) memoryBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.memBytes
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

// recycle keeps a sent chunk for reuse while the chunks kept take no more
// than QueueBytes/2 and it is not much larger than new chunks need; under a
// steady load the queue then allocates nothing. Otherwise it lets it go.
func (c *core) recycle(ch *chunk) {
	ch.buf, ch.ends, ch.sealed = ch.buf[:0], ch.ends[:0], false
	m := chunkMem(ch)
	c.mu.Lock()
	if c.freeBytes+m <= c.cfg.queueBytes/2 && cap(ch.buf) <= 2*max(c.chunkCap, 16<<10) {
		c.free = append(c.free, ch)
		c.freeBytes += m
	} else {
		c.memBytes -= m
	}
	c.mu.Unlock()
}

// resolve records the fate of n queued records holding entryBytes bytes:
// delivered when why is 0, else dropped for that reason. errText, when not
// empty, becomes LastError.
func (c *core) resolve(n, entryBytes int, why drop.Reason, errText string) {
	c.mu.Lock()
	c.resolved += int64(n)
	c.queuedBytes -= entryBytes
	if why == 0 {
		c.sent += uint64(n)
	} else {
		c.dropped[why] += uint64(n)
		if why == drop.Closed {
			c.abandoned += int64(n)
		}
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
// While it waits, the sender retries a failing batch at once and then at
// least every flushRetry, honouring Retry-After only up to ctx's deadline
// (see nextAttempt).
func (c *core) flush(ctx context.Context, op string) error {
	deadline, _ := ctx.Deadline()
	c.mu.Lock()
	target := c.accepted
	if target > c.flushTarget {
		c.flushTarget = target
	}
	c.flushID++
	id := c.flushID
	c.flushWaits[id] = deadline
	c.flushGen++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flushWaits, id)
		c.mu.Unlock()
	}()
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
		c.dropped[drop.Closed] += uint64(left)
		c.abandoned += left
		c.resolved = c.accepted
	}
	c.queuedBytes = 0
	clear(c.chunks)
	c.chunks, c.head, c.open, c.free, c.freeBytes, c.memBytes = nil, 0, nil, nil, 0, 0
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
		Enqueued:     c.enqueued,
		Sent:         c.sent,
		Dropped:      c.dropped,
		Retries:      c.retries,
		QueueLength:  int(c.accepted - c.resolved),
		QueueBytes:   c.queuedBytes,
		LastDelivery: c.lastOK,
		LastError:    c.lastError,
	}
}

// flushState returns whether a Flush or Close is waiting, the latest of
// their deadlines (zero when one of them has none) and flushGen.
func (c *core) flushState() (waiting bool, deadline time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.flushWaits {
		if d.IsZero() {
			return true, time.Time{}, c.flushGen
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	return len(c.flushWaits) > 0, deadline, c.flushGen
}
