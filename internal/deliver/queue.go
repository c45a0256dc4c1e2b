package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Store holds the items of a Queue's batches, each batch in a B of its
// own. The Queue calls its methods with its lock held, one at a time, so a
// Store needs no lock of its own; it must not call out or block.
type Store[T, B any] interface {
	// Append adds item, of size bytes, to the batch b, which holds n
	// items (none: a new batch, as Release left it). It returns false,
	// leaving b as it was, when the memory the store allows has no room
	// for it; the item is then dropped as drop.QueueFull.
	Append(b *B, n int, item T, size int) bool
	// Seal is called once b takes no more items.
	Seal(b *B)
	// Release is called once b is delivered or dropped; b must be left
	// as a new batch.
	Release(b *B)
}

// SendFunc makes one attempt at delivering items [lo, hi) of the sealed
// batch b; attempt counts from 0 for each range. It must honour ctx, and
// it must not keep b or its items after it returns.
type SendFunc[B any] func(ctx context.Context, b *B, lo, hi, attempt int) Result

// SliceStore is the Store of a Queue whose batches are slices of items.
// It keeps a few emptied slices for reuse.
type SliceStore[T any] struct {
	free [][]T
}

// Append implements Store.
func (s *SliceStore[T]) Append(b *[]T, n int, item T, _ int) bool {
	if n == 0 && cap(*b) == 0 && len(s.free) > 0 {
		k := len(s.free) - 1
		*b, s.free[k] = s.free[k], nil
		s.free = s.free[:k]
	}
	*b = append(*b, item)
	return true
}

// Seal implements Store.
func (s *SliceStore[T]) Seal(*[]T) {}

// Release implements Store.
func (s *SliceStore[T]) Release(b *[]T) {
	clear(*b)
	if len(s.free) < 2 {
		s.free = append(s.free, (*b)[:0])
	}
	*b = nil
}

// batch is one batch of a Queue.
type batch[B any] struct {
	data   B
	n      int   // items
	bytes  int   // sizes plus ItemOverhead each
	sizes  int   // sizes
	left   int   // items not yet resolved, once sealed
	first  int64 // sequence number of the first item
	sealed bool
}

// Queue is the bounded queue of items of type T, kept in batches of type
// B by a Store, and the one goroutine that delivers them with a SendFunc.
// Push never waits and never calls out but to the Store. Its methods are
// safe for concurrent use.
type Queue[T, B any] struct {
	link
	store Store[T, B]
	send  SendFunc[B]

	// Guarded by link.mu.
	batches     []*batch[B] // FIFO from head; the open batch, if any, is last
	head        int
	open        *batch[B]
	spare       []*batch[B]
	accepted    int64 // items ever queued; also the next sequence number
	resolved    int64 // queued items since sent or dropped, in order
	queuedBytes int
	flushTarget int64         // partial batches holding items before this are sent
	progress    chan struct{} // closed when resolved advances; nil when nobody waits
	closed      bool
	stopped     bool        // the sender has exited
	closeLost   drop.Counts // queued items dropped since Close began

	// Flushes waiting, by id, with their deadlines (zero: none); flushGen
	// counts flushes begun, so that the sender sees a new one.
	flushWaits map[uint64]time.Time
	flushID    uint64
	flushGen   uint64

	// The attempt in flight: its cancel function and deadline, and the
	// timer that cuts it short for a Flush's deadline.
	attemptCancel context.CancelFunc
	attemptEnd    time.Time
	shorten       *time.Timer

	wake   chan struct{} // cap 1: work for the sender
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the sender exits

	started   bool       // Start was called
	closeMu   sync.Mutex // serialises Close
	closeDone bool
	closeErr  error
}

