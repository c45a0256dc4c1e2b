package wsmetrics

import (
	"context"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/realtimeserver/observability/metricsink"
)

// The metric names a Tracker records, as dotted Sink names. The Prometheus
// sink exposes them as websocket_connections, websocket_connection_duration_seconds,
// websocket_messages_total and websocket_message_bytes_total.
const (
	MetricConnections = "websocket.connections"
	MetricDuration    = "websocket.connection.duration"
	MetricMessages    = "websocket.messages"
	MetricBytes       = "websocket.message.bytes"
)

// Label values a Tracker uses when it cannot or must not use the real one.
const (
	// Other replaces a channel family or event name that is over the cap,
	// outside the allowlist, longer than 64 bytes or made of characters other
	// than ASCII letters, digits and _ . : / -.
	Other = "other"
	// Unknown is the event of a text message with no readable top-level
	// "event" string (not JSON, not an object, no such key).
	Unknown = "unknown"
	// Binary is the event of a binary message under the default event reader.
	Binary = "binary"
	// None is the channel family of a connection opened on the empty channel.
	None = "none"
)

// Default caps on distinct label values.
const (
	DefaultMaxChannels = 50
	DefaultMaxEvents   = 50
)

// maxLabelLen is the longest channel family or event name kept as a label.
const maxLabelLen = 64

// Direction says whether a message was received (In) or sent (Out). It is
// the direction label: "in" or "out".
type Direction uint8

// The two directions. Any other Direction value is recorded as "unknown".
const (
	In  Direction = 1
	Out Direction = 2
)

var directionNames = [3]string{Unknown, "in", "out"}

// String returns "in", "out" or "unknown".
func (d Direction) String() string { return directionNames[d.index()] }

func (d Direction) index() int {
	if d > Out {
		return 0
	}
	return int(d)
}

// Options configure a Tracker. A nil or zero Options consists entirely of
// default values. NewTracker copies what it needs; the caller's Options is
// never written to nor read again.
type Options struct {
	// ChannelFunc maps the channel (topic) a connection is opened on to its
	// channel label. The default keeps the topic family, the part before the
	// first ':' ("video:42" -> "video", "lobby" -> "lobby"). An empty result
	// becomes "none"; a result longer than 64 bytes or with characters other
	// than ASCII letters, digits and _ . : / - becomes "other". It must be
	// safe for concurrent use.
	ChannelFunc func(channel string) string

	// MaxChannels caps the distinct channel labels a Tracker creates; the
	// connections of any further family are labelled "other". Default
	// DefaultMaxChannels (50). Negative values are invalid.
	MaxChannels int

	// EventFunc names the event of a message from its payload, for both text
	// and binary messages. For streamed messages (Reader, Writer) it sees
	// only the first 512 bytes. The default reads the string value of the
	// top-level "event" key of a JSON object without decoding the message,
	// gives "unknown" when there is none, and "binary" for binary messages.
	// An empty result becomes "unknown". It must be safe for concurrent use
	// and must not keep data.
	EventFunc func(data []byte) string

	// Events, when not empty, is the allowlist of event names: any other name
	// is labelled "other". Every entry must be a valid label (1 to 64 bytes of
	// ASCII letters, digits and _ . : / -). "unknown", "binary" and "other"
	// are always allowed.
	Events []string

	// MaxEvents caps the distinct event names a Tracker records when Events
	// is empty; names first seen after the cap is reached are labelled
	// "other". Default DefaultMaxEvents (50). Negative values are invalid.
	MaxEvents int

	// TraceMessages makes every message received through
	// WrappedConn.Read a span of its own, linked to the request that
	// opened the connection (see the package documentation). Default:
	// false, as a busy socket would make a span per message.
	TraceMessages bool

	// TracerProvider makes the message spans. Default: the global
	// provider, otel.GetTracerProvider, looked up at each message; while
	// no program has installed one, no span is made.
	TracerProvider trace.TracerProvider
}

