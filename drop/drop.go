// Package drop is the one vocabulary of reasons for which the kit gives up
// on a log record or a metric sample. Every backend that drops something
// (the Prometheus registry, the DogStatsD sink, the Datadog logs handler)
// counts it under one of these reasons, and every metric that exports such
// a count (metricsink_dropped_samples_total, datadog_logs_dropped_total)
// uses Reason.String as the value of its reason label.
//
// The package has no dependencies, so that handlers, which know nothing of
// metrics, and metric sinks, which know nothing of handlers, can share it.
package drop

import "sync/atomic"

// Reason says why a record or sample was not delivered. The zero Reason
// is not a reason; String returns "" for it.
type Reason uint8

// The reasons. A backend uses the subset that can happen to it; Counts
// holds all of them so that every backend reports in the same shape.
const (
	// QueueFull: a bounded queue was at its bound, so the newest was refused.
	QueueFull Reason = iota + 1
	// Rejected: the backend refused it for good (a final 4xx answer).
	Rejected
	// TooLarge: too large to send even after truncating or splitting.
	TooLarge
	// RetriesExhausted: retried for as long as allowed without success.
	RetriesExhausted
	// Closed: recorded after Close, or still queued when Close gave up.
	Closed
	// InvalidName: a metric name that cannot be mapped to a valid one.
	InvalidName
	// InvalidTags: malformed tags (odd key/value count, too many, bad key).
	InvalidTags
	// ReservedLabel: a tag key the backend reserves (le, quantile, __*).
	ReservedLabel
	// TypeClash: a name first used as one kind of metric, then as another.
	TypeClash
	// InvalidValue: NaN, ±Inf or a negative value where none is allowed.
	InvalidValue
	// Duplicate: a second registration of a series that exists already.
	Duplicate
	// Overflow: past a bound on names or series, so not recorded.
	Overflow
	// Panic: a user callback (GaugeFunc, CounterFunc) panicked.
	Panic
	// Timeout: a user callback did not return within its bounded wait.
	Timeout

	numReasons
)

var names = [numReasons]string{
	QueueFull:        "queue_full",
	Rejected:         "rejected",
	TooLarge:         "too_large",
	RetriesExhausted: "retries_exhausted",
	Closed:           "closed",
	InvalidName:      "invalid_name",
	InvalidTags:      "invalid_tags",
	ReservedLabel:    "reserved_label",
	TypeClash:        "type_clash",
	InvalidValue:     "invalid_value",
	Duplicate:        "duplicate",
	Overflow:         "overflow",
	Panic:            "panic",
	Timeout:          "timeout",
}

// String returns the reason as a metric label value ("queue_full"), or ""
// for a value that is not a Reason.
func (r Reason) String() string {
	if r >= numReasons {
		return ""
	}
	return names[r]
}

// Parse returns the Reason whose String is s, and false if there is none.
func Parse(s string) (Reason, bool) {
	for r := Reason(1); r < numReasons; r++ {
		if names[r] == s {
			return r, true
		}
	}
	return 0, false
}

// All returns every Reason, in the order of the constants, as a new slice.
func All() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := Reason(1); r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Counts is a snapshot of counts by reason. The zero Counts is all zeros.
type Counts [numReasons]uint64

// Get returns the count for r, and 0 for a value that is not a Reason.
func (c Counts) Get(r Reason) uint64 {
	if r >= numReasons {
		return 0
	}
	return c[r]
}

// Total returns the sum over every reason.
func (c Counts) Total() uint64 {
	var t uint64
	for _, n := range c {
		t += n
	}
	return t
}

// Counter counts drops by reason. Its methods are safe for concurrent use
// and never allocate; the zero Counter is ready to use. It must not be
// copied after first use.
type Counter struct {
	n [numReasons]atomic.Uint64
}

// Add counts n more drops for r. A value that is not a Reason is ignored.
func (c *Counter) Add(r Reason, n uint64) {
	if r == 0 || r >= numReasons {
		return
	}
	c.n[r].Add(n)
}

// Load returns the count for r.
func (c *Counter) Load(r Reason) uint64 {
	if r >= numReasons {
		return 0
	}
	return c.n[r].Load()
}

// Snapshot returns every count. Counts added while it runs may or may not
// be included, reason by reason.
func (c *Counter) Snapshot() Counts {
	var out Counts
	for i := range c.n {
		out[i] = c.n[i].Load()
	}
	return out
}
