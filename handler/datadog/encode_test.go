package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/budget"
)

// FuzzEncode checks that any message, key, value and group name make a
// valid JSON entry.
func FuzzEncode(f *testing.F) {
	f.Add("msg", "key", "value", "group", int64(1))
	f.Add("\xff", "", "\x00", "", int64(-1))
	f.Add("", "trace_id", "\"", "g\"", int64(0))
	f.Add("m", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "http", int64(200))
	f.Add("m", "status", "error", "error", int64(404))
	f.Add("m", "service", "s", "", int64(7))
	f.Fuzz(func(t *testing.T, msg, key, val, group string, n int64) {
		cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s", MaxRecordBytes: 512})
		if err != nil {
			t.Fatal(err)
		}
		h := &Handler{c: newCore(cfg)}
		defer h.c.cancel()
		var hh slog.Handler = h.WithAttrs([]slog.Attr{slog.String(key, val)})
		// Two groups opened at once, by WithAttrs and by the record.
		h2 := hh.WithGroup(group).WithGroup(val)
		hh = h2.WithAttrs([]slog.Attr{slog.Int64(key, n), slog.Group(group, slog.String(val, key))})
		r := slog.NewRecord(time.Unix(n, 0), slog.Level(n%16), msg, 0)
		r.AddAttrs(slog.String(key, val), slog.Any(val, errors.New(msg)), slog.Group(group, slog.Int64(key, n)))
		r.AddAttrs(slog.Int64("status", n), slog.String("span_id", val), slog.Any(key, map[string]any{val: []any{n, msg}}))
		for _, hd := range []*Handler{hh.(*Handler), h2.(*Handler), h} {
			if b := hd.entry(nil, r); len(b) > 512 || (len(b) > 0 && !json.Valid(b)) {
				t.Fatalf("entry (%d bytes) is invalid or too long: %s", len(b), b)
			}
			b := hd.encode(nil, &r)
			if !json.Valid(b) {
				t.Fatalf("entry is not valid JSON: %s", b)
			}
			checkNoDuplicateKeys(t, b)
			for name, tb := range map[string][]byte{"encodeTruncated": hd.encodeTruncated(nil, &r), "encodeShortened": hd.encodeShortened(nil, &r)} {
				if len(tb) > 512 || (len(tb) > 0 && !json.Valid(tb)) {
					t.Fatalf("%s: entry (%d bytes) is invalid or too long: %s", name, len(tb), tb)
				}
			}
		}
	})
}

type panicErr struct{}

func (panicErr) Error() string { panic("boom") }

type logValuer struct{}

func (logValuer) LogValue() slog.Value { return slog.GroupValue(slog.String("resolved", "yes")) }