// Tracker records WebSocket connections and messages into a metricsink.Sink:
//
//   - websocket.connections{channel}: open connections, a gauge;
//   - websocket.connection.duration{channel}: how long each connection lived;
//   - websocket.messages{channel,event,direction}: messages, a counter;
//   - websocket.message.bytes{channel,direction}: payload bytes, a counter.
//
// The number of open connections is kept per channel family inside the
// Tracker. When the sink is a metricsink.FuncSink, the gauge is registered
// once per family and read at collection time, so concurrent opens and closes
// can never make the exposed value drift. With any other sink, each open and
// close sends the new count with Sink.Gauge; updates of one family are
// serialised so the last value sent is always the current count, but a push
// backend only hears of the gauge when it changes.
//
// Use one Tracker per sink (two Trackers would register the same gauges).
// A Tracker is safe for concurrent use.
type Tracker struct {
	sink        metricsink.Sink
	funcSink    bool
	channelFunc func(string) string
	eventFunc   func([]byte) string
	maxChannels int
	maxEvents   int // counts names beyond the reserved ones
	allowlist   bool
	nallow      int // names in the allowlist
	traceMsgs   bool
	tp          trace.TracerProvider

	// families finds a channel label's family without a lock
	// (metricsink.Lookup, keyed by the label); bounded by MaxChannels.
	families *metricsink.Lookup[*family]
	famMu    sync.Mutex // guards the making of families and the fields below
	nfam     int        // families other than "other"
	unreg    []func()
	closed   bool

	// events is every event label in use, held to the allowlist or the
	// cap; read and written under evMu, on the path that meets an event
	// name for the first time in a family and direction.
	evMu   sync.Mutex
	events map[string]string

	leaked   atomic.Int64 // connections closed by the collector
	leakOnce sync.Once
}

// family is one channel label, its open-connection count and the handles
// of its series.
type family struct {
	name  string
	count atomic.Int64
	tags  metricsink.Tags
	// For sinks that are not FuncSinks: a change to send, and whether a
	// goroutine is sending (see add).
	pending, sending atomic.Bool
	bytes            [3]metricsink.CounterHandle // indexed by Direction.index
	dur              metricsink.TimerHandle

	// msgs finds the message counter of an event name as it came, in a
	// direction (the key's op: Direction.index), without a lock
	// (metricsink.Lookup); it holds the event labels first, then the
	// names that map to them, while there is room. Event labels are held
	// to the Tracker's allowlist or cap, so it is bounded.
	msgs *metricsink.Lookup[msgCounter]
}

// msgCounter is the message counter of one event label in a family and
// direction.
type msgCounter struct {
	label string
	h     metricsink.CounterHandle
}

// msgsPerFamily bounds the event names a family's msgs remembers, in its
// three directions: the labels, then names as they came, up to half the
// bound; past it an event name is mapped to its label on each message
// (under the Tracker's event lock, without allocating).
func (t *Tracker) msgsPerFamily() int { return 3 * 4 * (t.maxEvents + t.nallow + 3) }

// messages returns the message counter of the event name raw (a string
// or bytes) in the direction of index i.
func messages[S label](t *Tracker, f *family, i int, raw S) msgCounter {
	op := metricsink.Op(i)
	// raw is only read during Get, which keeps nothing of it.
	if c, ok := f.msgs.Get(op, unsafeString(raw), nil); ok {
		return c
	}
	lbl := event(t, raw)
	c, ok := f.msgs.Get(op, lbl, nil)
	if !ok {
		// Resolved without any lock held: no lock is held while calling
		// the sink.
		c = msgCounter{label: lbl, h: metricsink.NewCounter(t.sink, MetricMessages,
			metricsink.KV("channel", f.name, "event", lbl, "direction", directionNames[i]))}
		if !f.msgs.Put(op, lbl, nil, c) {
			if again, ok := f.msgs.Get(op, lbl, nil); ok { // put meanwhile
				c = again
			}
		}
	}
	if s := unsafeString(raw); s != lbl && f.msgs.Len() < t.msgsPerFamily()/2 {
		f.msgs.Put(op, strings.Clone(s), nil, c) // raw may be a view of a buffer
	}
	return c
}

