// Package datadog is a log/slog handler that ships records to Datadog's
// HTTP logs intake (POST https://http-intake.logs.{site}/api/v2/logs,
// gzipped JSON arrays).
//
// Recipe:
//
//	h, err := datadog.New(&datadog.Options{
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
// Datadog reads natively, then puts it on a queue bounded in records and
// bytes and returns. It never waits for the network; when the queue is
// full the record is dropped and counted. An access log entry, as it
// arrives at the intake (Example_accessLogEntry prints it):
//
//	{"status":"info","timestamp":1796133901000,"message":"http request",
//	 "service":"comments","hostname":"web-1","ddsource":"go",
//	 "ddtags":"env:production,version:1.4.0",
//	 "pid":4242,"duration":1834200,"bytes":97,"request_id":"f3b2c1d0a9e8",
//	 "http":{"method":"POST","status_code":201,"route":"/api/videos/{id}/comments",
//	         "url_details":{"path":"/api/videos/42/comments"},"useragent":"curl/8.11.1"},
//	 "network":{"client":{"ip":"203.0.113.7"}},
//	 "dd":{"trace_id":"11803532876627986230","span_id":"67667974448284343"},
//	 "otel":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}
//
// status is debug, info, warn or error (levels between map down);
// timestamp is in milliseconds since the Unix epoch; the service's
// identity appears once, where Datadog reserves it (service, hostname,
// ddtags), and attributes repeating it (as enrich adds them) are left out;
// groups become nested objects, at most MaxDepth levels deep, deeper ones
// a string of their JSON; an error value becomes {"kind","message"}. At
// the root, the kit's flat keys (method, status, route, path, user_agent,
// client_ip, error, stack, logger, trace_id, span_id) land on Datadog's
// standard attributes by the one table in standard.go, which also says
// how trace ids are written (dd.trace_id: the lower 64 bits of the W3C
// trace id in decimal, as Datadog correlates OpenTelemetry traces; the
// whole id in otel.trace_id). A user attribute at the root whose key is
// one the encoder writes (ReservedKeys) is written as "attr." and its
// key; nothing else is renamed.
//
// The queue, the sender's retries, pauses and outage lines, the drop
// counts and the scrubbing of the API key out of every error are the
// kit's one delivery core, which OTLP export uses too; this package adds
// the encoding, the chunk buffers and the intake's protocol.
//
// One sender goroutine sends a batch when it holds MaxBatchRecords entries
// or MaxBatchBytes, and at most FlushInterval after a record arrived,
// compressed with gzip at its fastest level. Answers 408, 429 and 5xx and
// network errors are retried until MaxRetryElapsed; 413 splits the batch
// in halves; 400, other final 4xx and 3xx answers drop the batch (401 and
// 403 also write, once, a hint about the API key to Options.ErrorOutput,
// or Options.ErrorHandler when set).
//
// The sender respects the intake: after any answer that is not an
// acceptance, the whole sender pauses before its next request, whatever
// batch that is, for a backoff (250 ms doubling per failure in a row up to
// 30 s, with jitter) or the Retry-After the intake asked for (at most
// MaxRetryAfter), whichever is longer; the halves of a split batch wait
// like any retry. So, beyond the batches it accepts, the intake never
// receives more than one request per 100 ms after a failure, whatever it
// answers: outside Flush and Close at most 4 in the first second of a
// failure, then ever fewer, down to one per 30 s (or per Retry-After);
// while a Flush or Close waits, about one per 500 ms (see below). At
// 2,000 records a second, an intake answering 413 to everything gets a
// handful of requests in 10 s, and one answering 429 with a long
// Retry-After gets one. Meanwhile the queue keeps its bounds and new
// records are dropped as queue_full.
//
// While a Flush or Close waits, a failing batch is retried at once, then
// at least every 500 ms; a Retry-After is honoured only as far as the
// context's deadline allows (the retry comes 500 ms before the deadline
// at the latest), and each request, the one in flight included, is bounded
// by a third of the time left (Options.Timeout still bounds it too), so a
// request that hangs is abandoned early enough for a retry: an intake
// that comes back before the deadline receives every record.
//
// Outages are visible while they happen: the first failed request writes
// one warning to Options.ErrorOutput or Options.ErrorHandler (the
// intake's host, a reason naming what happened: the status, connection
// refused, timeout; the status or error, how many records are queued),
// and the first accepted request
// after it one line saying how long delivery was down and how many
// records were delivered and dropped meanwhile. Stats.LastDelivery and
// Stats.Retries say the same to metrics.
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
// Flush waits for what was queued before it; Close stops intake, flushes
// until its context ends and stops the sender. Give Close a deadline: with
// the intake down, delivery may otherwise wait for MaxRetryElapsed. Stats
// reports what was sent and what was dropped, and why (the reasons of
// package drop that DropReasons lists); at every moment
// Sent + Dropped.Total() + QueueLength == Enqueued.
//
// The API key reaches no error, Stats.LastError or diagnostic line, even
// when the intake echoes it back: not as it is, not in another case, not
// a prefix of 8 bytes or more of it, not base64 or URL encoded.
package datadog
