// Package datadog is a log/slog handler that ships records to Datadog's
// HTTP logs intake (POST https://http-intake.logs.{site}/api/v2/logs,
// gzipped JSON arrays).
//
// Recipe:
//
//	h, err := datadog.New(datadog.Options{
//		APIKey:  os.Getenv("DATADOG_API_KEY"),
//		Site:    "datadoghq.eu",
//		Service: "comments",
//		Env:     "production",
//	})
//	if err != nil {
//		return err
//	}
//	defer h.Close(context.Background()) // better: a context with a deadline
//	slog.SetDefault(slog.New(h))
//
// Handle encodes each record once, into a pooled buffer, in the shape
// Datadog reads, then puts it on a queue bounded in records and bytes and
// returns. It never waits for the network; when the queue is full the
// record is dropped and counted. An entry looks like this:
//
//	{"status":"error","timestamp":1767323045123,"message":"save failed",
//	 "service":"comments","hostname":"web-1","ddsource":"go",
//	 "ddtags":"env:production,version:1.4.0,team:web",
//	 "video_id":42,"user":{"id":7},
//	 "error":{"kind":"*errors.errorString","message":"disk full"},
//	 "dd":{"trace_id":"1234","span_id":"5678"}}
//
// status is debug, info, warn or error (levels between map down);
// timestamp is in milliseconds since the Unix epoch; groups become nested
// objects; an error value becomes {"kind","message"} under its key, and
// at the root the key "err" becomes "error", the attribute Datadog's error
// tracking reads; attributes named trace_id or dd.trace_id (span_id,
// dd.span_id) at the root become dd.trace_id (dd.span_id), as strings.
//
// One sender goroutine sends a batch when it holds MaxBatchRecords entries
// or MaxBatchBytes, and at most FlushInterval after a record arrived,
// compressed with gzip at its fastest level. Answers 408, 429 and 5xx and
// network errors are retried with exponential backoff (250 ms doubling to
// 30 s, with jitter) or after the delay Retry-After asks for, until
// MaxRetryElapsed; meanwhile the batch is kept and the queue fills up to
// its bounds. 413 splits the batch in halves. 400, other final 4xx and 3xx
// answers drop the batch; 401 and 403 also write, once, a hint about the
// API key to Options.ErrorOutput.
//
// Memory stays bounded while the intake is down: the queue holds at most
// QueueRecords entries and QueueBytes bytes of entries, the batch being
// retried included, and the buffers that hold them (queued, being sent or
// kept for reuse; 8 bytes of index per entry counted) have a total
// capacity of at most QueueBytes*3/2. A record that fits in QueueBytes but
// not in that memory is dropped and counted as queue_full. Besides, the
// sender holds the gzipped batch it is sending (at most a little more than
// MaxBatchBytes), and a request body net/http keeps longer than a second
// after answering is left to it with its buffer.
//
// At the root of an entry, an attribute or group (WithGroup included)
// whose key is one of ReservedKeys is renamed "attr."+key, and a second
// "error" (an attribute so named, or "err" renamed) is written as "err" or
// "attr.error", so the handler itself never writes a JSON key twice.
//
// Flush waits for what was queued before it; Close stops intake, flushes
// until its context ends and stops the sender. Give Close a deadline: with
// the intake down, delivery may otherwise wait for MaxRetryElapsed. Stats
// reports what was sent and what was dropped, and why; at every moment
// Sent + Dropped.Total() + QueueLength == Enqueued.
package datadog