// unsafeString returns the bytes of raw as a string without copying
// them, for a lookup that keeps nothing of its key (Lookup.Get; what is
// given to Put is copied first).
func unsafeString[S label](raw S) string {
	switch v := any(raw).(type) {
	case string:
		return v
	case []byte:
		return unsafe.String(unsafe.SliceData(v), len(v))
	}
	return string(raw)
}

// descs are the declarations of the WebSocket metrics, made on the sink
// by NewTracker.
var descs = []metricsink.Desc{
	{Name: MetricConnections, Kind: metricsink.Gauge,
		Help: "Open WebSocket connections, by channel family."},
	{Name: MetricDuration, Kind: metricsink.Histogram, Unit: "seconds",
		Help:    "How long WebSocket connections stayed open, by channel family.",
		Buckets: []float64{0.1, 1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600}},
	{Name: MetricMessages, Kind: metricsink.Counter,
		Help: "WebSocket messages, by channel family, event and direction (in, out)."},
	{Name: MetricBytes, Kind: metricsink.Counter, Unit: "bytes",
		Help: "WebSocket message payload bytes, by channel family and direction (in, out)."},
}

// Descs returns, as a new slice, the declarations of the WebSocket metrics
// that the middleware makes on its sink: for dashboards, alert rules and
// tests that check the names.
func Descs() []metricsink.Desc { return append([]metricsink.Desc(nil), descs...) }

