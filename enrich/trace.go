package enrich

import (
	"encoding/hex"
	"sync/atomic"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// Keys of the trace correlation attributes that New adds to every record
// whose context holds a valid OpenTelemetry span: the W3C hex forms of its
// trace id (32 digits) and span id (16 digits).
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// traceEntry holds the hex forms of one span's ids. It is never changed
// once published, so its strings may be shared by any number of records.
type traceEntry struct {
	tid trace.TraceID
	sid trace.SpanID
	hex [48]byte // trace id then span id, lower-case hex
}

// traceCache maps a span to its entry by the last byte of its id (random
// in every conforming id generator). A record logged under a span seen
// recently costs no allocation; the first record of a span allocates its
// entry once.
var traceCache [256]atomic.Pointer[traceEntry]

// traceIDs returns the hex forms of sc's trace and span ids.
func traceIDs(sc trace.SpanContext) (traceID, spanID string) {
	tid, sid := sc.TraceID(), sc.SpanID()
	slot := &traceCache[sid[len(sid)-1]]
	e := slot.Load()
	if e == nil || e.tid != tid || e.sid != sid {
		e = &traceEntry{tid: tid, sid: sid}
		hex.Encode(e.hex[:32], tid[:])
		hex.Encode(e.hex[32:], sid[:])
		slot.Store(e)
	}
	// The entry is immutable and kept alive by the strings that point
	// into it.
	return unsafe.String(&e.hex[0], 32), unsafe.String(&e.hex[32], 16)
}
