package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/realtimeserver/observability/internal/hostile"
)

// jsonCase is one record logged through slog's JSON handler and through
// JSON, whose outputs must be the same bytes.
type jsonCase struct {
	name  string
	with  func(slog.Handler) slog.Handler // derives the handler, when set
	level slog.Level
	time  time.Time // default: jsonWhen; the zero time is set by zeroTime
	msg   string
	attrs []slog.Attr

	zeroTime bool
	pc       uintptr // for AddSource
}

var jsonWhen = time.Date(2026, 11, 25, 10, 41, 7, 123456789, time.UTC)

// handleBoth logs c through slog's JSON handler and through JSON and
// returns both outputs.
func handleBoth(t testing.TB, c jsonCase, opts *JSONOptions) (want, got string) {
	t.Helper()
	var so slog.HandlerOptions
	if opts != nil {
		so = slog.HandlerOptions{Level: opts.Level, AddSource: opts.AddSource, ReplaceAttr: opts.ReplaceAttr}
	}
	var wb, gb bytes.Buffer
	for _, x := range []struct {
		h   slog.Handler
		buf *bytes.Buffer
	}{
		{slog.NewJSONHandler(&wb, &so), &wb},
		{JSON(&gb, opts), &gb},
	} {
		h := x.h
		if c.with != nil {
			h = c.with(h)
		}
		when := c.time
		if when.IsZero() && !c.zeroTime {
			when = jsonWhen
		}
		r := slog.NewRecord(when, c.level, c.msg, c.pc)
		r.AddAttrs(c.attrs...)
		if h.Enabled(context.Background(), r.Level) {
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatalf("Handle: %v", err)
			}
		}
	}
	return wb.String(), gb.String()
}

// Values of every shape slog renders.

type textM struct{ s string }

func (m textM) MarshalText() ([]byte, error) { return []byte("text:" + m.s), nil }

type jsonM struct{ raw string }

func (m jsonM) MarshalJSON() ([]byte, error) { return []byte(m.raw), nil }

type failingM struct{}

func (failingM) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot marshal") }

type panickingM struct{}

func (panickingM) MarshalJSON() ([]byte, error) { panic("marshal exploded") }

type errAndM struct{}

func (errAndM) Error() string                { return "as error" }
func (errAndM) MarshalJSON() ([]byte, error) { return []byte(`"as json"`), nil }

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

type panickingErr struct{}

func (panickingErr) Error() string { panic("Error exploded") }

type jvaluer struct{ v slog.Value }

func (v jvaluer) LogValue() slog.Value { return v.v }

type named string

type inner struct {
	B []int          `json:"b"`
	M map[string]any `json:"m,omitempty"`
}

type outer struct {
	Name   string
	Inner  inner
	Ptr    *inner `json:"ptr"`
	When   time.Time
	hidden int
	F32    float32
	Bytes  []byte
}

