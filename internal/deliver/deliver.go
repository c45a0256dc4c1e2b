// Package deliver is the kit's one delivery core: everything that ships
// records or samples over the network (Datadog logs, OTLP traces, logs
// and metrics) goes through it.
//
// It holds, once for every backend:
//   - a bounded queue (Queue) that callers add to without ever waiting,
//     sealed into batches by count and bytes, sent by one goroutine;
//   - one classification of answers: 2xx delivered; 408, 429, 5xx and
//     network errors retried; 413 split in halves; 401 and 403 rejected
//     with a hint; any other answer rejected (a 404 is rejected, never
//     retries_exhausted);
//   - one backoff (250 ms doubling to 30 s, with jitter) and one pause that
//     honours Retry-After across batches, shared by every request of a
//     Queue or a Link;
//   - one outage line when delivery starts failing, naming what happened
//     (the status, connection refused, timeout), and one recovery line when
//     it works again, both written to a local ErrorOutput, never through a
//     logger;
//   - one drop vocabulary (package drop) and one Stats shape;
//   - one way to keep secrets out of every error text (secret.Scrubber);
//   - one Flush and Close that retry until their deadline, bounding each
//     attempt by a share of the time left so that a request that hangs
//     leaves room for a retry.
//
// Link is the same machinery without a queue, for a caller that exports
// synchronously (the OTLP metrics sink's periodic export).
package deliver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/realtimeserver/observability/drop"
)

// Defaults of Options.
const (
	DefaultMaxQueue        = 2048
	DefaultMaxBatch        = 512
	DefaultFlushInterval   = time.Second
	DefaultTimeout         = 10 * time.Second
	DefaultMaxRetryElapsed = 5 * time.Minute
	DefaultMaxRetryAfter   = time.Minute
)

