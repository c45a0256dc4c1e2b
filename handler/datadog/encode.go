package datadog

import (
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/realtimeserver/observability/internal/jsonesc"
)

// This file writes log entries as JSON, straight into byte slices, in the
// shape Datadog's intake reads (see standard.go for the standard
// attributes written at the end of an entry):
//
//	{"status":"info","timestamp":1767323045123,"message":"...",
//	 "service":"...","hostname":"...","ddsource":"go","ddtags":"env:prod,version:1.2",
//	 "attr":1,"group":{"attr":"v"},
//	 "http":{...},"error":{"kind":"*errors.errorString","message":"..."},
//	 "dd":{"trace_id":"123","span_id":"456"}}
//
// The timestamp is the record's time in milliseconds since the Unix epoch,
// one of the forms Datadog reads for its reserved "timestamp" attribute and
// the precision it keeps; formatting RFC 3339 would cost more than the rest
// of the entry's header. Time-valued attributes are RFC 3339 strings with
// nanoseconds.

// appendString appends s to b as a JSON string, as the kit's one JSON
// string writer (jsonesc) writes it: quotes, backslashes and control
// characters escaped, U+2028 and U+2029 too, and each byte of s that is
// not part of valid UTF-8 as U+FFFD, so the output is always valid JSON.
func appendString(b []byte, s string) []byte { return jsonesc.AppendString(b, s) }

// isEmptyAttr reports whether a is the zero Attr, which handlers ignore.
func isEmptyAttr(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// MaxDepth is the deepest level of nesting an entry holds, the entry
// itself being level 1 and each group, object or array inside it one level
// more (Datadog's intake keeps fewer than 10 levels). A group or value that
// would open a level beyond MaxDepth is flattened: written as one string
// holding its JSON text (the record's budget bounds how deep that text
// goes). WithGroup names beyond MaxDepth-1 groups are joined with dots
// into the innermost group's name.
const MaxDepth = 8

// appendAttr appends a as a member of the JSON object being written, at
// level lvl (1 for the members of the entry itself); sep says whether a
// comma must precede it. It reports whether it wrote anything: empty
// attributes and groups without members are left out. At the root (root
// true), a key the encoder writes itself (see ReservedKeys) is written as
// "attr." and its key. The table of standard attributes is applied by the
// caller (see core.takeStd), before appendAttr.
func appendAttr(b []byte, a slog.Attr, sep, root bool, lvl int) ([]byte, bool) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b, false
		}
		if a.Key == "" { // an inline group: its members join this object
			wrote := false
			for _, ga := range attrs {
				var w bool
				if b, w = appendAttr(b, ga, sep, root, lvl); w {
					sep, wrote = true, true
				}
			}
			return b, wrote
		}
		mark := len(b)
		if sep {
			b = append(b, ',')
		}
		b = appendKey(b, a.Key, root)
		b = append(b, ':')
		if lvl >= MaxDepth {
			return appendFlat(b, a.Value), true
		}
		b = append(b, '{')
		open := len(b)
		inner := false
		for _, ga := range attrs {
			var w bool
			if b, w = appendAttr(b, ga, inner, false, lvl+1); w {
				inner = true
			}
		}
		if len(b) == open {
			return b[:mark], false
		}
		return append(b, '}'), true
	}
	if isEmptyAttr(a) {
		return b, false
	}
	if sep {
		b = append(b, ',')
	}
	b = appendKey(b, a.Key, root)
	b = append(b, ':')
	return appendValue(b, a.Value, lvl), true
}

// appendKey appends key as a JSON object key; at the root (root true) a
// reserved key is written as "attr." and the key.
func appendKey(b []byte, key string, root bool) []byte {
	if root && isReserved(key) {
		b = append(b, `"attr.`...)
		b = jsonesc.Append(b, key)
		return append(b, '"')
	}
	return appendString(b, key)
}

