package datadog

import (
	"log/slog"
	"reflect"
	"slices"
	"strconv"
)

// This file holds the one place where the kit's attribute names meet
// Datadog's: the table of standard attributes, and the reserved keys.
//
// The kit logs flat, readable keys (the JSON and console outputs keep
// them). At the root of a record (not inside a group), the Datadog encoder
// moves the attributes of this table to Datadog's standard attributes,
// written as nested objects, so that Datadog's default facets, its log
// analytics views and its trace correlation work with no pipeline on the
// Datadog side:
//
//	kit key (at the root)       value                        Datadog attribute
//	method                      string                       http.method
//	status                      integer 100 to 599           http.status_code
//	route                       string                       http.route
//	path                        string                       http.url_details.path
//	user_agent                  string                       http.useragent
//	client_ip                   string                       network.client.ip
//	duration                    time.Duration                duration (nanoseconds, unchanged key)
//	error, err                  error                        error.kind (its Go type), error.message
//	error, err                  string                       error.message
//	stack                       string                       error.stack
//	logger                      string                       logger.name
//	trace_id                    32 hex digits (W3C)          dd.trace_id (lower 64 bits, decimal), otel.trace_id (as given)
//	span_id                     16 hex digits (W3C)          dd.span_id (decimal), otel.span_id (as given)
//	trace_id, dd.trace_id       other string, integer        dd.trace_id (as given, as a string)
//	span_id, dd.span_id         other string, integer        dd.span_id (as given, as a string)
//	service, host, hostname,    equal to Options.Service,    left out: the entry's service, hostname
//	env, environment, version   Hostname, Env or Version     and ddtags say it once
//
// The 128-bit OpenTelemetry trace id is kept whole in otel.trace_id, next
// to the 64-bit dd.trace_id Datadog correlates on.
//
// A key of the table whose value has another kind, or that occurs a second
// time in the same entry, is written as any other attribute. Any other
// attribute keeps its key, with one exception, the one way in which the
// encoder renames: at the root, a key the encoder writes itself (see
// ReservedKeys) is written as "attr." followed by the key. It does not
// depend on the rest of the entry, so a facet on such a key is stable.

// The slots of the table, one per Datadog standard attribute (or pair).
const (
	slotMethod = iota
	slotStatusCode
	slotRoute
	slotPath
	slotUserAgent
	slotClientIP
	slotError
	slotStack
	slotLogger
	slotTraceID
	slotSpanID
	numSlots
)

const (
	httpSlots = 1<<slotMethod | 1<<slotStatusCode | 1<<slotRoute | 1<<slotPath | 1<<slotUserAgent
	errSlots  = 1<<slotError | 1<<slotStack
	idSlots   = 1<<slotTraceID | 1<<slotSpanID
)

// std holds the values of the table's attributes found in one entry.
type std struct {
	set  uint16
	otel uint8 // bit 1: the trace id is OpenTelemetry's (hex), bit 2: the span id
	v    [numSlots]slog.Value
}

func (s *std) has(slot int) bool { return s.set&(1<<slot) != 0 }

func (s *std) put(slot int, v slog.Value) bool {
	if s.has(slot) {
		return false
	}
	s.set |= 1 << slot
	s.v[slot] = v
	return true
}

// reservedKeys are the root keys the encoder writes itself: the entry's
// header and the objects of Datadog's standard attributes.
var reservedKeys = [...]string{
	"message", "status", "timestamp", "service", "hostname", "host", "ddsource", "ddtags", "truncated",
	"http", "network", "error", "logger", "dd", "otel",
}

// ReservedKeys returns, as a new slice, the root keys the encoder writes
// itself: the entry's header and the objects of Datadog's standard
// attributes. A user attribute or group at the root with one of these
// keys, that the table of standard attributes does not take, is written
// as "attr." and its key.
func ReservedKeys() []string { return slices.Clone(reservedKeys[:]) }

func isReserved(key string) bool { return slices.Contains(reservedKeys[:], key) }

// take puts a, an attribute at the root of an entry with its value
// resolved, in its slot of the table, or drops it when it repeats the
// entry's identity, and reports whether it did either.
func (c *core) takeStd(s *std, a slog.Attr) bool {
	v := a.Value
	switch a.Key {
	case "method":
		return v.Kind() == slog.KindString && s.put(slotMethod, v)
	case "status":
		return isStatusCode(v) && s.put(slotStatusCode, v)
	case "route":
		return v.Kind() == slog.KindString && s.put(slotRoute, v)
	case "path":
		return v.Kind() == slog.KindString && s.put(slotPath, v)
	case "user_agent":
		return v.Kind() == slog.KindString && s.put(slotUserAgent, v)
	case "client_ip":
		return v.Kind() == slog.KindString && s.put(slotClientIP, v)
	case "error", "err":
		if v.Kind() == slog.KindString {
			return s.put(slotError, v)
		}
		if v.Kind() == slog.KindAny {
			if _, ok := v.Any().(error); ok {
				return s.put(slotError, v)
			}
		}
		return false
	case "stack":
		return v.Kind() == slog.KindString && s.put(slotStack, v)
	case "logger":
		return v.Kind() == slog.KindString && s.put(slotLogger, v)
	case "trace_id", "dd.trace_id":
		if !isID(v) || !s.put(slotTraceID, v) {
			return false
		}
		if a.Key == "trace_id" && isHex(v, 32) {
			s.otel |= 1
		}
		return true
	case "span_id", "dd.span_id":
		if !isID(v) || !s.put(slotSpanID, v) {
			return false
		}
		if a.Key == "span_id" && isHex(v, 16) {
			s.otel |= 2
		}
		return true
	case "service":
		return v.Kind() == slog.KindString && v.String() == c.cfg.service
	case "host", "hostname":
		return v.Kind() == slog.KindString && v.String() == c.cfg.hostname && c.cfg.hostname != ""
	case "env", "environment":
		return v.Kind() == slog.KindString && v.String() == c.cfg.env && c.cfg.env != ""
	case "version":
		return v.Kind() == slog.KindString && v.String() == c.cfg.version && c.cfg.version != ""
	}
	return false
}