// NewQueue returns a Queue delivering through send, configured by opts
// (nil means defaults). It panics if store or send is nil, a programmer's
// error. Call Start to start its sender, and Close to deliver what is
// queued and stop it.
func NewQueue[T, B any](store Store[T, B], send SendFunc[B], opts *Options) *Queue[T, B] {
	if store == nil || send == nil {
		panic("deliver.NewQueue: nil store or send function")
	}
	q := &Queue[T, B]{
		store:      store,
		send:       send,
		flushWaits: map[uint64]time.Time{},
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	q.init(opts)
	q.queued = func() int64 { return q.accepted - q.resolved }
	q.ctx, q.cancel = context.WithCancel(context.Background())
	return q
}

// Start starts the sender. Items pushed before are queued and sent once
// it runs. Call it once, before Close.
func (q *Queue[T, B]) Start() {
	q.started = true
	go q.run()
}

// signal wakes the sender without blocking.
func (q *Queue[T, B]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Push queues item, of size bytes, and reports whether it was queued.
// When the queue is at a bound, or after Close, the item is dropped and
// counted.
func (q *Queue[T, B]) Push(item T, size int) bool {
	o := &q.o
	q.mu.Lock()
	q.enqueued++
	switch {
	case q.closed:
		q.dropped[drop.Closed]++
		q.mu.Unlock()
		return false
	case q.accepted-q.resolved >= int64(o.MaxQueue) || (o.MaxQueueBytes > 0 && q.queuedBytes+size > o.MaxQueueBytes):
		q.dropped[drop.QueueFull]++
		q.mu.Unlock()
		return false
	}
	wake := false
	cost := size + o.ItemOverhead
	b := q.open
	if b != nil && o.MaxBatchBytes > 0 && b.bytes+cost > o.MaxBatchBytes {
		q.seal(b)
		b, q.open, wake = nil, nil, true
	}
	fresh := b == nil
	if fresh {
		if k := len(q.spare); k > 0 {
			b, q.spare[k-1] = q.spare[k-1], nil
			q.spare = q.spare[:k-1]
		} else {
			b = new(batch[B])
		}
	}
	if !q.store.Append(&b.data, b.n, item, size) { // no memory left for it
		if fresh {
			q.spare = append(q.spare, b)
		}
		q.dropped[drop.QueueFull]++
		q.mu.Unlock()
		if wake {
			q.signal()
		}
		return false
	}
	if fresh {
		if q.head > 0 && q.head >= len(q.batches)/2 {
			n := copy(q.batches, q.batches[q.head:])
			clear(q.batches[n:])
			q.batches = q.batches[:n]
			q.head = 0
		}
		b.first = q.accepted
		q.batches = append(q.batches, b)
		q.open = b
	}
	b.n++
	b.bytes += cost
	b.sizes += size
	q.accepted++
	q.queuedBytes += size
	if b.n >= o.MaxBatch {
		q.seal(b)
		q.open, wake = nil, true
	}
	q.mu.Unlock()
	if wake {
		q.signal()
	}
	return true
}

// Refuse counts an item that was given but cannot be queued, for reason
// (drop.TooLarge: too large even truncated).
func (q *Queue[T, B]) Refuse(reason drop.Reason) {
	q.mu.Lock()
	q.enqueued++
	q.dropped[reason]++
	q.mu.Unlock()
}

// seal closes b to producers. q.mu is held.
func (q *Queue[T, B]) seal(b *batch[B]) {
	b.sealed, b.left = true, b.n
	q.store.Seal(&b.data)
}

// take removes and returns the batch to send now: the oldest sealed one,
// or the open one when a flush or the flush interval asks for the items
// it holds. It returns nil when there is nothing to send yet.
func (q *Queue[T, B]) take() *batch[B] {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.batches) {
		return nil
	}
	b := q.batches[q.head]
	if !b.sealed {
		if b.first >= q.flushTarget {
			return nil
		}
		q.seal(b)
		q.open = nil
	}
	q.batches[q.head] = nil
	q.head++
	if q.head == len(q.batches) {
		q.batches, q.head = q.batches[:0], 0
	}
	return b
}

// release gives a delivered or dropped batch back to the Store.
func (q *Queue[T, B]) release(b *batch[B]) {
	q.mu.Lock()
	q.store.Release(&b.data)
	*b = batch[B]{data: b.data}
	if len(q.spare) < 4 {
		q.spare = append(q.spare, b)
	}
	q.mu.Unlock()
}

// resolve records the fate of n items of b: delivered when why is 0,
// else dropped for that reason. errText, when not empty, becomes
// LastError.
func (q *Queue[T, B]) resolve(b *batch[B], n int, why drop.Reason, errText string) {
	q.mu.Lock()
	q.resolved += int64(n)
	b.left -= n
	if b.left == 0 {
		q.queuedBytes -= b.sizes
	}
	if why == 0 {
		q.sent += uint64(n)
	} else {
		q.dropped[why] += uint64(n)
		if q.closed {
			q.closeLost[why] += uint64(n)
		}
	}
	if errText != "" {
		q.lastError = errText
	}
	if q.progress != nil {
		close(q.progress)
		q.progress = nil
	}
	q.mu.Unlock()
}

// run is the sender: it sends batches as they are sealed, partial ones
// every FlushInterval and on Flush, until Close cancels q.ctx.
func (q *Queue[T, B]) run() {
	defer close(q.done)
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	tick := time.NewTicker(q.o.FlushInterval)
	defer tick.Stop()
	for {
		if q.ctx.Err() != nil {
			return
		}
		if b := q.take(); b != nil {
			q.sendRange(pause, b, 0, b.n)
			q.release(b)
			continue
		}
		select {
		case <-q.ctx.Done():
			return
		case <-q.wake:
		case <-tick.C:
			q.mu.Lock()
			q.flushTarget = max(q.flushTarget, q.accepted)
			q.mu.Unlock()
		}
	}
}

// sendRange delivers items [lo, hi) of b, retrying and splitting as the
// answers require, and resolves every one of them exactly once. Every
// attempt waits for its turn (awaitTurn): after an answer that was not an
// acceptance, the whole sender pauses, whichever batch is next.
func (q *Queue[T, B]) sendRange(pause *time.Timer, b *batch[B], lo, hi int) {
	n := hi - lo
	var began time.Time // the first attempt; zero before it
	for attempt := 0; ; attempt++ {
		switch q.awaitTurn(pause, began) {
		case turnStop:
			q.resolve(b, n, drop.Closed, "")
			return
		case turnExhausted:
			q.mu.Lock()
			msg := q.lastMsg
			q.mu.Unlock()
			q.resolve(b, n, drop.RetriesExhausted, msg+" (giving up after "+time.Since(began).Round(time.Millisecond).String()+")")
			return
		}
		q.begin(&began)
		r, timedOut := q.attempt(b, lo, hi, attempt)
		if r.Status == 0 && r.Err != nil && q.ctx.Err() != nil { // Close gave up on this attempt
			q.resolve(b, n, drop.Closed, "")
			return
		}
		out := classify(r)
		if out == outDone {
			q.succeeded(n)
			q.resolve(b, n, 0, "")
			return
		}
		msg := q.describe(r)
		q.failed(out, r, msg, timedOut)
		switch out {
		case outSplit:
			if n == 1 {
				q.resolve(b, n, drop.TooLarge, msg)
				return
			}
			// The halves wait for their turn like any retry.
			mid := lo + n/2
			q.sendRange(pause, b, lo, mid)
			q.sendRange(pause, b, mid, hi)
			return
		case outAuth, outRejected:
			q.resolve(b, n, drop.Rejected, msg)
			return
		}
		// outRetry: the batch is kept and tried again at its turn.
	}
}

// attempt makes one attempt, bounded by attemptDeadline (which a Flush
// beginning meanwhile may bring forward), and reports whether that bound
// ended it. A panicking SendFunc counts as a permanent failure.
func (q *Queue[T, B]) attempt(b *batch[B], lo, hi, k int) (r Result, timedOut bool) {
	now := time.Now()
	q.mu.Lock()
	_, deadline, _ := q.flushState()
	end := q.attemptDeadline(now, deadline)
	ctx, cancel := context.WithDeadline(q.ctx, end)
	q.attemptCancel, q.attemptEnd = cancel, end
	q.mu.Unlock()
	func() {
		defer func() {
			if p := recover(); p != nil {
				r = Result{Err: Permanent(fmt.Errorf("send panicked: %v", p))}
			}
		}()
		r = q.send(ctx, &b.data, lo, hi, k)
	}()
	timedOut = ctx.Err() != nil && q.ctx.Err() == nil
	q.mu.Lock()
	q.attemptCancel = nil
	if q.shorten != nil {
		q.shorten.Stop()
		q.shorten = nil
	}
	q.mu.Unlock()
	cancel()
	return r, timedOut
}

// turn is what awaitTurn decided.
type turn int

const (
	turnGo        turn = iota // attempt now
	turnStop                  // Close gave up: the batch is dropped as closed
	turnExhausted             // the batch cannot be retried within MaxRetryElapsed
)

// awaitTurn waits until the sender may attempt again (see nextAttempt),
// or reports that the batch whose first attempt was at began (zero if
// none yet) would be retried after MaxRetryElapsed. A Flush beginning
// wakes it to compute its turn again.
func (q *Queue[T, B]) awaitTurn(pause *time.Timer, began time.Time) turn {
	for {
		if q.ctx.Err() != nil {
			return turnStop
		}
		now := time.Now()
		q.mu.Lock()
		waiting, deadline, gen := q.flushState()
		at := q.nextAttempt(now, waiting, deadline, gen)
		q.mu.Unlock()
		if !began.IsZero() && at.Sub(began) > q.o.MaxRetryElapsed {
			return turnExhausted
		}
		d := at.Sub(now)
		if d <= 0 {
			return turnGo
		}
		pause.Reset(d)
		select {
		case <-pause.C:
		case <-q.wake:
			pause.Stop()
		case <-q.ctx.Done():
			pause.Stop()
			return turnStop
		}
	}
}

// flushState returns whether a Flush or Close is waiting, the latest of
// their deadlines (zero when one of them has none) and flushGen. q.mu is
// held.
func (q *Queue[T, B]) flushState() (waiting bool, deadline time.Time, gen uint64) {
	for _, d := range q.flushWaits {
		if d.IsZero() {
			return true, time.Time{}, q.flushGen
		}
		if d.After(deadline) {
			deadline = d
		}
	}
	return len(q.flushWaits) > 0, deadline, q.flushGen
}

// Flush returns once every item queued before the call has been sent or
// dropped (see Stats), or returns an error saying how many are still
// undelivered when ctx ends first. While it waits, a failing batch is
// retried at once, then at least every FlushRetry; a Retry-After is
// honoured only as far as ctx's deadline allows; and each attempt is
// bounded by a third of the time left, the one in flight included.
func (q *Queue[T, B]) Flush(ctx context.Context) error { return q.flush(ctx, "flush") }

func (q *Queue[T, B]) flush(ctx context.Context, op string) error {
	deadline, _ := ctx.Deadline()
	q.mu.Lock()
	target := q.accepted
	q.flushTarget = max(q.flushTarget, target)
	q.flushID++
	id := q.flushID
	q.flushWaits[id] = deadline
	q.flushGen++
	if q.attemptCancel != nil && !deadline.IsZero() {
		now := time.Now()
		if end := q.attemptDeadline(now, deadline); end.Before(q.attemptEnd) {
			q.attemptEnd = end
			if q.shorten != nil {
				q.shorten.Stop()
			}
			q.shorten = time.AfterFunc(end.Sub(now), q.attemptCancel)
		}
	}
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.flushWaits, id)
		q.mu.Unlock()
	}()
	q.signal()
	for {
		q.mu.Lock()
		if q.resolved >= target || q.stopped {
			q.mu.Unlock()
			return nil
		}
		if q.progress == nil {
			q.progress = make(chan struct{})
		}
		p := q.progress
		q.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			q.mu.Lock()
			left := target - q.resolved
			q.mu.Unlock()
			if left <= 0 {
				return nil
			}
			return fmt.Errorf("%s: %s: %d %s undelivered: %w", q.o.Name, op, left, q.o.Noun, ctx.Err())
		}
	}
}

