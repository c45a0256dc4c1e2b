package handler

import (
	"log/slog"

	"github.com/realtimeserver/observability/internal/budget"
)

// Budget bounds what one record may cost in [Console], [JSON] and [Redact]
// (and in the Datadog handler and the dashboard's ring): a zero field
// means its default. Each of them applies it once per record, before it
// writes, through the kit's one budget check and walk.
//
//	MaxDepth        32       levels of groups and nested values (each group, map, slice, struct, pointer is one; open WithGroup groups count)
//	MaxAttrs        1024     attributes in a record, counting group members, map entries, struct fields and slice elements
//	MaxValueBytes   65536    bytes of one string value, key, group name or message
//	MaxRecordBytes  1048576  bytes of a record's keys and values together (strings by their length, other values 8)
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

// overflow is what a handler keeps of WithGroup calls past MaxDepth: name
// is the first group left out (cut to MaxValueBytes), and whatever is
// logged inside it becomes the single attribute name=[MarkDepth]; attrs
// says that WithAttrs was called past it. Handlers give their next
// handler (or their writer) no more groups, so that memory stays linear
// however long a chain of WithGroup calls.
type overflow struct {
	name  string
	attrs bool
}

// withAttrs records a WithAttrs call past MaxDepth and reports true, or
// reports false when the handler is within MaxDepth.
func (o *overflow) withAttrs() bool {
	if o.name == "" {
		return false
	}
	o.attrs = true
	return true
}

// record returns r for a handler nested past MaxDepth groups: its message
// cut to maxValue, its attributes (and those of WithAttrs) replaced by
// the attribute o.name=[MarkDepth].
func (o overflow) record(r slog.Record, maxValue int) slog.Record {
	if r.NumAttrs() == 0 && !o.attrs && len(r.Message) <= maxValue {
		return r
	}
	nr := slog.NewRecord(r.Time, r.Level, budget.Truncate(r.Message, maxValue), r.PC)
	if r.NumAttrs() > 0 || o.attrs {
		nr.AddAttrs(slog.String(o.name, budget.Depth))
	}
	return nr
}