func isStatusCode(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindInt64:
		return v.Int64() >= 100 && v.Int64() <= 599
	case slog.KindUint64:
		return v.Uint64() >= 100 && v.Uint64() <= 599
	}
	return false
}

func isID(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString, slog.KindInt64, slog.KindUint64:
		return true
	}
	return false
}

// appendStd appends the objects of the standard attributes s holds, each
// preceded by a comma.
func appendStd(b []byte, s *std) []byte {
	if s.set == 0 {
		return b
	}
	if s.set&httpSlots != 0 {
		b = append(b, `,"http":{`...)
		n := len(b)
		b = member(b, n, s, slotMethod, `"method":`)
		b = member(b, n, s, slotStatusCode, `"status_code":`)
		b = member(b, n, s, slotRoute, `"route":`)
		if s.has(slotPath) {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, `"url_details":{"path":`...)
			b = appendString(b, s.v[slotPath].String())
			b = append(b, '}')
		}
		b = member(b, n, s, slotUserAgent, `"useragent":`)
		b = append(b, '}')
	}
	if s.has(slotClientIP) {
		b = append(b, `,"network":{"client":{"ip":`...)
		b = appendString(b, s.v[slotClientIP].String())
		b = append(b, `}}`...)
	}
	if s.set&errSlots != 0 {
		b = append(b, `,"error":{`...)
		n := len(b)
		if s.has(slotError) {
			v := s.v[slotError]
			if v.Kind() == slog.KindString {
				b = append(b, `"message":`...)
				b = appendString(b, v.String())
			} else {
				err := v.Any().(error)
				b = append(b, `"kind":`...)
				b = appendString(b, reflect.TypeOf(err).String())
				b = append(b, `,"message":`...)
				b = appendString(b, errorMessage(err))
			}
		}
		b = member(b, n, s, slotStack, `"stack":`)
		b = append(b, '}')
	}
	if s.has(slotLogger) {
		b = append(b, `,"logger":{"name":`...)
		b = appendString(b, s.v[slotLogger].String())
		b = append(b, '}')
	}
	if s.set&idSlots != 0 {
		b = append(b, `,"dd":{`...)
		n := len(b)
		th, sh := s.otel&1 != 0, s.otel&2 != 0
		if s.has(slotTraceID) {
			b = append(b, `"trace_id":`...)
			b = appendDDID(b, s.v[slotTraceID], th)
		}
		if s.has(slotSpanID) {
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, `"span_id":`...)
			b = appendDDID(b, s.v[slotSpanID], sh)
		}
		b = append(b, '}')
		if th || sh {
			b = append(b, `,"otel":{`...)
			if th {
				b = append(b, `"trace_id":`...)
				b = appendString(b, s.v[slotTraceID].String())
			}
			if sh {
				if th {
					b = append(b, ',')
				}
				b = append(b, `"span_id":`...)
				b = appendString(b, s.v[slotSpanID].String())
			}
			b = append(b, '}')
		}
	}
	return b
}

// member appends the member name and the value of slot, if s has it,
// preceded by a comma unless it is the first member of the object that
// starts at offset start.
func member(b []byte, start int, s *std, slot int, name string) []byte {
	if !s.has(slot) {
		return b
	}
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, name...)
	v := s.v[slot]
	if v.Kind() == slog.KindString {
		return appendString(b, v.String())
	}
	return appendValue(b, v, 0)
}

// isHex reports whether v is a string of n hex digits.
func isHex(v slog.Value, n int) bool {
	if v.Kind() != slog.KindString || len(v.String()) != n {
		return false
	}
	for _, c := range []byte(v.String()) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// lower64 returns the value of the last 16 hex digits of s, which isHex
// has accepted.
func lower64(s string) uint64 {
	var x uint64
	for _, c := range []byte(s[len(s)-16:]) {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		x = x<<4 | uint64(c)
	}
	return x
}

// appendDDID appends a trace or span id as Datadog correlates on it: a
// string of decimal digits. An OpenTelemetry id (hex, otel true) becomes
// the decimal form of its lower 64 bits; any other value is written as a
// string.
func appendDDID(b []byte, v slog.Value, otel bool) []byte {
	if otel {
		b = append(b, '"')
		b = strconv.AppendUint(b, lower64(v.String()), 10)
		return append(b, '"')
	}
	switch v.Kind() {
	case slog.KindInt64:
		b = append(b, '"')
		b = strconv.AppendInt(b, v.Int64(), 10)
		return append(b, '"')
	case slog.KindUint64:
		b = append(b, '"')
		b = strconv.AppendUint(b, v.Uint64(), 10)
		return append(b, '"')
	}
	return appendString(b, v.String())
}