// TestAppendValueKinds: each kind of value, as the entry writes it once the
// record's budget has made it plain (see entry).
func TestAppendValueKinds(t *testing.T) {
	tests := []struct {
		name string
		attr slog.Attr
		want string
	}{
		{"int", slog.Int("k", -3), `"k":-3`},
		{"uint", slog.Uint64("k", 3), `"k":3`},
		{"float", slog.Float64("k", 1.5), `"k":1.5`},
		{"NaN", slog.Float64("k", nan()), `"k":"NaN"`},
		{"bool", slog.Bool("k", true), `"k":true`},
		{"duration", slog.Duration("k", time.Millisecond), `"k":1000000`},
		{"time", slog.Time("k", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), `"k":"2026-01-02T03:04:05Z"`},
		{"any struct", slog.Any("k", struct{ A int }{1}), `"k":{"A":1}`},
		{"any nil", slog.Any("k", nil), `"k":null`},
		{"bytes", slog.Any("k", []byte("hi")), `"k":"hi"`},
		{"unencodable", slog.Any("k", make(chan int)), `"k":"chan int"`},
		{"error", slog.Any("k", errors.New("x")), `"k":{"kind":"*errors.errorString","message":"x"}`},
		{"panicking error", slog.Any("k", panicErr{}), `"k":"!PANIC"`},
		{"map", slog.Any("k", map[string]any{"b": []int{1}, "a": 1}), `"k":{"a":1,"b":[1]}`},
		{"log valuer", slog.Any("k", logValuer{}), `"k":{"resolved":"yes"}`},
		{"inline group", slog.Group("", slog.Int("a", 1), slog.Int("b", 2)), `"a":1,"b":2`},
		{"nested empty group", slog.Group("g", slog.Group("h")), ``},
		{"empty attr", slog.Attr{}, ``},
		{"empty key kept", slog.Int("", 0), `"":0`},
	}
	lim := budget.New(budget.Budget{}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := appendAttr(nil, lim.Attr(tt.attr, 0), false, false, 1)
			if string(got) != tt.want {
				t.Errorf("appendAttr(%v) = %s, want %s", tt.attr, got, tt.want)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestStatusOf(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "debug"},
		{slog.LevelDebug, "debug"},
		{slog.LevelInfo - 1, "debug"},
		{slog.LevelInfo, "info"},
		{slog.LevelWarn - 1, "info"},
		{slog.LevelWarn, "warn"},
		{slog.LevelError - 1, "warn"},
		{slog.LevelError, "error"},
		{slog.LevelError + 4, "error"},
	}
	for _, tt := range tests {
		if got := statusOf(tt.level); got != tt.want {
			t.Errorf("statusOf(%v) = %q, want %q", tt.level, got, tt.want)
		}
	}
}

func TestWithAttrsAndGroupsRender(t *testing.T) {
	cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	base := &Handler{c: newCore(cfg)}
	defer base.c.cancel()
	const head = `{"status":"info","message":"m","service":"s","hostname":"h","ddsource":"go"`
	tests := []struct {
		name  string
		h     slog.Handler
		attrs []slog.Attr
		want  string
	}{
		{"plain", base, []slog.Attr{slog.Int("a", 1)}, head + `,"a":1}`},
		{"with attrs", base.WithAttrs([]slog.Attr{slog.Int("p", 0)}), []slog.Attr{slog.Int("a", 1)}, head + `,"p":0,"a":1}`},
		{"group, no attrs", base.WithGroup("g"), nil, head + `}`},
		{"group, record attrs", base.WithGroup("g"), []slog.Attr{slog.Int("a", 1)}, head + `,"g":{"a":1}}`},
		{"group, pre attrs", base.WithGroup("g").WithAttrs([]slog.Attr{slog.Int("p", 0)}), nil, head + `,"g":{"p":0}}`},
		{"group, empty pre attrs", base.WithGroup("g").WithAttrs([]slog.Attr{slog.Group("e")}), nil, head + `}`},
		{"two groups", base.WithAttrs([]slog.Attr{slog.Int("p", 0)}).WithGroup("g").WithAttrs([]slog.Attr{slog.Int("q", 1)}).WithGroup("h"),
			[]slog.Attr{slog.Int("a", 1)}, head + `,"p":0,"g":{"q":1,"h":{"a":1}}}`},
		{"trace ids from WithAttrs", base.WithAttrs([]slog.Attr{slog.Int64("trace_id", 7), slog.String("dd.span_id", "8")}), nil,
			head + `,"dd":{"trace_id":"7","span_id":"8"}}`},
		{"a second trace id is an ordinary attribute", base.WithAttrs([]slog.Attr{slog.Int64("trace_id", 7)}), []slog.Attr{slog.String("dd.trace_id", "9")},
			head + `,"dd.trace_id":"9","dd":{"trace_id":"7"}}`},
		{"err mapped at root only", base, []slog.Attr{slog.Any("err", errors.New("x")), slog.Group("g", slog.Any("err", errors.New("y")))},
			head + `,"g":{"err":{"kind":"*errors.errorString","message":"y"}},"error":{"kind":"*errors.errorString","message":"x"}}`},
		{"two groups opened together", base.WithGroup("a").WithGroup("b"), []slog.Attr{slog.Int("x", 1)}, head + `,"a":{"b":{"x":1}}}`},
		{"three groups opened together", base.WithGroup("a").WithGroup("b").WithGroup("c"), []slog.Attr{slog.Int("x", 1)}, head + `,"a":{"b":{"c":{"x":1}}}}`},
		{"two groups opened by WithAttrs", base.WithGroup("a").WithGroup("b").WithAttrs([]slog.Attr{slog.Int("p", 0)}),
			[]slog.Attr{slog.Int("x", 1)}, head + `,"a":{"b":{"p":0,"x":1}}}`},
		{"two groups after pre attrs", base.WithAttrs([]slog.Attr{slog.Int("p", 0)}).WithGroup("a").WithGroup("b"),
			[]slog.Attr{slog.Int("x", 1)}, head + `,"p":0,"a":{"b":{"x":1}}}`},
		{"group named status at the root", base.WithGroup("status"), []slog.Attr{slog.Int("x", 1)}, head + `,"attr.status":{"x":1}}`},
		{"group named status at the root, pre attrs", base.WithGroup("status").WithAttrs([]slog.Attr{slog.Int("p", 0)}), nil,
			head + `,"attr.status":{"p":0}}`},
		{"group named status inside a group", base.WithGroup("a").WithGroup("status"), []slog.Attr{slog.Int("x", 1)},
			head + `,"a":{"status":{"x":1}}}`},
		{"err then error", base, []slog.Attr{slog.Any("err", errors.New("x")), slog.String("error", "y")},
			head + `,"attr.error":"y","error":{"kind":"*errors.errorString","message":"x"}}`},
		{"error then err", base, []slog.Attr{slog.String("error", "y"), slog.Any("err", errors.New("x"))},
			head + `,"err":{"kind":"*errors.errorString","message":"x"},"error":{"message":"y"}}`},
		{"error from WithAttrs, err in the record", base.WithAttrs([]slog.Attr{slog.String("error", "y")}), []slog.Attr{slog.Any("err", errors.New("x"))},
			head + `,"err":{"kind":"*errors.errorString","message":"x"},"error":{"message":"y"}}`},
		{"err from WithAttrs, error in the record", base.WithAttrs([]slog.Attr{slog.Any("err", errors.New("x"))}), []slog.Attr{slog.String("error", "y")},
			head + `,"attr.error":"y","error":{"kind":"*errors.errorString","message":"x"}}`},
		{"err then group named error", base, []slog.Attr{slog.Any("err", errors.New("x")), slog.Group("error", slog.Int("code", 1))},
			head + `,"attr.error":{"code":1},"error":{"kind":"*errors.errorString","message":"x"}}`},
		{"err from WithAttrs, WithGroup(error)", base.WithAttrs([]slog.Attr{slog.Any("err", errors.New("x"))}).WithGroup("error"), []slog.Attr{slog.Int("code", 1)},
			head + `,"attr.error":{"code":1},"error":{"kind":"*errors.errorString","message":"x"}}`},
		{"error and stack", base, []slog.Attr{slog.Any("error", errors.New("x")), slog.String("stack", "main.go:1")},
			head + `,"error":{"kind":"*errors.errorString","message":"x","stack":"main.go:1"}}`},
		{"group named http at the root", base, []slog.Attr{slog.Group("http", slog.Int("x", 1))}, head + `,"attr.http":{"x":1}}`},
		{"method not a string is an ordinary attribute", base, []slog.Attr{slog.Int("method", 1)}, head + `,"method":1}`},
		{"status not a code is renamed", base, []slog.Attr{slog.String("status", "active")}, head + `,"attr.status":"active"}`},
		{"status beyond 599 is renamed", base, []slog.Attr{slog.Int("status", 600)}, head + `,"attr.status":600}`},
		{"the identity is written once", base, []slog.Attr{slog.String("service", "s"), slog.String("host", "h"), slog.String("hostname", "h"), slog.Int("pid", 9)},
			head + `,"pid":9}`},
		{"another service is renamed", base, []slog.Attr{slog.String("service", "t")}, head + `,"attr.service":"t"}`},
		{"standard attributes in an inline group", base, []slog.Attr{slog.Group("", slog.String("method", "GET"), slog.Int("n", 1))},
			head + `,"n":1,"http":{"method":"GET"}}`},
		{"error inside a group is left alone", base.WithGroup("g"), []slog.Attr{slog.Any("err", errors.New("x")), slog.String("error", "y")},
			head + `,"g":{"err":{"kind":"*errors.errorString","message":"x"},"error":"y"}}`},
		{"truncated at the root", base, []slog.Attr{slog.Bool("truncated", false)}, head + `,"attr.truncated":false}`},
		{"depth: groups beyond MaxDepth are flattened", base,
			[]slog.Attr{nest(MaxDepth+1, slog.Int("x", 1))},
			head + `,"g1":{"g2":{"g3":{"g4":{"g5":{"g6":{"g7":{"g8":"{\"g9\":{\"x\":1}}"}}}}}}}}`},
		{"depth: WithGroup beyond MaxDepth-1 joins names", chain(base, MaxDepth+1), []slog.Attr{slog.Int("x", 1)},
			head + `,"w1":{"w2":{"w3":{"w4":{"w5":{"w6":{"w7.w8.w9":{"x":1}}}}}}}}`},
		{"depth: composite values beyond MaxDepth are strings", base.WithGroup("a").WithGroup("b").WithGroup("c").WithGroup("d").WithGroup("e").WithGroup("f"),
			[]slog.Attr{slog.Any("m", map[string]any{"x": []int{1}}), slog.Any("n", []int{1})},
			head + `,"a":{"b":{"c":{"d":{"e":{"f":{"m":"{\"x\":[1]}","n":[1]}}}}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
			r.AddAttrs(tt.attrs...)
			got := tt.h.(*Handler).encode(nil, &r)
			if string(got) != tt.want {
				t.Errorf("entry:\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("entry is not valid JSON")
			}
			checkNoDuplicateKeys(t, got)
		})
	}
	// Clones do not disturb each other.
	a := base.WithAttrs([]slog.Attr{slog.Int("a", 1)})
	b1 := a.WithAttrs([]slog.Attr{slog.Int("b", 1)}).(*Handler)
	b2 := a.WithAttrs([]slog.Attr{slog.Int("b", 2)}).(*Handler)
	if string(b1.pre) != `,"a":1,"b":1` || string(b2.pre) != `,"a":1,"b":2` {
		t.Errorf("clones share state: %s / %s", b1.pre, b2.pre)
	}
	if base.WithAttrs(nil) != slog.Handler(base) || base.WithGroup("") != slog.Handler(base) {
		t.Errorf("WithAttrs(nil) and WithGroup(\"\") must return the receiver")
	}
	_ = context.Background
}

// nest returns a group holding a at depth n, its groups named g1 to gn.
func nest(n int, a slog.Attr) slog.Attr {
	for i := n; i >= 1; i-- {
		a = slog.Group(fmt.Sprintf("g%d", i), a)
	}
	return a
}

// chain returns h.WithGroup("w1")...WithGroup("wn").
func chain(h slog.Handler, n int) slog.Handler {
	for i := 1; i <= n; i++ {
		h = h.WithGroup(fmt.Sprintf("w%d", i))
	}
	return h
}

func TestReservedRootKeysAreRenamed(t *testing.T) {
	tests := []struct {
		name string
		attr slog.Attr
		root bool
		want string
	}{
		{"status at the root", slog.Int("status", 200), true, `"attr.status":200`},
		{"service at the root", slog.String("service", "x"), true, `"attr.service":"x"`},
		{"group named message at the root", slog.Group("message", slog.Int("a", 1)), true, `"attr.message":{"a":1}`},
		{"status inside a group is left alone", slog.Int("status", 200), false, `"status":200`},
		{"ordinary key", slog.Int("statuses", 2), true, `"statuses":2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := appendAttr(nil, tt.attr, false, tt.root, 1)
			if string(got) != tt.want {
				t.Errorf("appendAttr(%v, root=%v) = %s, want %s", tt.attr, tt.root, got, tt.want)
			}
		})
	}
	keys := ReservedKeys()
	keys[0] = "changed by the caller"
	if !isReserved("message") || isReserved("changed by the caller") {
		t.Error("a caller changing ReservedKeys' result changed what the encoder reserves")
	}
}

