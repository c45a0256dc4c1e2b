// Package enrich adds service-wide and per-request attributes to log
// records.
//
// [New] wraps any slog.Handler. It adds service, environment, version,
// host and pid to every record, rendered once, and the attributes that the
// record's context carries: a request id ([WithRequestID]), the trace_id
// and span_id of a valid OpenTelemetry span, attributes added with
// [WithAttrs], and whatever the Options.Extractors find. Log with the Context methods (InfoContext and the like) so that
// the handler sees the context:
//
//	h := enrich.New(slog.NewJSONHandler(os.Stdout, nil), &enrich.Options{
//		Service:     "realtime-server",
//		Environment: "production",
//	})
//	logger := slog.New(h)
//
//	ctx = enrich.WithRequestID(ctx, "req-42") // in the HTTP middleware
//
// Log facts as attributes, never inside the message. Good:
//
//	logger.InfoContext(ctx, "comment created",
//		"user_id", user.ID,
//		"comment_id", comment.ID,
//		"video_id", video.ID,
//	)
//
// Bad, because no backend can filter or aggregate what is baked into a
// string, and every distinct message is a new message:
//
//	logger.Info(fmt.Sprintf("User %d created comment %d", user.ID, comment.ID))
//
// The good call yields one JSON object per record, ready for Datadog or
// any log store:
//
//	{"time":"…","level":"INFO","msg":"comment created","service":"realtime-server",
//	 "environment":"production","version":"v1.4.0","host":"web-1","pid":4242,
//	 "user_id":7,"comment_id":99,"video_id":42,"request_id":"req-42"}
//
// The record's own attributes come first, then request_id, then trace_id
// and span_id, then the attributes of WithAttrs, then those of the
// extractors.
//
// A record logged with a context that carries nothing costs two context
// lookups (this package's and the span's) and no allocation.
package enrich
