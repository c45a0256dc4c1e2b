package datadog

// Reasons for which records are dropped, as Dropped.Get and DropReasons
// name them (and as the datadog_logs_dropped_total{reason} label spells them).
const (
	ReasonQueueFull        = "queue_full"        // the queue was at its record or byte bound
	ReasonRejected         = "rejected"          // the intake answered 400, 401, 403 or another final 4xx
	ReasonTooLarge         = "too_large"         // too large even truncated, or a lone entry answered 413
	ReasonRetriesExhausted = "retries_exhausted" // retried for MaxRetryElapsed without success
	ReasonClosed           = "closed"            // logged after Close, or still queued when Close gave up
)

// DropReasons returns the reasons Dropped counts, as a new slice.
func DropReasons() []string {
	return []string{ReasonQueueFull, ReasonRejected, ReasonTooLarge, ReasonRetriesExhausted, ReasonClosed}
}

// Dropped counts records that were not delivered, by reason.
type Dropped struct {
	QueueFull        uint64
	Rejected         uint64
	TooLarge         uint64
	RetriesExhausted uint64
	Closed           uint64
}

// Total returns the sum of all reasons.
func (d Dropped) Total() uint64 {
	return d.QueueFull + d.Rejected + d.TooLarge + d.RetriesExhausted + d.Closed
}

// Get returns the count for reason, one of DropReasons, and 0 for any
// other string.
func (d Dropped) Get(reason string) uint64 {
	switch reason {
	case ReasonQueueFull:
		return d.QueueFull
	case ReasonRejected:
		return d.Rejected
	case ReasonTooLarge:
		return d.TooLarge
	case ReasonRetriesExhausted:
		return d.RetriesExhausted
	case ReasonClosed:
		return d.Closed
	}
	return 0
}

// Stats is a snapshot of a Handler's counters, taken at one instant, so
// that Sent + Dropped.Total() + QueueLength == Enqueued always holds.
type Stats struct {
	// Enqueued counts every record Handle was given, whatever became of it.
	Enqueued uint64
	// Sent counts records the intake accepted (a 2xx answer).
	Sent uint64
	// Dropped counts records that will never be delivered, by reason.
	Dropped Dropped
	// Retries counts requests repeated after a 408, 429, 5xx or network error.
	Retries uint64
	// QueueLength is the number of records waiting or being sent.
	QueueLength int
	// QueueBytes is their encoded size, at most Options.QueueBytes.
	QueueBytes int
	// LastError describes the latest failed request, "" if none has failed.
	// It never contains the API key.
	LastError string
}
