// Package budget is the kit's one record path: it bounds what one log
// record can cost, and turns any value a caller logs into a plain, finite,
// acyclic tree. Every backend of the kit (handler.Console, handler.JSON,
// handler.Redact, the Datadog encoder, the dashboard's ring) applies the
// same [Budget] through a [Limiter], once per record, before it writes:
//
//	lim.Apply(&r, openGroups, false) // one pass, no allocation when r fits
//
// and then writes r without any bound of its own. [Cut] is the kit's one
// UTF-8 truncation; package jsonesc its one JSON string writer.
//
// # The check and the walk
//
// Apply first checks the record in one pass that allocates nothing
// (strings and scalars under short keys cost a switch each); only a record
// that fails the check is walked and rewritten. The check and the walk
// count alike, and what the walk writes passes the check: a record that
// went through Apply (in Redact, say) passes the Apply of every handler
// after it unchanged, so a record is rewritten at most once on its way.
//
// A Limiter of [New] rewrites every value of kind slog.KindAny that a
// writer could not render safely by itself (below). A Limiter of
// [NewEncodable] is for a writer that renders such values with
// encoding/json, as slog's JSON handler does: it leaves those that fit the
// budget as they are, so that the writer's output is slog's.
//
// # The budget
//
// A zero field of [Budget] means its default:
//
//	MaxDepth        32       groups and nested values (maps, slices, structs, pointers) below one attribute
//	MaxAttrs        1024     attributes in one record, every group member, map entry and slice element counted
//	MaxValueBytes   64 KiB   bytes of one string value, one key, one message or one encoded leaf
//	MaxRecordBytes  1 MiB    bytes of the keys and values of one record, all together (scalars count 8)
//
// Handlers open a new budget for each record and for each WithAttrs call;
// the remaining budget is passed down every recursion, never restarted.
//
// # Markers
//
// Past a budget, the value in question is replaced and the record goes on:
//
//	"!DEPTH"       a value or group nested deeper than MaxDepth
//	"!CYCLE"       a map, slice or pointer that contains itself, or a LogValuer that keeps returning LogValuers
//	"!PANIC"       a LogValue, MarshalJSON, MarshalText or Error method that panicked
//	"…!TRUNCATED"  appended to a string, key or message cut at MaxValueBytes (on a UTF-8 boundary)
//	"!ATTRS": n    an attribute added at the end of a record or group, counting the n attributes
//	               left out there because MaxAttrs or MaxRecordBytes was reached
//
// # Sanitized values
//
// For a Limiter of [New], a value of kind slog.KindAny that is composite
// (map, struct, pointer, interface; a slice or array unless it holds only
// plain values) or that has methods which could run user code while it is
// written (json.Marshaler, encoding.TextMarshaler, slog.LogValuer, and an
// error whose Error method panics or returns more than MaxValueBytes) is
// rewritten, the way encoding/json would render it,
// into a tree of only these types: nil, bool, string, int64, uint64,
// float64 (finite; NaN and ±Inf become the strings "NaN", "+Inf", "-Inf"),
// json.Number, time.Time, time.Duration, []byte, []any and, below the top,
// map[string]any. At the top of an attribute a map becomes a slog group of
// its entries sorted by key, so that every handler renders it as it renders
// a group. In detail:
//
//   - maps: keys as encoding/json writes them (strings, integers, or
//     MarshalText); entries sorted by key; a map too large for what is
//     left of MaxAttrs keeps an arbitrary subset;
//   - structs: exported fields, named and omitted by their json tags,
//     embedded structs flattened;
//   - json.RawMessage and the output of MarshalJSON: decoded (numbers as
//     json.Number) and sanitized like any other value, so that a secret
//     cannot hide in pre-encoded JSON; invalid JSON becomes its text;
//   - errors: their Error text (at the top of an attribute, an error whose
//     text is within MaxValueBytes stays the error, for writers that show
//     its type); MarshalText: its text; a struct without exported fields
//     that has a String method: its String text;
//   - channels, functions and complex numbers: the name of their type.
//
// A nil pointer or interface becomes nil without any method being called.
//
// # Redaction
//
// A Limiter made with [Keys] replaces with [Redacted] the value of every
// attribute, map entry and struct field whose key is sensitive, at any
// depth and whatever the shape of the value; what lies past a budget is
// replaced by a marker, never written unredacted.
//
// Memory is linear in what is written: the walk stops where the budget
// does, and the cycle check keeps only the current path (at most MaxDepth
// entries).
//
// # Writers that are not slog handlers
//
// What cleans values that are not slog values (the OTLP export's SDK
// records and spans) holds them to the same rules: text cut with [Cut]
// (or [Truncate], with the marker), nesting cut at [DefaultMaxDepth] with
// the marker [Depth].
package budget
