package datadog

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/internal/deliver"
)

// chunk is one request's worth of entries: buf holds them separated by
// commas (the body without its brackets), ends[i] is the offset just past
// entry i.
type chunk struct {
	buf  []byte
	ends []int
}

// span returns the offsets in buf of entries [lo, hi), without the
// separators around them.
func (ch *chunk) span(lo, hi int) (start, end int) {
	if lo > 0 {
		start = ch.ends[lo-1] + 1
	}
	return start, ch.ends[hi-1]
}

// core is the state shared by a Handler and its clones: the encoding's
// constants, the delivery queue and its sender.
type core struct {
	cfg    *config
	static []byte // ,"service":…,"hostname":…,"ddsource":…,"ddtags":…
	header http.Header
	lim    *budget.Limiter

	// dopts configures the queue; tests adjust it before start.
	dopts    deliver.Options
	bodyWait time.Duration // the longest the sender waits for the transport to release a body
	store    *chunkStore
	snd      sender
	q        *deliver.Queue[[]byte, chunk]
}

// newCore returns the core of a Handler configured by cfg, with its queue
// built but its sender not started; hooks adjust it first (tests shorten
// the retry timings).
func newCore(cfg *config, hooks ...func(*core)) *core {
	k := &core{cfg: cfg, bodyWait: time.Second}
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
	k.store = &chunkStore{
		maxBatchBytes:   cfg.maxBatchBytes,
		maxBatchRecords: cfg.maxBatchRecords,
		queueBytes:      cfg.queueBytes,
		memLimit:        cfg.queueBytes + cfg.queueBytes/2,
		chunkCap:        min(cfg.maxBatchBytes, 16<<10),
		chunkEnds:       min(cfg.maxBatchRecords, 256),
	}
	// The body of a request is the entries, a comma after each but the
	// last, in brackets: with a comma counted for every entry, it is at
	// most MaxBatchBytes when they take at most MaxBatchBytes-1.
	k.dopts = deliver.Options{
		Name:            "datadog",
		Activity:        "log delivery",
		Noun:            "records",
		Target:          cfg.intakeHost,
		TargetKey:       "intake",
		MaxQueue:        cfg.queueRecords,
		MaxQueueBytes:   cfg.queueBytes,
		MaxBatch:        cfg.maxBatchRecords,
		MaxBatchBytes:   cfg.maxBatchBytes - 1,
		ItemOverhead:    1,
		FlushInterval:   cfg.flushInterval,
		Timeout:         cfg.timeout,
		MaxRetryElapsed: cfg.maxRetryElapsed,
		MaxRetryAfter:   MaxRetryAfter,
		ErrorOutput:     cfg.errorOutput,
		ErrorJSON:       cfg.errorJSON,
		ErrorHandler:    cfg.errorHandler,
		Secrets:         []string{cfg.apiKey},
		AuthHint:        "the logs intake refused the API key: it is wrong or lacks permission for this site; check DATADOG_API_KEY and DATADOG_SITE. Records are dropped and counted as rejected",
	}
	// The kit's record budget; MaxRecordBytes then shortens the entry
	// (see encodeShortened), keeping the short attributes.
	k.lim = budget.New(budget.Budget{}, nil)
	for _, h := range hooks {
		h(k)
	}
	k.snd.init()
	k.q = deliver.NewQueue[[]byte, chunk](k.store, k.send, &k.dopts)
	return k
}

// start starts the sender.
func (c *core) start() { c.q.Start() }

// push queues one encoded entry, or counts it as dropped. An empty entry is
// one that did not fit in MaxRecordBytes even truncated.
func (c *core) push(e []byte) {
	if len(e) == 0 {
		c.q.Refuse(drop.TooLarge)
		return
	}
	c.q.Push(e, len(e))
}

// chunkStore keeps the entries of the queue's batches in chunk buffers,
// reusing sent ones, within QueueBytes*3/2 bytes of memory. The queue
// calls it with its lock held.
type chunkStore struct {
	maxBatchBytes   int
	maxBatchRecords int
	queueBytes      int
	memLimit        int // bound of mem: QueueBytes*3/2

	free      []chunk      // sent chunks kept for reuse
	freeBytes int          // their memory (see chunkMem), at most queueBytes/2
	mem       atomic.Int64 // memory of every chunk held: queued, being sent or free
	chunkCap  int          // buffer capacity for a new chunk: what the last sealed one needed
	chunkEnds int          // capacity of ends for a new chunk, likewise
}

// chunkMem is the memory a chunk's buffers take.
func chunkMem(ch *chunk) int { return cap(ch.buf) + 8*cap(ch.ends) }

// Append implements deliver.Store: it appends entry e to ch, growing its
// buffers within the memory bound.
func (s *chunkStore) Append(ch *chunk, n int, e []byte, size int) bool {
	if n == 0 {
		if !s.open(ch, size) {
			return false
		}
	} else if !s.grow(ch, size, s.growTarget(cap(ch.buf)), min(max(2*cap(ch.ends), 16), s.maxBatchRecords)) {
		return false
	}
	if len(ch.ends) > 0 {
		ch.buf = append(ch.buf, ',')
	}
	ch.buf = append(ch.buf, e...)
	ch.ends = append(ch.ends, len(ch.buf))
	return true
}

