// Package batcher is the bounded, never-blocking export queue behind the
// kit's OpenTelemetry spans and log records: callers hand items to Add,
// which never waits; one goroutine exports them in batches; Flush and
// Close deliver what is queued within the caller's deadline; and every item
// that is not delivered is counted under a drop.Reason.
package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Defaults of Options.
const (
	DefaultMaxQueue      = 2048
	DefaultMaxBatch      = 512
	DefaultDelay         = 5 * time.Second
	DefaultExportTimeout = 30 * time.Second
)

// closeGrace is how long Close waits for an export it has cancelled to
// return before it gives up on the worker.
const closeGrace = 200 * time.Millisecond

// Options configures a Batcher. A zero Options means every default.
type Options struct {
	// MaxQueue bounds the items waiting for export; past it Add drops the
	// newest item and counts drop.QueueFull. Default: DefaultMaxQueue.
	MaxQueue int
	// MaxBatch is the most items one export call receives; a queue that
	// reaches it is exported without waiting for Delay. Default:
	// DefaultMaxBatch, and never more than MaxQueue.
	MaxBatch int
	// Delay is the longest an item waits before its batch is exported.
	// Default: DefaultDelay.
	Delay time.Duration
	// ExportTimeout bounds one export call. Default: DefaultExportTimeout.
	ExportTimeout time.Duration
}

// ExportFunc delivers one batch. It must honour ctx and must not keep
// batch after it returns. An error means that none of batch was delivered.
type ExportFunc[T any] func(ctx context.Context, batch []T) error

// Stats are a Batcher's counts since it was built.
type Stats struct {
	// Exported counts items that an export call accepted.
	Exported uint64
	// Queued is the number of items waiting now.
	Queued int
	// Dropped counts items not delivered, by reason: drop.QueueFull (the
	// queue was at MaxQueue), drop.RetriesExhausted (the export call
	// failed), drop.Closed (added after Close, or still queued or being
	// exported when Close's deadline ended).
	Dropped drop.Counts
	// LastError is the most recent export error, or nil.
	LastError error
}

// Batcher queues items of type T and exports them in batches from one
// goroutine. Its methods are safe for concurrent use. Add never blocks
// and never calls out; no lock is held while the export function runs.
type Batcher[T any] struct {
	export ExportFunc[T]
	opts   Options

	mu     sync.Mutex
	queue  []T
	closed bool

	kick    chan struct{}      // capacity 1: the queue reached MaxBatch
	flushes chan flushRequest  // Flush and Close ask the worker to drain
	stop    chan struct{}      // closed by Close when the worker may exit
	done    chan struct{}      // closed by the worker when it exits
	base    context.Context    // parent of every export's context
	cancel  context.CancelFunc // cancels exports when Close gives up

	exported  atomic.Uint64
	dropped   drop.Counter
	lastError atomic.Pointer[error]
	closeOnce sync.Once
	closeErr  error
}

type flushRequest struct {
	ctx  context.Context
	done chan struct{}
}

// New starts a Batcher that delivers batches through export. It panics if
// export is nil, a programmer's error.
func New[T any](export ExportFunc[T], opts Options) *Batcher[T] {
	if export == nil {
		panic("batcher.New: nil export function")
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	opts.MaxBatch = min(opts.MaxBatch, opts.MaxQueue)
	if opts.Delay <= 0 {
		opts.Delay = DefaultDelay
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = DefaultExportTimeout
	}
	b := &Batcher[T]{
		export:  export,
		opts:    opts,
		kick:    make(chan struct{}, 1),
		flushes: make(chan flushRequest),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	b.base, b.cancel = context.WithCancel(context.Background())
	go b.run()
	return b
}

// Add queues item for export and reports whether it was queued. When the
// queue is full, or after Close, the item is dropped and counted.
func (b *Batcher[T]) Add(item T) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.dropped.Add(drop.Closed, 1)
		return false
	}
	if len(b.queue) >= b.opts.MaxQueue {
		b.mu.Unlock()
		b.dropped.Add(drop.QueueFull, 1)
		return false
	}
	b.queue = append(b.queue, item)
	full := len(b.queue) >= b.opts.MaxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// Stats returns the counts so far.
func (b *Batcher[T]) Stats() Stats {
	b.mu.Lock()
	q := len(b.queue)
	b.mu.Unlock()
	s := Stats{Exported: b.exported.Load(), Queued: q, Dropped: b.dropped.Snapshot()}
	if e := b.lastError.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// Flush exports every item queued when it is called and returns when they
// are delivered or have failed, or when ctx ends, whichever comes first. It
// returns ctx's error when ctx ended first, and an error naming the count
// when some export failed.
func (b *Batcher[T]) Flush(ctx context.Context) error {
	before := b.failed()
	req := flushRequest{ctx: ctx, done: make(chan struct{})}
	select {
	case b.flushes <- req:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := b.failed() - before; n > 0 {
		return fmt.Errorf("%d items failed to export: %w", n, b.Stats().LastError)
	}
	return nil
}

// Close refuses new items, exports what is queued within ctx's deadline
// and stops the worker. Items it could not deliver by then are counted as
// drop.Closed (or drop.RetriesExhausted when their export failed) and
// reported in the error, which also says how many items were dropped
// over the Batcher's life. Calling it again returns the first result.
func (b *Batcher[T]) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.close(ctx) })
	return b.closeErr
}