// Close stops accepting items (later ones are dropped as closed), flushes
// the queue until ctx ends (retrying as Flush does), then stops the
// sender. When ctx ends first (or has ended already), the attempt in
// flight is abandoned and what is left is dropped as closed. It returns an *Error saying how many of
// the items queued when it began were not delivered, and why, wrapping
// ctx's error when the deadline cut them off. No goroutine of the Queue
// outlives Close. Later calls return the first call's result.
func (q *Queue[T, B]) Close(ctx context.Context) error {
	q.closeMu.Lock()
	defer q.closeMu.Unlock()
	if q.closeDone {
		return q.closeErr
	}
	q.closeDone = true
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()

	// A Close whose ctx has ended already, or of a Queue never started,
	// delivers nothing more.
	ferr := ctx.Err()
	if q.started && ferr == nil {
		ferr = q.flush(ctx, "close")
	}
	q.cancel() // aborts an attempt or a pause in progress
	if q.started {
		<-q.done
	}

	q.mu.Lock()
	q.stopped = true
	if left := q.accepted - q.resolved; left > 0 {
		q.dropped[drop.Closed] += uint64(left)
		q.closeLost[drop.Closed] += uint64(left)
		q.resolved = q.accepted
	}
	for _, b := range q.batches[q.head:] {
		q.store.Release(&b.data)
	}
	clear(q.batches)
	q.batches, q.head, q.open, q.spare, q.queuedBytes = nil, 0, nil, nil, 0
	if q.progress != nil {
		close(q.progress)
		q.progress = nil
	}
	lost, last := q.closeLost, q.lastError
	q.mu.Unlock()

	total := lost.Total()
	if total == 0 {
		return nil
	}
	var parts []string
	reason := drop.Closed
	for _, r := range drop.All() {
		if k := lost.Get(r); k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k, r))
			if k > lost.Get(reason) {
				reason = r
			}
		}
	}
	msg := fmt.Sprintf("%s: close: %d %s undelivered (%s)", q.o.Name, total, q.o.Noun, strings.Join(parts, ", "))
	cerr := ctx.Err()
	switch {
	case cerr != nil:
		msg += ": " + cerr.Error()
	case ferr != nil && !errors.Is(ferr, context.Canceled):
		msg += ": " + ferr.Error()
	}
	if last != "" && reason != drop.Closed {
		msg += "; last error: " + last
	}
	q.closeErr = &Error{Reason: reason, N: int(total), msg: q.scrub.Scrub(msg), ctx: cerr}
	return q.closeErr
}

// Stats returns a snapshot of the counters: at every moment
// Sent + Dropped.Total() + QueueLength == Enqueued.
func (q *Queue[T, B]) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats()
	s.QueueLength = int(q.accepted - q.resolved)
	s.QueueBytes = q.queuedBytes
	return s
}