// open readies the empty chunk ch for an entry of n bytes, with the
// buffers of a kept chunk when one is not too large for the records now.
func (s *chunkStore) open(ch *chunk, n int) bool {
	for len(s.free) > 0 {
		k := len(s.free) - 1
		f := s.free[k]
		if cap(f.buf) > 2*max(s.chunkCap, 16<<10) { // too large for the records now
			s.dropFree()
			continue
		}
		s.free[k] = chunk{}
		s.free = s.free[:k]
		s.freeBytes -= chunkMem(&f)
		*ch = f
		break
	}
	if !s.grow(ch, n, s.chunkCap, s.chunkEnds) {
		if m := chunkMem(ch); m > 0 { // a kept chunk: let it go
			s.mem.Add(-int64(m))
		}
		*ch = chunk{}
		return false
	}
	return true
}

// growTarget returns the capacity to grow a chunk buffer of capacity n to
// when it is full: double while small, then by a quarter (less than Seal
// gives back), at most MaxBatchBytes.
func (s *chunkStore) growTarget(n int) int {
	if n < 64<<10 {
		n = max(2*n, 4<<10)
	} else {
		n += n / 4
	}
	return min(n, s.maxBatchBytes)
}

// Seal implements deliver.Store: it remembers ch's sizes for the next
// chunk, and gives back its spare capacity when that is large (after a
// burst of large records, a chunk of batch size holding small ones), so
// that what the queue holds stays close to what it counts.
func (s *chunkStore) Seal(ch *chunk) {
	s.chunkCap = min(len(ch.buf)+len(ch.buf)/8, s.maxBatchBytes)
	s.chunkEnds = min(len(ch.ends)+len(ch.ends)/8+1, s.maxBatchRecords)
	if cap(ch.buf)-len(ch.buf) > len(ch.buf)/4+4<<10 {
		// Keep an eighth spare, as chunkCap does, for reuse by a batch
		// a little larger.
		b := make([]byte, len(ch.buf), len(ch.buf)+len(ch.buf)/8)
		copy(b, ch.buf)
		s.mem.Add(int64(cap(b) - cap(ch.buf)))
		ch.buf = b
	}
}

// Release implements deliver.Store: it keeps a sent chunk for reuse while
// the chunks kept take no more than QueueBytes/2 and it is not much larger
// than new chunks need; under a steady load the queue then allocates
// nothing. Otherwise it lets it go.
func (s *chunkStore) Release(ch *chunk) {
	c := chunk{buf: ch.buf[:0], ends: ch.ends[:0]}
	*ch = chunk{}
	m := chunkMem(&c)
	if s.freeBytes+m <= s.queueBytes/2 && cap(c.buf) <= 2*max(s.chunkCap, 16<<10) {
		s.free = append(s.free, c)
		s.freeBytes += m
	} else {
		s.mem.Add(-int64(m))
	}
}

// makeRoom frees kept chunks until extra more bytes of chunk memory fit in
// memLimit, and reports whether they do.
func (s *chunkStore) makeRoom(extra int) bool {
	for int(s.mem.Load())+extra > s.memLimit && len(s.free) > 0 {
		s.dropFree()
	}
	return int(s.mem.Load())+extra <= s.memLimit
}

// dropFree lets go of the last kept chunk.
func (s *chunkStore) dropFree() {
	n := len(s.free) - 1
	m := chunkMem(&s.free[n])
	s.free[n] = chunk{}
	s.free = s.free[:n]
	s.freeBytes -= m
	s.mem.Add(-int64(m))
}

// grow makes room in ch for one more entry of n bytes, growing buffers
// that are too small to wantBuf and wantEnds, or only to what the entry
// needs when memLimit does not allow that. It reports false when even that
// does not fit.
func (s *chunkStore) grow(ch *chunk, n, wantBuf, wantEnds int) bool {
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
	if !s.makeRoom(extra) {
		bufCap, endsCap = max(needBuf, cap(ch.buf)), max(needEnds, cap(ch.ends))
		extra = bufCap - cap(ch.buf) + 8*(endsCap-cap(ch.ends))
		if !s.makeRoom(extra) {
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
	s.mem.Add(int64(extra))
	return true
}

// memoryBytes returns the memory the queue's chunks hold.
func (c *core) memoryBytes() int { return int(c.store.mem.Load()) }

// close implements Handler.Close.
func (c *core) close(ctx context.Context) error {
	err := c.q.Close(ctx)
	if t := c.cfg.ownTransport; t != nil {
		t.CloseIdleConnections()
	}
	return err
}

// stats implements Handler.Stats.
func (c *core) stats() Stats { return c.q.Stats() }

// cancel drops what a core that was never started holds. Tests that use
// a core to encode call it.
func (c *core) cancel() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.q.Close(ctx)
}
