package otlp

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/realtimeserver/observability/livedash"
)

// DashboardProcessor returns the span processor that feeds spans, the
// live dashboard's ring of recent spans (its Traces page), from an
// OpenTelemetry SDK TracerProvider:
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(otlp.DashboardProcessor(spans)))
//
// Setup and New add it to the pipeline's provider when the dashboard keeps
// spans (Options.Spans), with or without an OTLP endpoint.
//
// It sees the spans its provider's sampler kept, as an exporter does, and
// keeps those that spans wants (livedash.Spans.Wants): while no dashboard
// page is open, and a while after, only spans with an error status.
// A span that is not wanted costs one check and is never converted; a
// wanted one is converted with no allocation for its attributes beyond
// the text of the non-string ones, and spans copies it within its own
// bounds (livedash.SpansOptions), evicting the oldest. It never blocks:
// spans' lock is held only for that copy. ForceFlush and Shutdown do
// nothing: spans belongs to the dashboard, and what it keeps stays.
func DashboardProcessor(spans *livedash.Spans) sdktrace.SpanProcessor {
	return &dashboardProcessor{spans: spans}
}

type dashboardProcessor struct {
	spans *livedash.Spans
	// service is the service.name of the resource last seen: a provider
	// has one resource, so it is looked up once.
	service atomic.Pointer[serviceOf]
}

type serviceOf struct {
	res  *resource.Resource
	name string
}

// converted is the scratch a span is converted in: Spans.Add copies what
// it keeps, so it is reused.
type converted struct {
	span   livedash.Span
	attrs  []livedash.SpanAttr // the span's, then its events'
	events []livedash.SpanEvent
	text   []byte // the text of numbers, referred to by attrs
}

var convertedPool = sync.Pool{New: func() any { return new(converted) }}

func (p *dashboardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *dashboardProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.spans == nil || !s.SpanContext().IsSampled() {
		return
	}
	status := s.Status()
	st := livedash.StatusCode(status.Code)
	if !p.spans.Wants(st) {
		return // nobody watches: nothing converted
	}
	c := convertedPool.Get().(*converted)
	sc := s.SpanContext()
	c.span = livedash.Span{TraceID: sc.TraceID(), SpanID: sc.SpanID(), ParentID: s.Parent().SpanID(),
		Name: s.Name(), Kind: s.SpanKind(), Start: s.StartTime(), End: s.EndTime(),
		Status: st, StatusMessage: status.Description, Service: p.serviceName(s.Resource())}
	c.attrs, c.events, c.text = c.attrs[:0], c.events[:0], c.text[:0]
	c.add(s.Attributes())
	if n := s.DroppedAttributes(); n > 0 {
		c.attrs = append(c.attrs, livedash.SpanAttr{Key: "otel.dropped_attributes_count", Value: strconv.Itoa(n)})
	}
	n := len(c.attrs)
	for _, e := range s.Events() {
		at := len(c.attrs)
		c.add(e.Attributes)
		c.events = append(c.events, livedash.SpanEvent{Time: e.Time, Name: e.Name})
		c.events[len(c.events)-1].Attrs = c.attrs[at:len(c.attrs):len(c.attrs)]
	}
	// The span's attributes, once the events' were appended after them
	// (attrs may have grown into a new array meanwhile: both stay valid).
	c.span.Attrs = c.attrs[:n:n]
	c.span.Events = c.events
	p.spans.Add(c.span)
	c.span = livedash.Span{} // hold no caller's string in the pool
	clear(c.attrs)
	clear(c.events)
	if cap(c.attrs) <= 1024 && cap(c.events) <= 256 && cap(c.text) <= 16<<10 {
		convertedPool.Put(c)
	}
}

// add appends kvs as text. A number's text is written in c.text and
// referred to in place: Spans.Add copies it before c is reused.
func (c *converted) add(kvs []attribute.KeyValue) {
	for _, kv := range kvs {
		var v string
		switch kv.Value.Type() {
		case attribute.STRING:
			v = kv.Value.AsString()
		case attribute.BOOL:
			v = strconv.FormatBool(kv.Value.AsBool()) // a constant
		case attribute.INT64:
			at := len(c.text)
			c.text = strconv.AppendInt(c.text, kv.Value.AsInt64(), 10)
			// c.text may move on a later append; this string keeps the
			// array it was written in, which is never written again.
			v = unsafe.String(&c.text[at], len(c.text)-at)
		default:
			v = kv.Value.String()
		}
		c.attrs = append(c.attrs, livedash.SpanAttr{Key: string(kv.Key), Value: v})
	}
}

func (p *dashboardProcessor) serviceName(res *resource.Resource) string {
	if last := p.service.Load(); last != nil && last.res == res {
		return last.name
	}
	name := ""
	if res != nil {
		if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
			name = v.String()
		}
	}
	p.service.Store(&serviceOf{res: res, name: name})
	return name
}

func (p *dashboardProcessor) ForceFlush(context.Context) error { return nil }

func (p *dashboardProcessor) Shutdown(context.Context) error { return nil }

// watchedProvider is the pipeline's TracerProvider when its spans go to
// the dashboard alone: while spans wants no span at all
// (livedash.SpansOptions.NothingWhenIdle, nobody watching) it makes none,
// as a no-op provider would (a child keeps its parent's span context),
// and costs a check; at other times the SDK's provider makes them. With
// OTelConfig.SetGlobal it is the global provider only while spans wants
// spans (followWatch): the kit's instrumentation then finds no provider
// at all while nobody watches, and does no span's work.
type watchedProvider struct {
	embedded.TracerProvider
	sdk   *sdktrace.TracerProvider
	spans *livedash.Spans
}

func (p *watchedProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &watchedTracer{sdk: p.sdk.Tracer(name, opts...), spans: p.spans}
}

type watchedTracer struct {
	embedded.Tracer
	sdk   trace.Tracer
	spans *livedash.Spans
}

// idleTracer makes the spans of a provider nobody watches: none.
var idleTracer = noop.NewTracerProvider().Tracer("")

func (t *watchedTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.spans.Wants(livedash.StatusError) {
		return t.sdk.Start(ctx, name, opts...)
	}
	return idleTracer.Start(ctx, name, opts...)
}

// followEvery is how often followWatch looks at the dashboard: a page that
// opens sees the instrumentation's spans within it.
const followEvery = 200 * time.Millisecond

// globalFollower installs a watchedProvider as the global provider while
// its spans want spans, and puts back the provider it found while they
// want none, from one goroutine until stop.
type globalFollower struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// followWatch starts a globalFollower of p over prev, the global provider
// found, looking every interval. It changes the global provider only
// from one of the two to the other, never one a program installed since.
func followWatch(p *watchedProvider, prev trace.TracerProvider, every time.Duration) *globalFollower {
	f := &globalFollower{quit: make(chan struct{}), done: make(chan struct{})}
	apply := func() {
		want := p.spans.Wants(livedash.StatusError)
		switch cur := otel.GetTracerProvider(); {
		case want && cur == prev:
			otel.SetTracerProvider(p)
		case !want && cur == trace.TracerProvider(p):
			otel.SetTracerProvider(prev)
		}
	}
	apply()
	go func() {
		defer close(f.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-f.quit:
				return
			case <-tk.C:
				apply()
			}
		}
	}()
	return f
}

// stop ends the goroutine and waits for it; the global provider stays as
// it is.
func (f *globalFollower) stop() {
	f.once.Do(func() { close(f.quit) })
	<-f.done
}
