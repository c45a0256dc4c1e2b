package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
)

// FuzzJSONMatchesSlog logs fuzzed strings, keys and numbers through slog's
// JSON handler and through JSON, as record attributes, in groups, in
// WithAttrs and WithGroup, as an error and as a value of kind Any, and
// requires the same bytes. Strings longer than the default MaxValueBytes
// are left out: past the budget the outputs differ by design.
func FuzzJSONMatchesSlog(f *testing.F) {
	f.Add("three", "c", "g", int64(1), uint64(2), 1.5, "message")
	f.Add("a\x00\b\f\n\r\t\"\\<>&\u2028\u2029\x7f", "k\xff", "", int64(math.MinInt64), uint64(math.MaxUint64), math.Inf(1), "\xed\xa0\x80")
	f.Add("héllo wörld 日本語 🎉 \xc3\x28 \xe2\x82", "", "grp\"", int64(0), uint64(0), math.NaN(), "")
	f.Add("0123456789abcdef0123456789abcdef", "trace_id", "span", int64(-7), uint64(1<<63), 1e21, "x")
	f.Add("", "", "", int64(42), uint64(7), 1e-7, "\u2028")
	f.Fuzz(func(t *testing.T, s, key, group string, i int64, u uint64, fl float64, msg string) {
		if len(s) > 4096 || len(key) > 4096 || len(group) > 4096 || len(msg) > 4096 {
			t.Skip()
		}
		attrs := []slog.Attr{
			slog.String(key, s), slog.Int64("i", i), slog.Uint64("u", u), slog.Float64("f", fl),
			slog.Group(group, slog.String(key, s), slog.Group("", slog.Float64(s, fl))),
			slog.Any("err", errors.New(s)), slog.Any("named", named(s)),
			slog.Any("map", map[string]any{key: s, "n": i, "f": []float64{fl}}),
		}
		var wb, gb bytes.Buffer
		for _, x := range []struct {
			h   slog.Handler
			buf *bytes.Buffer
		}{{slog.NewJSONHandler(&wb, nil), &wb}, {JSON(&gb, nil), &gb}} {
			h := x.h.WithAttrs([]slog.Attr{slog.String(key, s)})
			if group != "" { // as slog.Logger.WithGroup does
				h = h.WithGroup(group).WithAttrs([]slog.Attr{slog.Int64(s, i)})
			}
			r := slog.NewRecord(jsonWhen, slog.LevelInfo, msg, 0)
			r.AddAttrs(attrs...)
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := gb.String(), wb.String(); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}