// Options configures a Queue or a Link. A zero field means its default.
type Options struct {
	// Name begins every diagnostic line and error: "datadog", "otlp
	// traces". Default "deliver".
	Name string
	// Activity names what fails in the diagnostic lines: "log delivery",
	// "export". Default "delivery".
	Activity string
	// Noun names the items in lines and errors: "records", "spans".
	// Default "items".
	Noun string
	// Target is the receiver's host, shown in the diagnostic lines under
	// TargetKey. Default none.
	Target string
	// TargetKey is the key of Target in the diagnostic lines ("intake").
	// Default "endpoint".
	TargetKey string

	// MaxQueue bounds the items queued or being sent; past it an item is
	// dropped as drop.QueueFull. Default DefaultMaxQueue.
	MaxQueue int
	// MaxQueueBytes bounds the bytes (the sizes given to Push) queued or
	// being sent. Default: no bound on bytes.
	MaxQueueBytes int
	// MaxBatch is the most items in one batch. Default DefaultMaxBatch,
	// and never more than MaxQueue.
	MaxBatch int
	// MaxBatchBytes bounds a batch's bytes: the sizes of its items plus
	// ItemOverhead for each. Default: no bound on bytes.
	MaxBatchBytes int
	// ItemOverhead is what each item adds to a batch besides its size (a
	// separator). Default 0.
	ItemOverhead int
	// FlushInterval is the longest an item waits in a partial batch.
	// Default DefaultFlushInterval.
	FlushInterval time.Duration

	// Timeout bounds each attempt. While a Flush or Close with a deadline
	// waits, an attempt is also bounded by a third of the time left (but
	// not below FlushReserve, or what is left), so that one that hangs
	// leaves room for more. Default DefaultTimeout.
	Timeout time.Duration
	// MaxRetryElapsed bounds the time spent retrying one batch: a batch
	// whose next attempt would come later is dropped as
	// drop.RetriesExhausted. Default DefaultMaxRetryElapsed.
	MaxRetryElapsed time.Duration
	// MaxRetryAfter caps the pause a Retry-After answer imposes. Default
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration

	// ErrorOutput receives the outage, recovery and hint lines, each one
	// line written by the sending goroutine with no lock held. Default
	// os.Stderr.
	ErrorOutput io.Writer
	// ErrorJSON writes them as JSON objects with slog.JSONHandler's keys.
	// Default: slog.TextHandler's form.
	ErrorJSON bool
	// ErrorHandler, when not nil, receives the outage, recovery and hint
	// lines as records instead (ErrorOutput and ErrorJSON are then
	// unused): the program's local console or JSON handler, so that they
	// read as its other lines do. Its Handle is called directly, whatever
	// its level, so that a program logging at ERROR still learns of an
	// outage; a panic in it is recovered and the line lost. It must not
	// lead back to this delivery (a handler that ships to the failing
	// backend would queue the line for it).
	ErrorHandler slog.Handler
	// Secrets are kept out of every error text, diagnostic line and
	// Stats.LastError, in every form secret.Scrubber covers for a key.
	Secrets []string
	// AuthHint is written once, at level ERROR, when the receiver answers
	// 401 or 403. Default: no hint.
	AuthHint string

	// The retry timings: the backoff starts at RetryBase and doubles to
	// RetryMax; while a Flush waits, a failing batch is retried at most
	// FlushRetry after each failure, and a Retry-After ends at the latest
	// FlushReserve before the Flush's deadline. Defaults 250 ms, 30 s,
	// 500 ms, 500 ms. Tests shorten them.
	RetryBase, RetryMax, FlushRetry, FlushReserve time.Duration
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	def := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	if o.Name == "" {
		o.Name = "deliver"
	}
	if o.Activity == "" {
		o.Activity = "delivery"
	}
	if o.Noun == "" {
		o.Noun = "items"
	}
	if o.TargetKey == "" {
		o.TargetKey = "endpoint"
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	o.MaxBatch = min(o.MaxBatch, o.MaxQueue)
	def(&o.FlushInterval, DefaultFlushInterval)
	def(&o.Timeout, DefaultTimeout)
	def(&o.MaxRetryElapsed, DefaultMaxRetryElapsed)
	def(&o.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&o.RetryBase, 250*time.Millisecond)
	def(&o.RetryMax, 30*time.Second)
	def(&o.FlushRetry, 500*time.Millisecond)
	def(&o.FlushReserve, 500*time.Millisecond)
	if o.ErrorOutput == nil {
		o.ErrorOutput = os.Stderr
	}
	return o
}

// Result is what one attempt to deliver a batch came to.
type Result struct {
	// Status is the HTTP status of the answer, 0 when there was none.
	Status int
	// RetryAfter is the pause the answer's Retry-After header asked for.
	RetryAfter time.Duration
	// Err is the attempt's error: nil with no Status when the batch was
	// delivered, and, with a Status that is not 2xx, what the answer's
	// body said (nil: nothing). Its text is scrubbed before it is shown
	// anywhere.
	Err error

	cause error // the transport's own error (see Observation), for reasonText
}

// outcome is what an answer means for a batch.
type outcome int

const (
	outDone outcome = iota
	outRetry
	outSplit
	outRejected
	outAuth
)

// classify maps a Result to an outcome: success (a 2xx answer, or no
// answer and no error); 408, 429 and 5xx, and a network error, are retried; 413 splits
// the batch; 401 and 403 are rejected with a hint; every other answer
// (3xx, 404, 400, ...) is rejected. An error marked Permanent with no
// answer is rejected.
func classify(r Result) outcome {
	s := r.Status
	switch {
	case s >= 200 && s < 300, s == 0 && r.Err == nil:
		return outDone
	case s == 0:
		if errors.Is(r.Err, errPermanent) {
			return outRejected
		}
		return outRetry
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return outRetry
	case s == http.StatusRequestEntityTooLarge:
		return outSplit
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return outAuth
	}
	return outRejected
}

var errPermanent = errors.New("not retried")

// Permanent marks err as final: a batch whose attempt returns it with no
// answer is dropped as drop.Rejected rather than retried.
func Permanent(err error) error { return fmt.Errorf("%w (%w)", err, errPermanent) }

// Stats is a snapshot of a Queue's or a Link's counters, taken at one
// instant: for a Queue, Sent + Dropped.Total() + QueueLength == Enqueued.
type Stats struct {
	// Enqueued counts every item given, whatever became of it.
	Enqueued uint64
	// Sent counts items the receiver accepted.
	Sent uint64
	// Dropped counts items that will never be delivered, by reason.
	Dropped drop.Counts
	// Retries counts attempts repeated after a failure.
	Retries uint64
	// QueueLength is the number of items queued or being sent.
	QueueLength int
	// QueueBytes is their size, as given to Push.
	QueueBytes int
	// LastDelivery is when the receiver last accepted a batch.
	LastDelivery time.Time
	// LastError describes the latest failed attempt, scrubbed; "" if none.
	LastError string
}

// Error is what a Link's Do, or a Queue's Close, returns when items were
// not delivered. Its text is scrubbed.
type Error struct {
	// Reason is why the items were dropped: drop.Rejected,
	// drop.RetriesExhausted, drop.TooLarge or drop.Closed.
	Reason drop.Reason
	// N counts the items not delivered.
	N   int
	msg string
	ctx error // the context's error that ended the wait, if any
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the context's error when a deadline or cancellation
// ended the delivery.
func (e *Error) Unwrap() error { return e.ctx }

// ReasonOf returns the drop reason an error from Do carries, and
// drop.RetriesExhausted for any other non-nil error.
func ReasonOf(err error) drop.Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return drop.RetriesExhausted
}