func (b *Batcher[T]) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	flushErr := b.Flush(ctx)
	close(b.stop)
	select {
	case <-b.done:
	case <-ctx.Done():
		// The worker is inside an export: cancel it and give it a moment.
		b.cancel()
		t := time.NewTimer(closeGrace)
		select {
		case <-b.done:
		case <-t.C:
		}
		t.Stop()
	}
	b.cancel()
	b.mu.Lock()
	left := len(b.queue)
	clear(b.queue)
	b.queue = nil
	b.mu.Unlock()
	b.dropped.Add(drop.Closed, uint64(left))

	d := b.dropped.Snapshot()
	if total := d.Total(); total > 0 {
		var parts []error
		for _, r := range drop.All() {
			if n := d.Get(r); n > 0 {
				parts = append(parts, fmt.Errorf("%d %s", n, r))
			}
		}
		err := fmt.Errorf("%d items not delivered (%w)", total, errors.Join(parts...))
		if flushErr != nil {
			err = fmt.Errorf("%w; flush: %w", err, flushErr)
		}
		if last := b.Stats().LastError; last != nil {
			err = fmt.Errorf("%w; last export error: %w", err, last)
		}
		return err
	}
	return flushErr
}

// closing reports whether Close has begun.
func (b *Batcher[T]) closing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Batcher[T]) failed() uint64 { return b.dropped.Load(drop.RetriesExhausted) }

func (b *Batcher[T]) run() {
	defer close(b.done)
	timer := time.NewTimer(b.opts.Delay)
	defer timer.Stop()
	var buf []T
	for {
		select {
		case <-b.stop:
			return
		case req := <-b.flushes:
			buf = b.drain(req.ctx, buf)
			close(req.done)
			continue
		case <-b.kick:
			buf = b.exportFull(buf)
			continue
		case <-timer.C:
			buf, _ = b.exportOne(b.base, buf)
			timer.Reset(b.opts.Delay)
		}
	}
}

// exportFull exports batches while the queue holds a full one.
func (b *Batcher[T]) exportFull(buf []T) []T {
	for {
		b.mu.Lock()
		n := len(b.queue)
		b.mu.Unlock()
		if n < b.opts.MaxBatch {
			return buf
		}
		buf, _ = b.exportOne(b.base, buf)
	}
}

// drain exports the items queued when it starts (items added meanwhile
// may go along), stopping early when ctx ends. ctx bounds the exports too.
func (b *Batcher[T]) drain(ctx context.Context, buf []T) []T {
	b.mu.Lock()
	remaining := len(b.queue)
	b.mu.Unlock()
	for remaining > 0 && ctx.Err() == nil {
		ectx, stop := context.WithCancel(b.base)
		unlink := context.AfterFunc(ctx, stop)
		var n int
		buf, n = b.exportOne(ectx, buf)
		unlink()
		stop()
		if n == 0 {
			break
		}
		remaining -= n
	}
	return buf
}

// exportOne takes up to MaxBatch items off the queue and exports them
// with no lock held, and returns how many it took. buf is reused between
// calls.
func (b *Batcher[T]) exportOne(ctx context.Context, buf []T) ([]T, int) {
	b.mu.Lock()
	n := min(len(b.queue), b.opts.MaxBatch)
	buf = append(buf[:0], b.queue[:n]...)
	// Take from the head: O(n), and append reallocates once the tail
	// reaches the capacity, copying only what is queued.
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = b.queue[:0:0]
	}
	b.mu.Unlock()
	if n == 0 {
		return buf, 0
	}
	ectx, cancel := context.WithTimeout(ctx, b.opts.ExportTimeout)
	err := b.callExport(ectx, buf)
	cancel()
	switch {
	case err == nil:
		b.exported.Add(uint64(n))
	case b.base.Err() != nil || (ctx.Err() != nil && b.closing()):
		// Cut off by Close, or by the deadline of the Flush that Close
		// runs first: these were still queued when Close gave up.
		b.dropped.Add(drop.Closed, uint64(n))
		b.lastError.Store(&err)
	default:
		b.dropped.Add(drop.RetriesExhausted, uint64(n))
		b.lastError.Store(&err)
	}
	clear(buf)
	return buf[:0], n
}

// callExport calls the export function, turning a panic into an error so
// that the worker, and with it every later batch, survives.
func (b *Batcher[T]) callExport(ctx context.Context, batch []T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("export panicked: %v", r)
		}
	}()
	return b.export(ctx, batch)
}