func jsonCases() []jsonCase {
	at := func(as ...slog.Attr) []slog.Attr { return as }
	var nilE *nilErr
	var nilMap map[string]int
	east := time.FixedZone("east", 5*3600+30*60)
	west := time.FixedZone("west", -(3*3600 + 15*60))
	chain := jvaluer{slog.AnyValue(jvaluer{slog.AnyValue(jvaluer{slog.IntValue(3)})})}
	cases := []jsonCase{
		{name: "benchmark record", msg: "message", attrs: at(slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"))},
		{name: "no attributes", msg: "m"},
		{name: "empty message", msg: ""},
		{name: "zero time", msg: "m", zeroTime: true, attrs: at(slog.Int("a", 1))},
		{name: "time without fraction", msg: "m", time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{name: "time with trailing zeros", msg: "m", time: time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)},
		{name: "time with one nanosecond", msg: "m", time: time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC)},
		{name: "time east", msg: "m", time: time.Date(2026, 1, 2, 3, 4, 5, 6, east)},
		{name: "time west", msg: "m", time: time.Date(2026, 1, 2, 3, 4, 5, 6, west)},
		{name: "time local", msg: "m", time: time.Date(2026, 6, 2, 3, 4, 5, 6, time.Local)},
		{name: "year 0 and 9999", msg: "m", time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), attrs: at(slog.Time("t", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)))},
		{name: "levels: debug filtered", level: slog.LevelDebug, msg: "m"},
		{name: "levels: warn", level: slog.LevelWarn, msg: "m"},
		{name: "levels: error", level: slog.LevelError, msg: "m"},
		{name: "levels: info+2", level: slog.LevelInfo + 2, msg: "m"},
		{name: "levels: error+8", level: slog.LevelError + 8, msg: "m"},

		// Every kind.
		{name: "ints", msg: "m", attrs: at(slog.Int("zero", 0), slog.Int64("min", math.MinInt64), slog.Int64("max", math.MaxInt64), slog.Uint64("umax", math.MaxUint64))},
		{name: "floats", msg: "m", attrs: at(slog.Float64("zero", 0), slog.Float64("negzero", math.Copysign(0, -1)), slog.Float64("half", 1.5),
			slog.Float64("big", 1e21), slog.Float64("almost big", 999999999999999999999.0), slog.Float64("small", 1e-7), slog.Float64("edge", 1e-6),
			slog.Float64("max", math.MaxFloat64), slog.Float64("tiny", math.SmallestNonzeroFloat64), slog.Float64("neg", -123456.789e-12),
			slog.Float64("third", 1.0/3), slog.Any("f32", float32(0.1)))},
		{name: "NaN and infinities", msg: "m", attrs: at(slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(1)), slog.Float64("ninf", math.Inf(-1)))},
		{name: "bools", msg: "m", attrs: at(slog.Bool("t", true), slog.Bool("f", false))},
		{name: "durations", msg: "m", attrs: at(slog.Duration("d", 1500*time.Millisecond), slog.Duration("neg", -time.Nanosecond))},
		{name: "times", msg: "m", attrs: at(slog.Time("utc", jsonWhen), slog.Time("east", jsonWhen.In(east)), slog.Time("zero", time.Time{}))},
		{name: "any: nil and basic", msg: "m", attrs: at(slog.Any("nil", nil), slog.Any("int8", int8(-3)), slog.Any("uintptr", uintptr(7)), slog.Any("named", named("a\bb\fc<d>")))},
		{name: "any: map and struct", msg: "m", attrs: at(
			slog.Any("map", map[string]any{"z": 1, "a": []any{"x", 2.5, nil, true}, "m": map[int]string{2: "b", 1: "a"}}),
			slog.Any("struct", outer{Name: "n", Inner: inner{B: []int{1, 2}}, Ptr: &inner{M: map[string]any{"k": "v"}}, When: jsonWhen, hidden: 1, F32: 0.1, Bytes: []byte("hello")}),
			slog.Any("nil map", nilMap), slog.Any("empty map", map[string]int{}), slog.Any("empty struct", struct{}{}),
		)},
		{name: "any: marshalers", msg: "m", attrs: at(slog.Any("text", textM{"x"}), slog.Any("json", jsonM{`{"b": 1, "a" : [1,2]}`}),
			slog.Any("raw", json.RawMessage(`[1, "<&>"]`)), slog.Any("number", json.Number("12.50")), slog.Any("ptr text", &textM{"y"}))},
		{name: "any: marshaler fails", msg: "m", attrs: at(slog.Any("f", failingM{}), slog.Any("invalid", jsonM{`{"a":`}), slog.Any("badnum", json.Number("1x")))},
		{name: "any: marshaler panics", msg: "m", attrs: at(slog.Any("p", panickingM{}), slog.Any("in map", map[string]any{"p": panickingM{}}))},
		{name: "any: unsupported", msg: "m", attrs: at(slog.Any("c", make(chan int)), slog.Any("f", func() {}), slog.Any("x", complex(1, 2)), slog.Any("nan in slice", []float64{math.NaN()}))},
		{name: "errors", msg: "m", attrs: at(slog.Any("err", errors.New("boom <&> \"q\"")), slog.Any("wrapped", fmt.Errorf("ctx: %w", io.EOF)),
			slog.Any("both", errAndM{}), slog.Any("nil ptr", error(nilE)), slog.Any("panics", panickingErr{}))},
		{name: "error in a struct", msg: "m", attrs: at(slog.Any("s", struct{ E error }{io.EOF}))},
		{name: "source", msg: "m", attrs: at(slog.Any("src", &slog.Source{Function: "f", File: "a.go", Line: 3}), slog.Any("partial", &slog.Source{Line: 9}), slog.Any("empty", &slog.Source{}), slog.Any("nil", (*slog.Source)(nil)))},

		// Strings.
		{name: "control characters", msg: "\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f", attrs: at(slog.String("c", "a\bb\fc\td\ne\rf"))},
		{name: "quotes and backslashes", msg: `"quoted" \back\slash\`, attrs: at(slog.String(`k"\`, `v"\`))},
		{name: "HTML characters", msg: "<script>&amp;</script>", attrs: at(slog.String("<k>", "a&b<c>d"))},
		{name: "invalid UTF-8", msg: "bad \xff\xfe msg", attrs: at(slog.String("k\xffey", "v\xc3\x28al"), slog.String("trunc", "ab\xe2\x82"), slog.String("surrogate", "\xed\xa0\x80"), slog.String("overlong", "\xc0\xaf"))},
		{name: "line and paragraph separators", msg: "a\u2028b\u2029c", attrs: at(slog.String("s", "\u2028\u2029\u2027\u202a"))},
		{name: "multi-byte text", msg: "héllo wörld ✓ 日本語 🎉", attrs: at(slog.String("ключ", "значение"))},
		{name: "long runs", msg: strings.Repeat("abcdefgh", 20) + "\"" + strings.Repeat("x", 37) + "\n", attrs: at(slog.String("s", strings.Repeat("0123456789abcdef", 4)+"é"+strings.Repeat("y", 9)))},
		{name: "escape at every offset", msg: "m", attrs: escapeOffsets()},
		{name: "trace ids", msg: "message", attrs: at(slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"),
			slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), slog.String("span_id", "00f067aa0ba902b7"))},

		// Keys and groups.
		{name: "empty keys", msg: "m", attrs: at(slog.String("", "v"), slog.Int("", 0), slog.Any("", nil), slog.Any("", map[string]int{"a": 1}))},
		{name: "groups", msg: "m", attrs: at(slog.Group("g", slog.Int("a", 1), slog.Group("h", slog.String("b", "x"))), slog.Int("c", 3))},
		{name: "empty group", msg: "m", attrs: at(slog.Int("a", 1), slog.Group("g"), slog.Int("b", 2))},
		{name: "inline group", msg: "m", attrs: at(slog.Group("", slog.Int("a", 1), slog.Group("", slog.Int("b", 2))), slog.Int("c", 3))},
		{name: "empty attrs", msg: "m", attrs: at(slog.Any("", nil), slog.Int("a", 1), slog.Any("", nil))},
		{name: "group of an empty attr, alone", msg: "m", attrs: at(slog.Group("g", slog.Any("", nil)))},
		{name: "group value in Any", msg: "m", attrs: at(slog.Any("g", slog.GroupValue(slog.Int("a", 1))))},

		// LogValuers.
		{name: "LogValuer", msg: "m", attrs: at(slog.Any("v", jvaluer{slog.StringValue("s")}), slog.Any("chain", chain))},
		{name: "LogValuer to group", msg: "m", attrs: at(slog.Any("v", jvaluer{slog.GroupValue(slog.Int("a", 1), slog.Any("n", jvaluer{slog.IntValue(2)}))}))},
		{name: "LogValuer to empty", msg: "m", attrs: at(slog.Any("", jvaluer{slog.AnyValue(nil)}), slog.Int("a", 1), slog.Any("e", jvaluer{slog.GroupValue()}))},
		{name: "LogValuer to inline group", msg: "m", attrs: at(slog.Any("", jvaluer{slog.GroupValue(slog.Int("a", 1))}))},
		{name: "chain of 8 LogValuers", msg: "m", attrs: at(slog.Any("v", nest8()))},

		// Derived handlers.
		{name: "WithAttrs", with: func(h slog.Handler) slog.Handler {
			return h.WithAttrs(at(slog.String("svc", "x"), slog.Int("pid", 1))).WithAttrs(at(slog.Bool("more", true)))
		}, msg: "m", attrs: at(slog.Int("a", 1))},
		{name: "WithAttrs, record without attributes", with: func(h slog.Handler) slog.Handler { return h.WithAttrs(at(slog.String("svc", "x"))) }, msg: "m"},
		{name: "WithGroup, record without attributes", with: func(h slog.Handler) slog.Handler { return h.WithGroup("g") }, msg: "m"},
		{name: "WithGroup", with: func(h slog.Handler) slog.Handler { return h.WithGroup("g").WithGroup("h") }, msg: "m", attrs: at(slog.Int("a", 1))},
		{name: "WithGroup WithAttrs WithGroup", with: func(h slog.Handler) slog.Handler {
			return h.WithAttrs(at(slog.Int("top", 0))).WithGroup("g").WithAttrs(at(slog.Int("a", 1))).WithGroup("h").WithAttrs(at(slog.Int("b", 2))).WithGroup("i")
		}, msg: "m", attrs: at(slog.Int("c", 3))},
		{name: "WithGroup WithAttrs WithGroup, no record attributes", with: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g").WithAttrs(at(slog.Int("a", 1))).WithGroup("h")
		}, msg: "m"},
		{name: "WithGroup, record of empty attrs", with: func(h slog.Handler) slog.Handler { return h.WithGroup("g") }, msg: "m", attrs: at(slog.Any("", nil))},
		{name: "WithAttrs of empty groups only", with: func(h slog.Handler) slog.Handler { return h.WithGroup("g").WithAttrs(at(slog.Group("e"))) }, msg: "m", attrs: at(slog.Int("a", 1))},
		{name: "WithAttrs of empty attrs only", with: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g").WithAttrs(at(slog.Any("", nil))).WithGroup("h")
		}, msg: "m", attrs: at(slog.Int("a", 1))},
		{name: "WithAttrs of an inline group", with: func(h slog.Handler) slog.Handler {
			return h.WithAttrs(at(slog.Group("", slog.Int("a", 1))))
		}, msg: "m", attrs: at(slog.Int("b", 2))},
		{name: "WithAttrs with escapes in group names", with: func(h slog.Handler) slog.Handler {
			return h.WithGroup("g\"<\n").WithAttrs(at(slog.String("k\u2028", "v\xff")))
		}, msg: "m", attrs: at(slog.Int("a", 1))},
		{name: "WithAttrs of a LogValuer and a map", with: func(h slog.Handler) slog.Handler {
			return h.WithAttrs(at(slog.Any("v", chain), slog.Any("m", map[string]int{"b": 2, "a": 1})))
		}, msg: "m"},
	}
	return cases
}

// escapeOffsets puts a character to escape at each offset of a 20-byte
// string, so that every position of the 8-byte scan is tried.
func escapeOffsets() []slog.Attr {
	var as []slog.Attr
	for _, c := range []string{"\"", "\\", "\n", "\x01", "é", "\xff", "\u2028", "<"} {
		for i := range 20 {
			s := strings.Repeat("a", i) + c + strings.Repeat("b", 19-i)
			as = append(as, slog.String(fmt.Sprintf("k%d", i), s))
		}
	}
	return as
}

func nest8() slog.LogValuer {
	v := jvaluer{slog.IntValue(8)}
	for range 7 {
		v = jvaluer{slog.AnyValue(v)}
	}
	return v
}

func TestJSONMatchesSlog(t *testing.T) {
	for _, c := range jsonCases() {
		t.Run(c.name, func(t *testing.T) {
			want, got := handleBoth(t, c, nil)
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if want != "" && !json.Valid([]byte(strings.TrimSuffix(want, "\n"))) {
				t.Errorf("slog wrote invalid JSON; move the case to TestJSONWhereSlogIsInvalid: %s", want)
			}
		})
	}
}

// jsonOptions are the options every case of jsonCases is also run with.
var jsonOptions = map[string]*JSONOptions{
	"AddSource":         {AddSource: true},
	"ReplaceAttr: none": {ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return a }},
	"ReplaceAttr: built-ins": {ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.TimeKey:
			return slog.Attr{}
		case slog.MessageKey:
			return slog.Attr{Key: "message", Value: a.Value}
		case slog.LevelKey:
			return slog.String("severity", a.Value.Any().(slog.Level).String())
		}
		return a
	}},
	"ReplaceAttr: groups and kinds": {AddSource: true, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindInt64:
			return slog.String(a.Key, strings.Join(groups, ">"))
		case slog.KindString:
			if a.Key == "c" || a.Key == "s" {
				return slog.Attr{} // removed
			}
			if a.Key == "k0" {
				return slog.Group("regrouped", slog.String("was", a.Value.String()), slog.Any("v", jvaluer{slog.IntValue(1)}))
			}
		case slog.KindAny:
			if _, ok := a.Value.Any().(*slog.Source); ok {
				return slog.Any(a.Key, &slog.Source{File: "f.go", Line: 1})
			}
		case slog.KindTime:
			return slog.Int64(a.Key, a.Value.Time().Unix())
		}
		return a
	}},
	"ReplaceAttr: drop the time": {ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}},
	"ReplaceAttr: drop everything": {ReplaceAttr: func([]string, slog.Attr) slog.Attr { return slog.Attr{} }},
}

func TestJSONMatchesSlogWithOptions(t *testing.T) {
	pc := callerPC()
	for name, opts := range jsonOptions {
		t.Run(name, func(t *testing.T) {
			for _, c := range jsonCases() {
				c.pc = pc
				want, got := handleBoth(t, c, opts)
				if got != want {
					t.Errorf("%s:\ngot  %s\nwant %s", c.name, got, want)
				}
				if want != "" && !json.Valid([]byte(want)) {
					t.Errorf("%s: slog wrote invalid JSON: %s", c.name, want)
				}
			}
		})
	}
}

func callerPC() uintptr {
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	return pcs[0]
}

func TestJSONLevelOption(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		c := jsonCase{name: l.String(), level: l, msg: "m"}
		want, got := handleBoth(t, c, &JSONOptions{Level: lv})
		if got != want {
			t.Errorf("%v: got %q, want %q", l, got, want)
		}
	}
	lv.Set(slog.LevelDebug)
	if h := JSON(io.Discard, &JSONOptions{Level: lv}); !h.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("a LevelVar set to Debug after JSON was made: Debug not enabled")
	}
	if h := JSON(io.Discard, nil); h.Enabled(context.Background(), slog.LevelDebug) || !h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("nil options: want Info and above")
	}
}

// TestJSONWhereSlogIsInvalid covers the records for which slog's JSON
// handler writes a line that is not JSON: JSON writes valid JSON instead.
func TestJSONWhereSlogIsInvalid(t *testing.T) {
	tests := []struct {
		c    jsonCase
		want string
	}{
		{
			jsonCase{name: "group whose members are all empty, between attributes", msg: "m",
				attrs: []slog.Attr{slog.Int("a", 1), slog.Group("g", slog.Any("", nil)), slog.Int("b", 2)}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","a":1,"b":2}`,
		},
		{
			jsonCase{name: "group whose members are all empty, first", msg: "m",
				attrs: []slog.Attr{slog.Group("g", slog.Group("h", slog.Any("", nil))), slog.Int("b", 2)}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","b":2}`,
		},
		{
			jsonCase{name: "year before 0", msg: "m", time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
			`{"time":"-0001-01-01T00:00:00Z","level":"INFO","msg":"m"}`,
		},
		{
			jsonCase{name: "year after 9999, in an attribute", msg: "m", attrs: []slog.Attr{slog.Time("t", time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC))}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","t":"10000-01-01T00:00:00.000000005Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			slogOut, got := handleBoth(t, tt.c, nil)
			if json.Valid([]byte(slogOut)) {
				t.Errorf("slog now writes valid JSON (%s): move the case to jsonCases", slogOut)
			}
			if got != tt.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestJSONDiffersFromSlog names the records for which JSON deliberately
// writes something else than slog: the budget's rules for LogValuers, and
// the slog.Handler contract for WithGroup("").
func TestJSONDiffersFromSlog(t *testing.T) {
	self := jvaluer{}
	self.v = slog.AnyValue(nest8()) // 8 calls give a value, a ninth LogValuer is too many
	tests := []struct {
		c    jsonCase
		want string
	}{
		{jsonCase{name: "panicking LogValuer", msg: "m", attrs: []slog.Attr{slog.Any("v", hostilePanicValuer{})}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","v":"!PANIC"}`},
		{jsonCase{name: "chain of 9 LogValuers", msg: "m", attrs: []slog.Attr{slog.Any("v", self)}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","v":"!CYCLE"}`},
		{jsonCase{name: "WithGroup of an empty name", with: func(h slog.Handler) slog.Handler { return h.WithGroup("") }, msg: "m", attrs: []slog.Attr{slog.Int("a", 1)}},
			`{"time":"2026-11-25T10:41:07.123456789Z","level":"INFO","msg":"m","a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			slogOut, got := handleBoth(t, tt.c, nil)
			if slogOut == got {
				t.Errorf("slog writes the same (%s): move the case to jsonCases", got)
			}
			if got != tt.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

type hostilePanicValuer struct{}

func (hostilePanicValuer) LogValue() slog.Value { panic("LogValue exploded") }

func TestJSONBudget(t *testing.T) {
	b := Budget{MaxDepth: 3, MaxAttrs: 6, MaxValueBytes: 8, MaxRecordBytes: 64}
	self := map[string]any{"a": 1}
	self["self"] = self
	deep := map[string]any{"x": map[string]any{"y": map[string]any{"w": map[string]any{"z": 1}}}}
	tests := []struct {
		name  string
		with  func(slog.Handler) slog.Handler
		msg   string
		attrs []slog.Attr
		want  string // after the level
	}{
		{"long message and value", nil, "0123456789", []slog.Attr{slog.String("k", "abcdefghij"), slog.String("0123456789", "v")},
			`"msg":"01234567!TRUNCATED","k":"abcdefgh!TRUNCATED","01234567!TRUNCATED":"v"`},
		{"cut on a rune boundary", nil, "ééééé", nil, `"msg":"éééé!TRUNCATED"`},
		{"too many attributes", nil, "m", []slog.Attr{slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6), slog.Int("g", 7), slog.Int("h", 8)},
			`"msg":"m","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"!ATTRS":2`},
		{"too many in a group", nil, "m", []slog.Attr{slog.Group("g", slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6))},
			`"msg":"m","g":{"a":1,"b":2,"c":3,"d":4,"e":5,"!ATTRS":1}`},
		{"record bytes", nil, "m", []slog.Attr{slog.String("a", "123456789"), slog.String("b", "123456789"), slog.String("c", "123456789"), slog.String("d", "123456789"), slog.String("e", "1")},
			`"msg":"m","a":"12345678!TRUNCATED","b":"12345678!TRUNCATED","c":"12345678!TRUNCATED","d":"12345678!TRUNCATED","!ATTRS":1`},
		{"deep groups", nil, "m", []slog.Attr{slog.Group("a", slog.Group("b", slog.Group("c", slog.Group("d", slog.Int("x", 1)))))},
			`"msg":"m","a":{"b":{"c":{"d":"!DEPTH"}}}`},
		{"deep groups below WithGroup", func(h slog.Handler) slog.Handler { return h.WithGroup("w") }, "m", []slog.Attr{slog.Group("a", slog.Group("b", slog.Group("c", slog.Int("x", 1))))},
			`"msg":"m","w":{"a":{"b":{"c":"!DEPTH"}}}`},
		{"WithGroup past the depth", func(h slog.Handler) slog.Handler {
			return h.WithGroup("a").WithGroup("b").WithGroup("c").WithGroup("d").WithGroup("e")
		}, "m", []slog.Attr{slog.Int("x", 1)},
			`"msg":"m","a":{"b":{"c":{"d":"!DEPTH"}}}`},
		{"WithAttrs past the depth", func(h slog.Handler) slog.Handler {
			return h.WithGroup("a").WithGroup("b").WithGroup("c").WithGroup("d").WithAttrs([]slog.Attr{slog.Int("x", 1)})
		}, "m", nil,
			`"msg":"m","a":{"b":{"c":{"d":"!DEPTH"}}}`},
		{"self-containing map", nil, "m", []slog.Attr{slog.Any("m", self)}, `"msg":"m","m":{"a":1,"self":"!CYCLE"}`},
		{"deep map", nil, "m", []slog.Attr{slog.Any("m", deep)}, `"msg":"m","m":{"x":{"y":{"w":"!DEPTH"}}}`},
		{"long string in a map", nil, "m", []slog.Attr{slog.Any("m", map[string]string{"k": "0123456789"})}, `"msg":"m","m":{"k":"01234567!TRUNCATED"}`},
		{"marshaler output longer than what is left", nil, "m", []slog.Attr{slog.Any("j", jsonM{`"` + strings.Repeat("x", 80) + `"`})}, `"msg":"m","j":"!TRUNCATED"`},
		{"map within budget", nil, "m", []slog.Attr{slog.Any("m", map[string]any{"b": 1, "a": []int{1}})}, `"msg":"m","m":{"a":[1],"b":1}`},
		{"WithAttrs has a budget of its own", func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6), slog.Int("g", 7)})
		}, "m", []slog.Attr{slog.Int("h", 8)},
			`"msg":"m","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"!ATTRS":1,"h":8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var h slog.Handler = JSON(&buf, &JSONOptions{Budget: b})
			if tt.with != nil {
				h = tt.with(h)
			}
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, tt.msg, 0)
			r.AddAttrs(tt.attrs...)
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			want := `{"level":"INFO",` + tt.want + "}\n"
			if buf.String() != want {
				t.Errorf("got  %s\nwant %s", buf.String(), want)
			}
			if !json.Valid(buf.Bytes()) {
				t.Errorf("invalid JSON: %s", buf.String())
			}
		})
	}
}

func TestJSONSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return JSON(&buf, nil)
	}, func(t *testing.T) map[string]any {
		return jsonLine(t, &buf)
	})
}

func TestHostileJSON(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New:  func(w io.Writer) slog.Handler { return JSON(w, nil) },
		JSON: true,
	})
}

func TestHostileRedactJSON(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New:     func(w io.Writer) slog.Handler { return Redact(JSON(w, nil), nil) },
		JSON:    true,
		Redacts: true,
	})
}

// failWriter fails every Write.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) { f.n++; return 0, errWrite }

func TestJSONWriteError(t *testing.T) {
	for _, h := range []slog.Handler{slog.NewJSONHandler(&failWriter{}, nil), JSON(&failWriter{}, nil)} {
		r := slog.NewRecord(jsonWhen, slog.LevelInfo, "m", 0)
		if err := h.Handle(context.Background(), r); !errors.Is(err, errWrite) {
			t.Errorf("%T: Handle returned %v, want the writer's error", h, err)
		}
	}
	// The handler goes on after a failed write, and the buffer is reused.
	fw := &failWriter{}
	h := JSON(fw, nil)
	for range 3 {
		_ = h.Handle(context.Background(), slog.NewRecord(jsonWhen, slog.LevelInfo, "m", 0))
	}
	if fw.n != 3 {
		t.Errorf("%d writes, want 3", fw.n)
	}
}

// lineWriter checks that each Write is one whole line, and is itself not
// safe for concurrent use: the race detector reports it if the handler's
// mutex does not cover every clone.
type lineWriter struct {
	lines [][]byte
	bad   int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if bytes.Count(p, []byte("\n")) != 1 || p[len(p)-1] != '\n' || !json.Valid(p) {
		w.bad++
	}
	w.lines = append(w.lines, bytes.Clone(p))
	return len(p), nil
}

func TestJSONConcurrentClones(t *testing.T) {
	w := &lineWriter{}
	root := JSON(w, nil)
	hs := []slog.Handler{root, root.WithAttrs([]slog.Attr{slog.String("svc", "x")}), root.WithGroup("g"), root.WithGroup("g").WithAttrs([]slog.Attr{slog.Int("a", 1)})}
	const per = 200
	var wg sync.WaitGroup
	for i, h := range hs {
		for j := range 2 {
			wg.Go(func() {
				l := slog.New(h)
				for k := range per {
					l.Info("m", "i", i, "j", j, "k", k, "s", strings.Repeat("x", k))
				}
			})
		}
	}
	wg.Wait()
	if len(w.lines) != len(hs)*2*per || w.bad != 0 {
		t.Errorf("%d lines (want %d), %d not one JSON line each", len(w.lines), len(hs)*2*per, w.bad)
	}
}

// TestJSONClonesIndependent checks that handlers derived from one parent
// never see each other's attributes or groups.
func TestJSONClonesIndependent(t *testing.T) {
	var buf bytes.Buffer
	parent := JSON(&buf, nil).WithGroup("p").WithAttrs([]slog.Attr{slog.Int("x", 0)})
	a := parent.WithAttrs([]slog.Attr{slog.Int("a", 1)}).WithGroup("ga")
	b := parent.WithAttrs([]slog.Attr{slog.Int("b", 2)}).WithGroup("gb")
	for _, h := range []slog.Handler{a, b, parent} {
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.Int("r", 9))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"level":"INFO","msg":"m","p":{"x":0,"a":1,"ga":{"r":9}}}
{"level":"INFO","msg":"m","p":{"x":0,"b":2,"gb":{"r":9}}}
{"level":"INFO","msg":"m","p":{"x":0,"r":9}}
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestJSONTimeCache checks the cached date against time.Format across
// second, day and zone changes, as one pooled buffer sees them.
func TestJSONTimeCache(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("ny", -5*3600)
	}
	start := time.Date(2026, 3, 8, 6, 59, 58, 999999999, time.UTC)
	jb := &line{}
	for i := range 5000 {
		tm := start.Add(time.Duration(i) * 777 * time.Millisecond)
		for _, x := range []time.Time{tm, tm.In(ny), tm.Truncate(time.Second)} {
			got := string(jb.appendTime(nil, x))
			want := `"` + x.Format(time.RFC3339Nano) + `"`
			if got != want {
				t.Fatalf("%v: got %s, want %s", x, got, want)
			}
		}
	}
}

// TestPlain8 checks the 8-byte test against the table of bytes to escape:
// every byte at every position among plain bytes, and random words.
// TestJSONReplaceAttrPanics: slog lets a panic in ReplaceAttr end the
// process; JSON writes the attribute's key and the panic, and goes on.
func TestJSONReplaceAttrPanics(t *testing.T) {
	var buf bytes.Buffer
	h := JSON(&buf, &JSONOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "boom" {
			panic("ReplaceAttr exploded")
		}
		return a
	}})
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Int("boom", 1), slog.Int("after", 2))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	want := `{"level":"INFO","msg":"m","boom":"!PANIC: ReplaceAttr exploded","after":2}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}

// TestJSONBudgetLargeMap: a map with more entries than MaxAttrs is
// rewritten, some of its entries left out and counted.
func TestJSONBudgetLargeMap(t *testing.T) {
	m := map[string]int{}
	for i := range 10 {
		m[fmt.Sprint("k", i)] = i
	}
	var buf bytes.Buffer
	slog.New(JSON(&buf, &JSONOptions{Budget: Budget{MaxAttrs: 6}})).Info("m", "m", m)
	var got struct{ M map[string]int }
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if n := got.M["!ATTRS"]; n == 0 || len(got.M)-1+n != 10 {
		t.Errorf("want the entries kept and those left out to add up to 10: %s", buf.String())
	}
}