// checkNoDuplicateKeys fails when the header's keys (the message, status,
// error, truncated...) occur twice at the root of the entry b.
func checkNoDuplicateKeys(t testing.TB, b []byte) {
	t.Helper()
	var root map[string]json.RawMessage
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("entry %s: %v", b, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.Token() // {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("entry %s: %v", b, err)
		}
		k := tok.(string)
		if seen[k] && (isReserved(k) || k == "error") {
			t.Errorf("entry has the root key %q twice: %s", k, b)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("entry %s: %v", b, err)
		}
	}
}

// panicJSON's MarshalJSON panics, as a buggy one may.
type panicJSON struct{}

func (panicJSON) MarshalJSON() ([]byte, error) { panic("marshal boom") }

// TestMarshalJSONPanicIsRecovered: the record's budget calls MarshalJSON,
// recovers its panic and writes the marker in its place.
func TestMarshalJSONPanicIsRecovered(t *testing.T) {
	cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{c: newCore(cfg)}
	defer h.c.cancel()
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Any("v", panicJSON{}), slog.Int("after", 1))
	var got []byte
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("encode panicked: %v", p)
			}
		}()
		got = h.entry(nil, r)
	}()
	want := `{"status":"info","message":"m","service":"s","hostname":"h","ddsource":"go","v":"!PANIC","after":1}`
	if string(got) != want {
		t.Errorf("entry:\n got %s\nwant %s", got, want)
	}
	// Handle, as a Logger calls it, neither panics nor fails.
	if err := h.Handle(context.Background(), r); err != nil {
		t.Errorf("Handle: %v", err)
	}
	if s := h.Stats(); s.Enqueued != 1 || s.QueueLength != 1 {
		t.Errorf("Stats after Handle = %+v, want the record queued", s)
	}
}

