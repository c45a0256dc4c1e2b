package handler

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func TestConsoleBudget(t *testing.T) {
	self := map[string]any{"a": 1}
	self["self"] = self
	deep := slog.String("leaf", "x")
	for range 40 {
		deep = slog.Group("g", deep)
	}
	tests := []struct {
		name string
		opts *ConsoleOptions
		args []any
		want []string
	}{
		{"self-containing map", nil, []any{"m", self}, []string{"m.a=1", "m.self=!CYCLE"}},
		{"deep group", nil, []any{deep}, []string{strings.Repeat("g.", 32) + "g=!DEPTH"}},
		{"long string", &ConsoleOptions{Budget: Budget{MaxValueBytes: 4}}, []any{"s", "abcdefgh"}, []string{"s=abcd!TRUNCATED"}},
		{"many attributes", &ConsoleOptions{Budget: Budget{MaxAttrs: 2}}, []any{"a", 1, "b", 2, "c", 3, "d", 4}, []string{"a=1 b=2 !ATTRS=2"}},
		{"struct", nil, []any{"u", struct {
			Name string `json:"name"`
			Age  int
		}{"ann", 7}}, []string{"u.Age=7 u.name=ann"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := &ConsoleOptions{NoColor: true}
			if tt.opts != nil {
				o.Budget = tt.opts.Budget
			}
			slog.New(Console(&buf, o)).Info("m", tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("got %q, want it to contain %q", buf.String(), w)
				}
			}
		})
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestConsoleDeepGroupsLinear: 100,000 nested groups, as a value or as
// chained WithGroup calls, cost memory linear in their number (they used
// to cost hundreds of megabytes at 10,000 and exhaust memory at 100,000).
func TestConsoleDeepGroupsLinear(t *testing.T) {
	const n = 100_000
	nested := slog.String("leaf", "x")
	for range n {
		nested = slog.Group("g", nested)
	}
	var buf bytes.Buffer
	h := Console(&buf, &ConsoleOptions{NoColor: true})
	if got := allocated(func() { slog.New(h).Info("m", nested) }); got > 1<<20 {
		t.Errorf("100,000 nested groups allocated %d bytes, want under 1 MiB", got)
	}
	got := allocated(func() {
		var c slog.Handler = h
		for range n {
			c = c.WithGroup("g")
		}
		c = c.WithAttrs([]slog.Attr{slog.Int("w", 1)})
		slog.New(c).Info("m", "a", 1)
	})
	if got > 64<<20 {
		t.Errorf("100,000 chained WithGroup allocated %d bytes, want under 64 MiB", got)
	}
	if !strings.Contains(buf.String(), strings.Repeat("g.", 32)+"g=!DEPTH") {
		t.Errorf("want the group past the depth budget marked, got %.300q", buf.String()[strings.LastIndex(buf.String()[:buf.Len()-1], "\n")+1:])
	}
}

func TestMinLevelSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return MinLevel(slog.NewJSONHandler(&buf, nil), slog.LevelInfo)
	}, func(t *testing.T) map[string]any { return jsonLine(t, &buf) })
}

func TestMinLevel(t *testing.T) {
	var lv slog.LevelVar
	rec := &recorder{level: slog.LevelWarn}
	h := MinLevel(rec, &lv)
	ctx := context.Background()
	for _, tt := range []struct {
		set  slog.Level
		l    slog.Level
		want bool
	}{
		{slog.LevelInfo, slog.LevelInfo, false}, // next is stricter: it still decides
		{slog.LevelInfo, slog.LevelWarn, true},
		{slog.LevelError, slog.LevelWarn, false}, // the gate is stricter
		{slog.LevelDebug, slog.LevelWarn, true},
	} {
		lv.Set(tt.set)
		if got := h.Enabled(ctx, tt.l); got != tt.want {
			t.Errorf("level %v, record %v: Enabled = %v, want %v", tt.set, tt.l, got, tt.want)
		}
	}
	lv.Set(slog.LevelError)
	h.Handle(ctx, slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0))
	if rec.records != 0 {
		t.Error("Handle passed on a record below the level")
	}
}
