package datadog

import (
	"time"

	"github.com/realtimeserver/observability/drop"
)

// dropReasons are the reasons for which the handler drops records, in the
// order DropReasons returns them.
var dropReasons = [...]drop.Reason{
	drop.QueueFull,        // the queue was at its record or byte bound
	drop.Rejected,         // the intake answered 400, 401, 403 or another final 4xx (or 3xx)
	drop.TooLarge,         // too large even truncated, or a lone entry answered 413
	drop.RetriesExhausted, // retried for MaxRetryElapsed without success
	drop.Closed,           // logged after Close, or still queued when Close gave up
}

// DropReasons returns the reasons for which the handler drops records, as
// a new slice: drop.QueueFull, drop.Rejected, drop.TooLarge,
// drop.RetriesExhausted and drop.Closed. Stats.Dropped counts no other
// reason. reason.String() is the value of the reason label of
// datadog_logs_dropped_total.
func DropReasons() []drop.Reason { r := dropReasons; return r[:] }

// Stats is a snapshot of a Handler's counters, taken at one instant, so
// that Sent + Dropped.Total() + QueueLength == Enqueued always holds.
type Stats struct {
	// Enqueued counts every record Handle was given, whatever became of it.
	Enqueued uint64
	// Sent counts records the intake accepted (a 2xx answer).
	Sent uint64
	// Dropped counts records that will never be delivered, by reason (one
	// of DropReasons; Dropped.Get(reason) reads one, Dropped.Total() the sum).
	Dropped drop.Counts
	// Retries counts requests repeated after a 408, 429, 5xx or network
	// error (datadog_logs_retries_total).
	Retries uint64
	// QueueLength is the number of records waiting or being sent.
	QueueLength int
	// QueueBytes is their encoded size, at most Options.QueueBytes.
	QueueBytes int
	// LastDelivery is when the intake last accepted a request; the zero
	// time if it never has.
	LastDelivery time.Time
	// LastError describes the latest failed request, "" if none has failed.
	// It never contains the API key.
	LastError string
}