func TestTruncatedMarkerIsNotDuplicated(t *testing.T) {
	cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s", MaxRecordBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{c: newCore(cfg)}
	defer h.c.cancel()
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, strings.Repeat("m", 2000), 0)
	r.AddAttrs(slog.Bool("truncated", false), slog.Int("n", 1))
	got := h.encodeShortened(nil, &r)
	if !json.Valid(got) {
		t.Fatalf("entry is not valid JSON: %s", got)
	}
	checkNoDuplicateKeys(t, got)
	var e map[string]any
	json.Unmarshal(got, &e)
	if e["truncated"] != true || e["attr.truncated"] != false {
		t.Errorf("truncated = %v, attr.truncated = %v, want true and false: %s", e["truncated"], e["attr.truncated"], got)
	}
}

// TestTraceIDs: W3C ids become the decimal form of their lower 64 bits in
// dd.*, and stay whole in otel.*; anything else is kept as given.
func TestTraceIDs(t *testing.T) {
	cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{c: newCore(cfg)}
	defer h.c.cancel()
	const head = `{"status":"info","message":"m","service":"s","hostname":"h","ddsource":"go"`
	tests := []struct {
		name  string
		attrs []slog.Attr
		want  string
	}{
		{"W3C ids", []slog.Attr{slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), slog.String("span_id", "00f067aa0ba902b7")},
			`,"dd":{"trace_id":"11803532876627986230","span_id":"67667974448284343"},"otel":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}`},
		{"upper-case hex", []slog.Attr{slog.String("trace_id", "0000000000000000FFFFFFFFFFFFFFFF")},
			`,"dd":{"trace_id":"18446744073709551615"},"otel":{"trace_id":"0000000000000000FFFFFFFFFFFFFFFF"}}`},
		{"not hex", []slog.Attr{slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e473x")},
			`,"dd":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e473x"}}`},
		{"16 decimal digits are Datadog's form", []slog.Attr{slog.String("trace_id", "1234567890123456")},
			`,"dd":{"trace_id":"1234567890123456"}}`},
		{"dd.trace_id as given", []slog.Attr{slog.String("dd.trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")},
			`,"dd":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}`},
		{"integers", []slog.Attr{slog.Uint64("trace_id", 18446744073709551615), slog.Int64("span_id", -1)},
			`,"dd":{"trace_id":"18446744073709551615","span_id":"-1"}}`},
		{"not an id", []slog.Attr{slog.Bool("trace_id", true)}, `,"trace_id":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)
			r.AddAttrs(tt.attrs...)
			if got := string(h.encode(nil, &r)); got != head+tt.want {
				t.Errorf("entry:\n got %s\nwant %s", got, head+tt.want)
			}
		})
	}
}
