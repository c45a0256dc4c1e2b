package handler

import (
	"log/slog"

	"github.com/realtimeserver/observability/internal/budget"
)

// Budget bounds what one record may cost in [Console] and [Redact] (and in
// the Datadog handler): a zero field means its default.
//
//	MaxDepth        32       levels of groups and nested values (each group, map, slice, struct, pointer is one; open WithGroup groups count)
//	MaxAttrs        1024     attributes in a record, counting group members, map entries, struct fields and slice elements
//	MaxValueBytes   65536    bytes of one string value, key, group name or message
//	MaxRecordBytes  1048576  bytes of a record's keys and string values together
//
// Each record has a budget of its own, and so has each WithAttrs call.
// Past a budget a handler writes a marker and goes on:
//
//	"!DEPTH"       in place of a group or value nested deeper than MaxDepth
//	"!CYCLE"       in place of a map, slice or pointer that contains itself, or of a LogValuer that keeps returning LogValuers
//	"!PANIC"       in place of a value whose LogValue, MarshalJSON, MarshalText or Error method panicked
//	"!TRUNCATED"   at the end of a string, key or message cut at MaxValueBytes
//	"!ATTRS": n    an attribute at the end of a record or group: n attributes were left out there
//	               (in a slice, the element "!ATTRS=n")
//
// Values of kind slog.KindAny that are composite (maps, slices, arrays,
// structs, pointers) or that have methods running user code (error,
// json.Marshaler, encoding.TextMarshaler, slog.LogValuer) are rewritten
// into plain values first, as encoding/json would render them: a map or
// struct becomes a group of its entries sorted by key (struct fields named
// by their json tags), json.RawMessage and MarshalJSON output are decoded,
// a struct without exported fields prints its String method, errors that
// behave stay errors. Memory is linear in what is written.
type Budget = budget.Budget

// Markers written past a [Budget].
const (
	MarkDepth     = budget.Depth
	MarkCycle     = budget.Cycle
	MarkPanic     = budget.Panic
	MarkTruncated = budget.Truncated
	MarkAttrs     = budget.Attrs
)

// fits reports that r certainly fits b with nothing to rewrite, so that
// budget.Limiter.Record would return it unchanged: a message and
// attributes of scalar kinds or short strings, with keys and strings
// within MaxValueBytes each and MaxRecordBytes together, at most MaxAttrs
// of them. It reads r in place and never allocates. When it reports
// false, Record decides (groups, values of kind Any and LogValuers always
// go there). It knows nothing of redaction: only handlers without a redact
// predicate may use it.
func fits(r *slog.Record, b *Budget) bool {
	if len(r.Message) > b.MaxValueBytes || r.NumAttrs() > b.MaxAttrs {
		return false
	}
	bytes := len(r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		bytes += len(a.Key)
		switch a.Value.Kind() {
		case slog.KindString:
			s := a.Value.String()
			bytes += len(s)
			ok = len(s) <= b.MaxValueBytes
		case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool,
			slog.KindDuration, slog.KindTime:
		default:
			ok = false
		}
		ok = ok && len(a.Key) <= b.MaxValueBytes && bytes <= b.MaxRecordBytes
		return ok
	})
	return ok
}
