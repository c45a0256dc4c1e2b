package datadog

import (
	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/deliver"
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
// that Sent + Dropped.Total() + QueueLength == Enqueued always holds. It is
// the delivery core's Stats: Enqueued counts every record Handle was
// given; Sent those the intake accepted (a 2xx answer); Dropped those that
// will never be delivered, by reason (one of DropReasons); Retries the
// requests repeated after a 408, 429, 5xx or network error
// (datadog_logs_retries_total); QueueLength the records waiting or being
// sent, and QueueBytes their encoded size (at most Options.QueueBytes);
// LastDelivery when the intake last accepted a request (zero if never);
// LastError the latest failed request, "" if none, never holding the API
// key.
type Stats = deliver.Stats
