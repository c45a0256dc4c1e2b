package otlp

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/realtimeserver/observability/enrich"
)

// OTLP carries strings as protobuf strings, which must be valid UTF-8: a
// single invalid string makes the exporter refuse its whole batch. So the
// export functions below replace invalid bytes with U+FFFD first, in the
// export goroutine, and only in what needs it. Nesting past maxCleanDepth
// is cut, as the value's budget.
const maxCleanDepth = 16

func cleanString(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	return strings.ToValidUTF8(s, "\uFFFD"), true
}

// cleanValue returns v with valid strings, and whether it changed. depth
// is the nesting left.
func cleanValue(v attribute.Value, depth int) (attribute.Value, bool) {
	switch v.Type() {
	case attribute.STRING:
		if s, ok := cleanString(v.AsString()); ok {
			return attribute.StringValue(s), true
		}
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		changed := false
		for i, s := range ss {
			if c, ok := cleanString(s); ok {
				ss[i], changed = c, true // AsStringSlice returns a copy
			}
		}
		if changed {
			return attribute.StringSliceValue(ss), true
		}
	case attribute.SLICE:
		if depth <= 0 {
			return attribute.StringValue("…"), true
		}
		vs := v.AsSlice()
		changed := false
		for i, e := range vs {
			if c, ok := cleanValue(e, depth-1); ok {
				vs[i], changed = c, true
			}
		}
		if changed {
			return attribute.SliceValue(vs...), true
		}
	case attribute.MAP:
		if depth <= 0 {
			return attribute.StringValue("…"), true
		}
		kvs, changed := cleanKVs(v.AsMap(), depth-1)
		if changed {
			return attribute.MapValue(kvs...), true
		}
	}
	return v, false
}

// cleanKVs cleans keys and values; it changes kvs in place only when kvs
// is the caller's own copy, so it copies before the first change.
func cleanKVs(kvs []attribute.KeyValue, depth int) ([]attribute.KeyValue, bool) {
	var out []attribute.KeyValue
	for i, kv := range kvs {
		k, kc := cleanString(string(kv.Key))
		v, vc := cleanValue(kv.Value, depth)
		if !kc && !vc {
			continue
		}
		if out == nil {
			out = append([]attribute.KeyValue(nil), kvs...)
		}
		out[i] = attribute.KeyValue{Key: attribute.Key(k), Value: v}
	}
	if out == nil {
		return kvs, false
	}
	return out, true
}

// cleanRecord makes every string of r valid UTF-8, and removes the
// trace_id and span_id attributes that enrich added when they repeat r's
// own trace context: OTLP carries the ids in the record's native fields,
// where receivers correlate them, so the attributes would only send them
// twice. r is the queue's own copy.
func cleanRecord(r *sdklog.Record) {
	if b, ok := cleanValue(r.Body(), maxCleanDepth); ok {
		r.SetBody(b)
	}
	if s, ok := cleanString(r.EventName()); ok {
		r.SetEventName(s)
	}
	if s, ok := cleanString(r.SeverityText()); ok {
		r.SetSeverityText(s)
	}
	tid, sid := r.TraceID(), r.SpanID()
	repeats := func(kv attribute.KeyValue) bool {
		if kv.Value.Type() != attribute.STRING {
			return false
		}
		switch kv.Key {
		case enrich.TraceIDKey:
			return tid.IsValid() && hexOf(kv.Value.AsString(), tid[:])
		case enrich.SpanIDKey:
			return sid.IsValid() && hexOf(kv.Value.AsString(), sid[:])
		}
		return false
	}
	bad, dup := false, false
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		_, kc := cleanString(string(kv.Key))
		_, vc := cleanValue(kv.Value, maxCleanDepth)
		bad = bad || kc || vc
		dup = dup || repeats(kv)
		return !(bad && dup)
	})
	if !bad && !dup {
		return
	}
	kvs := make([]attribute.KeyValue, 0, r.AttributesLen())
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if !repeats(kv) {
			kvs = append(kvs, kv)
		}
		return true
	})
	if bad {
		kvs, _ = cleanKVs(kvs, maxCleanDepth)
	}
	r.SetAttributes(kvs...)
}

// hexOf reports whether s is the lower-case hex form of id, as enrich
// writes trace and span ids.
func hexOf(s string, id []byte) bool {
	const digits = "0123456789abcdef"
	if len(s) != 2*len(id) {
		return false
	}
	for i, b := range id {
		if s[2*i] != digits[b>>4] || s[2*i+1] != digits[b&0xf] {
			return false
		}
	}
	return true
}

// cleanSpan returns s, or a view of it whose strings are valid UTF-8.
func cleanSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	c := cleanedSpan{ReadOnlySpan: s, status: s.Status()}
	var changed, ch bool
	c.name, changed = cleanString(s.Name())
	c.attrs, ch = cleanKVs(s.Attributes(), maxCleanDepth)
	changed = changed || ch
	c.status.Description, ch = cleanString(c.status.Description)
	changed = changed || ch
	c.events = s.Events()
	copied := false
	for i, e := range c.events {
		n, nc := cleanString(e.Name)
		a, ac := cleanKVs(e.Attributes, maxCleanDepth)
		if !nc && !ac {
			continue
		}
		if !copied { // never write to the span's own slice
			c.events, copied = append([]sdktrace.Event(nil), c.events...), true
		}
		c.events[i].Name, c.events[i].Attributes = n, a
		changed = true
	}
	c.links = s.Links()
	copied = false
	for i, l := range c.links {
		a, ac := cleanKVs(l.Attributes, maxCleanDepth)
		if !ac {
			continue
		}
		if !copied {
			c.links, copied = append([]sdktrace.Link(nil), c.links...), true
		}
		c.links[i].Attributes = a
		changed = true
	}
	if !changed {
		return s
	}
	return c
}

// cleanedSpan overrides the strings of a span that needed cleaning.
type cleanedSpan struct {
	sdktrace.ReadOnlySpan
	name   string
	attrs  []attribute.KeyValue
	events []sdktrace.Event
	links  []sdktrace.Link
	status sdktrace.Status
}

func (c cleanedSpan) Name() string                     { return c.name }
func (c cleanedSpan) Attributes() []attribute.KeyValue { return c.attrs }
func (c cleanedSpan) Events() []sdktrace.Event         { return c.events }
func (c cleanedSpan) Links() []sdktrace.Link           { return c.links }
func (c cleanedSpan) Status() sdktrace.Status          { return c.status }