// NewTracker returns a Tracker recording into sink (metricsink.Discard when
// nil) with opts (defaults when nil).
//
// It panics when opts is invalid (a negative cap, an allowlist entry that is
// not a valid label): that is a programming error, found at start-up.
func NewTracker(sink metricsink.Sink, opts *Options) *Tracker {
	if sink == nil {
		sink = metricsink.Discard
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	t := &Tracker{
		sink:        sink,
		channelFunc: o.ChannelFunc,
		eventFunc:   o.EventFunc,
		maxChannels: o.MaxChannels,
		maxEvents:   o.MaxEvents,
		traceMsgs:   o.TraceMessages,
		tp:          o.TracerProvider,
	}
	_, t.funcSink = sink.(metricsink.FuncSink)
	for _, d := range descs {
		_ = metricsink.Declare(sink, d) // fixed, valid declarations
	}
	if t.channelFunc == nil {
		t.channelFunc = topicFamily
	}
	switch {
	case o.MaxChannels < 0:
		panic(fmt.Sprintf("wsmetrics: Options.MaxChannels = %d: want 0 (default %d) or more", o.MaxChannels, DefaultMaxChannels))
	case o.MaxChannels == 0:
		t.maxChannels = DefaultMaxChannels
	}
	switch {
	case o.MaxEvents < 0:
		panic(fmt.Sprintf("wsmetrics: Options.MaxEvents = %d: want 0 (default %d) or more", o.MaxEvents, DefaultMaxEvents))
	case o.MaxEvents == 0:
		t.maxEvents = DefaultMaxEvents
	}
	t.events = map[string]string{Unknown: Unknown, Binary: Binary, Other: Other}
	if len(o.Events) > 0 {
		t.allowlist = true
		for _, e := range o.Events {
			if !validLabel(e) {
				panic(fmt.Sprintf("wsmetrics: Options.Events entry %q: want 1 to %d bytes of ASCII letters, digits and _ . : / -", e, maxLabelLen))
			}
			t.events[e] = strings.Clone(e)
		}
		t.nallow = len(o.Events)
	}
	t.families = metricsink.NewLookup[*family](t.maxChannels+1, 2*maxLabelLen)
	return t
}

// topicFamily is the default ChannelFunc: the topic up to the first ':'.
func topicFamily(channel string) string {
	fam, _, _ := strings.Cut(channel, ":")
	return fam
}

// Open records a new connection on channel and returns its handle. The
// channel is mapped to its label by Options.ChannelFunc. The caller must
// call Close on the handle when the connection ends, typically deferred.
func (t *Tracker) Open(channel string) *Conn {
	return t.open(channel, metricsink.Exemplar{})
}

// OpenContext is Open for a connection opened by the request of ctx: the
// connection's duration carries that request's span as its exemplar when
// the span is sampled.
func (t *Tracker) OpenContext(ctx context.Context, channel string) *Conn {
	ex, _ := metricsink.ExemplarFromContext(ctx)
	return t.open(channel, ex)
}

func (t *Tracker) open(channel string, ex metricsink.Exemplar) *Conn {
	f := t.family(channel)
	t.add(f, 1)
	s := &connState{t: t, f: f, start: time.Now(), ex: ex}
	c := &Conn{s: s}
	runtime.AddCleanup(c, (*connState).collected, s)
	return c
}

// Connections reports the open connections of the channel label family
// ("video", not "video:42"), as the websocket.connections gauge shows them.
func (t *Tracker) Connections(family string) int64 {
	if f, ok := t.families.Get(0, family, nil); ok {
		return f.count.Load()
	}
	return 0
}

// Close unregisters the gauges the Tracker registered on a FuncSink. It is
// for Trackers that are replaced or dropped (tests, reconfiguration); the
// Tracker keeps counting afterwards but registers nothing more. Calling it
// more than once is harmless.
func (t *Tracker) Close() {
	t.famMu.Lock()
	unreg := t.unreg
	t.unreg = nil
	t.closed = true
	t.famMu.Unlock()
	for _, u := range unreg {
		u()
	}
}

// add changes the open connections of f. A sink that is not a FuncSink
// is sent the count with Sink.Gauge by one goroutine at a time, which
// sends again as long as the count changed meanwhile, so that the last
// value sent is the current count; no lock is held while calling the sink
// and no caller waits for another.
func (t *Tracker) add(f *family, delta int64) {
	f.count.Add(delta)
	if t.funcSink {
		return
	}
	f.pending.Store(true)
	for f.pending.Load() && f.sending.CompareAndSwap(false, true) {
		for f.pending.Swap(false) {
			t.sink.Gauge(MetricConnections, float64(f.count.Load()), f.tags)
		}
		f.sending.Store(false)
	}
}

// family returns the family of channel, creating it when under the cap.
func (t *Tracker) family(channel string) *family {
	name := t.channelFunc(channel)
	if name == "" {
		name = None
	}
	if f, ok := t.families.Get(0, name, nil); ok {
		return f
	}
	if !validLabel(name) {
		name = Other
	}
	t.famMu.Lock()
	defer t.famMu.Unlock()
	if f, ok := t.families.Get(0, name, nil); ok {
		return f
	}
	if name != Other && t.nfam >= t.maxChannels {
		name = Other
		if f, ok := t.families.Get(0, name, nil); ok {
			return f
		}
	}
	name = strings.Clone(name)
	f := &family{name: name, tags: metricsink.KV("channel", name),
		msgs: metricsink.NewLookup[msgCounter](t.msgsPerFamily(), maxLabelLen)}
	for i, d := range directionNames {
		f.bytes[i] = metricsink.NewCounter(t.sink, MetricBytes, metricsink.KV("channel", name, "direction", d))
	}
	f.dur = metricsink.NewTimer(t.sink, MetricDuration, f.tags)
	if name != Other {
		t.nfam++
	}
	if t.funcSink && !t.closed {
		u, _ := metricsink.GaugeFunc(t.sink, MetricConnections, f.tags, func() float64 {
			return float64(f.count.Load())
		})
		t.unreg = append(t.unreg, u)
	}
	t.families.Put(0, name, nil, f)
	return f
}

// label is the set of types event names arrive as.
type label interface{ ~string | ~[]byte }

// validLabel reports whether s is 1 to 64 bytes of ASCII letters, digits
// and _ . : / -.
func validLabel[S label](s S) bool {
	if len(s) == 0 || len(s) > maxLabelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '.', c == ':', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// event returns the label of the event name s: s itself when it is in
// use already or, without an allowlist, a valid label under the cap;
// else Other (Unknown for an empty name). It takes the Tracker's event
// lock; messages calls it only for a name its family's lookup does not
// know, and it allocates only for a label it admits.
func event[S label](t *Tracker, s S) string {
	if len(s) == 0 {
		return Unknown
	}
	t.evMu.Lock()
	defer t.evMu.Unlock()
	if v, ok := t.events[string(s)]; ok {
		return v
	}
	if t.allowlist || !validLabel(s) || len(t.events)-3 >= t.maxEvents { // 3 reserved names
		return Other
	}
	v := string(s)
	t.events[v] = v
	return v
}

// Conn is the handle of one tracked connection, returned by Tracker.Open.
// Its methods are safe for concurrent use.
//
// Close must be called when the connection ends, however it ends; it is
// idempotent. As a last resort, a Conn that becomes unreachable without
// being closed is closed when the garbage collector finds it, and the
// Tracker logs one warning through slog.Default.
type Conn struct {
	s *connState
}

// connState is separate from Conn so that a cleanup can close it once the
// Conn is unreachable.
type connState struct {
	t      *Tracker
	f      *family
	start  time.Time
	ex     metricsink.Exemplar // of the duration; set before the Conn is returned
	closed atomic.Bool
}

// Channel returns the channel label of the connection.
func (c *Conn) Channel() string { return c.s.f.name }

// Message records one message of n payload bytes in direction dir, named
// event (held to the Tracker's allowlist or cap). Messages recorded after
// Close are still counted.
func (c *Conn) Message(dir Direction, ev string, n int) {
	record(c.s, dir, ev, n)
}

// MessageData records one message in direction dir with payload data; its
// event is read from data by Options.EventFunc (by default the top-level
// JSON "event" field, or "binary" when binary is true). data is not kept.
func (c *Conn) MessageData(dir Direction, binary bool, data []byte) {
	c.s.message(dir, binary, data, len(data))
}

// Close records the end of the connection: the gauge goes down by one and
// the connection's lifetime is recorded, exactly once however many times
// Close is called.
func (c *Conn) Close() { c.s.close() }

// message records a message of n bytes whose payload starts with data,
// and returns its event label.
func (s *connState) message(dir Direction, binary bool, data []byte, n int) string {
	switch {
	case s.t.eventFunc != nil:
		return record(s, dir, s.t.eventFunc(data), n)
	case binary:
		return record(s, dir, Binary, n)
	}
	if raw, ok := scanEvent(data); ok {
		return record(s, dir, raw, n)
	}
	return record(s, dir, Unknown, n)
}

// record counts one message of n bytes, named ev as it came, in
// direction dir, and returns its event label.
func record[S label](s *connState, dir Direction, ev S, n int) string {
	i := dir.index()
	c := messages(s.t, s.f, i, ev)
	c.h.Inc()
	s.bytes(i, n)
	return c.label
}

func (s *connState) bytes(i, n int) {
	if n > 0 {
		s.f.bytes[i].Add(float64(n))
	}
}

// close ends the connection once and reports whether this call did it.
func (s *connState) close() bool {
	if !s.closed.CompareAndSwap(false, true) {
		return false
	}
	s.t.add(s.f, -1)
	s.f.dur.ObserveWith(time.Since(s.start), s.ex)
	return true
}

// collected runs when a Conn was dropped without Close.
func (s *connState) collected() {
	if s.close() {
		s.t.leaked.Add(1)
		s.t.leakOnce.Do(func() {
			slog.Default().Warn("wsmetrics: a connection was garbage-collected without Close; closed it now (defer Close or CloseNow on every connection)",
				"channel", s.f.name)
		})
	}
}
