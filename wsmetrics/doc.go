// Package wsmetrics measures WebSocket connections and messages: how many
// connections are open per channel, how long they live, and how many
// messages and bytes flow per channel, event and direction.
//
// It records into a metricsink.Sink under these names (Prometheus names in
// brackets):
//
//	websocket.connections          gauge     channel                  (websocket_connections)
//	websocket.connection.duration  duration  channel                  (websocket_connection_duration_seconds)
//	websocket.messages             counter   channel, event, direction (websocket_messages_total)
//	websocket.message.bytes        counter   channel, direction        (websocket_message_bytes_total)
//
// # With github.com/coder/websocket
//
// Accept (or Wrap) returns a WrappedConn whose Read, Write, Reader and
// Writer count every message, so the application never calls the Tracker:
//
//	tracker := wsmetrics.NewTracker(sink, nil)
//
//	mux.HandleFunc("GET /socket/{topic}", func(w http.ResponseWriter, r *http.Request) {
//		wc, err := wsmetrics.Accept(w, r, nil, tracker, r.PathValue("topic"))
//		if err != nil {
//			return
//		}
//		defer wc.CloseNow() // idempotent; keeps the gauge right on every exit, panics included
//		for {
//			typ, msg, err := wc.Read(r.Context()) // an error closes the connection and ends its tracking
//			if err != nil {
//				return
//			}
//			if err := wc.Write(r.Context(), typ, msg); err != nil {
//				return
//			}
//		}
//	})
//
// The contract is one line: call Close or CloseNow on every WrappedConn,
// typically deferred. The gauge then goes down exactly once however the
// connection ends: closed by either side, by an error, by a cancelled or
// expired context, or by a panic in the handler. An error from a
// WrappedConn method always means the connection is closed: where
// websocket.Conn would leave it open (a context that ends while waiting
// for another writer, for instance), WrappedConn closes it, so the gauge
// never counts an open connection as ended.
//
// # With any other library
//
// The Tracker itself knows nothing of the WebSocket library. Open a handle
// per connection, record messages on it, and close it:
//
//	c := tracker.Open("video:42")
//	defer c.Close()
//	c.MessageData(wsmetrics.In, false, payload) // event read from the payload
//	c.Message(wsmetrics.Out, "new_comment", n)  // or named by the caller
//
// # Bounded labels
//
// Label values never grow without bound, whatever clients send:
//
//   - channel is the topic family ("video:42" -> "video"), or what
//     Options.ChannelFunc returns; at most Options.MaxChannels (50) values,
//     then "other".
//   - event is the top-level JSON "event" field of the message, read by a
//     small scanner that allocates nothing, or what Options.EventFunc returns;
//     "unknown" when there is none, "binary" for binary messages. It is held
//     to Options.Events when that allowlist is given, else to
//     Options.MaxEvents (50) distinct names; anything else is "other", and so
//     is any name longer than 64 bytes or with characters other than ASCII
//     letters, digits and _ . : / -.
//   - direction is "in" (received) or "out" (sent).
//
// # The gauge
//
// Open connections are counted per channel inside the Tracker. On a
// metricsink.FuncSink (the Prometheus sink) the gauge is registered once per
// channel and read at scrape time, so it cannot drift under concurrent opens
// and closes. On other sinks every open and close sends the new count with
// Sink.Gauge, serialised per channel so that the last value sent is current.
//
// # Tracing
//
// Through the OpenTelemetry API only, when a TracerProvider is set
// (Options.TracerProvider, or the global one): Accept adds an event
// "websocket.upgrade" (with websocket.channel) to the span of the request
// it upgrades, which httpmetrics makes. With Options.TraceMessages (off by
// default) every message received through WrappedConn.Read is a span of
// its own, "websocket receive <event>", kind consumer, with
// websocket.channel, websocket.event and websocket.message.size: a new
// trace, since a socket outlives the request that opened it, linked to
// that request's span. Streamed messages (Reader) make no span. With no
// provider set nothing is made.
package wsmetrics