// appendValue appends v, already resolved, as a JSON value that is a
// member of an object at level lvl.
func appendValue(b []byte, v slog.Value, lvl int) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) { // not JSON numbers
			b = append(b, '"')
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
			return append(b, '"')
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		return appendTime(b, v.Time())
	case slog.KindGroup:
		if lvl >= MaxDepth {
			return appendFlat(b, v)
		}
		b = append(b, '{')
		sep := false
		for _, a := range v.Group() {
			var w bool
			if b, w = appendAttr(b, a, sep, false, lvl+1); w {
				sep = true
			}
		}
		return append(b, '}')
	default:
		return appendAny(b, v.Any(), lvl)
	}
}

// appendFlat appends v as a JSON string holding the JSON text of v.
func appendFlat(b []byte, v slog.Value) []byte {
	mark := len(b)
	b = appendRaw(b, v)
	text := string(b[mark:])
	return appendString(b[:mark], text)
}

// inFlat is the level appendRaw gives appendAny: inside a flattened value
// nothing is flattened again.
const inFlat = math.MinInt / 2

// appendRaw appends v as JSON for appendFlat, however deep: the record's
// budget has bounded v's depth already.
func appendRaw(b []byte, v slog.Value) []byte {
	v = v.Resolve()
	if v.Kind() != slog.KindGroup {
		if v.Kind() == slog.KindAny {
			return appendAny(b, v.Any(), inFlat)
		}
		return appendValue(b, v, 0)
	}
	b = append(b, '{')
	sep := false
	for _, a := range v.Group() {
		a.Value = a.Value.Resolve()
		if isEmptyAttr(a) || (a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0) {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = appendString(b, a.Key)
		b = append(b, ':')
		b = appendRaw(b, a.Value)
	}
	return append(b, '}')
}

// appendTime appends t as a quoted RFC 3339 timestamp with nanoseconds.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendAny appends a value of kind Any, a member of an object at level
// lvl: an error as an object holding its type and message, bytes as text,
// anything else as encoding/json renders it, flattened to a string when
// its nesting would reach beyond MaxDepth. The record's budget has made x
// plain (see package internal/budget): its methods, but an error's, are
// not called here. A value encoding/json cannot render becomes a string
// describing the failure.
func appendAny(b []byte, x any, lvl int) []byte {
	if err, ok := x.(error); ok {
		if lvl >= MaxDepth {
			mark := len(b)
			b = appendError(b, err)
			text := string(b[mark:])
			return appendString(b[:mark], text)
		}
		return appendError(b, err)
	}
	if bs, ok := x.([]byte); ok { // readable text rather than base64
		return appendString(b, string(bs))
	}
	js, err := json.Marshal(x)
	if err != nil {
		return appendString(b, "!ERROR:"+err.Error())
	}
	if lvl+jsonDepth(js) > MaxDepth {
		return appendString(b, string(js))
	}
	return append(b, js...)
}

// jsonDepth returns the deepest nesting of objects and arrays in js, valid
// JSON: 0 for a scalar.
func jsonDepth(js []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(js); i++ {
		c := js[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// appendError appends {"kind":type,"message":err.Error()}.
func appendError(b []byte, err error) []byte {
	b = append(b, `{"kind":`...)
	if err == nil {
		b = append(b, `"<nil>"`...)
	} else {
		b = appendString(b, reflect.TypeOf(err).String())
	}
	b = append(b, `,"message":`...)
	b = appendString(b, errorMessage(err))
	return append(b, '}')
}

// errorMessage returns err.Error(), or a description of the panic it raised
// ("copy and muddle through", as log/slog does).
func errorMessage(err error) (msg string) {
	if err == nil {
		return "<nil>"
	}
	defer func() {
		if r := recover(); r != nil {
			msg = "!PANIC in Error method"
		}
	}()
	return err.Error()
}

// statusOf maps a level to a Datadog status; levels between the named ones
// map down (slog.LevelWarn-1 is "info").
func statusOf(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}
